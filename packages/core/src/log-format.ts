import type { DrainEvent, Logger, ShutdownReport } from './types.js';

/** Where Lifespan writes when no logger is configured. */
export interface ErrorOutput {
  write(text: string): unknown;
}

/** One line for the logger about a drain milestone. */
export function describeDrainEvent(event: DrainEvent): string {
  switch (event.type) {
    case 'listenerClosed':
      return `stopped accepting connections on ${event.servers} server(s)`;
    case 'idleClosed':
      return `closed ${event.connections} idle connection(s)`;
    case 'drained':
      return `drained (${event.completed} request(s) completed during drain)`;
    case 'destroyed':
      return `destroyed ${event.connections} connection(s) with ${event.requests} request(s) in flight at the drain timeout`;
  }
}

/** Reports an error through the logger, or else on stderr. */
export function reportError(logger: Logger | undefined, stderr: ErrorOutput, error: unknown): void {
  if (logger !== undefined) logger.error(`lifespan: ${error instanceof Error ? error.message : String(error)}`, error);
  else if (error instanceof Error) {
    // Without a logger, stderr is all a supervisor keeps: lead with the stable code, as writeFailures() does.
    const code = (error as { code?: unknown }).code;
    stderr.write(`${typeof code === 'string' && code.startsWith('ERR_LIFESPAN_') ? `lifespan: ${code}: ` : ''}${error.stack ?? error.message}\n`);
  }
}

/** Writes why a report is not ok, one line per failure, for a process about to exit 1 with no logger. */
export function writeFailures(report: ShutdownReport, stderr: ErrorOutput): void {
  for (const hook of report.hooks) if (hook.error !== undefined) stderr.write(`lifespan: ${hook.error.code}: ${hook.error.message}\n`);
  for (const error of report.errors) stderr.write(`lifespan: ${error.code}: ${error.message}\n`);
}
