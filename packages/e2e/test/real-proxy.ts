import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { accepts, freePort } from './clients';

/** The real load balancers the process tests run (Debian's `haproxy` and `nginx-light`, installed by scripts/install-proxies.mjs). */
export type ProxyKind = 'nginx' | 'haproxy';

/** A proxy process started by a test: its own config in a temp dir, one port on 127.0.0.1, stopped by PID. */
export interface RealProxy extends AsyncDisposable {
  readonly kind: ProxyKind;
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** What the proxy wrote to stderr (nginx's error log, HAProxy's alerts). */
  log(): string;
  /** Stops the process (SIGTERM, SIGKILL after 2 s) and removes its temp dir. */
  stop(): Promise<void>;
}

/** What a config template gets. */
export interface ProxyConfigContext {
  /** The port the proxy must listen on (127.0.0.1). */
  readonly port: number;
  /** A temp dir the proxy may write to (pid file, nginx's temp paths). */
  readonly dir: string;
}

const running = new Set<RealProxy>();

function binary(kind: ProxyKind): string {
  const found = ['/usr/sbin', '/usr/local/sbin', '/usr/bin', ...(process.env['PATH'] ?? '').split(path.delimiter)]
    .map((dir) => path.join(dir, kind))
    .find((file) => existsSync(file));
  if (found === undefined) throw new Error(`${kind} is not installed: npm test installs it (scripts/install-proxies.mjs); run that script as root`);
  return found;
}

function argsFor(kind: ProxyKind, file: string, dir: string): string[] {
  // nginx: one process (master_process off in the config), errors to stderr, paths under dir.
  // HAProxy: -db stays in the foreground, one process.
  return kind === 'nginx' ? ['-p', `${dir}/`, '-e', 'stderr', '-c', file] : ['-db', '-f', file];
}

/**
 * Starts `kind` with the config `render` writes for a free port, and resolves once it accepts
 * connections. Every proxy a test started is stopped after the test.
 * @example
 * await using proxy = await startProxy('nginx', ({ port, dir }) => nginxConfig({ port, dir, upstreams }));
 */
export async function startProxy(kind: ProxyKind, render: (context: ProxyConfigContext) => string): Promise<RealProxy> {
  const executable = binary(kind);
  let lastLog = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const dir = mkdtempSync(path.join(tmpdir(), `lifespan-${kind}-`));
    const port = await freePort();
    const file = path.join(dir, `${kind}.conf`);
    writeFileSync(file, render({ port, dir }));
    const child = spawn(executable, argsFor(kind, file, dir), { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    let gone = false;
    void exited.then(() => (gone = true));
    const deadline = performance.now() + 10_000;
    while (!gone && performance.now() < deadline && !(await accepts(port))) await new Promise((resolve) => setTimeout(resolve, 20));
    if (gone || performance.now() >= deadline) {
      child.kill('SIGKILL');
      await exited;
      rmSync(dir, { recursive: true, force: true });
      lastLog = log;
      // Most likely someone took the port between freePort() and the bind: try another.
      continue;
    }
    const proxy = wrap(kind, child, exited, port, dir, () => log);
    running.add(proxy);
    return proxy;
  }
  throw new Error(`${kind} did not start:\n${lastLog}`);
}

function wrap(kind: ProxyKind, child: ChildProcess, exited: Promise<void>, port: number, dir: string, log: () => string): RealProxy {
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      running.delete(proxy);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    })());
  const proxy: RealProxy = {
    kind,
    url: `http://127.0.0.1:${port}`,
    port,
    pid: child.pid!,
    log,
    stop,
    [Symbol.asyncDispose]: stop,
  };
  return proxy;
}

/** One upstream server of a proxy config. */
export interface UpstreamServer {
  readonly port: number;
}

/** Options of `nginxConfig()`. */
export interface NginxConfigOptions extends ProxyConfigContext {
  readonly upstreams: readonly UpstreamServer[];
  /** nginx's `keepalive_timeout` for idle upstream connections (60 s by default; shorter here so that tests can pass it). */
  readonly upstreamKeepAliveTimeout: string;
  /** `proxy_next_upstream`: `off` shows every failure; `error` retries connect failures (and idempotent requests that failed). */
  readonly nextUpstream: 'off' | 'error';
  /** Per-server `max_fails=… fail_timeout=…`, or nothing. */
  readonly serverParameters?: string;
}

/** An nginx config: keep-alive connections to the upstreams (`keepalive`, HTTP/1.1, no `Connection` header), nothing logged but errors. */
export function nginxConfig(options: NginxConfigOptions): string {
  const { port, dir, upstreams, upstreamKeepAliveTimeout, nextUpstream, serverParameters = '' } = options;
  const servers = upstreams.map((upstream) => `    server 127.0.0.1:${upstream.port} ${serverParameters};`).join('\n');
  return `master_process off;
daemon off;
pid ${dir}/nginx.pid;
error_log stderr notice;
events { worker_connections 512; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream app {
${servers}
    keepalive 16;
    keepalive_timeout ${upstreamKeepAliveTimeout};
  }
  server {
    listen 127.0.0.1:${port};
    keepalive_timeout 75s;
    keepalive_requests 100000;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_next_upstream ${nextUpstream};
    }
  }
}
`;
}

/** Options of `haproxyConfig()`. */
export interface HaproxyConfigOptions extends ProxyConfigContext {
  readonly upstreams: readonly UpstreamServer[];
  /** Time between two active checks of `/readyz` per server. */
  readonly checkIntervalMs: number;
}

/**
 * An HAProxy config: active checks of `GET /readyz` (two failed checks mark a server down, one
 * passing check brings it back; a check may take 1 s, as a busy machine's can), keep-alive on both
 * sides, and no retry of any kind: a request
 * routed to a server that refuses or resets it is answered 503 or 502, so every failure shows.
 */
export function haproxyConfig(options: HaproxyConfigOptions): string {
  const { port, upstreams, checkIntervalMs } = options;
  const servers = upstreams.map((upstream, index) => `  server app${index} 127.0.0.1:${upstream.port} check`).join('\n');
  return `global
  nbthread 1
defaults
  mode http
  timeout connect 1s
  timeout check 1s
  timeout client 30s
  timeout server 30s
  timeout http-keep-alive 30s
  retries 0
  option http-keep-alive
frontend web
  bind 127.0.0.1:${port}
  default_backend app
backend app
  balance roundrobin
  option httpchk GET /readyz
  http-check expect status 200
  default-server inter ${checkIntervalMs}ms fall 2 rise 1
${servers}
`;
}

/** Lines of a proxy log that mention a failed upstream exchange (nginx: `[error]`, HAProxy: a server going down is not one). */
export function upstreamErrors(log: string): string[] {
  return log.split('\n').filter((line) => line.includes('[error]'));
}

/** Stops every proxy a test left running. */
export async function stopLeftoverProxies(): Promise<void> {
  await Promise.all([...running].map((proxy) => proxy.stop()));
}

// Registered on import, as start-fixture.ts does for app processes.
afterEach(stopLeftoverProxies);
