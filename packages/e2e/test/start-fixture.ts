import { execFileSync, fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { createWaiters } from './waiters';

const fixturesDir = path.resolve(__dirname, '../fixtures');
const repoDir = path.resolve(__dirname, '../../..');

/** The runtime a fixture process runs on; jest itself always runs on Node. */
export interface FixtureRuntime {
  /** `node` (the one running jest), or a name from scripts/runtimes.json: `node22`, `deno`, `bun`... */
  readonly name: string;
  readonly kind: 'node' | 'deno' | 'bun';
  readonly bin: string;
  readonly version: string;
}

/**
 * `LIFESPAN_E2E_RUNTIME` chooses the runtime of every fixture process (default: the Node that runs
 * jest). scripts/runtimes.mjs installs a pinned one on first use.
 */
function resolveRuntime(name = process.env['LIFESPAN_E2E_RUNTIME'] ?? 'node'): FixtureRuntime {
  if (name === 'node') return { name, kind: 'node', bin: process.execPath, version: process.versions.node };
  const info = execFileSync(process.execPath, [path.join(repoDir, 'scripts', 'runtimes.mjs'), 'info', name], { encoding: 'utf8' });
  return JSON.parse(info) as FixtureRuntime;
}

/** The runtime the fixtures of this run use. */
export const runtime: FixtureRuntime = resolveRuntime();

/** How to start `file` on `runtime` through `fork()` (which gives every runtime Node's IPC channel). */
function execArgvFor(kind: FixtureRuntime['kind']): string[] {
  // Deno asks for permissions; a fixture is the project's own code on 127.0.0.1.
  if (kind === 'deno') return ['run', '--allow-all', '--quiet'];
  // The jest worker's own flags (inspector, loaders) are none of the fixture's business.
  return [];
}
const timingsFile = process.env['LIFESPAN_E2E_TIMINGS'] ?? path.resolve(__dirname, '../../../node_modules/.cache/lifespan-e2e/timings.jsonl');

/** How a fixture process ended. */
export interface FixtureExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A message a fixture sent with `emit(event, data)`. */
export interface FixtureEvent {
  event: string;
  [key: string]: unknown;
}

/** A running fixture process and what it has said so far. */
export interface Fixture {
  readonly child: ChildProcess;
  /** `http://127.0.0.1:<port>` of the first server. */
  readonly url: string;
  readonly port: number;
  /** Ports of every server the fixture announced. */
  readonly ports: readonly number[];
  /** Settles once the process exited and its output is complete. */
  readonly exited: Promise<FixtureExit>;
  /** `performance.now()` when the process exited; undefined while it runs. */
  exitedAt(): number | undefined;
  /** stdout, one entry per line. */
  lines(): string[];
  stderr(): string;
  /** Events the fixture emitted, optionally only those named `event`. */
  events(event?: string): FixtureEvent[];
  /** Resolves once `predicate` holds; rejects if the process exits first or `timeoutMs` passes. */
  until(predicate: () => boolean, what: string, timeoutMs?: number): Promise<void>;
  /** Sends `signal` and returns `performance.now()` at that moment. */
  kill(signal?: NodeJS.Signals): number;
}

/** Extra settings of `startFixture()`. */
export interface StartFixtureOptions {
  /** Time the fixture may take to announce its port. @default 10_000 */
  startTimeoutMs?: number;
  /**
   * Start it in a process group of its own, as `docker run` or a terminal does, so that a test can
   * signal the whole group (`process.kill(-pid)`) and reach only the fixture and its children.
   */
  detached?: boolean;
}

interface Running {
  readonly child: ChildProcess;
  readonly exited: Promise<FixtureExit>;
  /** Processes the fixture started itself (a cluster worker) and announced with `emit('spawned', { pid })`. */
  readonly spawned: number[];
  readonly detached: boolean;
}

const running = new Set<Running>();

/**
 * Forks `fixtures/<file>` with `env` added to the environment and resolves once it announced its
 * port. Every fixture speaks the protocol of `fixtures/support/fixture-protocol.cjs`, so a new
 * fixture (an adapter's app) is one file and needs nothing here.
 * @example
 * const app = await startFixture('http.mjs', { SCENARIO: 'slow-request' });
 */
export function startFixture(file: string, env: Record<string, string> = {}, options: StartFixtureOptions = {}): Promise<Fixture> {
  const child = fork(path.join(fixturesDir, file), [], {
    env: { ...process.env, ...env },
    execPath: runtime.bin,
    execArgv: execArgvFor(runtime.kind),
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    detached: options.detached === true,
  });
  let stdout = '';
  let stderr = '';
  let exitTime: number | undefined;
  let exit: FixtureExit | undefined;
  const events: FixtureEvent[] = [];
  const waiters = createWaiters();
  const notify = (): void => waiters.notify();
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    notify();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    notify();
  });
  child.on('exit', () => {
    exitTime = performance.now();
  });
  const exited = new Promise<FixtureExit>((resolve) => {
    // 'close', not 'exit': every line the process wrote has been read by then.
    child.on('close', (code, signal) => {
      exit = { code, signal };
      resolve(exit);
      notify();
    });
  });
  const record: Running = { child, exited, spawned: [], detached: options.detached === true };
  running.add(record);
  void exited.then(() => running.delete(record));

  const until = (predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> =>
    waiters.until(predicate, (what) => (exit === undefined ? undefined : `fixture ${file} exited (${JSON.stringify(exit)}) before ${what}\nstdout: ${stdout}\nstderr: ${stderr}`), what, timeoutMs);

  return new Promise((resolve, reject) => {
    let announced = false;
    child.on('message', (message: unknown) => {
      if (message === null || typeof message !== 'object') return;
      const data = message as Record<string, unknown>;
      if (typeof data['event'] === 'string') {
        events.push(data as FixtureEvent);
        if (data['event'] === 'spawned' && typeof data['pid'] === 'number') record.spawned.push(data['pid']);
      } else if (!announced && typeof data['port'] === 'number') {
        announced = true;
        const port = data['port'];
        const ports = Array.isArray(data['ports']) ? (data['ports'] as number[]) : [port];
        resolve({
          child,
          url: `http://127.0.0.1:${port}`,
          port,
          ports,
          exited,
          exitedAt: () => exitTime,
          lines: () => stdout.split('\n').filter((line) => line !== ''),
          stderr: () => stderr,
          events: (event) => (event === undefined ? [...events] : events.filter((entry) => entry.event === event)),
          until,
          kill: (signal = 'SIGTERM') => {
            const sentAt = performance.now();
            child.kill(signal);
            return sentAt;
          },
        });
      }
      notify();
    });
    until(() => announced, `${file} to announce its port`, options.startTimeoutMs ?? 10_000).catch((error: unknown) => {
      child.kill('SIGKILL');
      reject(error);
    });
  });
}

/** Resolves with how `app` exited, or SIGKILLs it after `ms` (what the kubelet and `docker stop` do). */
export function exitWithin(app: Fixture, ms: number): Promise<FixtureExit | 'grace period exceeded'> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<'grace period exceeded'>((resolve) => {
    timer = setTimeout(() => {
      // What the kubelet (or docker stop) does next.
      app.kill('SIGKILL');
      resolve('grace period exceeded');
    }, ms);
  });
  return Promise.race([app.exited, late]).finally(() => clearTimeout(timer));
}

/** Kills every fixture process a test left running (only those started here) and waits until they are gone. */
export async function killLeftovers(): Promise<void> {
  await Promise.all(
    [...running].map(async ({ child, exited, spawned, detached }) => {
      child.kill('SIGKILL');
      if (detached && child.pid !== undefined) {
        try {
          // The group it leads: its workers too, even one it forked after its last announcement.
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
      for (const pid of spawned) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
      await exited;
    }),
  );
}

/** Appends a measured duration to the timings file (tests never write to the console). */
export function recordTiming(name: string, ms: number): void {
  mkdirSync(path.dirname(timingsFile), { recursive: true });
  appendFileSync(timingsFile, `${JSON.stringify({ name, ms: Math.round(ms * 10) / 10, at: new Date().toISOString() })}\n`);
}

// Registered on import, so that no test file can forget it.
afterEach(killLeftovers);
