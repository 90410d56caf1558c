import { CallbackFailedError, describeValue } from './errors.js';
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
    case 'webSocketsClosing':
      return `sending ${event.clients} WebSocket client(s) a close frame (${event.code}) over ${Math.round(event.windowMs)} ms`;
    case 'destroyed':
      return `destroyed ${event.connections} connection(s) with ${event.requests} request(s) in flight and terminated ${event.webSockets} WebSocket(s) at the drain timeout`;
  }
}

/** Reports an error through the logger, or else on stderr. */
export function reportError(logger: Logger | undefined, stderr: ErrorOutput, error: unknown): void {
  if (logger !== undefined) logger.error(`lifespan: ${describeValue(error)}`, error);
  else stderr.write(describeForStderr(error));
}

/**
 * An error as stderr shows it: the stable code and message on the first line (what a supervisor
 * greps for), then the cause's stack, which has the file and line of the user's code; Lifespan's
 * own frames would tell them nothing.
 */
export function describeForStderr(error: unknown): string {
  const code = codeOf(error);
  if (code === undefined) return `${stackOf(error) ?? `lifespan: ${describeValue(error)}`}\n`;
  const head = `lifespan: ${code}: ${describeValue(error)}`;
  const cause = stackOf(causeOf(error));
  return cause === undefined ? `${head}\n` : `${head}\n  Caused by: ${cause}\n`;
}

/** Wraps the user's logger so that one that throws does not break the shutdown: the line and the failure go to stderr. */
export function containedLogger(logger: Logger | undefined, stderr: ErrorOutput): Logger | undefined {
  if (logger === undefined) return undefined;
  const method =
    (level: keyof Logger) =>
    (message: string, ...rest: unknown[]): void => {
      try {
        logger[level](message, ...rest);
      } catch (failure) {
        stderr.write(`${message}\n`);
        stderr.write(describeForStderr(new CallbackFailedError(`The logger's ${level}()`, failure)));
      }
    };
  return { info: method('info'), warn: method('warn'), error: method('error') };
}

function codeOf(error: unknown): string | undefined {
  try {
    const code = (error as { code?: unknown } | null)?.code;
    return typeof code === 'string' && code.startsWith('ERR_LIFESPAN_') ? code : undefined;
  } catch {
    return undefined;
  }
}

function causeOf(error: unknown): unknown {
  try {
    return error instanceof Error ? error.cause : undefined;
  } catch {
    return undefined;
  }
}

/** A thrown value's stack, if it is an error that has one; never throws (a revoked Proxy throws on every read). */
function stackOf(value: unknown): string | undefined {
  try {
    return value instanceof Error && typeof value.stack === 'string' ? value.stack : undefined;
  } catch {
    return undefined;
  }
}

/** Writes why a report is not ok, one line per failure, for a process about to exit 1 with no logger. */
export function writeFailures(report: ShutdownReport, stderr: ErrorOutput): void {
  for (const hook of report.hooks) if (hook.error !== undefined) stderr.write(`lifespan: ${hook.error.code}: ${hook.error.message}\n`);
  for (const error of report.errors) stderr.write(`lifespan: ${error.code}: ${error.message}\n`);
}
