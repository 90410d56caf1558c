// Scale benchmark: what shutting down costs the server as connections grow, Lifespan against
// http-terminator, stoppable and plain `server.close()`, side by side in one run. Each server is
// its own process (bench/servers/<id>.mjs with bench/scale/cpu-probe.mjs loaded), the load another
// (bench/scale/client.mjs); this process only starts them, sends SIGTERM (by PID) and reads clocks.
//
//   node bench/scale.mjs [--quick]     (npm run bench:scale: build, run, README table)
//
// Measured per run: the server's CPU time from SIGTERM to its 'exit' event (process.cpuUsage in
// the server), the exit time as the parent sees it, every request the client wrote (answered or
// lost), and for the churn scenario the server's CPU per connection (/proc/<pid>/stat).
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { benchDir, isMain, killChild, log, markdownTable, median, nextMessage, ownChild, quick, serverRuntime, sleep, writeResult } from './lib.mjs';

export const contenders = [
  { id: 'lifespan', label: 'Lifespan', setup: '`createLifecycle().attach(server)`, defaults' },
  { id: 'http-terminator', label: 'http-terminator', setup: 'SIGTERM -> `await terminate()` -> `exit(0)`; default `gracefulTerminationTimeout` 1000 ms' },
  { id: 'stoppable', label: 'stoppable', setup: 'SIGTERM -> `server.stop(cb)` -> `exit(0)`' },
  { id: 'plain', label: 'plain Node', setup: 'SIGTERM -> `server.close(cb)` (closes idle connections, Node 19+) -> `exit(0)`' },
];
const peers = ['http-terminator', 'stoppable', 'plain'];

// Experiments: BENCH_VARIANTS=before=/tmp/core-before adds a Lifespan contender per copy of core's
// dist/esm (bench/servers/lifespan-variant.mjs), to compare a change side by side.
for (const entry of process.env.BENCH_VARIANTS?.split(',') ?? []) {
  const [name, dir] = entry.split('=');
  contenders.push({ id: `variant:${name}`, label: `Lifespan ${name}`, setup: dir, server: 'lifespan-variant', env: { BENCH_LIFESPAN_CORE: dir } });
}

// Each process may hold this many descriptors (ulimit -n is raised to the hard limit for the
// server and the client); the largest idle N stays below it.
const hardLimit = Number(execFileSync('/bin/sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim()) || 1024;
const largest = Math.min(19_000, hardLimit - 500);
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
const CAP_MS = 60_000;

/** idle: connections that carried one request, idle at SIGTERM; inflight: one 'GET /slow' pending on each; churn: short connections. */
export const scenarios = quick
  ? [
      { id: 'idle-1000', mode: 'idle', n: 1000, settleMs: 200 },
      { id: 'inflight-1000', mode: 'inflight', n: 1000, settleMs: 500, slowMs: 1500 },
      { id: 'churn-5000', mode: 'churn', n: 5000, warm: 1000 },
    ]
  : [
      { id: 'idle-1000', mode: 'idle', n: 1000, settleMs: 200 },
      { id: 'idle-10000', mode: 'idle', n: 10_000, settleMs: 300 },
      { id: `idle-${largest}`, mode: 'idle', n: largest, settleMs: 400 },
      { id: 'inflight-1000', mode: 'inflight', n: 1000, settleMs: 500, slowMs: 1500 },
      // Writing and reading 10,000 requests takes a while on 2 shared cores: each is still in flight at SIGTERM.
      { id: 'inflight-10000', mode: 'inflight', n: 10_000, settleMs: 2000, slowMs: 4000 },
      { id: 'churn-50000', mode: 'churn', n: 50_000, warm: 5000 },
    ];

/** Node (or BENCH_RUNTIME) with `args`, the descriptor limit raised first; stdout/stderr kept (last 4 kB). */
function spawnNode(args, env = {}) {
  const script = 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"';
  const child = ownChild(spawn('/bin/sh', ['-c', script, 'sh', serverRuntime.bin, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] }));
  let output = '';
  const collect = (chunk) => {
    output = (output + chunk.toString()).slice(-4096);
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, at: performance.now() })));
  return { child, exited, output: () => output };
}

/** utime + stime of a process, in ms (clock ticks: 10 ms steps at 100 Hz). */
function processCpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of proc(5), counted from the state field (3).
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}

/** Sends over IPC; a child that is gone already fails the run with its own output, not this process. */
function tell(handle, message) {
  return new Promise((resolve, reject) => {
    handle.child.send(message, (error) => (error ? reject(new Error(`cannot tell ${message.type}: ${error.message}`)) : resolve()));
  });
}

async function runOne(scenario, contender) {
  const dir = mkdtempSync(join(os.tmpdir(), 'lifespan-scale-'));
  const cpuFile = join(dir, 'cpu.json');
  const probe = pathToFileURL(join(benchDir, 'scale', 'cpu-probe.mjs')).href;
  const server = spawnNode(['--import', probe, join(benchDir, 'servers', `${contender.server ?? contender.id}.mjs`)], {
    ...contender.env,
    BENCH_SCALE_CPU: cpuFile,
    BENCH_KEEP_ALIVE_MS: String(CAP_MS),
    ...(scenario.slowMs ? { BENCH_SLOW_MS: String(scenario.slowMs) } : {}),
  });
  let client;
  try {
    const { port } = await nextMessage(server.child, (message) => typeof message?.port === 'number', 20_000);
    client = spawnNode([join(benchDir, 'scale', 'client.mjs'), scenario.mode, String(port), String(scenario.n)]);
    const done = nextMessage(client.child, (message) => message?.type === 'done', CAP_MS * 3);
    done.catch(() => undefined);
    const ready = await nextMessage(client.child, (message) => message?.type === 'ready', CAP_MS);
    const sample = { open: ready.open };
    if (scenario.mode === 'churn') {
      await tell(client, { type: 'warm', total: scenario.warm });
      await nextMessage(client.child, (message) => message?.type === 'warm-done', CAP_MS);
      const cpuBefore = processCpuMs(server.child.pid);
      const startedAt = performance.now();
      await tell(client, { type: 'measured', total: scenario.n });
      await nextMessage(client.child, (message) => message?.type === 'measured-done', CAP_MS * 3);
      sample.churnCpuMs = processCpuMs(server.child.pid) - cpuBefore;
      sample.churnWallMs = performance.now() - startedAt;
      sample.cpuPerConnectionUs = (sample.churnCpuMs * 1000) / scenario.n;
    } else await sleep(scenario.settleMs);
    sample.loadAverage = os.loadavg()[0];
    const sentAt = performance.now();
    process.kill(server.child.pid, 'SIGTERM');
    await tell(client, { type: 'signal' });
    const exit = await Promise.race([server.exited, sleep(CAP_MS).then(() => null)]);
    if (exit === null) {
      killChild(server.child);
      sample.killed = true;
    } else {
      sample.exitMs = exit.at - sentAt;
      sample.exit = exit.code ?? exit.signal;
      const cpu = JSON.parse(readFileSync(cpuFile, 'utf8'));
      sample.cpuMs = cpu.cpuUs / 1000;
      sample.userMs = cpu.userUs / 1000;
      sample.systemMs = cpu.systemUs / 1000;
      sample.serverWallMs = cpu.wallMs;
    }
    const { stats } = await done;
    Object.assign(sample, { openAtSignal: stats.openAtSignal, written: stats.written, answered: stats.answered, lost: stats.lost, connectFailed: stats.connectFailed ?? 0, errors: stats.errors });
    // In flight at SIGTERM: the slow requests not answered before it (each connection's first answer came before).
    if (scenario.mode === 'inflight') sample.inFlightAtSignal = scenario.n - (stats.answeredBeforeSignal - ready.open);
    return sample;
  } catch (error) {
    throw new Error(`${error.message}\nserver: ${server.output()}\nclient: ${client?.output() ?? ''}`);
  } finally {
    killChild(server.child);
    if (client) killChild(client.child);
    await server.exited;
    if (client) await client.exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Lifespan's value over the best peer's, of one round (a side-by-side ratio). Only peers that lost
 * no request count: one that resets requests in flight (http-terminator after its 1 s default
 * grace) does less work and exits sooner by losing them.
 */
function ratioToBest(round, scenarioId, metric, id = 'lifespan') {
  const own = round[`${id}/${scenarioId}`]?.[metric];
  const others = peers
    .map((id) => round[`${id}/${scenarioId}`])
    .filter((sample) => sample !== undefined && sample.lost === 0)
    .map((sample) => sample[metric])
    .filter((value) => typeof value === 'number');
  if (typeof own !== 'number' || others.length === 0) return undefined;
  return own / Math.min(...others);
}

export async function run({ rounds = Number(process.env.BENCH_ROUNDS ?? (quick ? 1 : 5)), only = process.env.BENCH_CONTENDERS?.split(','), scenarioIds = process.env.BENCH_SCENARIOS?.split(',') } = {}) {
  const selected = only ? contenders.filter((c) => only.includes(c.id)) : contenders;
  const chosen = scenarioIds ? scenarios.filter((s) => scenarioIds.some((id) => s.id.startsWith(id))) : scenarios;
  const perRound = [];
  const loadAverages = [];
  for (let round = 0; round < rounds; round++) {
    const samples = {};
    for (const scenario of chosen) {
      // Rotated each round: no contender always runs first (or right after the heaviest).
      const order = selected.map((_, i) => selected[(i + round) % selected.length]);
      for (const contender of order) {
        let sample;
        try {
          sample = await runOne(scenario, contender);
        } catch (error) {
          sample = { failed: String(error.message).slice(0, 800) };
        }
        samples[`${contender.id}/${scenario.id}`] = sample;
        log(`scale round ${round + 1}/${rounds} ${scenario.id} ${contender.id}: ${JSON.stringify(sample)}`);
      }
    }
    perRound.push(samples);
    loadAverages.push(os.loadavg());
  }
  const metrics = ['cpuMs', 'exitMs', 'cpuPerConnectionUs'];
  const rows = chosen.map((scenario) => {
    const row = { scenario: scenario.id, mode: scenario.mode, n: scenario.n, contenders: {}, ratios: {} };
    for (const contender of selected) {
      const list = perRound.map((round) => round[`${contender.id}/${scenario.id}`]).filter(Boolean);
      const ok = list.filter((sample) => sample.failed === undefined && !sample.killed);
      row.contenders[contender.id] = {
        ...Object.fromEntries(metrics.map((metric) => [metric, median(ok.map((sample) => sample[metric]))])),
        lost: list.reduce((sum, sample) => sum + (sample.lost ?? 0), 0),
        written: list.reduce((sum, sample) => sum + (sample.written ?? 0), 0),
        failed: list.filter((sample) => sample.failed !== undefined || sample.killed).length,
        inFlightAtSignal: scenario.mode === 'inflight' ? median(ok.map((sample) => sample.inFlightAtSignal)) : undefined,
        exitCodes: [...new Set(ok.map((sample) => sample.exit))],
        openAtSignal: median(ok.map((sample) => sample.openAtSignal)),
      };
    }
    for (const metric of metrics) {
      const ratios = perRound.map((round) => ratioToBest(round, scenario.id, metric)).filter((value) => value !== undefined);
      if (ratios.length > 0) row.ratios[metric] = { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) };
    }
    // Each variant (BENCH_VARIANTS) against the same peers, for comparing a change.
    for (const { id } of selected.filter((c) => c.id.startsWith('variant:'))) {
      row.variantRatios ??= {};
      row.variantRatios[id] = {};
      for (const metric of metrics) {
        const ratios = perRound.map((round) => ratioToBest(round, scenario.id, metric, id)).filter((value) => value !== undefined);
        if (ratios.length > 0) row.variantRatios[id][metric] = { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) };
      }
    }
    return row;
  });
  return { benchmark: 'scale', quick, rounds, hardLimit, contenders: selected.map(({ id, label, setup }) => ({ id, label, setup })), loadAverages, rows, samples: perRound };
}

const fixed = (value, digits = 1) => (typeof value === 'number' ? value.toFixed(digits) : 'n/a');
const ratioText = (ratio) => (ratio === undefined ? 'n/a' : `**${ratio.median.toFixed(2)}** (${ratio.min.toFixed(2)}-${ratio.max.toFixed(2)})`);

export function render(result) {
  const ids = result.contenders.map((c) => c.id);
  const labels = result.contenders.map((c) => c.label);
  const header = ['scenario', ...labels, 'Lifespan / best peer'];
  // An exit code other than 0 (Lifespan's drain timeout: connections destroyed) is shown beside the time.
  const cell = (entry, metric, digits) => `${fixed(entry?.[metric], digits)}${metric === 'exitMs' && entry?.exitCodes?.some((code) => code !== 0) ? ` (exit ${entry.exitCodes.join('/')})` : ''}`;
  const table = (metric, digits, rows) =>
    markdownTable(
      header,
      rows.map((row) => [row.scenario, ...ids.map((id) => cell(row.contenders[id], metric, digits)), ratioText(row.ratios[metric])]),
    );
  // With nothing open at SIGTERM, the churn scenario's shutdown says nothing about scale.
  const shutdownRows = result.rows.filter((row) => row.mode !== 'churn');
  const churnRows = result.rows.filter((row) => row.mode === 'churn');
  const lost = markdownTable(
    ['scenario', ...labels],
    result.rows.map((row) => [row.scenario, ...ids.map((id) => `${row.contenders[id]?.lost ?? 'n/a'} of ${row.contenders[id]?.written ?? 'n/a'}${row.contenders[id]?.failed ? ` (${row.contenders[id].failed} runs failed)` : ''}`)]),
  );
  const load = result.loadAverages.map((avg) => avg[0].toFixed(2)).join(', ');
  // A row measured in a run of its own (its four contenders side by side) says so.
  const separate = result.rows.filter((row) => row.separateRun).map((row) => `${row.scenario}: measured in a separate run of ${result.rounds} rounds (${row.separateRun.reason}).`);
  return [
    'Server CPU time from SIGTERM to exit (ms, median):',
    '',
    table('cpuMs', 1, shutdownRows),
    '',
    'Exit time, SIGTERM to the process gone as its parent sees it (ms, median):',
    '',
    table('exitMs', 1, shutdownRows),
    '',
    ...(churnRows.length > 0 ? ['Server CPU per short connection while connections churn (µs, median):', '', table('cpuPerConnectionUs', 2, churnRows), ''] : []),
    'Requests lost (written by the client and never answered), over all rounds:',
    '',
    lost,
    '',
    `${result.rounds} rounds, contenders interleaved (order rotated each round). "Lifespan / best peer" is the median of the per-round ratios (Lifespan's value over the lowest of the same round among the peers that lost no request in it), with their range: the spread between rounds is the noise of a shared 2-core machine (1-minute load average after each round: ${load}). ` +
      'idle-N: N keep-alive connections that each carried one request, idle at SIGTERM; inflight-N: a 1.5 s (N = 10,000: 4 s) `GET /slow` pending on each of N keep-alive connections; churn-N: N connections made one after another, 50 at a time, each carrying one `Connection: close` request (after a warm-up of 5,000), CPU read from `/proc/<pid>/stat`. ' +
      `${separate.length > 0 ? `${separate.join(' ')} ` : ''}` +
      'Each server is its own process with the file-descriptor limit raised to the hard limit and `keepAliveTimeout` set to 60 s (opening 19,000 connections takes longer than the default 5 s), the load another (`bench/scale/client.mjs`, raw TCP); every connection was still open at SIGTERM.',
  ].join('\n');
}

if (isMain(import.meta)) {
  const result = await run();
  const partial = process.env.BENCH_CONTENDERS || process.env.BENCH_SCENARIOS || process.env.BENCH_VARIANTS;
  const file = writeResult(partial ? 'scale-partial' : 'scale', result);
  log(`wrote ${file}`);
  process.stdout.write(`${render(result)}\n`);
}
