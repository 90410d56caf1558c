import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { classify } from '../harness/fates.cjs';
import type { Fates } from '../harness/fates.cjs';
import { startFixture } from './start-fixture';
import type { Fixture } from './start-fixture';
import { createWaiters } from './waiters';

const loadProcess = path.resolve(__dirname, '../harness/load-process.mjs');
/** The CA of fixtures/support/tls (a self-signed certificate for 127.0.0.1 and localhost). */
export const testCa = readFileSync(path.resolve(__dirname, '../fixtures/support/tls/cert.pem'), 'utf8');
/** The idle grace Lifespan promises by default (`idleGraceMs`). */
export const defaultGraceMs = 25;

/** One kind of client loop of the load process (harness/clients/*.mjs). */
export interface ClientSpec {
  /** `agent`: node:http keep-alive Agent; `undici`: undici Client; `raw`: hand-written HTTP/1.1 on a socket; `h2`: node:http2 session. */
  kind: 'agent' | 'undici' | 'raw' | 'h2';
  /** Loops of this kind, each on its own connection. @default 1 */
  count?: number;
  /** Names the loops in reports (`<name>#<n>`). @default kind */
  name?: string;
  /** @default '/' */
  path?: string;
  /** A random pause in this range before each request. */
  pauseMs?: readonly [number, number];
  /** Requests per loop at most. @default Infinity */
  maxRequests?: number;
  /** undici: requests outstanding on the connection. @default 1 */
  pipelining?: number;
  /** raw: requests written together in one write. @default 1 */
  batch?: number;
  /** raw: the request head is written one byte at a time, this long apart. */
  byteDelayMs?: number;
  /** raw: a busy event loop for this long between a response and the next request on that connection. */
  stallMs?: number;
  /** h2: streams outstanding on the session. @default 1 */
  streams?: number;
}

/** What the load process runs. */
export interface LoadPlan {
  clients: readonly ClientSpec[];
  /** TLS with the fixtures' certificate (agent, undici, h2). @default false */
  secure?: boolean;
  /** Every loop stops by itself after this long. @default 10_000 */
  maxDurationMs?: number;
  /** A request unanswered this long counts as lost. @default 5_000 */
  requestTimeoutMs?: number;
  /** Starts the id of every request (`x-harness-id`), to tell several load processes apart. @default '' */
  tag?: string;
}

/** Counts the load process reports while it runs. */
export interface LoadProgress {
  readonly total: number;
  readonly written: number;
  readonly answered: number;
  readonly refused: number;
  readonly failed: number;
}

/** One request as the client saw it (see harness/client-record.mjs); times are epoch ms. */
export interface ClientRecord {
  readonly id: string;
  readonly client: string;
  readonly path: string;
  readonly queuedAt: number;
  readonly conn?: number;
  readonly connSeq?: number;
  readonly reused?: boolean;
  readonly stream?: number;
  readonly writtenAt?: number;
  readonly flushedAt?: number;
  readonly answeredAt?: number;
  readonly status?: number;
  readonly close?: boolean;
  readonly failedAt?: number;
  readonly error?: string;
}

/** One thing the server saw (see harness/server-ledger.cjs). */
export interface ServerFact {
  readonly type: 'accept' | 'fin' | 'request' | 'response';
  readonly at: number;
  readonly port?: number;
  readonly [key: string]: unknown;
}

/** A running load process. */
export interface Load {
  readonly child: ChildProcess;
  progress(): LoadProgress;
  /** Resolves once `predicate` holds for the progress; rejects if the load ends first or `timeoutMs` passes. */
  until(predicate: (progress: LoadProgress) => boolean, what: string, timeoutMs?: number): Promise<void>;
  /** Every loop stops after its current request; resolves with every record. */
  stop(): Promise<ClientRecord[]>;
  /** Resolves with every record once the loops ended by themselves (refused, bounded). */
  readonly finished: Promise<ClientRecord[]>;
}

const running = new Set<ChildProcess>();

/**
 * Forks the load process (harness/load-process.mjs) against `127.0.0.1:port` and starts `plan`.
 * @example
 * const load = await startLoad(app.port, { clients: [{ kind: 'agent', count: 4 }] });
 * await load.until((progress) => progress.answered >= 40, '40 answers');
 */
export async function startLoad(port: number, plan: LoadPlan): Promise<Load> {
  const child = fork(loadProcess, [], { execArgv: [], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  running.add(child);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  let progress: LoadProgress = { total: 0, written: 0, answered: 0, refused: 0, failed: 0 };
  const waiters = createWaiters();
  let ended = false;
  const finished = new Promise<ClientRecord[]>((resolve, reject) => {
    child.on('message', (message: { type: string; requests?: ClientRecord[]; message?: string } & LoadProgress) => {
      if (message.type === 'progress') progress = message;
      else if (message.type === 'result') resolve(message.requests!);
      else if (message.type === 'error') reject(new Error(`load process failed: ${message.message}`));
      waiters.notify();
    });
    child.on('exit', (code, signal) => {
      running.delete(child);
      ended = true;
      reject(new Error(`load process exited (${code ?? signal}) without a result\n${stderr}`));
      waiters.notify();
    });
  });
  finished.catch(() => undefined);
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`load process exited (${code}) before it was ready\n${stderr}`)));
  });
  child.send({
    type: 'start',
    tag: plan.tag ?? '',
    target: { host: '127.0.0.1', port, secure: plan.secure ?? false, ca: plan.secure ? testCa : undefined },
    clients: plan.clients,
    maxDurationMs: plan.maxDurationMs ?? 10_000,
    requestTimeoutMs: plan.requestTimeoutMs ?? 5_000,
  });
  const until = (predicate: (progress: LoadProgress) => boolean, what: string, timeoutMs = 10_000): Promise<void> =>
    waiters.until(() => predicate(progress), (what) => (ended ? `the load ended before ${what} (progress ${JSON.stringify(progress)})\n${stderr}` : undefined), what, timeoutMs);
  return {
    child,
    progress: () => progress,
    until,
    stop: () => {
      if (child.connected) child.send({ type: 'stop' });
      return finished;
    },
    finished,
  };
}

/** Kills every load process a test left running. */
export async function killLoads(): Promise<void> {
  await Promise.all(
    [...running].map(
      (child) =>
        new Promise<void>((resolve) => {
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
}

afterEach(killLoads);

/** Epoch milliseconds of a `performance.now()` taken in this process (such as `Fixture.kill()`'s). */
export function toEpoch(now: number): number {
  return performance.timeOrigin + now;
}

/** Options of `fatesOf()`. */
export interface FatesOptions {
  /** The grace the server promises. @default defaultGraceMs */
  graceMs?: number;
  /** When SIGTERM was sent (`Fixture.kill()`'s return value). */
  signalSentAt?: number;
}

/** The fate of every request of `requests`, against what the fixture's ledger (`LEDGER=1`) saw. */
export function fatesOf(requests: readonly ClientRecord[], app: Fixture, options: FatesOptions = {}): Fates {
  const facts = app.events('ledger').flatMap((event) => event['facts'] as ServerFact[]);
  const listenerClosed = app.events('drain').find((event) => event['type'] === 'listenerClosed');
  return classify(requests, facts, {
    graceMs: options.graceMs ?? defaultGraceMs,
    marks: {
      signalAt: options.signalSentAt === undefined ? undefined : toEpoch(options.signalSentAt),
      listenerClosedAt: listenerClosed === undefined ? undefined : (listenerClosed['at'] as number),
    },
  });
}

/**
 * What a test asserts equal to `noLoss`: every lost request, every response the handler's server
 * dropped and every answer that was not 2xx, each described with its moment (relative to SIGTERM
 * and to the listener close) so that a failure says what happened when.
 */
export function losses(fates: Fates): { lost: readonly string[]; serverUnanswered: readonly string[]; notOk: readonly string[] } {
  const notOk = fates.entries
    .filter((entry) => entry.fate === 'answered' && (entry.record.status! < 200 || entry.record.status! > 299))
    .map((entry) => `#${entry.record.id} ${entry.record.client} GET ${entry.record.path}: status ${entry.record.status}`);
  return { lost: fates.lost, serverUnanswered: fates.serverUnanswered, notOk };
}

export const noLoss = { lost: [], serverUnanswered: [], notOk: [] };

/** What `sigtermUnderLoad()` saw. */
export interface UnderLoad {
  readonly app: Fixture;
  readonly exit: Awaited<Fixture['exited']>;
  readonly requests: readonly ClientRecord[];
  readonly fates: Fates;
  /** When SIGTERM was sent, in epoch ms. */
  readonly signalAt: number;
}

/**
 * Starts `file` with its ledger on, runs each of `plans` in a load process of its own, sends SIGTERM
 * once each of them had `answeredBeforeSignal` requests answered (or once `signalWhen` holds for
 * the fixture), and resolves when the
 * loads and the process have ended, with the fate of every request.
 */
export async function sigtermUnderLoad(
  file: string,
  env: Record<string, string>,
  plans: readonly LoadPlan[],
  { answeredBeforeSignal = 40, signalWhen, graceMs }: { answeredBeforeSignal?: number; signalWhen?: (app: Fixture) => boolean; graceMs?: number } = {},
): Promise<UnderLoad> {
  const app = await startFixture(file, { ...env, LEDGER: '1' });
  const loads = await Promise.all(plans.map((plan, i) => startLoad(app.port, { tag: String.fromCharCode(97 + i), ...plan })));
  // Every load process must be running: a client still connecting when the listener closes would
  // sit in the kernel's accept queue, which closing the listener resets.
  if (signalWhen === undefined) await Promise.all(loads.map((load) => load.until((progress) => progress.answered >= answeredBeforeSignal, `${answeredBeforeSignal} answers`)));
  else await app.until(() => signalWhen(app), 'the moment to signal');
  const signalSentAt = app.kill('SIGTERM');
  const requests = (await Promise.all(loads.map((load) => load.finished))).flat();
  const exit = await app.exited;
  return { app, exit, requests, fates: fatesOf(requests, app, { signalSentAt, graceMs }), signalAt: toEpoch(signalSentAt) };
}
