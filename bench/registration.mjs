// Registration benchmark: what a million per-request registrations cost.
// Each variant runs in a fresh `node --expose-gc` process (heap measured after forced GC), in
// interleaved rounds; the table shows medians.
import { fileURLToPath } from 'node:url';
import { forkChild, formatBytes, isMain, log, markdownTable, median, nextMessage, quick, writeResult } from './lib.mjs';

const COUNT = 1_000_000;

export const variants = [
  { id: 'keyed', label: 'Lifespan: `registerShutdown(() => pool.end(), { key })`, new closure each call' },
  { id: 'function', label: 'Lifespan: `registerShutdown(fn)`, same function each call' },
  { id: 'naive', label: 'naive: `hooks.push(() => pool.end())` (per-request, no dedup)' },
];

function gc() {
  for (let i = 0; i < 3; i++) globalThis.gc();
}

async function worker(variant, count) {
  const { createLifecycle } = await import('@lifespan/core');
  const lifecycle = createLifecycle({ signals: false });
  const pool = { end: () => undefined };
  const shared = () => pool.end();
  const naive = [];
  gc();
  const before = process.memoryUsage().heapUsed;
  const started = process.hrtime.bigint();
  if (variant === 'keyed') {
    for (let i = 0; i < count; i++) lifecycle.registerShutdown(() => pool.end(), { key: 'pg-pool' });
  } else if (variant === 'function') {
    for (let i = 0; i < count; i++) lifecycle.registerShutdown(shared);
  } else {
    for (let i = 0; i < count; i++) naive.push(() => pool.end());
  }
  const elapsedNs = Number(process.hrtime.bigint() - started);
  gc();
  const after = process.memoryUsage().heapUsed;
  const hooks = variant === 'naive' ? naive.length : lifecycle.hookCount;
  process.send({ variant, count, heapGrowthBytes: after - before, hooks, nsPerCall: elapsedNs / count, keep: naive.length > 0 ? 1 : 0 });
  await lifecycle.shutdown('bench');
}

/** Runs every variant `rounds` times, interleaved, each in its own process. */
export async function run({ rounds = quick ? 1 : 3 } = {}) {
  const samples = Object.fromEntries(variants.map((variant) => [variant.id, []]));
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? variants : [...variants].reverse();
    for (const variant of order) {
      const { child, exited, output } = forkChild(fileURLToPath(import.meta.url), { args: ['--worker', variant.id, String(COUNT)], execArgv: ['--expose-gc'] });
      try {
        const sample = await nextMessage(child, (message) => message?.variant === variant.id, 60_000);
        samples[variant.id].push(sample);
        log(`registration round ${round + 1}/${rounds} ${variant.id}: ${formatBytes(sample.heapGrowthBytes)}, ${sample.hooks} hooks, ${sample.nsPerCall.toFixed(1)} ns/call`);
      } catch (error) {
        throw new Error(`${error.message}\n${output()}`);
      }
      await exited;
    }
  }
  const rows = variants.map((variant) => ({
    id: variant.id,
    label: variant.label,
    count: COUNT,
    hooks: median(samples[variant.id].map((sample) => sample.hooks)),
    heapGrowthBytes: median(samples[variant.id].map((sample) => sample.heapGrowthBytes)),
    nsPerCall: median(samples[variant.id].map((sample) => sample.nsPerCall)),
    samples: samples[variant.id],
  }));
  return { benchmark: 'registration', quick, rounds, count: COUNT, rows };
}

/** The README table. */
export function render(result) {
  const table = markdownTable(
    ['1,000,000 registrations', 'hooks kept', 'heap growth (after GC)', 'time per call'],
    result.rows.map((row) => [row.label, row.hooks.toLocaleString('en-US'), formatBytes(row.heapGrowthBytes), `${row.nsPerCall.toFixed(1)} ns`]),
  );
  return `${table}\n\nMedians of ${result.rounds} run(s), each variant in a fresh \`node --expose-gc\` process; heap measured with \`process.memoryUsage().heapUsed\` after forced GC, before and after the loop (the naive array is still referenced).`;
}

if (isMain(import.meta)) {
  const index = process.argv.indexOf('--worker');
  if (index >= 0) {
    await worker(process.argv[index + 1], Number(process.argv[index + 2]));
  } else {
    const result = await run();
    writeResult('registration', result);
    process.stdout.write(`${render(result)}\n`);
  }
}
