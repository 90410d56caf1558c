// Shared helpers of the benchmark scripts: child processes (killed by PID, also on failure),
// medians, results files and Markdown tables.
import { fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ensureRuntime } from '../scripts/runtimes.mjs';

export const benchDir = dirname(fileURLToPath(import.meta.url));

/**
 * The runtime forked servers run on: the Node running the benchmark, or with `BENCH_RUNTIME=<name>`
 * a runtime pinned in scripts/runtimes.json (`node26`...), installed by scripts/runtimes.mjs. The
 * clients always run here, so a change of runtime changes only the server side.
 */
export const serverRuntime = process.env.BENCH_RUNTIME
  ? ensureRuntime(process.env.BENCH_RUNTIME)
  : { name: 'node', kind: 'node', bin: process.execPath, version: process.versions.node };

/** True when `meta` (import.meta) is the module node was started with. */
export function isMain(meta) {
  return process.argv[1] !== undefined && meta.url === pathToFileURL(process.argv[1]).href;
}

export const quick = process.argv.includes('--quick');

/** Where results go: a quick run (a check) never replaces the published results or the README. */
export const resultsDir = join(benchDir, 'results', ...(quick ? ['quick'] : []));

/** Children started by this process: killed by PID on exit, whatever happens. */
const children = new Set();

function killChildren() {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  children.clear();
}
process.on('exit', killChildren);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    killChildren();
    process.exit(130);
  });
}

/** Kills `child` (by PID) with the others if this process ends first: spawned children too. */
export function ownChild(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Forks `file` with an IPC channel; stdout/stderr are collected (last 4 kB) for error messages. */
export function forkChild(file, { args = [], execArgv = [], env } = {}) {
  const child = ownChild(fork(file, args, { execPath: serverRuntime.bin, execArgv, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] }));
  let output = '';
  const collect = (chunk) => {
    output = (output + chunk.toString()).slice(-4096);
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      resolve({ code, signal, at: performance.now() });
    });
  });
  return { child, exited, output: () => output };
}

/** Kills one child by PID (SIGKILL) if it is still running. */
export function killChild(child) {
  if (child.exitCode === null && child.signalCode === null) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Waits for the first IPC message matching `predicate`, bounded by `timeoutMs`. */
export function nextMessage(child, predicate = () => true, timeoutMs = 10_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`no message from child ${child.pid} within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (message) => {
      if (!predicate(message)) return;
      cleanup();
      resolve(message);
    };
    const onExit = (code, signal) => {
      cleanup();
      reject(new Error(`child ${child.pid} exited (${code ?? signal}) before sending a message`));
    };
    const cleanup = () => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

export function median(values) {
  const sorted = values.filter((value) => typeof value === 'number' && Number.isFinite(value)).sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The machine a result was measured on. */
export function machine() {
  const cpus = os.cpus();
  return {
    node: process.version,
    /** What the measured processes ran on (`node` is the one running the benchmark script and its clients). */
    runtime: `${serverRuntime.kind === 'node' ? 'Node' : serverRuntime.kind} ${serverRuntime.kind === 'node' ? `v${serverRuntime.version}` : serverRuntime.version}`,
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    memoryGb: Math.round(os.totalmem() / 1024 ** 3),
    loadAverage: os.loadavg().map((value) => Number(value.toFixed(2))),
    date: new Date().toISOString(),
  };
}

/** Writes bench/results/<name>.json, with the machine it ran on. */
export function writeResult(name, data) {
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `${name}.json`);
  writeFileSync(file, `${JSON.stringify({ ...data, machine: machine() }, null, 2)}\n`);
  return file;
}

/** A Markdown table from a header row and body rows. */
export function markdownTable(header, rows) {
  const line = (cells) => `| ${cells.map((cell) => String(cell ?? '').replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

export function formatMs(ms) {
  if (ms === null || ms === undefined) return 'n/a';
  if (ms === Infinity) return 'killed';
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  return `${ms.toFixed(ms < 10 ? 1 : 0)} ms`;
}

export function formatBytes(bytes) {
  if (bytes === null || bytes === undefined) return 'n/a';
  const sign = bytes < 0 ? '-' : '';
  const value = Math.abs(bytes);
  if (value >= 1024 * 1024) return `${sign}${(value / 1024 / 1024).toFixed(1)} MB`;
  if (value >= 1024) return `${sign}${(value / 1024).toFixed(1)} kB`;
  return `${sign}${value} B`;
}

/** Bench-wide options: `--quick` for a short check run. */
export function log(...args) {
  process.stderr.write(`${args.join(' ')}\n`);
}
