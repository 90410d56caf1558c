/** Every code that Lifespan can put on an error or a warning. Codes are added, never renamed. */
export type LifecycleErrorCode =
  | 'ERR_LIFESPAN_INVALID_ARG'
  | 'ERR_LIFESPAN_HOOK_TIMEOUT'
  | 'ERR_LIFESPAN_HOOK_FAILED'
  | 'ERR_LIFESPAN_DEADLINE_EXCEEDED'
  | 'ERR_LIFESPAN_STARTUP_FAILED'
  | 'ERR_LIFESPAN_STARTUP_ABORTED'
  | 'ERR_LIFESPAN_REGISTER_TOO_LATE'
  | 'ERR_LIFESPAN_ALREADY_SHUT_DOWN'
  | 'ERR_LIFESPAN_MAX_HOOKS'
  | 'ERR_LIFESPAN_ASYNC_HOOK_AT_EXIT'
  | 'ERR_LIFESPAN_UNCAUGHT'
  | 'ERR_LIFESPAN_REQUESTS_ABORTED'
  | 'ERR_LIFESPAN_HEALTH_CHECK_FAILED'
  | 'ERR_LIFESPAN_FORCED_EXIT'
  | 'ERR_LIFESPAN_WORKER_RESTART'
  | 'ERR_LIFESPAN_SIGNALS_NOT_FORWARDED'
  | 'ERR_LIFESPAN_CONNECTIONS_DESTROYED'
  | 'ERR_LIFESPAN_DRAIN_FAILED'
  | 'ERR_LIFESPAN_CALLBACK_FAILED'
  | 'ERR_LIFESPAN_REQUESTS_UNANSWERED'
  | 'ERR_LIFESPAN_DEADLINE_SPLIT'
  | 'ERR_LIFESPAN_WEBSOCKETS_TERMINATED'
  | 'ERR_LIFESPAN_WORK_CUT'
  | 'ERR_LIFESPAN_WORK_FAILED';

/** The closed list of codes, for documentation tests and exhaustive switches. */
export const errorCodes: readonly LifecycleErrorCode[] = [
  'ERR_LIFESPAN_INVALID_ARG',
  'ERR_LIFESPAN_HOOK_TIMEOUT',
  'ERR_LIFESPAN_HOOK_FAILED',
  'ERR_LIFESPAN_DEADLINE_EXCEEDED',
  'ERR_LIFESPAN_STARTUP_FAILED',
  'ERR_LIFESPAN_STARTUP_ABORTED',
  'ERR_LIFESPAN_REGISTER_TOO_LATE',
  'ERR_LIFESPAN_ALREADY_SHUT_DOWN',
  'ERR_LIFESPAN_MAX_HOOKS',
  'ERR_LIFESPAN_ASYNC_HOOK_AT_EXIT',
  'ERR_LIFESPAN_UNCAUGHT',
  'ERR_LIFESPAN_REQUESTS_ABORTED',
  'ERR_LIFESPAN_HEALTH_CHECK_FAILED',
  'ERR_LIFESPAN_FORCED_EXIT',
  'ERR_LIFESPAN_WORKER_RESTART',
  'ERR_LIFESPAN_SIGNALS_NOT_FORWARDED',
  'ERR_LIFESPAN_CONNECTIONS_DESTROYED',
  'ERR_LIFESPAN_DRAIN_FAILED',
  'ERR_LIFESPAN_CALLBACK_FAILED',
  'ERR_LIFESPAN_REQUESTS_UNANSWERED',
  'ERR_LIFESPAN_DEADLINE_SPLIT',
  'ERR_LIFESPAN_WEBSOCKETS_TERMINATED',
  'ERR_LIFESPAN_WORK_CUT',
  'ERR_LIFESPAN_WORK_FAILED',
];

/** Base class of every error Lifespan throws or reports; branch on `code`, not on the class. */
export abstract class LifecycleError extends Error {
  abstract readonly code: LifecycleErrorCode;

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A bad argument or option, named in the message. */
export class InvalidArgumentError extends LifecycleError {
  readonly code = 'ERR_LIFESPAN_INVALID_ARG';
  constructor(
    readonly argument: string,
    message: string,
  ) {
    super(`Invalid argument "${argument}": ${message}`);
  }
}

/** A hook that did not settle within its own `timeoutMs` and was abandoned. */
export class HookTimeoutError extends LifecycleError {
  readonly code = 'ERR_LIFESPAN_HOOK_TIMEOUT';
  constructor(
    readonly hookName: string,
    readonly timeoutMs: number,
    readonly phase: string = 'close',
  ) {
    super(`${phase === 'startup' ? 'Startup' : 'Shutdown'} hook "${hookName}" did not settle within ${timeoutMs} ms`);
  }
}

/** A hook that threw or rejected; the original failure is the `cause`. */
export class HookFailedError extends LifecycleError {
  readonly code = 'ERR_LIFESPAN_HOOK_FAILED';
  constructor(
    readonly hookName: string,
    readonly phase: string,
    cause: unknown,
  ) {
    super(`${phase === 'startup' ? 'Startup' : 'Shutdown'} hook "${hookName}" failed: ${describeValue(cause)}`, { cause });
  }
}

/** A hook that was still running (or had not started) when the lifecycle's global deadline passed. */
export class DeadlineExceededError extends LifecycleError {
  readonly code = 'ERR_LIFESPAN_DEADLINE_EXCEEDED';
  constructor(
    readonly hookName: string,
    readonly timeoutMs: number,
  ) {
    super(`Shutdown hook "${hookName}" was cut off by the lifecycle deadline (timeoutMs ${timeoutMs} ms)`);
  }
}

/** `start()` failed because a startup hook failed; the hook's error is the `cause`. */
export class StartupFailedError extends LifecycleError {
  readonly code = 'ERR_LIFESPAN_STARTUP_FAILED';
  constructor(
    readonly hookName: string,
    cause: unknown,
  ) {
    super(`Startup hook "${hookName}" failed, so the lifecycle shut down: ${describeValue(cause)}`, { cause });
  }
}

/** `start()` did not finish because shutdown began first. */
export class StartupAbortedError extends LifecycleError {
  readonly code = 'ERR_LIFESPAN_STARTUP_ABORTED';
  constructor(readonly reason: string) {
    super(`Startup was aborted because shutdown began (reason: ${reason})`);
  }
}

/** A shutdown hook registered after the close phase had started: it could never run. */
export class RegisterTooLateError extends LifecycleError {
  readonly code = 'ERR_LIFESPAN_REGISTER_TOO_LATE';
  constructor(
    readonly hookName: string,
    readonly state: string,
  ) {
    super(`Cannot register shutdown hook "${hookName}": the lifecycle is already "${state}", so it would never run`);
  }
}

/** An operation that needs a lifecycle that has not shut down (`start()` after `shutdown()`). */
export class AlreadyShutDownError extends LifecycleError {
  readonly code = 'ERR_LIFESPAN_ALREADY_SHUT_DOWN';
  constructor(
    readonly operation: string,
    readonly state: string,
  ) {
    super(`Cannot ${operation}: the lifecycle is already "${state}"`);
  }
}

/** An uncaught exception or unhandled rejection that made Lifespan shut the process down. */
export class UncaughtError extends LifecycleError {
  readonly code = 'ERR_LIFESPAN_UNCAUGHT';
  constructor(
    readonly origin: string,
    cause: unknown,
  ) {
    super(`${origin}: ${describeValue(cause)}`, { cause });
  }
}

/** In-flight requests were still running at the drain timeout or deadline, and their connections were destroyed. */
export class RequestsAbortedError extends LifecycleError {
  readonly code = 'ERR_LIFESPAN_REQUESTS_ABORTED';
  constructor(
    readonly requests: number,
    readonly timeoutMs: number,
  ) {
    super(`${requests} in-flight request(s) had not finished after ${timeoutMs} ms; their connections were destroyed`);
  }
}

/** Requests were read (their handlers ran) on connections that closed before their responses could be written. */
export class RequestsUnansweredError extends LifecycleError {
  readonly code = 'ERR_LIFESPAN_REQUESTS_UNANSWERED';
  constructor(readonly requests: number) {
    super(`${requests} request(s) were read during the drain but their connection closed before their response could be written (pipelined behind a response that ended it, or the client hung up)`);
  }
}

/** WebSocket clients of a server handed to `lifecycle.webSockets()` had not closed by the drain timeout: they were terminated. */
export class WebSocketsTerminatedError extends LifecycleError {
  readonly code = 'ERR_LIFESPAN_WEBSOCKETS_TERMINATED';
  constructor(
    readonly clients: number,
    readonly timeoutMs: number,
  ) {
    super(`${clients} WebSocket client(s) had not closed ${timeoutMs} ms into the drain (sent a close frame, no reply) and were terminated`);
  }
}

/** Background work (`lifecycle.track()`, `lifecycle.run()`) had not settled when the drain's time was up: the shutdown went on without it. */
export class WorkCutError extends LifecycleError {
  readonly code = 'ERR_LIFESPAN_WORK_CUT';
  /** The names of the work cut, in the order it started. */
  readonly names: readonly string[];
  constructor(
    names: readonly string[] | string,
    readonly timeoutMs: number,
  ) {
    const list = typeof names === 'string' ? [names] : names;
    super(`Background work ${list.map((name) => `"${name}"`).join(', ')} had not finished ${timeoutMs} ms into the drain and was cut`);
    this.names = list;
  }
}

/** Background work (`lifecycle.track()`, `lifecycle.run()`) rejected with an error of its own (not the shutdown's abort). */
export class WorkFailedError extends LifecycleError {
  readonly code = 'ERR_LIFESPAN_WORK_FAILED';
  constructor(
    readonly workName: string,
    cause: unknown,
  ) {
    super(`Background work "${workName}" failed: ${describeValue(cause)}`, { cause });
  }
}

/** A user health check failed or timed out (then `timeoutMs` is set); readiness reports its name. */
export class HealthCheckFailedError extends LifecycleError {
  readonly code = 'ERR_LIFESPAN_HEALTH_CHECK_FAILED';
  constructor(
    readonly checkName: string,
    cause: unknown,
    readonly timeoutMs?: number,
  ) {
    super(
      timeoutMs === undefined ? `Health check "${checkName}" failed: ${describeValue(cause)}` : `Health check "${checkName}" did not settle within ${timeoutMs} ms`,
      cause === undefined ? undefined : { cause },
    );
  }
}

/** A second signal arrived while shutting down, so the process exits at once. */
export class ForcedExitError extends LifecycleError {
  readonly code = 'ERR_LIFESPAN_FORCED_EXIT';
  constructor(
    readonly signal: string,
    readonly exitCode: number,
  ) {
    super(`Received ${signal} again during shutdown; exiting immediately with code ${exitCode}`);
  }
}

/** A rolling restart stopped because a new worker died or was not ready in time; the old worker keeps serving. */
export class WorkerRestartError extends LifecycleError {
  readonly code = 'ERR_LIFESPAN_WORKER_RESTART';
  constructor(
    readonly workerId: number,
    problem: string,
  ) {
    super(`Rolling restart stopped: new worker ${workerId} ${problem}`);
  }
}

/** Connections were still open at the drain timeout or deadline and were destroyed (WebSockets, HTTP/2 sessions, unanswered requests). */
export class ConnectionsDestroyedError extends LifecycleError {
  readonly code = 'ERR_LIFESPAN_CONNECTIONS_DESTROYED';
  constructor(
    readonly connections: number,
    readonly timeoutMs: number,
  ) {
    super(`${connections} connection(s) were still open after ${timeoutMs} ms of draining (WebSockets, HTTP/2 sessions or unanswered requests) and were destroyed`);
  }
}

/** The HTTP drain hit an exception at one step; it went on with the others, and the close hooks still ran. */
export class DrainFailedError extends LifecycleError {
  readonly code = 'ERR_LIFESPAN_DRAIN_FAILED';
  constructor(
    readonly step: string,
    cause: unknown,
  ) {
    super(`The HTTP drain failed while ${step}: ${describeValue(cause)}`, { cause });
  }
}

/**
 * A user callback other than a hook (an event listener, the logger, the exit policy) threw or
 * returned something unusable; Lifespan reported it and went on.
 */
export class CallbackFailedError extends LifecycleError {
  readonly code = 'ERR_LIFESPAN_CALLBACK_FAILED';
  constructor(
    /** What failed, as the message names it: `A "state" listener`, `The logger's info()`, `The exit policy (options.exit)`. */
    readonly callback: string,
    cause: unknown,
    /** What it did, when it did not throw (`returned 256, ...`). */
    problem?: string,
  ) {
    super(`${callback} ${problem ?? `threw: ${describeValue(cause)}`}`, problem === undefined ? { cause } : undefined);
  }
}

/**
 * What a thrown value says, for a message: an error's message, or the value as a string. Never
 * throws: a null-prototype object has no toString, and a revoked Proxy throws on every operation
 * (`instanceof` included).
 */
export function describeValue(value: unknown): string {
  try {
    if (value instanceof Error) return value.message;
    return String(value);
  } catch {
    return `a thrown ${value === null ? 'null' : typeof value} that cannot be shown as text`;
  }
}
