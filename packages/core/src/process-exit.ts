import { debuglog } from 'node:util';
import type { ProcessLike } from './process-coordinator.js';

const debug = debuglog('lifespan');

/** How long the event loop gets to empty after the shutdown, unless a lifecycle sets `exitTimeoutMs`. */
export const defaultExitTimeoutMs = 1_000;

/**
 * Ends the process with `code` once the shutdown is over. `process.exit()` at once would cut what
 * the app still has under way: a pino transport's worker thread writing its last lines, an
 * OpenTelemetry exporter's request, a piped stdout that the reader has not drained (Node writes
 * pipes asynchronously on POSIX). So the exit code is set and the event loop left to empty; only
 * what never closes (an app's interval, a socket nobody ends) meets the bounded wait, after which
 * the exit is forced. The timer is unref'd: it never holds the loop open itself.
 */
export function exitWhenDrained(proc: ProcessLike, code: number, waitMs: number): void {
  proc.exitCode = code;
  // Node's cluster code keeps a worker's IPC channel referenced for good: a worker sent SIGTERM
  // itself would wait out the bound. Unref'd, it no longer holds the loop; what is being sent on it
  // still goes out (a write in progress keeps the loop alive).
  proc.channel?.unref();
  const timer = setTimeout(() => {
    debug('the event loop did not empty within %d ms of the shutdown: exit %d (still open: %s)', waitMs, code, activeResources().join(', '));
    proc.exit(code);
  }, waitMs);
  timer.unref();
}

function activeResources(): string[] {
  // process.getActiveResourcesInfo() is experimental (Node 17.3+): only for the debug line.
  const info = (process as { getActiveResourcesInfo?: () => string[] }).getActiveResourcesInfo;
  return typeof info === 'function' ? info.call(process) : [];
}
