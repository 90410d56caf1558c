// Per-request overhead of each adapter in executed instructions, counted by valgrind's callgrind.
// CPU time on a shared 2-core machine varies by tens of percent between identical rounds, so it
// cannot show a 2% difference; an instruction count is the same run after run (within ~0.3%).
// Each server (bench/overhead-server.mjs) serves N1, then N2 requests in two runs; the difference
// divided by N2 - N1 is the cost of one request, startup and JIT warm-up cancelled out. Node runs
// --single-threaded (no background compiler or GC threads), which makes the counts repeatable.
//
//   node bench/instructions.mjs [--quick]       (needs valgrind: apt-get install valgrind)
import { spawn, spawnSync } from 'node:child_process';
import http from 'node:http';
import { join } from 'node:path';
import { benchDir, isMain, log, quick, writeResult } from './lib.mjs';
const frameworks = [
  { id: 'node', label: 'node:http + @lifespan/core (`attach`)' },
  { id: 'express', label: 'Express 5 + @lifespan/express' },
  { id: 'koa', label: 'Koa 3 + @lifespan/koa' },
  { id: 'fastify', label: 'Fastify 5 + @lifespan/fastify' },
];
const [few, many] = quick ? [200, 700] : [300, 1300];

/** Instructions executed by one server process that serves `count` requests. */
function countInstructions(framework, variant, count) {
  return new Promise((resolve, reject) => {
    const child = spawn('valgrind', ['--tool=callgrind', '--callgrind-out-file=/dev/null', process.execPath, '--single-threaded', join(benchDir, 'overhead-server.mjs'), framework, variant], {
      env: { ...process.env, SERVE_COUNT: String(count) },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const limit = setTimeout(() => child.kill('SIGKILL'), 300_000);
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

/** Four keep-alive clients request until the server goes away. */
async function drive(port) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
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
  await Promise.all([loop(), loop(), loop(), loop()]);
  agent.destroy();
}

async function perRequest(framework, variant) {
  const small = await countInstructions(framework, variant, few);
  const large = await countInstructions(framework, variant, many);
  return (large - small) / (many - few);
}

export async function run() {
  if (spawnSync('valgrind', ['--version']).status !== 0) return { skipped: 'valgrind is not installed (apt-get install valgrind)', rows: [] };
  const rows = [];
  for (const framework of frameworks) {
    const bare = await perRequest(framework.id, 'bare');
    const adapter = await perRequest(framework.id, 'adapter');
    log(`instructions ${framework.id}: bare ${Math.round(bare)}, adapter ${Math.round(adapter)} per request`);
    rows.push({ framework: framework.id, label: framework.label, bare, adapter, overhead: adapter / bare - 1 });
  }
  return { counts: [few, many], rows };
}

export function render(result) {
  if (result.skipped) return `_Not measured: ${result.skipped}._`;
  const pct = (value) => `${value >= 0 ? '+' : ''}${(value * 100).toFixed(1)}%`;
  const lines = [
    '| framework + adapter | instructions/request bare | instructions/request adapter | overhead |',
    '| --- | --- | --- | --- |',
    ...result.rows.map((row) => `| ${row.label} | ${Math.round(row.bare).toLocaleString('en-US')} | ${Math.round(row.adapter).toLocaleString('en-US')} | ${pct(row.overhead)}${row.overhead > 0.02 ? ' (over the 2% goal)' : ''} |`),
    '',
    `Instructions executed by the server process (valgrind callgrind), per request: the difference between a run serving ${result.counts[1].toLocaleString('en-US')} and one serving ${result.counts[0].toLocaleString('en-US')} keep-alive requests, divided by the difference, so startup and warm-up cancel out. ` +
      'The route is the same as in the CPU-time table (the adapter route calls `registerShutdown(fn, { key })` on every request). Repeated runs agree within about 0.3%. ' +
      'Counts are under valgrind (JIT and all), so compare the ratio, not the absolute numbers.',
  ];
  return lines.join('\n');
}

if (isMain(import.meta)) {
  const result = await run();
  writeResult('instructions', { ...result, quick });
  process.stdout.write(`${render(result)}\n`);
}
