// `npm run bench` (after the build): runs every benchmark, each in its own process, writes
// bench/results/*.json and bench/results/SUMMARY.md, and rewrites the README's tables between the
// `<!-- bench:<name>:start -->` / `<!-- bench:<name>:end -->` markers.
//
//   node bench/run.mjs [--quick] [--only registration,shutdown,scale,overhead] [--render]
//
// The shutdown benchmark runs twice: servers on the Node running this script, and on the newest
// Node LTS (`shutdown-node26`: BENCH_RUNTIME=node26, installed by scripts/runtimes.mjs).
//
//   (instructions needs valgrind; without it the table says so.)
// --quick: one round of everything, shorter caps (a check that it all works, ~1-2 minutes);
//          results go to bench/results/quick/ and the README is left alone.
// --render: no run, only regenerate SUMMARY.md and the README from the existing results.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchDir, log, machine, resultsDir } from './lib.mjs';

const benchmarks = [
  { id: 'registration', title: 'Registering the same hook 1,000,000 times', execArgv: ['--expose-gc'] },
  { id: 'shutdown', title: 'Shutdown against other libraries', execArgv: [] },
  { id: 'shutdown-node26', script: 'shutdown', runtime: 'node26', title: 'Shutdown against other libraries, servers on Node 26 (the newest LTS)', execArgv: [] },
  { id: 'scale', title: 'Shutdown cost at scale: thousands of connections', execArgv: [] },
  { id: 'overhead', title: 'Per-request overhead of each adapter', execArgv: [] },
  { id: 'instructions', title: 'Per-request overhead in executed instructions', execArgv: [] },
];

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const renderOnly = args.includes('--render');
const onlyIndex = args.indexOf('--only');
const only = onlyIndex >= 0 ? args[onlyIndex + 1].split(',') : undefined;
const readmePath = join(benchDir, '..', 'README.md');

const running = new Set();
process.on('exit', () => {
  for (const child of running) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => process.exit(130));
}

function runScript(benchmark) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...benchmark.execArgv, join(benchDir, `${benchmark.script ?? benchmark.id}.mjs`), ...(quick ? ['--quick'] : [])], {
      env: benchmark.runtime === undefined ? process.env : { ...process.env, BENCH_RUNTIME: benchmark.runtime },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    running.add(child);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      running.delete(child);
      if (code === 0) resolve();
      else reject(new Error(`bench/${benchmark.id}.mjs failed (${code ?? signal})`));
    });
  });
}

function machineLine(info, result) {
  const mode = result.quick ? 'quick run (`--quick`: 1 round; for checking, not for quoting)' : 'full run';
  // Results from before the runtime was recorded ran everything on the benchmark's own Node.
  const runtime = info.runtime === undefined || info.runtime === `Node ${info.node}` ? `Node ${info.node}` : `servers on ${info.runtime}, clients on Node ${info.node}`;
  return `_${mode}; ${runtime}, ${info.cpu}, ${info.cores} cores (shared with other work; load average ${info.loadAverage.join(' ')} when it finished), ${info.date.slice(0, 16).replace('T', ' ')} UTC._`;
}

/** Replaces what lies between the markers of `id`; creates a "## Benchmarks" section if there is none. */
function replaceSection(readme, id, content) {
  const start = `<!-- bench:${id}:start -->`;
  const end = `<!-- bench:${id}:end -->`;
  const from = readme.indexOf(start);
  const to = readme.indexOf(end);
  if (from >= 0 && to > from) return `${readme.slice(0, from + start.length)}\n${content}\n${readme.slice(to)}`;
  const block = `${start}\n${content}\n${end}\n`;
  const heading = readme.match(/^## Benchmarks[^\n]*\n/m);
  if (heading) {
    // Append at the end of the existing Benchmarks section (before the next "## " heading).
    const after = heading.index + heading[0].length;
    const next = readme.slice(after).search(/^## /m);
    const at = next < 0 ? readme.length : after + next;
    return `${readme.slice(0, at).replace(/\n*$/, '\n\n')}${block}\n${readme.slice(at)}`;
  }
  return `${readme.replace(/\n*$/, '\n\n')}## Benchmarks\n\n${block}`;
}

async function main() {
  const info = machine();
  const selected = benchmarks.filter((benchmark) => only === undefined || only.includes(benchmark.id));
  if (!renderOnly) {
    for (const benchmark of selected) {
      log(`== bench/${benchmark.script ?? benchmark.id}.mjs${quick ? ' --quick' : ''}${benchmark.runtime ? ` (servers on ${benchmark.runtime})` : ''}`);
      const started = performance.now();
      await runScript(benchmark);
      log(`== ${benchmark.id} done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    }
  }
  const sections = [];
  let ranOn;
  let readme = existsSync(readmePath) ? readFileSync(readmePath, 'utf8') : '';
  for (const benchmark of benchmarks) {
    const file = join(resultsDir, `${benchmark.id}.json`);
    if (!existsSync(file)) continue;
    const result = JSON.parse(readFileSync(file, 'utf8'));
    const { render } = await import(`./${benchmark.script ?? benchmark.id}.mjs`);
    ranOn ??= result.machine;
    const body = `${render(result)}\n\n${machineLine(result.machine ?? info, result)}`;
    sections.push(`## ${benchmark.title}\n\n${body}`);
    readme = replaceSection(readme, benchmark.id, body);
  }
  ranOn ??= info;
  const summary = [
    '# Benchmark results',
    '',
    'Generated by `npm run bench` (`node bench/run.mjs`); do not edit by hand. Raw samples are in the JSON files next to this one.',
    '',
    '| machine | |',
    '| --- | --- |',
    `| Node | ${ranOn.node} (each table says what its servers ran on) |`,
    `| CPU | ${ranOn.cpu} |`,
    `| cores | ${ranOn.cores} (shared with other processes while the benchmark ran) |`,
    `| OS | ${ranOn.platform}, ${ranOn.memoryGb} GB |`,
    `| load average (1, 5, 15 min) when the first benchmark finished | ${ranOn.loadAverage.join(' ')} |`,
    `| date | ${ranOn.date} |`,
    '',
    'How to run: `npm run bench` (build + every benchmark: about 15 minutes, plus about 1.5 hours of instruction counts when valgrind is installed), `node bench/run.mjs --quick` (one round, 1-2 minutes, for checking), ' +
      '`node bench/run.mjs --only shutdown` (one benchmark), `node bench/run.mjs --render` (tables from existing results). ' +
      '`BENCH_CONTENDERS=lifespan,plain node bench/shutdown.mjs --quick` runs some contenders only (not written to the README).',
    '',
    ...sections.flatMap((section) => [section, '']),
  ].join('\n');
  writeFileSync(join(resultsDir, 'SUMMARY.md'), summary);
  if (quick) {
    log(`wrote ${join(resultsDir, 'SUMMARY.md')} (a quick run leaves the README alone)`);
    return;
  }
  writeFileSync(readmePath, readme);
  log('wrote bench/results/SUMMARY.md and the README tables');
}

main().catch((error) => {
  log(error.stack ?? String(error));
  process.exitCode = 1;
});
