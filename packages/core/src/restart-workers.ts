import cluster from 'node:cluster';
import type { Worker } from 'node:cluster';
import { debuglog } from 'node:util';
import { isWorkerReady } from './cluster-worker.js';
import { InvalidArgumentError, WorkerRestartError } from './errors.js';
import { checkDuration, checkOptionsObject, show } from './options.js';
import { stopWorker } from './stop-workers.js';

const debug = debuglog('lifespan');

/** Options of `restartWorkers()`. */
export interface RestartWorkersOptions {
  /** Time a new worker has to report ready before the restart stops (the old worker keeps serving). @default 30_000 */
  readyTimeoutMs?: number;
  /** Time an old worker has to exit after `disconnect()` before it is killed. @default 35_000 */
  exitTimeoutMs?: number;
  /** Environment for the new workers (as `cluster.fork(env)`). */
  env?: Record<string, string>;
}

/** What happened to one worker during a rolling restart. */
export interface WorkerRestart {
  /** `id` of the old worker. */
  readonly oldId: number;
  /** `id` of the worker that replaced it. */
  readonly newId: number;
  /** Exit code of the old worker (null if it died by a signal). */
  readonly exitCode: number | null;
  /** Signal that ended the old worker, if any. */
  readonly signal: string | null;
  /** True if it had to be killed after `exitTimeoutMs`. */
  readonly killed: boolean;
}

/**
 * Replaces every current cluster worker, one at a time: fork the new one, wait until its lifecycle
 * is ready, then disconnect the old one (which drains and runs its hooks) and wait for it to exit.
 * Capacity never drops below the current count, so a rolling restart loses no request.
 * @example
 * process.on('SIGHUP', () => void restartWorkers());
 */
export async function restartWorkers(options: RestartWorkersOptions = {}): Promise<WorkerRestart[]> {
  checkOptionsObject('options', options, new Set(['readyTimeoutMs', 'exitTimeoutMs', 'env']));
  const readyTimeoutMs = options.readyTimeoutMs === undefined ? 30_000 : checkDuration('options.readyTimeoutMs', options.readyTimeoutMs, false);
  const exitTimeoutMs = options.exitTimeoutMs === undefined ? 35_000 : checkDuration('options.exitTimeoutMs', options.exitTimeoutMs, false);
  const env: unknown = options.env;
  if (env !== undefined && (env === null || typeof env !== 'object' || Array.isArray(env))) {
    throw new InvalidArgumentError('options.env', `expected an object of environment variables, got ${show(env)}`);
  }
  if (!cluster.isPrimary) throw new InvalidArgumentError('cluster', 'restartWorkers() runs in the cluster primary');
  const results: WorkerRestart[] = [];
  const current = Object.values(cluster.workers ?? {}).filter((worker): worker is Worker => worker !== undefined && worker.isConnected());
  for (const old of current) {
    const fresh = cluster.fork(options.env);
    debug('rolling restart: worker %d replaces %d', fresh.id, old.id);
    await waitForReady(fresh, readyTimeoutMs);
    results.push({ oldId: old.id, newId: fresh.id, ...(await stopWorker(old, exitTimeoutMs)) });
  }
  return results;
}

function waitForReady(worker: Worker, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (error?: Error): void => {
      clearTimeout(timer);
      worker.off('message', onMessage);
      worker.off('exit', onExit);
      if (error === undefined) resolve();
      else reject(error);
    };
    const onMessage = (message: unknown): void => {
      if (isWorkerReady(message)) done();
    };
    const onExit = (code: number | null): void => done(new WorkerRestartError(worker.id, `exited with code ${String(code)} before it was ready`));
    const timer = setTimeout(() => {
      worker.kill();
      done(new WorkerRestartError(worker.id, `was not ready within ${timeoutMs} ms`));
    }, timeoutMs);
    worker.on('message', onMessage);
    worker.once('exit', onExit);
  });
}
