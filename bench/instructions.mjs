// Per-request overhead of each adapter in executed instructions, counted by valgrind's callgrind.
// CPU time on a shared 2-core machine varies by tens of percent between identical rounds, so it
// cannot show a 2% difference. Instruction counts can, once the server runs deterministically:
// node --single-threaded (no background compiler or GC threads), --no-memory-reducer and
// --predictable-gc-schedule (no GC driven by wall-clock time, which under valgrind is slow and
// varies). Each server (bench/overhead-server.mjs) serves N1, then N2 requests in two runs; the
// difference divided by N2 - N1 is the cost of one request, startup cancelled out. N1 is large
// (10,000): until then V8 is still optimizing, and that work, not the request, dominated the
// difference (a first version with 300/1,300 requests moved rows by ~3 points between runs; this
// one repeats within ~0.5%).
//
//   node bench/instructions.mjs [--quick]       (needs valgrind: apt-get install valgrind)
//   BENCH_FRAMEWORKS=koa,fastify node bench/instructions.mjs    (some rows: results/instructions-partial.json)
import { spawn, spawnSync } from 'node:child_process';
import http from 'node:http';
import { join } from 'node:path';
import { benchDir, isMain, log, quick, writeResult } from './lib.mjs';
const imported = (name) => ({ variant: 'imported', label: `${name} with the adapter's module loaded but not used (reference: how much two near-identical programs differ)` });
const frameworks = [
  { id: 'node', label: 'node:http + @lifespan/core (`attach`)', references: [imported('node:http')] },
  { id: 'express', label: 'Express 5 + @lifespan/express', references: [imported('Express 5')] },
  {
    id: 'koa',
    label: 'Koa 3 + @lifespan/koa',
    references: [{ variant: 'empty', label: 'Koa 3 + an empty `app.use((ctx, next) => next())` (reference, no Lifespan)' }, imported('Koa 3')],
  },
  { id: 'fastify', label: 'Fastify 5 + @lifespan/fastify', references: [imported('Fastify 5')] },
];
const [few, many] = quick ? [4000, 8000] : [10_000, 30_000];
const nodeFlags = ['--single-threaded', '--no-memory-reducer', '--predictable-gc-schedule'];

/** Instructions executed by one server process that serves `count` requests. */
function countInstructions(framework, variant, count, seed) {
  return new Promise((resolve, reject) => {
    const flags = seed === undefined ? nodeFlags : [...nodeFlags, `--random-seed=${seed}`];
    const child = spawn('valgrind', ['--tool=callgrind', '--callgrind-out-file=/dev/null', process.execPath, ...flags, join(benchDir, 'overhead-server.mjs'), framework, variant], {
      env: { ...process.env, SERVE_COUNT: String(count) },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const limit = setTimeout(() => child.kill('SIGKILL'), 900_000);
    child.once('message', (message) => {
      if (message.port === undefined) return reject(new Error(`${framework} ${variant}: ${message.error}`));
      void drive(message.port);
    });
    child.once('exit', () => {
      clearTimeout(limit);
      const match = stderr.match(/Collected : (\d+)/);
      if (match) resolve(Number(match[1]));
      else reject(new Error(`${framework} ${variant}: no instruction count\n${stderr.slice(-500)}`));
    });
  });
}

/**
 * One keep-alive client requests until the server goes away. One at a time: with several
 * connections the event loop batches a varying number of requests per turn, which moved the
 * counts by a few percent between identical runs.
 */
async function drive(port) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const one = () =>
    new Promise((resolve) => {
      http
        .get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(true));
        })
        .on('error', () => resolve(false));
    });
  const loop = async () => {
    for (let i = 0; i < 100_000 && (await one()); i++);
  };
  await loop();
  agent.destroy();
}

// BENCH_SEEDS=1,2,3: V8's random seed (identity hashes, hence Map and WeakMap layouts) is what
// made two runs of one server differ by up to ~1%; with a seed a run repeats to 0.005%. Each seed
// is one draw of that noise, and the median over seeds is reported.
const seeds = process.env.BENCH_SEEDS?.split(',').map(Number);

async function perRequest(framework, variant) {
  const values = [];
  for (const seed of seeds ?? [undefined]) {
    // Side by side: instruction counts do not depend on how the two processes share the cores.
    const [small, large] = await Promise.all([countInstructions(framework, variant, few, seed), countInstructions(framework, variant, many, seed)]);
    values.push((large - small) / (many - few));
  }
  perRequest.samples.push({ framework, variant, seeds: seeds ?? null, values });
  return values.sort((a, b) => a - b)[values.length >> 1];
}
perRequest.samples = [];

export async function run() {
  if (spawnSync('valgrind', ['--version']).status !== 0) return { skipped: 'valgrind is not installed (apt-get install valgrind)', rows: [] };
  const rows = [];
  const only = process.env.BENCH_FRAMEWORKS?.split(',');
  for (const framework of frameworks.filter((candidate) => only === undefined || only.includes(candidate.id))) {
    const bare = await perRequest(framework.id, 'bare');
    const adapter = await perRequest(framework.id, 'adapter');
    log(`instructions ${framework.id}: bare ${Math.round(bare)}, adapter ${Math.round(adapter)} per request`);
    rows.push({ framework: framework.id, label: framework.label, bare, adapter, overhead: adapter / bare - 1 });
    for (const reference of framework.references) {
      const count = await perRequest(framework.id, reference.variant);
      log(`instructions ${framework.id} ${reference.variant}: ${Math.round(count)} per request`);
      rows.push({ framework: framework.id, label: reference.label, bare, adapter: count, overhead: count / bare - 1, reference: true });
    }
  }
  return { counts: [few, many], seeds: seeds ?? null, samples: perRequest.samples, rows };
}

export function render(result) {
  if (result.skipped) return `_Not measured: ${result.skipped}._`;
  const pct = (value) => `${value >= 0 ? '+' : ''}${(value * 100).toFixed(1)}%`;
  const lines = [
    '| framework + adapter | instructions/request bare | instructions/request adapter | overhead |',
    '| --- | --- | --- | --- |',
    ...result.rows.map((row) => `| ${row.label} | ${Math.round(row.bare).toLocaleString('en-US')} | ${Math.round(row.adapter).toLocaleString('en-US')} | ${pct(row.overhead)}${row.overhead > 0.02 && !row.reference ? ' (over the 2% goal)' : ''} |`),
    '',
    `Instructions executed by the server process (valgrind callgrind), per request: the difference between a run serving ${result.counts[1].toLocaleString('en-US')} and one serving ${result.counts[0].toLocaleString('en-US')} requests (one keep-alive connection, one request at a time), divided by the difference, so startup and warm-up cancel out. ` +
      'The route is the same as in the CPU-time table (the adapter route calls `registerShutdown(fn, { key })` on every request; Express and Koa servers are attached with `attach()`, as the README shows). ' +
      'Node runs `--single-threaded --no-memory-reducer --predictable-gc-schedule`, so that no background thread or wall-clock-driven GC adds work' +
      (result.seeds ? `, with V8 random seed ${result.seeds.join(', ')} (a seeded run repeats to about 0.005%; unseeded runs of one server moved by up to ~1%${result.seeds.length > 1 ? '; the median over seeds is shown' : ''}). ` : '; repeated runs of one server agreed within about 1%. ') +
      'Counts are under valgrind (JIT and all), so compare the ratio, not the absolute numbers; a program that differs slightly can come out a percent or two apart through JIT decisions alone, either way (an adapter row can come out below its bare row). ' +
      'Reference rows: the bare app with the adapter module loaded and not used differs from the bare app by JIT decisions alone, which is the resolution of this method (about a percent or two); Koa with one empty middleware shows what Koa charges for any `app.use()`, which its adapter, being middleware, pays too. The Express middleware takes itself out of the router once its server is attached.',
  ];
  if (result.note) lines.push('', result.note);
  return lines.join('\n');
}

if (isMain(import.meta)) {
  const result = await run();
  writeResult(process.env.BENCH_FRAMEWORKS ? 'instructions-partial' : 'instructions', { ...result, quick });
  process.stdout.write(`${render(result)}\n`);
}
