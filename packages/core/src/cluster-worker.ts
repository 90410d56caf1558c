import cluster from 'node:cluster';
import type { ProcessLike } from './process-coordinator.js';

/** The message a worker's lifecycle sends its primary once it is ready. */
export const workerReadyMessage = Object.freeze({ '@lifespan': 'ready' });

/** Whether a cluster message is a worker's `workerReadyMessage`. */
export function isWorkerReady(message: unknown): boolean {
  return message !== null && typeof message === 'object' && (message as Record<string, unknown>)['@lifespan'] === 'ready';
}

/**
 * Whether this process is a cluster worker that its primary is disconnecting. Read when a server
 * closes: `Worker#disconnect()` sets `exitedAfterDisconnect` before it closes the worker's servers
 * (lib/internal/cluster/child.js); the worker's own 'disconnect' event comes only after they closed.
 */
export function isDisconnecting(): boolean {
  return cluster.isWorker && cluster.worker?.exitedAfterDisconnect === true;
}

/**
 * Calls `disconnecting` when this process is a cluster worker whose primary disconnects it
 * (`worker.disconnect()`, `restartWorkers()`), from the worker's public 'disconnect' event. On
 * Node the worker's servers close first, which is what starts the shutdown (see `isDisconnecting`);
 * Bun (1.4.5) closes none of them and only emits the event, so the worker would run on for good.
 * Returns the function that stops listening.
 * @see https://nodejs.org/docs/latest-v24.x/api/cluster.html#event-disconnect
 */
export function onDisconnect(disconnecting: () => void): () => void {
  const worker = cluster.isWorker ? cluster.worker : undefined;
  if (worker === undefined) return noop;
  // Only a disconnect the primary asked for: a lost channel (the primary died) is Node's to handle.
  const listener = (): void => {
    if (worker.exitedAfterDisconnect === true) disconnecting();
  };
  worker.on('disconnect', listener);
  return () => void worker.off('disconnect', listener);
}

function noop(): void {}

/** Tells whoever supervises the process that the app is ready: PM2 (`wait_ready`) and a cluster primary. */
export function announceReady(proc: ProcessLike, pm2: boolean): void {
  if (typeof proc.send !== 'function') return;
  // PM2's wait_ready waits for exactly this message.
  if (pm2 && proc.env['pm_id'] !== undefined) proc.send('ready');
  // restartWorkers() in the primary waits for this before it disconnects the old worker.
  if (cluster.isWorker) proc.send(workerReadyMessage);
}
