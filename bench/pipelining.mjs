// Pipelining benchmark (issue 12): undici clients pipelining 10 requests without pause, SIGTERM in
// the middle, against Lifespan, plain server.close(), http-terminator and stoppable, side by side
// in interleaved rounds. The clients are the process tests' load harness
// (packages/e2e/harness/load-process.mjs, undici `pipelining: 10`), and each request's fate is
// decided as there (harness/fates.cjs): answered, refused before it was written, crossing a FIN,
// or lost. Not part of `npm run bench`: `node bench/pipelining.mjs` (BENCH_ROUNDS, default 5).
import { fork } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchDir, forkChild, isMain, killChild, log, markdownTable, nextMessage, writeResult } from './lib.mjs';

const { classify } = createRequire(import.meta.url)('../packages/e2e/harness/fates.cjs');
const loadProcess = join(benchDir, '..', 'packages', 'e2e', 'harness', 'load-process.mjs');
const GRACE_MS = 25;
const CAP_MS = 15_000;

export const contenders = [
  { id: 'lifespan', label: 'Lifespan' },
  { id: 'plain', label: 'plain `server.close()`' },
  { id: 'http-terminator', label: 'http-terminator' },
  { id: 'stoppable', label: 'stoppable' },
];

/** The process tests' undici pipelining case: 2 clients, 10 requests outstanding each, 5 ms each. */
const plan = { clients: [{ kind: 'undici', name: 'undici', count: 2, pipelining: 10, path: '/slow?ms=5' }] };
const answeredBeforeSignal = 100;

function startLoad(port) {
  const child = fork(loadProcess, [], { execArgv: [], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  let answered = 0;
  let onProgress = () => undefined;
  const finished = new Promise((resolve, reject) => {
    child.on('message', (message) => {
      if (message.type === 'progress') {
        answered = message.answered;
        onProgress();
      } else if (message.type === 'result') resolve(message.requests);
      else if (message.type === 'error') reject(new Error(message.message));
    });
    child.on('exit', (code) => reject(new Error(`load process exited ${code} without a result`)));
  });
  finished.catch(() => undefined);
  const ready = new Promise((resolve) => child.once('message', resolve));
  return {
    child,
    finished,
    async start() {
      await ready;
      child.send({ type: 'start', tag: 'b', target: { host: '127.0.0.1', port, secure: false }, clients: plan.clients, maxDurationMs: 10_000, requestTimeoutMs: 5_000 });
    },
    until(count) {
      return new Promise((resolve) => {
        onProgress = () => answered >= count && resolve();
        onProgress();
      });
    },
  };
}

async function round(id) {
  const ledgerDir = mkdtempSync(join(tmpdir(), 'lifespan-bench-'));
  const ledger = join(ledgerDir, 'ledger.jsonl');
  const server = forkChild(join(benchDir, 'servers', `${id}.mjs`), { env: { BENCH_LEDGER: ledger } });
  let load;
  try {
    const { port } = await nextMessage(server.child, (message) => typeof message?.port === 'number', 15_000);
    load = startLoad(port);
    await load.start();
    await load.until(answeredBeforeSignal);
    const sentAt = performance.now();
    const signalAt = performance.timeOrigin + sentAt;
    process.kill(server.child.pid, 'SIGTERM');
    const exited = server.exited.then(({ code, signal, at }) => ({ exit: code ?? signal, exitMs: Math.round(at - sentAt) }));
    const { exit, exitMs } = await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve({ exit: 'killed at cap', exitMs: null }), CAP_MS))]);
    const requests = await load.finished;
    const facts = existsSync(ledger) ? readFileSync(ledger, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line)) : [];
    const fates = classify(requests, facts, { graceMs: GRACE_MS, marks: { signalAt } });
    const errors = {};
    for (const entry of fates.entries) if (entry.fate === 'lost') errors[entry.record.error ?? 'unanswered'] = (errors[entry.record.error ?? 'unanswered'] ?? 0) + 1;
    const afterSignal = fates.entries.filter((entry) => entry.record.queuedAt >= signalAt).length;
    return { exit, exitMs, ...fates.counts, afterSignal, errors, lostDescribed: fates.lost.slice(0, 3) };
  } finally {
    if (load !== undefined) killChild(load.child);
    killChild(server.child);
    rmSync(ledgerDir, { recursive: true, force: true });
  }
}

export async function run({ rounds = Number(process.env.BENCH_ROUNDS ?? 5) } = {}) {
  const samples = {};
  for (let r = 0; r < rounds; r++) {
    const order = contenders.map((_, i) => contenders[(i + r) % contenders.length]);
    for (const contender of order) {
      const sample = await round(contender.id);
      (samples[contender.id] ??= []).push(sample);
      log(`pipelining round ${r + 1}/${rounds} ${contender.id}: ${JSON.stringify(sample)}`);
    }
  }
  const rows = contenders.map((contender) => {
    const list = samples[contender.id];
    const sum = (key) => list.reduce((total, sample) => total + sample[key], 0);
    return {
      id: contender.id,
      label: contender.label,
      rounds: list.length,
      requests: sum('requests'),
      answered: sum('answered'),
      refused: sum('refused'),
      crossingFin: sum('crossingFin'),
      lost: sum('lost'),
      lostPerRound: list.map((sample) => sample.lost),
      exits: [...new Set(list.map((sample) => String(sample.exit)))],
      exitMs: list.map((sample) => sample.exitMs),
      errors: list.reduce((all, sample) => {
        for (const [code, count] of Object.entries(sample.errors)) all[code] = (all[code] ?? 0) + count;
        return all;
      }, {}),
    };
  });
  writeResult('pipelining', { plan, answeredBeforeSignal, rows, samples });
  console.log(
    markdownTable(
      ['server', 'rounds', 'requests', 'answered', 'refused', 'lost (per round)', 'lost by error', 'exit', 'exit ms after SIGTERM'],
      rows.map((row) => [row.label, row.rounds, row.requests, row.answered, row.refused, `${row.lost} (${row.lostPerRound.join(', ')})`, JSON.stringify(row.errors), row.exits.join(', '), row.exitMs.join(', ')]),
    ),
  );
  return rows;
}

if (isMain(import.meta)) await run();
