import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream';

/** One readiness probe result: the HTTP status, or why there was none. */
export interface ProbeObservation {
  /** `performance.now()` when the probe was answered (or failed). */
  readonly at: number;
  readonly result: number | 'refused' | 'error' | 'timeout';
}

/** What the proxy knows and did about one app instance. */
export interface Upstream {
  readonly port: number;
  /** True while its last readiness probe answered 200. */
  readonly routable: boolean;
  /** Requests routed to it so far. */
  readonly routed: number;
  /** Every probe result, oldest first. */
  readonly probes: readonly ProbeObservation[];
}

/** Options of `LbProxy.start()`. */
export interface LbProxyOptions {
  /** Time between the end of one probe and the start of the next, per instance. @default 100 */
  probeIntervalMs?: number;
  /** Path of the readiness probe. @default '/readyz' */
  readyPath?: string;
}

interface UpstreamState {
  port: number;
  routable: boolean;
  routed: number;
  probes: ProbeObservation[];
  agent: http.Agent;
  timer: ReturnType<typeof setTimeout> | undefined;
  probe: http.ClientRequest | undefined;
}

// Headers that describe one hop, not the message: never forwarded.
const hopByHop = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer']);

function endToEnd(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const forwarded: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined && !hopByHop.has(name)) forwarded[name] = value;
  return forwarded;
}

/**
 * A load balancer in front of app instances on 127.0.0.1, the way a Kubernetes Service sees pods:
 * keep-alive connections to each instance, a readiness probe per instance (a new connection each
 * time, as the kubelet's), no routing to an instance whose probe fails or is refused, and no
 * retries: a request it routes either succeeds or is counted in `failures`.
 * @example
 * await using proxy = await LbProxy.start([a.port, b.port]);
 * await proxy.waitRoutable(2);
 */
export class LbProxy implements AsyncDisposable {
  /** Every request the proxy could not complete, with the reason. */
  readonly failures: string[] = [];
  readonly #upstreams: UpstreamState[];
  readonly #server: http.Server;
  readonly #intervalMs: number;
  readonly #readyPath: string;
  #next = 0;
  #closed = false;

  private constructor(ports: readonly number[], options: LbProxyOptions) {
    this.#intervalMs = options.probeIntervalMs ?? 100;
    this.#readyPath = options.readyPath ?? '/readyz';
    this.#upstreams = ports.map((port) => ({
      port,
      routable: false,
      routed: 0,
      probes: [],
      agent: new http.Agent({ keepAlive: true, maxSockets: 64 }),
      timer: undefined,
      probe: undefined,
    }));
    this.#server = http.createServer((req, res) => this.#route(req, res));
  }

  /** Listens on 127.0.0.1 (a free port) and starts probing every instance. */
  static async start(ports: readonly number[], options: LbProxyOptions = {}): Promise<LbProxy> {
    const proxy = new LbProxy(ports, options);
    await new Promise<void>((resolve) => proxy.#server.listen(0, '127.0.0.1', resolve));
    for (const upstream of proxy.#upstreams) proxy.#probe(upstream);
    return proxy;
  }

  /** `http://127.0.0.1:<port>` of the proxy. */
  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  /** The instances, in the order given to `start()`. */
  get upstreams(): readonly Upstream[] {
    return this.#upstreams;
  }

  /** The instance listening on `port`. */
  upstream(port: number): Upstream {
    const found = this.#upstreams.find((upstream) => upstream.port === port);
    if (found === undefined) throw new Error(`no upstream on port ${port}`);
    return found;
  }

  /** Resolves once `count` instances passed their readiness probe. */
  async waitRoutable(count: number, timeoutMs = 10_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (this.#upstreams.filter((upstream) => upstream.routable).length < count) {
      if (performance.now() > deadline) throw new Error(`fewer than ${count} upstreams became ready within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Stops probing, closes every connection and the listener. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const upstream of this.#upstreams) {
      clearTimeout(upstream.timer);
      upstream.probe?.destroy();
      upstream.agent.destroy();
    }
    this.#server.closeAllConnections();
    await new Promise((resolve) => this.#server.close(resolve));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #probe(upstream: UpstreamState): void {
    if (this.#closed) return;
    let settled = false;
    const observe = (result: ProbeObservation['result']): void => {
      if (settled) return;
      settled = true;
      upstream.probe = undefined;
      upstream.probes.push({ at: performance.now(), result });
      upstream.routable = result === 200;
      if (!this.#closed) upstream.timer = setTimeout(() => this.#probe(upstream), this.#intervalMs);
    };
    // agent: false: a new connection per probe, so a 503 proves the listener was still open.
    const request = http.get({ host: '127.0.0.1', port: upstream.port, path: this.#readyPath, agent: false, timeout: 1000 }, (res) => {
      res.resume();
      observe(res.statusCode ?? 0);
    });
    request.on('timeout', () => {
      observe('timeout');
      request.destroy();
    });
    request.on('error', (error: NodeJS.ErrnoException) => observe(error.code === 'ECONNREFUSED' ? 'refused' : 'error'));
    upstream.probe = request;
  }

  #route(req: http.IncomingMessage, res: http.ServerResponse): void {
    const candidates = this.#upstreams.filter((upstream) => upstream.routable);
    const upstream = candidates[this.#next++ % Math.max(1, candidates.length)];
    if (upstream === undefined) {
      this.#fail(res, `${req.method} ${req.url}: no ready upstream`);
      return;
    }
    upstream.routed++;
    const outgoing = http.request(
      { host: '127.0.0.1', port: upstream.port, method: req.method, path: req.url, headers: endToEnd(req.headers), agent: upstream.agent },
      (upstreamRes) => {
        res.writeHead(upstreamRes.statusCode ?? 502, endToEnd(upstreamRes.headers));
        pipeline(upstreamRes, res, (error) => {
          if (error) this.#fail(res, `${req.method} ${req.url} via ${upstream.port}: response ${error.message}`);
        });
      },
    );
    outgoing.on('error', (error: NodeJS.ErrnoException) => this.#fail(res, `${req.method} ${req.url} via ${upstream.port}: ${error.code ?? error.message}`));
    req.pipe(outgoing);
  }

  #fail(res: http.ServerResponse, reason: string): void {
    this.failures.push(reason);
    if (res.headersSent) res.destroy();
    else res.writeHead(502, { 'content-type': 'text/plain' }).end(reason);
  }
}
