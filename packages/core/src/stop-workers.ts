import cluster from 'node:cluster';
import type { Worker } from 'node:cluster';
import { constants } from 'node:os';
import { debuglog } from 'node:util';
import { InvalidArgumentError } from './errors.js';
import { checkDuration, checkExitCode, checkOptionsObject, checkSignals } from './options.js';
import { join, leave } from './process-coordinator.js';
import type { Participant } from './process-coordinator.js';

const debug = debuglog('lifespan');

/** Options of `stopWorkers()`. */
export interface StopWorkersOptions {
  /** Time the workers have to exit after `disconnect()` before they are killed. @default 35_000 */
  exitTimeoutMs?: number;
}

/** Options of `stopWorkersOnSignal()`. */
export interface StopWorkersOnSignalOptions extends StopWorkersOptions {
  /** Signals that stop the workers. @default ['SIGTERM', 'SIGINT'] */
  signals?: readonly NodeJS.Signals[];
  /** Exit code when a second signal arrives while the workers drain (they are killed at once). @default 1 */
  forceExitCode?: number;
}

/** How one worker ended. */
export interface WorkerStop {
  /** `id` of the worker. */
  readonly id: number;
  /** Its exit code (null if it died by a signal). */
  readonly exitCode: number | null;
  /** Signal that ended it, if any. */
  readonly signal: string | null;
  /** True if it had to be killed after `exitTimeoutMs`. */
  readonly killed: boolean;
}

const stopKeys = new Set(['exitTimeoutMs']);
const onSignalKeys = new Set(['exitTimeoutMs', 'signals', 'forceExitCode']);

/**
 * Stops every cluster worker: `disconnect()` (each one drains and runs its hooks once), wait for
 * them to exit, kill those still running after `exitTimeoutMs`. Resolves once every worker is gone.
 * @example
 * const stops = await stopWorkers({ exitTimeoutMs: 20_000 });
 */
export async function stopWorkers(options: StopWorkersOptions = {}): Promise<WorkerStop[]> {
  checkOptionsObject('options', options, stopKeys);
  const exitTimeoutMs = options.exitTimeoutMs === undefined ? 35_000 : checkDuration('options.exitTimeoutMs', options.exitTimeoutMs, false);
  if (!cluster.isPrimary) throw new InvalidArgumentError('cluster', 'stopWorkers() runs in the cluster primary');
  return stopAll(currentWorkers(), exitTimeoutMs);
}

/**
 * In the cluster primary, stops the workers on SIGTERM or SIGINT and then exits with their worst
 * exit code (0 when every worker drained cleanly). Without it the primary dies at once, and Node
 * ends each worker as soon as its primary is gone, with its requests in flight. A second signal
 * kills the workers and exits with `forceExitCode`. Returns a function that uninstalls it.
 * @example
 * if (cluster.isPrimary) {
 *   for (let i = 0; i < 4; i++) cluster.fork();
 *   stopWorkersOnSignal({ exitTimeoutMs: 25_000 });
 * }
 */
export function stopWorkersOnSignal(options: StopWorkersOnSignalOptions = {}): () => void {
  checkOptionsObject('options', options, onSignalKeys);
  const exitTimeoutMs = options.exitTimeoutMs === undefined ? 35_000 : checkDuration('options.exitTimeoutMs', options.exitTimeoutMs, false);
  const signals = options.signals === undefined ? (['SIGTERM', 'SIGINT'] as const) : checkSignals('options.signals', options.signals);
  if (signals.length === 0) throw new InvalidArgumentError('options.signals', 'expected at least one signal name such as \'SIGTERM\'');
  const forceExitCode = options.forceExitCode === undefined ? 1 : checkExitCode('options.forceExitCode', options.forceExitCode);
  if (!cluster.isPrimary) throw new InvalidArgumentError('cluster', 'stopWorkersOnSignal() runs in the cluster primary');
  // cluster.workers forgets a worker as soon as it is disconnected: remember the ones being stopped,
  // so that a second signal can still kill them.
  const stopping = new Set<Worker>();
  // A participant of the process coordinator, like a lifecycle: one listener per signal, a second
  // signal forces, and a lifecycle of the primary's own (a metrics server) shuts down with it.
  const participant: Participant = {
    signals,
    handleUncaught: false,
    exitFallback: false,
    forceExitCode,
    hasLogger: false,
    timeoutMs: exitTimeoutMs,
    shutdownFor: async () => {
      for (const worker of currentWorkers()) stopping.add(worker);
      return worstExitCode(await stopAll([...stopping], exitTimeoutMs));
    },
    forcedExit: () => {
      for (const worker of new Set([...stopping, ...currentWorkers()])) if (!worker.isDead()) worker.process.kill('SIGKILL');
    },
    runExitFallback: () => undefined,
  };
  join(process, participant);
  return () => leave(process, participant);
}

function currentWorkers(): Worker[] {
  return Object.values(cluster.workers ?? {}).filter((worker): worker is Worker => worker !== undefined);
}

function stopAll(workers: readonly Worker[], exitTimeoutMs: number): Promise<WorkerStop[]> {
  debug('stopping %d workers', workers.length);
  return Promise.all(workers.map(async (worker) => ({ id: worker.id, ...(await stopWorker(worker, exitTimeoutMs)) })));
}

/** Disconnects one worker (unless that is under way) and waits for its exit, killing it after `timeoutMs`. */
export function stopWorker(worker: Worker, timeoutMs: number): Promise<Omit<WorkerStop, 'id'>> {
  return new Promise((resolve) => {
    if (worker.isDead()) {
      // Its 'exit' has passed and will not come again.
      resolve({ exitCode: worker.process.exitCode, signal: worker.process.signalCode, killed: false });
      return;
    }
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      worker.process.kill('SIGKILL');
    }, timeoutMs);
    worker.once('exit', (exitCode: number | null, signal: string | null) => {
      clearTimeout(timer);
      resolve({ exitCode, signal, killed });
    });
    // Once asked (by a rolling restart, or a first stop), a worker is not asked again: its IPC
    // channel may already be closing, and a message sent on a closed channel is an 'error' event.
    if (worker.exitedAfterDisconnect !== true && worker.isConnected()) worker.disconnect();
  });
}

/** The exit code that sums up the workers: the highest, a death by signal counting as 128 + its number. */
export function worstExitCode(stops: readonly Omit<WorkerStop, 'id'>[]): number {
  let worst = 0;
  for (const { exitCode, signal, killed } of stops) {
    const number = signal === null ? undefined : (constants.signals as Record<string, number>)[signal];
    const code = exitCode ?? (number === undefined ? 1 : 128 + number);
    worst = Math.max(worst, killed ? Math.max(code, 1) : code);
  }
  return Math.min(worst, 255);
}
