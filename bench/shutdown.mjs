// Shutdown benchmark: Lifespan against the other graceful-shutdown libraries, side by side in one
// run. Each contender is a forked server (bench/servers/<id>.mjs) on 127.0.0.1; the clients run
// here. Rounds are interleaved (every scenario, every contender, then again in another order) and
// the table shows medians.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchDir, forkChild, formatMs, isMain, killChild, log, markdownTable, nextMessage, quick, sleep, writeResult } from './lib.mjs';

// The fate of each request, as the process tests decide it (answered, refused, crossing-FIN, lost).
const { classify } = createRequire(import.meta.url)('../packages/e2e/harness/fates.cjs');
// The grace Lifespan promises; "crossing-FIN" uses the same bar for every contender.
const GRACE_MS = 25;
const epochNow = () => performance.timeOrigin + performance.now();

export const contenders = [
  { id: 'lifespan', label: 'Lifespan', setup: '`createLifecycle().attach(server)` on node:http, defaults (SIGTERM/SIGINT, exit code from the report)' },
  { id: 'terminus', label: '@godaddy/terminus', setup: '`createTerminus(server, { signal: "SIGTERM", onSignal })`, default timeout 1000 ms' },
  { id: 'http-terminator', label: 'http-terminator', setup: '`createHttpTerminator({ server })`, SIGTERM -> `await terminate()` -> `exit(0)`; its default 1000 ms grace (gracefulTerminationTimeout)' },
  { id: 'stoppable', label: 'stoppable', setup: '`stoppable(server)` (grace Infinity), SIGTERM -> `server.stop(cb)` -> `exit(0)`' },
  { id: 'close-with-grace', label: 'close-with-grace', setup: '`closeWithGrace(async () => close server)`, default delay 10000 ms' },
  { id: 'http-graceful-shutdown', label: 'http-graceful-shutdown', setup: '`gracefulShutdown(server)`, defaults (timeout 30000 ms, forceExit)' },
  { id: 'lightship', label: 'lightship', setup: '`createLightship()` (local mode: shutdownDelay 0), `registerShutdownHandler(() => server.close())`' },
  { id: 'fastify', label: 'Fastify 5 `close()`', setup: 'Fastify defaults (forceCloseConnections "idle", return503OnClosing), SIGTERM -> `await app.close()` -> `exit(0)`' },
  { id: 'plain', label: 'plain `server.close()`', setup: 'node:http, SIGTERM -> `server.close(cb)` -> `exit(0)`' },
];

// Experiments: BENCH_VARIANTS=a=/tmp/core-a,b=/tmp/core-b adds one Lifespan contender per
// modified copy of core's dist/esm (bench/servers/lifespan-variant.mjs), with lifecycle options
// from BENCH_OPTIONS_<name> (JSON) if set; not used by `npm run bench`.
for (const entry of process.env.BENCH_VARIANTS?.split(',') ?? []) {
  const [name, dir] = entry.split('=');
  const options = process.env[`BENCH_OPTIONS_${name}`];
  contenders.push({ id: `variant:${name}`, label: `Lifespan variant ${name}`, setup: `${dir} ${options ?? ''}`, server: 'lifespan-variant', env: { BENCH_LIFESPAN_CORE: dir, ...(options ? { BENCH_LIFESPAN_OPTIONS: options } : {}) } });
}

const CONNECTIONS = 50;
const IN_FLIGHT = 20;
const CAP_MS = quick ? 5_000 : 15_000;
const LOAD_MS = quick ? 1_000 : 1_200;

/**
 * Starts a contender; resolves once it listens. Retried: another process may be rebuilding
 * packages/<name>/dist at that moment (a shared machine), which makes one start fail.
 */
async function start(id, env) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(id, env);
    } catch (error) {
      if (attempt >= 3) throw error;
      log(`${id} did not start (attempt ${attempt}), retrying: ${String(error.message).split('\n')[0]}`);
      await sleep(3000);
    }
  }
}

async function startOnce(id, env) {
  const contender = contenders.find((c) => c.id === id);
  const handle = forkChild(join(benchDir, 'servers', `${contender?.server ?? id}.mjs`), { env: { ...contender?.env, ...env } });
  try {
    const { port } = await nextMessage(handle.child, (message) => typeof message?.port === 'number', 15_000);
    return { ...handle, port };
  } catch (error) {
    killChild(handle.child);
    throw new Error(`${id} did not start: ${error.message}\n${handle.output()}`);
  }
}

/** SIGTERM (by PID) and the time until the process is gone, capped: killed with SIGKILL past the cap. */
async function terminate(server) {
  const sentAt = performance.now();
  process.kill(server.child.pid, 'SIGTERM');
  let timer;
  const capped = new Promise((resolve) => {
    timer = setTimeout(() => resolve(null), CAP_MS);
  });
  const exit = await Promise.race([server.exited, capped]);
  clearTimeout(timer);
  if (exit === null) {
    killChild(server.child);
    await server.exited;
    return { sentAt, exitMs: null, exit: 'killed' };
  }
  return { sentAt, exitMs: exit.at - sentAt, exitAt: exit.at, exit: exit.code !== null ? String(exit.code) : exit.signal };
}

/**
 * One GET; never rejects. Besides `performance.now()` times, it keeps what harness/fates.cjs needs:
 * when the request was written (`finish`, epoch ms), on which connection, and whether it was reused.
 */
function get(agent, port, path) {
  return new Promise((resolve) => {
    const sentAt = performance.now();
    const record = { queuedAt: epochNow() };
    const done = (result) => resolve({ ...result, sentAt, at: performance.now(), record: { ...record, ...(result.error ? { failedAt: epochNow(), error: result.error } : { answeredAt: epochNow(), status: result.status, close: result.close }) } });
    const req = http.get({ host: '127.0.0.1', port, path, agent }, (res) => {
      res.resume();
      res.on('end', () => done({ status: res.statusCode, close: res.headers.connection === 'close' }));
      res.on('error', (error) => done({ error: error.code ?? error.message }));
    });
    req.on('finish', () => Object.assign(record, { writtenAt: epochNow(), conn: req.socket?.localPort, reused: req.reusedSocket }));
    req.on('error', (error) => done({ error: error.code ?? error.message }));
    req.setTimeout(CAP_MS + 5_000, () => req.destroy(Object.assign(new Error('client timeout'), { code: 'TIMEOUT' })));
  });
}

/** (a) 50 keep-alive connections that served one request each, idle at SIGTERM. */
async function idleKeepAlive(id) {
  const server = await start(id);
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  try {
    await Promise.all(Array.from({ length: CONNECTIONS }, () => get(agent, server.port, '/')));
    await sleep(50);
    const open = Object.values(agent.freeSockets).reduce((sum, list) => sum + list.length, 0);
    const result = await terminate(server);
    return { ...result, open };
  } finally {
    agent.destroy();
    killChild(server.child);
  }
}

/** (b) 50 connections opened and never used. */
async function unusedConnections(id) {
  const server = await start(id);
  const sockets = [];
  try {
    await Promise.all(
      Array.from({ length: CONNECTIONS }, () =>
        new Promise((resolve, reject) => {
          const socket = net.connect(server.port, '127.0.0.1', resolve);
          socket.on('error', () => undefined);
          socket.once('error', reject);
          sockets.push(socket);
        }),
      ),
    );
    await sleep(100);
    return await terminate(server);
  } finally {
    for (const socket of sockets) socket.destroy();
    killChild(server.child);
  }
}

/** (c) 20 requests of 1 s in flight on keep-alive connections (each used once before). */
async function inFlight(id) {
  const server = await start(id);
  const agent = new http.Agent({ keepAlive: true, maxSockets: IN_FLIGHT });
  try {
    await Promise.all(Array.from({ length: IN_FLIGHT }, () => get(agent, server.port, '/')));
    const requests = Array.from({ length: IN_FLIGHT }, () => get(agent, server.port, '/slow'));
    await sleep(200);
    const result = await terminate(server);
    const responses = await Promise.all(requests);
    const answered = responses.filter((response) => response.status === 200).length;
    const errors = countBy(responses.filter((response) => response.status !== 200).map((response) => response.error ?? `HTTP ${response.status}`));
    return { ...result, answered, errors };
  } finally {
    agent.destroy();
    killChild(server.child);
  }
}

/**
 * (d) 50 keep-alive clients each sending requests back to back; SIGTERM in the middle. A request
 * that fails after it was sent (reset, hang up, non-2xx) is lost; ECONNREFUSED is not (the
 * listener is gone, the client goes elsewhere) and ends that client's loop.
 */
async function underLoad(id, { thinkMs = 0 } = {}) {
  const ledgerDir = mkdtempSync(join(tmpdir(), 'lifespan-bench-'));
  const ledger = join(ledgerDir, 'ledger.jsonl');
  const server = await start(id, { BENCH_LEDGER: ledger });
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const results = [];
  let stop = false;
  let exitAt = Infinity;
  server.exited.then((exit) => {
    exitAt = exit.at;
  });
  const loop = async () => {
    for (let i = 0; i < 1_000_000 && !stop; i++) {
      if (thinkMs > 0) await sleep(Math.random() * thinkMs);
      const result = await get(agent, server.port, '/');
      results.push(result);
      if (result.error === 'ECONNREFUSED') return;
      // A client that saw the server vanish stops instead of spinning on a dead port.
      if (result.at > exitAt) return;
    }
  };
  try {
    const loops = Array.from({ length: CONNECTIONS }, loop);
    await sleep(LOAD_MS);
    const signalAt = performance.now();
    const termination = terminate(server);
    const probe = probeListener(server.port, termination);
    const result = await termination;
    const probedAt = await probe;
    stop = true;
    const guard = sleep(CAP_MS).then(() => 'timeout');
    await Promise.race([Promise.all(loops), guard]);
    agent.destroy();
    const refused = results.filter((r) => r.error === 'ECONNREFUSED');
    const listenerClosedAt = Math.min(probedAt, ...refused.map((r) => r.at), result.exitAt ?? Infinity);
    const facts = existsSync(ledger) ? readFileSync(ledger, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line)) : [];
    const fates = classify(results.map((r, i) => ({ id: String(i + 1), client: 'agent', path: '/', ...r.record })), facts, { graceMs: GRACE_MS });
    // A request that crossed the FIN of a connection idle for the grace is counted apart: no server can prevent it.
    const crossing = new Set(fates.entries.filter((entry) => entry.fate === 'crossing-fin').map((entry) => entry.record.id));
    const lost = results.filter((r, i) => !crossing.has(String(i + 1)) && ((r.error !== undefined && r.error !== 'ECONNREFUSED') || (r.status !== undefined && (r.status < 200 || r.status > 299))));
    return {
      ...result,
      served: results.filter((r) => r.status >= 200 && r.status < 300).length,
      servedAfterSignal: results.filter((r) => r.status >= 200 && r.status < 300 && r.at > signalAt).length,
      lost: lost.length,
      crossingFin: crossing.size,
      // "<=": a library that closes the listener and resets connections in the same tick shows
      // both at the same moment; the probe runs every 2 ms, so that is as close as it can tell.
      lostBeforeListenerClosed: lost.filter((r) => r.at <= listenerClosedAt).length,
      errors: countBy(lost.map((r) => r.error ?? `HTTP ${r.status}`)),
      refused: refused.length,
      listenerClosedMs: Number.isFinite(listenerClosedAt) ? Math.round(listenerClosedAt - signalAt) : null,
      // When the first lost requests were sent and failed, in ms from SIGTERM (for diagnosis).
      lostAt: lost.slice(0, 10).map((r) => [Math.round(r.sentAt - signalAt), Math.round(r.at - signalAt)]),
    };
  } finally {
    stop = true;
    agent.destroy();
    killChild(server.child);
    rmSync(ledgerDir, { recursive: true, force: true });
  }
}

/**
 * When the listening socket closed: a fresh connection attempt every 2 ms from SIGTERM on (each
 * closed at once) until one is refused or the process is gone.
 */
async function probeListener(port, termination) {
  let done = false;
  termination.then(() => {
    done = true;
  });
  for (let i = 0; i < 10_000 && !done; i++) {
    const refusedAt = await new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(undefined);
      });
      socket.once('error', (error) => resolve(error.code === 'ECONNREFUSED' ? performance.now() : undefined));
    });
    if (refusedAt !== undefined) return refusedAt;
    await sleep(2);
  }
  return Infinity;
}

function countBy(values) {
  const counts = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}

export const scenarios = [
  { id: 'idle', label: '(a) 50 idle keep-alive connections', run: idleKeepAlive },
  { id: 'unused', label: '(b) 50 connections opened, never used', run: unusedConnections },
  { id: 'inflight', label: '(c) 20 in-flight 1 s requests', run: inFlight },
  { id: 'load', label: '(d) keep-alive load, SIGTERM in the middle', run: underLoad },
  // Clients that pause 0-50 ms between requests: connections go idle at every moment, so closing
  // an idle connection races with a client that is just sending on it.
  { id: 'sporadic', label: '(e) keep-alive clients pausing 0-50 ms, SIGTERM in the middle', run: (id) => underLoad(id, { thinkMs: 50 }) },
];

/** Median that keeps Infinity (a killed run) in order. */
function medianOf(values) {
  const sorted = values.filter((value) => typeof value === 'number').sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Runs every scenario for every contender, `rounds` times, order rotated each round. */
export async function run({ rounds = Number(process.env.BENCH_ROUNDS ?? (quick ? 1 : 3)), only = process.env.BENCH_CONTENDERS?.split(',') } = {}) {
  const selected = only ? contenders.filter((c) => only.includes(c.id)) : contenders;
  const samples = {};
  // Warm the client code (http.Agent, this file) first, so that the first contender measured
  // does not pay for a cold client.
  await underLoad('plain').catch(() => undefined);
  for (let round = 0; round < rounds; round++) {
    for (const scenario of scenarios) {
      const order = selected.map((_, i) => selected[(i + round * 3) % selected.length]);
      if (process.env.BENCH_SCENARIOS && !process.env.BENCH_SCENARIOS.split(',').includes(scenario.id)) continue;
      for (const contender of order) {
        const key = `${contender.id}/${scenario.id}`;
        let sample;
        try {
          sample = await scenario.run(contender.id);
        } catch (error) {
          sample = { failed: String(error.message).slice(0, 500) };
        }
        (samples[key] ??= []).push(sample);
        log(`shutdown round ${round + 1}/${rounds} ${scenario.id} ${contender.id}: ${JSON.stringify(sample)}`);
      }
    }
  }
  const rows = selected.map((contender) => {
    const row = { id: contender.id, label: contender.label, setup: contender.setup };
    for (const scenario of scenarios) {
      const list = samples[`${contender.id}/${scenario.id}`] ?? [];
      const ok = list.filter((sample) => sample.failed === undefined);
      const exitMs = medianOf(ok.map((sample) => (sample.exit === 'killed' ? Infinity : sample.exitMs)));
      row[scenario.id] = {
        // JSON has no Infinity: a median run that had to be killed is `killed: true`.
        exitMs: exitMs === Infinity ? null : exitMs,
        killed: exitMs === Infinity,
        exits: [...new Set(ok.map((sample) => sample.exit))],
        failed: list.filter((sample) => sample.failed !== undefined).map((sample) => sample.failed),
        ...(scenario.id === 'inflight' ? { answered: medianOf(ok.map((sample) => sample.answered)) } : {}),
        ...(scenario.id === 'load' || scenario.id === 'sporadic'
          ? {
              lost: medianOf(ok.map((sample) => sample.lost)),
              crossingFin: medianOf(ok.map((sample) => sample.crossingFin ?? 0)),
              lostBeforeListenerClosed: medianOf(ok.map((sample) => sample.lostBeforeListenerClosed)),
              served: medianOf(ok.map((sample) => sample.served)),
            }
          : {}),
        samples: list,
      };
    }
    return row;
  });
  return { benchmark: 'shutdown', quick, rounds, capMs: CAP_MS, loadMs: LOAD_MS, connections: CONNECTIONS, inFlight: IN_FLIGHT, rows };
}

function exitOf(cell) {
  return cell.killed ? Infinity : cell.exitMs;
}

function exitText(cell, capMs) {
  if (cell.killed) return `> ${capMs / 1000} s (killed)`;
  if (cell.exitMs === null) return 'failed';
  return formatMs(cell.exitMs);
}

/** The README table, plus a note on every column where Lifespan is not the best. */
export function render(result) {
  const header = [
    'contender',
    '(a) 50 idle keep-alive: exit',
    '(b) 50 unused connections: exit',
    `(c) ${result.inFlight} in-flight 1 s: answered, exit`,
    '(d) load + SIGTERM: lost (by listener close)',
    '(d) exit',
    '(e) clients pausing 0-50 ms: lost (+ crossing a FIN)',
    'exit code(s)',
  ];
  const rows = result.rows.map((row) => {
    const codes = new Set();
    for (const scenario of scenarios) for (const code of row[scenario.id]?.exits ?? []) codes.add(code === '143' || code === 'SIGTERM' ? `${code} (signal re-raised)` : code);
    return [
      row.label,
      exitText(row.idle, result.capMs),
      exitText(row.unused, result.capMs),
      row.inflight.answered === null ? 'failed' : `${row.inflight.answered}/${result.inFlight}, ${exitText(row.inflight, result.capMs)}`,
      row.load.lost === null ? 'failed' : `${row.load.lost} (${row.load.lostBeforeListenerClosed})`,
      exitText(row.load, result.capMs),
      row.sporadic === undefined || row.sporadic.lost === null ? 'n/a' : `${row.sporadic.lost} (+${row.sporadic.crossingFin ?? 0})`,
      [...codes].join(', '),
    ];
  });
  const notes = [];
  const lifespan = result.rows.find((row) => row.id === 'lifespan');
  if (lifespan) {
    const checks = [
      ['(a) exit time', (row) => exitOf(row.idle), formatMs],
      ['(b) exit time', (row) => exitOf(row.unused), formatMs],
      ['(c) answered', (row) => (row.inflight.answered === null ? null : -row.inflight.answered), (v) => `${-v} answered`],
      ['(c) exit time', (row) => exitOf(row.inflight), formatMs],
      ['(d) requests lost', (row) => row.load.lost, (v) => `${v} lost`],
      ['(d) exit time', (row) => exitOf(row.load), formatMs],
      ['(e) requests lost', (row) => row.sporadic?.lost ?? null, (v) => `${v} lost`],
    ];
    for (const [name, metric, show] of checks) {
      const mine = metric(lifespan);
      if (mine === null) continue;
      const better = result.rows.filter((row) => row.id !== 'lifespan' && metric(row) !== null && metric(row) < mine);
      if (better.length > 0) notes.push(`- ${name}: Lifespan ${show(mine)}; better: ${better.map((row) => `${row.label} ${show(metric(row))}`).join(', ')}.`);
    }
  }
  const setups = result.rows.map((row) => `- ${row.label}: ${row.setup}`).join('\n');
  return [
    markdownTable(header, rows),
    '',
    `Medians of ${result.rounds} round(s); exit time is from SIGTERM (sent by PID) to the process's exit as seen by the parent; runs still alive after ${result.capMs / 1000} s are killed. ` +
      `(d): ${result.connections} node:http keep-alive clients send requests back to back for ${result.loadMs / 1000} s, then SIGTERM; a request is lost when it fails after it was sent (ECONNRESET, socket hang up, non-2xx); ` +
      '(e): the same, but each client pauses a random 0-50 ms before each request, so connections are idle at every moment and closing an idle one races with a client just sending on it. ' +
      'ECONNREFUSED (listener already closed, a real client would go elsewhere) is not a loss. ' +
      `"Crossing a FIN" (in brackets, not in "lost"): a request the client wrote after the server had sent its FIN on a connection idle for at least ${GRACE_MS} ms with no response pending (server-side timestamps of each FIN, client-side moment each request was written, one clock): the request and the FIN crossed on the wire, and no server can prevent that, only a client retry. Everything else that failed after it was written is lost. ` +
      '"By listener close" counts losses seen no later than the first refused probe (a connection attempt every 2 ms from SIGTERM on), i.e. before a client could have known the server was going away.',
    '',
    notes.length > 0 ? `Where Lifespan is not the best:\n${notes.join('\n')}` : 'Lifespan is best or tied on every column.',
    '',
    'How Lifespan closes idle connections, and why it may exit later under load: it never resets a request. ' +
      'When the drain begins on a server on which no connection has carried traffic for `idleGraceMs` (25 ms), as in (a) and (b), every idle connection is closed at once. ' +
      'While requests flow, as in (d) and (e), a connection that looks idle may be one a client is just sending on: it gets `idleGraceMs` from the start of the drain to show a request, which is answered with `Connection: close`, and every request in flight is answered. ' +
      'In (d) the others exit sooner because they reset the request on every busy connection (the "lost" column); Lifespan exits once the last of those is answered. ' +
      'Closing long-idle connections at once even while requests flow, or a grace of 5 or 10 ms, lost requests in (e) in side-by-side experiments (`BENCH_VARIANTS`, see bench/README.md) where 25 ms lost none.',
    '',
    `Setups (each library's README defaults):\n${setups}`,
  ].join('\n');
}

if (isMain(import.meta)) {
  const result = await run();
  // A run over some contenders only (BENCH_CONTENDERS) must not end up in the README; one with the
  // servers on another runtime (BENCH_RUNTIME) has a table of its own.
  const name = process.env.BENCH_CONTENDERS ? 'shutdown-partial' : process.env.BENCH_RUNTIME ? `shutdown-${process.env.BENCH_RUNTIME}` : 'shutdown';
  writeResult(name, result);
  process.stdout.write(`${render(result)}\n`);
}
