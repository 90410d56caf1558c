// Overhead benchmark: each Lifespan adapter against its bare framework on a route that calls
// registerShutdown(fn, { key }) on every request. The measure is the server process's CPU time per
// request (process.cpuUsage() around a fixed number of requests sent by autocannon), in
// interleaved rounds (bare, adapter, adapter, bare, ...), medians. Throughput is shown too, but on
// a shared 2-core machine it varies far more than the 2% this is about.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { benchDir, forkChild, isMain, killChild, log, markdownTable, median, nextMessage, quick, writeResult } from './lib.mjs';

export const frameworks = [
  { id: 'node', label: 'node:http + @lifespan/core (`attach`)', package: '@lifespan/core', dir: 'core' },
  { id: 'express', label: 'Express 5 + @lifespan/express', package: '@lifespan/express', dir: 'express' },
  { id: 'koa', label: 'Koa 3 + @lifespan/koa', package: '@lifespan/koa', dir: 'koa' },
  { id: 'fastify', label: 'Fastify 5 + @lifespan/fastify', package: '@lifespan/fastify', dir: 'fastify' },
];

// Samples of ~0.5-2 s each: shorter ones (4,000 requests) moved by tens of percent with the machine.
const REQUESTS = quick ? 5_000 : 20_000;
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const WARMUP = quick ? 10_000 : 20_000;

function built(framework) {
  return existsSync(join(benchDir, '..', 'packages', framework.dir, 'dist', 'esm', 'index.js'));
}

async function startServer(framework, variant) {
  const handle = forkChild(join(benchDir, 'overhead-server.mjs'), { args: [framework, variant] });
  const message = await nextMessage(handle.child, (m) => typeof m?.port === 'number' || typeof m?.error === 'string', 20_000).catch((error) => ({ error: error.message }));
  if (message.error !== undefined) {
    killChild(handle.child);
    throw new Error(`${framework} ${variant}: ${message.error}\n${handle.output()}`);
  }
  return { ...handle, port: message.port };
}

async function measure(server, amount) {
  server.child.send('begin');
  await nextMessage(server.child, (m) => m?.begun === true);
  const started = performance.now();
  // sampleInt: autocannon only finishes on a sample tick (1 s by default), which would turn
  // the elapsed time (req/s) into whole seconds and add idle time to every sample.
  const result = await autocannon({ url: `http://127.0.0.1:${server.port}/`, connections: CONNECTIONS, amount, sampleInt: 20 });
  const seconds = (performance.now() - started) / 1000;
  server.child.send('end');
  const { cpuMicros } = await nextMessage(server.child, (m) => typeof m?.cpuMicros === 'number');
  const requests = result.requests.total;
  const bad = result.errors + result.timeouts + result.non2xx;
  return { requests, bad, cpuMicrosPerRequest: cpuMicros / requests, requestsPerSecond: requests / seconds };
}

/** Runs `rounds` ABBA blocks per framework, frameworks interleaved. */
export async function run({ rounds = quick ? 1 : 8 } = {}) {
  const rows = [];
  const servers = {};
  try {
    const active = [];
    const only = process.env.BENCH_FRAMEWORKS?.split(',');
    for (const framework of frameworks) {
      if (only !== undefined && !only.includes(framework.id)) continue;
      if (!built(framework)) {
        rows.push({ id: framework.id, label: framework.label, skipped: `adapter not built (${framework.package})` });
        continue;
      }
      try {
        servers[framework.id] = { bare: await startServer(framework.id, 'bare'), adapter: await startServer(framework.id, 'adapter') };
        active.push(framework);
      } catch (error) {
        rows.push({ id: framework.id, label: framework.label, skipped: `adapter not usable: ${String(error.message).split('\n')[0]}` });
      }
    }
    // Warm-up: let both servers reach optimized code before anything is measured.
    for (const framework of active) {
      for (const variant of ['bare', 'adapter']) await measure(servers[framework.id][variant], WARMUP);
    }
    const samples = Object.fromEntries(active.map((framework) => [framework.id, { bare: [], adapter: [], ratios: [] }]));
    for (let round = 0; round < rounds; round++) {
      for (const framework of active) {
        // ABBA in even rounds, BAAB in odd ones: drift in machine load cancels out in each ratio.
        const order = round % 2 === 0 ? ['bare', 'adapter', 'adapter', 'bare'] : ['adapter', 'bare', 'bare', 'adapter'];
        const block = { bare: [], adapter: [] };
        // Unmeasured batch on each first: a server that sat idle while the others ran starts
        // slower (caches, heap shrunk by V8's memory reducer), which would bias the first sample.
        for (const variant of ['bare', 'adapter']) await measure(servers[framework.id][variant], Math.round(REQUESTS / 3));
        for (const variant of order) {
          const sample = await measure(servers[framework.id][variant], REQUESTS);
          block[variant].push(sample);
          samples[framework.id][variant].push(sample);
          log(`overhead round ${round + 1}/${rounds} ${framework.id} ${variant}: ${sample.cpuMicrosPerRequest.toFixed(2)} us cpu/req, ${Math.round(sample.requestsPerSecond)} req/s${sample.bad ? `, ${sample.bad} bad` : ''}`);
        }
        const sum = (list) => list.reduce((total, sample) => total + sample.cpuMicrosPerRequest, 0);
        samples[framework.id].ratios.push(sum(block.adapter) / sum(block.bare));
      }
    }
    for (const framework of active) {
      const s = samples[framework.id];
      rows.push({
        id: framework.id,
        label: framework.label,
        bareCpuMicros: median(s.bare.map((x) => x.cpuMicrosPerRequest)),
        adapterCpuMicros: median(s.adapter.map((x) => x.cpuMicrosPerRequest)),
        overheadPercent: (median(s.ratios) - 1) * 100,
        ratios: s.ratios,
        bareRps: median(s.bare.map((x) => x.requestsPerSecond)),
        adapterRps: median(s.adapter.map((x) => x.requestsPerSecond)),
        bad: [...s.bare, ...s.adapter].reduce((total, x) => total + x.bad, 0),
        samples: s,
      });
    }
  } finally {
    for (const pair of Object.values(servers)) for (const server of Object.values(pair)) killChild(server.child);
  }
  rows.sort((a, b) => frameworks.findIndex((f) => f.id === a.id) - frameworks.findIndex((f) => f.id === b.id));
  return { benchmark: 'overhead', quick, rounds, requests: REQUESTS, connections: CONNECTIONS, rows };
}

function signed(percent) {
  return `${percent >= 0 ? '+' : ''}${percent.toFixed(1)}%`;
}

/** The README table. */
export function render(result) {
  const table = markdownTable(
    ['framework + adapter', 'CPU/request bare', 'CPU/request adapter', 'CPU overhead', 'req/s bare', 'req/s adapter'],
    result.rows.map((row) =>
      row.skipped !== undefined
        ? [row.label, row.skipped, '', '', '', '']
        : [
            row.label,
            `${row.bareCpuMicros.toFixed(1)} µs`,
            `${row.adapterCpuMicros.toFixed(1)} µs`,
            `${signed(row.overheadPercent)}${row.overheadPercent > 2 ? ' (over the 2% goal)' : ''}; rounds ${signed((Math.min(...row.ratios) - 1) * 100)} to ${signed((Math.max(...row.ratios) - 1) * 100)}`,
            Math.round(row.bareRps).toLocaleString('en-US'),
            Math.round(row.adapterRps).toLocaleString('en-US'),
          ],
    ),
  );
  return (
    `${table}\n\nServer-process CPU time (user + system, \`process.cpuUsage()\`) per request over ${result.requests.toLocaleString('en-US')} requests ` +
    `(autocannon, ${result.connections} connections, keep-alive) per sample; ${result.rounds} round(s) of bare/adapter/adapter/bare (alternating with adapter/bare/bare/adapter) after a warm-up. ` +
    'Overhead is the median over rounds of (adapter CPU / bare CPU) within a round, with the lowest and highest round beside it; the CPU columns are medians of all samples. ' +
    'On a shared 2-core machine the rounds spread over tens of percent and the median itself moves by several points between identical runs, so a difference of a few percent (the 2% goal) is below what these figures can resolve. ' +
    'The adapter route calls `registerShutdown(fn, { key })` on every request. req/s is for reference only: on a shared 2-core machine it varies by 10-30% between identical runs.'
  );
}

if (isMain(import.meta)) {
  const result = await run();
  writeResult(process.env.BENCH_FRAMEWORKS || process.env.BENCH_PLUGIN_ONLY ? 'overhead-partial' : 'overhead', result);
  process.stdout.write(`${render(result)}\n`);
}
