// Runs each supported Fastify major's own test suite (from the published package, installed into
// .framework-suites/) twice: with a do-nothing plugin injected into every fastify() instance, and
// with @lifespan/fastify ({ signals: false }) injected the same way. Fails when any test's outcome
// differs between the two, unless it is listed as allowed (scripts/framework-suites/fastify.mjs).
//
//   node scripts/test-frameworks.mjs [--subset] [--only=5] [--files=REGEX] [--jobs=2] [--retries=2] [--plugin=DIR] [--report=FILE]
//
// --subset runs the files CI runs; files that differ are re-run --retries more times in both modes,
// and a test differs only when its majority outcome does (anything else is reported as flaky).
// --plugin loads another build of @lifespan/fastify (a folder with its package.json). Needs the packages built (npm run build; `npm run test:frameworks` does both).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fastifySuites, skipFolders } from './framework-suites/fastify.mjs';
import { installSuite, testFiles } from './framework-suites/install.mjs';
import { differences, failing, modes, pool, runFile, verdict } from './framework-suites/runner.mjs';

const repo = resolve(fileURLToPath(new URL('..', import.meta.url)));
const args = Object.fromEntries(process.argv.slice(2).map((arg) => {
  const [key, value = 'true'] = arg.replace(/^--/, '').split('=');
  return [key, value];
}));
const jobs = Number(args.jobs ?? 2);
const retries = Number(args.retries ?? 2);
const timeoutMs = Number(args.timeout ?? 120_000);
const filesPattern = args.files === undefined ? undefined : new RegExp(args.files);
const parent = join(repo, '.framework-suites');
const log = (line) => process.stdout.write(`${line}\n`);
if (args.plugin !== undefined) process.env.LIFESPAN_SUITE_PLUGIN = resolve(args.plugin);

const suites = fastifySuites.filter((suite) => args.only === undefined || suite.label.endsWith(` ${args.only}`));
const reportLines = [];
let unexpected = 0;
let compared = 0;
for (const suite of suites) {
  const started = performance.now();
  const root = installSuite({ name: suite.name, version: suite.version, parent, skipFolders, log });
  const files = testFiles(root, 'test', skipFolders).filter((file) => (args.subset === undefined || suite.subset.test(file)) && (filesPattern === undefined || filesPattern.test(file)));
  log(`${suite.label} (${suite.name}@${suite.version}): ${files.length} test files, ${modes.join(' and ')}, ${jobs} at a time`);
  const runs = new Map(files.map((file) => [file, { control: [], plugin: [] }]));
  const runAll = async (list) => {
    const tasks = list.flatMap((file) => modes.map((mode) => async () => runs.get(file)[mode].push(await runFile(root, suite, file, mode, timeoutMs))));
    await pool(tasks, jobs);
  };
  await runAll(files);
  const differing = files.filter((file) => differences(runs.get(file).control[0], runs.get(file).plugin[0]).length > 0);
  for (let attempt = 0; attempt < retries && differing.length > 0; attempt++) {
    log(`  re-running ${differing.length} file(s) that differ (${attempt + 1}/${retries})`);
    await runAll(differing);
  }

  const rows = [];
  let controlFailed = 0;
  let pluginFailed = 0;
  let tests = 0;
  for (const file of files) {
    const { control, plugin } = runs.get(file);
    for (const outcome of control[0].outcomes.values()) {
      tests++;
      if (failing(outcome)) controlFailed++;
    }
    for (const outcome of plugin[0].outcomes.values()) if (failing(outcome)) pluginFailed++;
    const ids = new Set(control.flatMap((run, index) => differences(run, plugin[index] ?? plugin[0])));
    for (const id of ids) {
      const judged = verdict(id, control, plugin);
      const fullId = `${file} > ${id}`;
      const allowance = suite.allowed.find((entry) => entry.test.test(fullId));
      const status = judged.status === 'flaky' ? 'flaky' : allowance !== undefined ? 'allowed' : 'UNEXPECTED';
      if (status === 'UNEXPECTED') unexpected++;
      rows.push({ test: fullId, control: judged.control, plugin: judged.plugin, status, reason: allowance?.reason ?? '' });
    }
  }
  compared += tests;
  const seconds = ((performance.now() - started) / 1000).toFixed(0);
  const header = `${suite.label} (${suite.version}): ${files.length} files, ${tests} tests; failing: control ${controlFailed}, plugin ${pluginFailed}; ${rows.length} differ; ${seconds} s`;
  log(header);
  reportLines.push(`## ${header}`, '', '| test | control | plugin | status | reason |', '| --- | --- | --- | --- | --- |');
  // A test whose parent differs the same way is shown as part of it (tap reports every assertion).
  const shown = rows.filter((row) => !rows.some((parent) => parent !== row && parent.status === row.status && row.test.startsWith(`${parent.test} > `)));
  for (const row of shown) {
    const nested = rows.filter((child) => child !== row && child.test.startsWith(`${row.test} > `)).length;
    if (nested > 0) row.test += ` (+${nested} nested)`;
    log(`  ${row.status.padEnd(10)} ${row.test}\n             control: ${row.control}; plugin: ${row.plugin}${row.reason === '' ? '' : `\n             ${row.reason}`}`);
    reportLines.push(`| ${row.test.replace(/\|/g, '\\|')} | ${row.control} | ${row.plugin} | ${row.status} | ${row.reason} |`);
  }
  for (const entry of suite.notRun ?? []) {
    if (!files.includes(entry.file)) continue;
    log(`  not run    ${entry.file} > ${entry.name}\n             ${entry.reason}`);
    reportLines.push(`| ${entry.file} > ${entry.name} | not run | not run | not run | ${entry.reason} |`);
  }
  reportLines.push('');
}

const reportFile = resolve(args.report ?? join(parent, 'last-report.md'));
mkdirSync(dirname(reportFile), { recursive: true });
writeFileSync(reportFile, `${reportLines.join('\n')}\n`);
log(`report: ${reportFile}`);
log(`frameworks: ${compared - unexpected} passed, ${unexpected} failed`);
process.exitCode = unexpected === 0 ? 0 : 1;
