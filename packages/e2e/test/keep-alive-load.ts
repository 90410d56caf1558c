import http from 'node:http';

/** Options of `keepAliveLoad()`. */
export interface KeepAliveLoadOptions {
  /** Request loops running at once, each on its own keep-alive connection. @default 20 */
  concurrency?: number;
  /** The load stops by itself after this long, whatever happens. @default 4_000 */
  maxDurationMs?: number;
  /** Time one request may take before it counts as failed. @default 3_000 */
  requestTimeoutMs?: number;
  /** Methods taken in turn by each loop; a POST sends a small JSON body. @default ['GET'] */
  methods?: readonly ('GET' | 'POST')[];
}

/** What the clients saw. */
export interface LoadResult {
  /** Requests answered 200 with a complete body. */
  readonly ok: number;
  /** Every request that was not, with the reason. */
  readonly failed: readonly string[];
  /** Requests answered per `pid` in the body. */
  readonly pids: ReadonlyMap<number, number>;
}

/** A running load. */
export interface KeepAliveLoad {
  /** Requests answered so far. */
  readonly ok: number;
  /** Requests answered so far by the instance with this `pid`. */
  answeredBy(pid: number): number;
  /** Stops starting requests, waits for those in flight, closes the connections. */
  stop(): Promise<LoadResult>;
}

/**
 * Steady, bounded client traffic: `concurrency` loops, each sending GET `url` again as soon as the
 * previous answer arrived, over keep-alive connections, and never retrying.
 */
export function keepAliveLoad(url: string, options: KeepAliveLoadOptions = {}): KeepAliveLoad {
  const concurrency = options.concurrency ?? 20;
  const deadline = performance.now() + (options.maxDurationMs ?? 4000);
  const requestTimeoutMs = options.requestTimeoutMs ?? 3000;
  const methods = options.methods ?? ['GET'];
  const body = JSON.stringify({ payload: 'x'.repeat(64) });
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const failed: string[] = [];
  const pids = new Map<number, number>();
  let ok = 0;
  let stopped = false;

  const once = (method: 'GET' | 'POST'): Promise<void> =>
    new Promise((resolve) => {
      let settled = false;
      const settle = (failure?: string): void => {
        if (settled) return;
        settled = true;
        if (failure !== undefined) failed.push(failure);
        resolve();
      };
      const headers = method === 'POST' ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {};
      const request = http.request(url, { method, headers, agent, timeout: requestTimeoutMs }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('error', (error) => settle(`response: ${error.message}`));
        res.on('close', () => settle('response closed before its end'));
        res.on('end', () => {
          if (res.statusCode !== 200) return settle(`${method} status ${res.statusCode}: ${text}`);
          ok++;
          const { pid } = JSON.parse(text) as { pid: number };
          pids.set(pid, (pids.get(pid) ?? 0) + 1);
          settle();
        });
      });
      request.on('timeout', () => request.destroy(new Error(`no answer within ${requestTimeoutMs} ms`)));
      request.on('error', (error: NodeJS.ErrnoException) => settle(`${method} request: ${error.code ?? ''} ${error.message}${request.reusedSocket ? ' (on a reused connection)' : ''}`));
      request.end(method === 'POST' ? body : undefined);
    });

  const loop = async (): Promise<void> => {
    for (let sent = 0; !stopped && performance.now() < deadline; sent++) await once(methods[sent % methods.length]!);
  };
  const loops = Promise.all(Array.from({ length: concurrency }, loop));

  return {
    get ok() {
      return ok;
    },
    answeredBy: (pid) => pids.get(pid) ?? 0,
    async stop() {
      stopped = true;
      await loops;
      agent.destroy();
      return { ok, failed, pids };
    },
  };
}
