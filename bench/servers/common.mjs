// What every contender serves, and how it tells the benchmark its port.
// `/slow` answers after 1 s (BENCH_SLOW_MS; `/slow?ms=N` after N ms), anything else at once; responses are small and 200.
import { appendFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const { recordServer } = createRequire(import.meta.url)('../../packages/e2e/harness/server-ledger.cjs');

// The scale benchmark keeps 10,000 requests in flight, which takes longer than 1 s to write.
export const SLOW_MS = Number(process.env.BENCH_SLOW_MS ?? 1000);

/**
 * With BENCH_LEDGER set (a file), appends one JSON line per connection accepted and per FIN the
 * server sends (harness/server-ledger.cjs), as it happens: some contenders exit by a re-raised
 * signal, which runs no exit handler. The benchmark tells from it which requests crossed a FIN.
 */
export function recordConnections(server) {
  const file = process.env.BENCH_LEDGER;
  if (file) recordServer(server, (fact) => appendFileSync(file, `${JSON.stringify(fact)}\n`), { requests: false });
}

/** The plain node:http request handler shared by the contenders built on node:http. */
export function handler(req, res) {
  if (req.url === '/slow' || req.url.startsWith('/slow?ms=')) {
    // `/slow?ms=5`: the pipelining benchmark's short requests (the process tests' route).
    const ms = req.url === '/slow' ? SLOW_MS : Number(req.url.slice('/slow?ms='.length));
    setTimeout(() => res.end('slow'), ms);
    return;
  }
  res.end('ok');
}

/**
 * With BENCH_KEEP_ALIVE_MS set (the scale benchmark), every contender keeps idle keep-alive
 * connections that long: opening 19,000 takes longer than node:http's default 5 s, which would
 * close the first ones before SIGTERM on some servers and not on others (Lifespan raises it).
 */
export function keepAlive(server) {
  if (process.env.BENCH_KEEP_ALIVE_MS) server.keepAliveTimeout = Number(process.env.BENCH_KEEP_ALIVE_MS);
}

/** Sends the port over IPC, then drops the channel so that it cannot keep the process alive. */
export function announce(port) {
  process.send({ port }, () => process.disconnect());
}
