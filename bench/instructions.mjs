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
//   node bench/instructions.mjs [--quick]       (needs valgrind: apt-get install valgrind; ~1.5 h, quick ~10 min)
//   BENCH_FRAMEWORKS=koa,fastify node bench/instructions.mjs    (some rows: results/instructions-partial.json)
//   BENCH_CONTEXTS=1 node bench/instructions.mjs                 (context 0 only, with "module loaded" references)
import { spawn, spawnSync } from 'node:child_process';
import http from 'node:http';
import { join } from 'node:path';
import { benchDir, isMain, log, median, ownChild, quick, writeResult } from './lib.mjs';
const imported = (name) => ({ variant: 'imported', label: `${name} with the adapter's module loaded but not used (reference: how much two near-identical programs differ)` });
const frameworks = [
  { id: 'node', label: 'node:http + @lifespan/core (`attach`)', references: [imported('node:http')] },
  // One context only: an Express request executes ~8x Koa's instructions, so a run takes ~40 minutes
  // under valgrind (BENCH_CONTEXTS overrides), and its overhead is clear of 2% in context 0.
  { id: 'express', label: 'Express 5 + @lifespan/express', references: [imported('Express 5')], contexts: 1 },
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
function countInstructions(framework, variant, count, seed, context) {
  return new Promise((resolve, reject) => {
    const flags = [...nodeFlags, `--random-seed=${seed}`];
    const child = ownChild(spawn('valgrind', ['--tool=callgrind', '--callgrind-out-file=/dev/null', process.execPath, ...flags, join(benchDir, 'overhead-server.mjs'), framework, variant], {
      env: { ...process.env, SERVE_COUNT: String(count), BENCH_CONTEXT: contextModules(context).join(',') },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    }));
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
// made two runs of one server differ by up to ~1%; with a seed a run repeats to ~0.05%. Default: 1.
const seeds = process.env.BENCH_SEEDS?.split(',').map(Number) ?? [1];

// BENCH_CONTEXTS=n: which other code a program loads moves node:http's own optimized code, and
// with it the count per request, by a percent or two either way: Fastify with the adapter's module
// loaded and never used came out +1.9% on every seed, and the same bare Fastify server with one
// empty module imported first +0.5% (callgrind: node:http's parserOnHeadersComplete and the
// OutgoingMessage constructor were optimized with generic property-access calls in one program and
// not in the other). So each comparison runs in n "contexts": context 0 loads nothing else, context
// k loads a fixed pseudo-random selection of modules a real app loads anyway (node built-ins and
// packages the frameworks depend on) before the framework. Bare and adapter share each context:
// the overhead shown is the median of the n paired ratios (one context once came out 2.2x under
// valgrind, all of it garbage collection), with their range.
const contextPool = [
  'node:crypto', 'node:zlib', 'node:dns', 'node:tls', 'node:https', 'node:worker_threads', 'node:readline',
  'node:stream/web', 'node:url', 'node:async_hooks', 'debug', 'qs', 'mime-types', 'http-errors', 'cookie', 'iconv-lite', 'ajv', 'pino', 'semver',
];
const contextsOverride = process.env.BENCH_CONTEXTS === undefined ? undefined : Number(process.env.BENCH_CONTEXTS);
const contextsOf = (framework) => contextsOverride ?? (quick ? 1 : (framework.contexts ?? 6));

/** The modules of context `k`: none for 0, else about half the pool, shuffled, from a seeded generator. */
export function contextModules(k) {
  if (k === 0) return [];
  let state = k * 0x9e3779b9;
  const random = () => {
    // mulberry32
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return contextPool.filter(() => random() < 0.5).sort(() => random() - 0.5);
}

/** Instructions per request of one server variant in one context: median over the seeds. */
async function perRequest(framework, variant, context) {
  const values = [];
  for (const seed of seeds) {
    // Side by side: instruction counts do not depend on how the two processes share the cores.
    const [small, large] = await Promise.all([countInstructions(framework, variant, few, seed, context), countInstructions(framework, variant, many, seed, context)]);
    values.push((large - small) / (many - few));
  }
  const value = median(values);
  perRequest.samples.push({ framework, variant, context, seeds, values, value });
  return value;
}
perRequest.samples = [];

export async function run() {
  if (spawnSync('valgrind', ['--version']).status !== 0) return { skipped: 'valgrind is not installed (apt-get install valgrind)', rows: [] };
  const rows = [];
  const only = process.env.BENCH_FRAMEWORKS?.split(',');
  for (const framework of frameworks.filter((candidate) => only === undefined || only.includes(candidate.id))) {
    // With several contexts the "module loaded, not used" references are what the contexts already
    // vary; the framework's own references (Koa's empty middleware) run in context 0 only.
    const contextCount = contextsOf(framework);
    const references = framework.references.filter((reference) => contextCount === 1 || reference.variant !== 'imported');
    const per = { bare: [], adapter: [], ...Object.fromEntries(references.map((reference) => [reference.variant, []])) };
    for (let context = 0; context < contextCount; context++) {
      const variants = context === 0 ? Object.keys(per) : ['bare', 'adapter'];
      for (const variant of variants) per[variant][context] = await perRequest(framework.id, variant, context);
      log(`instructions ${framework.id} context ${context}: ${variants.map((variant) => `${variant} ${Math.round(per[variant][context])}`).join(', ')}`);
    }
    const row = (label, variant, reference) => {
      const ratios = per[variant].map((value, context) => value / per.bare[context] - 1);
      const bare = per.bare.slice(0, ratios.length);
      return { framework: framework.id, label, contexts: ratios.length, bare: median(bare), adapter: median(per[variant]), overhead: median(ratios), ratios, min: Math.min(...ratios), max: Math.max(...ratios), ...(reference ? { reference: true } : {}) };
    };
    rows.push(row(framework.label, 'adapter', false));
    for (const reference of references) rows.push(row(reference.label, reference.variant, true));
  }
  const contexts = Math.max(0, ...rows.map((row) => row.contexts));
  return { counts: [few, many], seeds, contexts: Array.from({ length: contexts }, (_, k) => contextModules(k)), samples: perRequest.samples, rows };
}

export function render(result) {
  if (result.skipped) return `_Not measured: ${result.skipped}._`;
  const pct = (value) => `${value >= 0 ? '+' : ''}${(value * 100).toFixed(1)}%`;
  const contexts = Math.max(...result.rows.map((row) => row.contexts ?? 1));
  const overhead = (row) => ((row.contexts ?? 1) > 1 ? `${pct(row.overhead)} (${pct(row.min)} to ${pct(row.max)}, ${row.contexts} contexts)` : pct(row.overhead));
  const lines = [
    `| framework + adapter | instructions/request bare | instructions/request adapter | overhead${contexts > 1 ? ' (median over contexts, range)' : ''} |`,
    '| --- | --- | --- | --- |',
    ...result.rows.map((row) => `| ${row.label} | ${Math.round(row.bare).toLocaleString('en-US')} | ${Math.round(row.adapter).toLocaleString('en-US')} | ${overhead(row)}${row.overhead > 0.02 && !row.reference ? ' (over the 2% goal)' : ''} |`),
    '',
    `Instructions executed by the server process (valgrind callgrind), per request: the difference between a run serving ${result.counts[1].toLocaleString('en-US')} and one serving ${result.counts[0].toLocaleString('en-US')} requests (one keep-alive connection, one request at a time), divided by the difference, so startup and warm-up cancel out. ` +
      'The route is the same as in the CPU-time table (the adapter route calls `registerShutdown(fn, { key })` on every request; Express and Koa servers are attached with `attach()`, as the README shows). ' +
      `Node runs \`--single-threaded --no-memory-reducer --predictable-gc-schedule --random-seed=${(result.seeds ?? [1]).join(',')}\`, so that no background thread or wall-clock-driven GC adds work: a run repeats to about 0.05% on an idle machine, 0.3% when other processes compete for the cores. ` +
      (contexts > 1
        ? `Which other code a program loads moves node:http's own optimized code by a percent or two either way, so each pair ran in several contexts (context 0 loads nothing else; each other one first loads a fixed pseudo-random half of a list of Node built-ins and of packages the frameworks depend on, as a real app loads more than its framework): the overhead is the median of the paired ratios, their range in brackets. Bare and adapter columns are medians. `
        : 'A program that differs slightly can come out a percent or two apart through JIT decisions alone, either way: the "module loaded but not used" reference rows show how much. ') +
      'Counts are under valgrind (JIT and all), so compare ratios, not absolute numbers. Koa with one empty middleware shows what Koa charges for any `app.use()`, which its adapter, being middleware, pays too; the Express middleware takes itself out of the router once its server is attached.',
  ];
  if (result.note) lines.push('', result.note);
  return lines.join('\n');
}

if (isMain(import.meta)) {
  const result = await run();
  writeResult(process.env.BENCH_FRAMEWORKS ? 'instructions-partial' : 'instructions', { ...result, quick });
  process.stdout.write(`${render(result)}\n`);
}
