// Runs a framework's test files twice, with a do-nothing plugin and with the adapter injected by
// preload.cjs, and compares the outcome of every test.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseTap } from './tap.mjs';

/**
 * @typedef {object} SuiteSpec
 * @property {string} label
 * @property {string} name npm package
 * @property {string} version
 * @property {string[]} nodeArgs
 * @property {'tap' | 'node:test'} runner the test library of its files
 * @property {RegExp} subset
 * @property {{ test: RegExp, reason: string }[]} allowed
 * @property {{ file: string, name: string, reason: string }[]} [notRun] top-level tests run in neither mode (tap's TAP_GREP)
 * @typedef {'pass' | 'fail' | 'skip' | 'todo' | 'missing'} Outcome
 * @typedef {{ file: string, outcomes: Map<string, Outcome>, exit: string, ms: number }} FileRun
 */

export const modes = /** @type {const} */ (['control', 'plugin']);
const preload = fileURLToPath(new URL('./preload.cjs', import.meta.url));

/**
 * Runs one test file in its own process (and process group) in `mode`; the file's exit becomes
 * a pseudo-test `(process exit)`, so that a crash outside any test also counts as an outcome.
 * @returns {Promise<FileRun>}
 */
export function runFile(root, spec, file, mode, timeoutMs) {
  const started = performance.now();
  return new Promise((resolve) => {
    const env = { ...process.env, LIFESPAN_SUITE_ROOT: root, LIFESPAN_SUITE_MODE: mode };
    delete env.NODE_OPTIONS;
    const notRun = (spec.notRun ?? []).filter((entry) => entry.file === file);
    if (notRun.length > 0) {
      // The same tests left out in both modes, so the comparison stays like for like.
      if (spec.runner === 'tap') {
        const names = notRun.map((entry) => entry.name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|');
        env.TAP_GREP = `/^(${names})$/`;
        env.TAP_GREP_INVERT = '1';
      } else env.LIFESPAN_SUITE_NOT_RUN = JSON.stringify(notRun.map((entry) => entry.name));
    }
    const child = spawn(process.execPath, [...spec.nodeArgs, '--require', preload, file], { cwd: root, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks = [];
    child.stdout.on('data', (chunk) => chunks.push(chunk));
    child.stderr.resume();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid);
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      // Whatever the file left running (a server it forked, a stray child) goes with its group.
      killGroup(child.pid);
      const outcomes = parseTap(Buffer.concat(chunks).toString('utf8'));
      const exit = timedOut ? `timeout after ${timeoutMs} ms` : signal !== null ? `signal ${signal}` : `code ${code}`;
      outcomes.set('(process exit)', !timedOut && code === 0 ? 'pass' : 'fail');
      resolve({ file, outcomes, exit, ms: performance.now() - started });
    });
  });
}

function killGroup(pid) {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/** Runs `tasks` (functions returning promises) with at most `jobs` at once, in order. */
export async function pool(tasks, jobs) {
  const results = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const index = next++;
      results[index] = await tasks[index]();
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, tasks.length) }, worker));
  return results;
}

/**
 * The tests of one file whose outcome differs between the two runs. An outcome counts as failing
 * for `fail` and `missing` (the test never reported: the file crashed or hung before it).
 */
export function differences(control, plugin) {
  const ids = new Set([...control.outcomes.keys(), ...plugin.outcomes.keys()]);
  const found = [];
  for (const id of ids) {
    const a = control.outcomes.get(id) ?? 'missing';
    const b = plugin.outcomes.get(id) ?? 'missing';
    if (failing(a) !== failing(b)) found.push(id);
  }
  return found;
}

export const failing = (outcome) => outcome === 'fail' || outcome === 'missing';

/**
 * The verdict on one test after every run of its file in both modes: `differs` when the majority
 * outcome (failing or not) differs between the modes, otherwise `flaky` (it changed between runs
 * of the same mode, or the modes disagree only sometimes).
 */
export function verdict(id, controlRuns, pluginRuns) {
  const rate = (runs) => runs.filter((run) => failing(run.outcomes.get(id) ?? 'missing')).length / runs.length;
  const controlRate = rate(controlRuns);
  const pluginRate = rate(pluginRuns);
  const differs = controlRate < 0.5 !== pluginRate < 0.5;
  return {
    status: differs ? 'differs' : 'flaky',
    control: summary(controlRuns, id),
    plugin: summary(pluginRuns, id),
  };
}

function summary(runs, id) {
  const outcomes = runs.map((run) => run.outcomes.get(id) ?? 'missing');
  const counts = new Map();
  for (const outcome of outcomes) counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
  return [...counts].map(([outcome, count]) => (runs.length === 1 ? outcome : `${outcome} ${count}/${runs.length}`)).join(', ');
}
