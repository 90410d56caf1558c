import type { LifecycleError } from './errors.js';

/** Where a lifecycle is in its life; it only ever moves forward. */
export type LifecycleState = 'created' | 'starting' | 'ready' | 'draining' | 'closing' | 'closed';

/** `'drain'` hooks run while in-flight work finishes; `'close'` hooks release resources afterwards. */
export type ShutdownPhase = 'drain' | 'close';

/** Anything with `info`, `warn` and `error`: console, pino, Fastify's logger. */
export interface Logger {
  info(message: string, ...rest: unknown[]): void;
  warn(message: string, ...rest: unknown[]): void;
  error(message: string, ...rest: unknown[]): void;
}

/** What a shutdown or startup hook receives. */
export interface HookContext {
  /** Aborts when this hook's time is up (its own timeout or the lifecycle deadline). */
  readonly signal: AbortSignal;
  /** Why shutdown began: a signal name, `'server.close'`, or what was passed to `shutdown(reason)`. */
  readonly reason: string;
  /** Epoch milliseconds by which this hook must have settled. */
  readonly deadline: number;
}

/** A function run at shutdown; it may return a promise. */
export type ShutdownHook = (context: HookContext) => unknown;

/** A function run by `start()`; it may return a promise. */
export type StartupHook = (context: HookContext) => unknown;

/** Options of `registerShutdown()`. */
export interface RegisterShutdownOptions {
  /** Identity of the hook: registering again with the same key keeps the first hook. @default the function itself */
  key?: unknown;
  /** Name used in the report and in errors. @default the function's name, or `'anonymous'` */
  name?: string;
  /** When the hook runs. @default 'close' */
  phase?: ShutdownPhase;
  /** Time this hook may take before it is abandoned. @default the lifecycle's `hookTimeoutMs` */
  timeoutMs?: number;
}

/** Options of `registerStartup()`. */
export interface RegisterStartupOptions {
  /** Identity of the hook: registering again with the same key keeps the first hook. @default the function itself */
  key?: unknown;
  /** Name used in errors. @default the function's name, or `'anonymous'` */
  name?: string;
  /** Time this hook may take before `start()` fails. @default the lifecycle's `hookTimeoutMs` */
  timeoutMs?: number;
}

/** Removes a hook; returns true if it removed something. */
export type Unregister = () => boolean;

/** How one hook ended. */
export type HookStatus = 'ok' | 'error' | 'timeout' | 'skipped';

/** One hook's line in a report. */
export interface HookResult {
  /** The hook's name. */
  readonly name: string;
  /** `'startup'` for startup hooks that ran in a failed `start()`. */
  readonly phase: ShutdownPhase | 'startup' | 'request';
  /** How it ended. */
  readonly status: HookStatus;
  /** How long it ran, in milliseconds (0 when skipped). */
  readonly durationMs: number;
  /** Why it did not end `'ok'`. */
  readonly error?: LifecycleError;
}

/** What happened to HTTP traffic during shutdown. */
export interface DrainStats {
  /** Requests in flight when shutdown began. */
  readonly inFlightAtStart: number;
  /** Requests that completed between the start of shutdown and the end of the drain. */
  readonly completedDuringDrain: number;
  /** In-flight requests whose connection was destroyed at the drain timeout or deadline. */
  readonly abortedRequests: number;
  /** Requests read (their handlers ran) on a connection that closed before their response could be written: pipelined behind a response that ended the connection, or the client hung up. */
  readonly unansweredRequests: number;
  /** Idle connections closed gently (`FIN`) during the drain. */
  readonly idleConnectionsClosed: number;
  /** Connections (upgraded ones included) destroyed at the drain timeout or deadline. */
  readonly connectionsDestroyed: number;
  /** WebSocket clients of the servers handed to `lifecycle.webSockets()` sent a close frame (1001, or 1012 during a rolling restart). */
  readonly webSocketsClosed: number;
  /** Of those servers' clients, the ones still open at the drain timeout or deadline, terminated (not counted in `connectionsDestroyed`). */
  readonly webSocketsTerminated: number;
}

/** How a piece of background work ended during the drain: `'cut'` when the drain's time was up first. */
export type WorkStatus = 'ok' | 'error' | 'cut';

/** One piece of background work (`lifecycle.track()`, `lifecycle.run()`) in a report. */
export interface WorkResult {
  /** The name it was given (`'anonymous'` for a `track()` without one). */
  readonly name: string;
  readonly status: WorkStatus;
  /** From the start of the drain to its end (to the cut, if cut). */
  readonly durationMs: number;
  /** `ERR_LIFESPAN_WORK_FAILED` with its cause, when it failed. */
  readonly error?: LifecycleError;
}

/** What `shutdown()` resolves with; it never rejects. */
export interface ShutdownReport {
  /** Why shutdown began. */
  readonly reason: string;
  /** True when every hook ended `'ok'`, no background work was cut or failed, no in-flight request was cut off, no connection was destroyed at the drain timeout and the drain raised no error. */
  readonly ok: boolean;
  /** Time from the start of shutdown to `'closed'`. */
  readonly durationMs: number;
  /** Every hook, in the order they ran (request-scope hooks first, then drain, then close). */
  readonly hooks: readonly HookResult[];
  /** HTTP drain figures (all zero without attached servers). */
  readonly http: DrainStats;
  /** Background work running when shutdown began or started during the drain, in the order it started. */
  readonly work: readonly WorkResult[];
  /** Errors not tied to one hook (requests aborted and connections destroyed at the drain timeout, a drain step that threw). */
  readonly errors: readonly LifecycleError[];
}

/** What `health()` returns; probes read it. */
export interface HealthStatus {
  /** False only once closed, or after a failed startup. */
  readonly live: boolean;
  /** True once startup finished and until shutdown begins, while every health check passes. */
  readonly ready: boolean;
  /** The lifecycle's state. */
  readonly state: LifecycleState;
  /** Names of the health checks that failed, when any did. */
  readonly failing?: readonly string[];
  /** Failure messages by check name, only with `health({ details: true })`. */
  readonly details?: Readonly<Record<string, string>>;
}

/** What decides the exit code after a process-triggered shutdown: `true` exits 0 or 1 by the report, `false` leaves the process alone, a function returns the code (or `false`). */
export type ExitPolicy = boolean | ((report: ShutdownReport) => number | false);

/** Options of `createLifecycle()`. */
export interface LifecycleOptions {
  /** Signals that start shutdown, or `false` for none. @default ['SIGTERM', 'SIGINT'] */
  signals?: readonly NodeJS.Signals[] | false;
  /** Global deadline: shutdown never takes longer. @default 30_000 */
  timeoutMs?: number;
  /** Default time each hook may take. @default 10_000 */
  hookTimeoutMs?: number;
  /** Time to keep serving normally after readiness turns false, so load balancers stop routing first. @default 0 */
  drainDelayMs?: number;
  /** Time in-flight requests get to finish once the listener is closed; then connections are destroyed. @default 10_000 */
  drainTimeoutMs?: number;
  /** How long a connection must be idle during the drain before it is closed. @default 25 */
  idleGraceMs?: number;
  /**
   * Keep connections without traffic open at least this long (`server.keepAliveTimeout`, with
   * `headersTimeout` and `requestTimeout` raised to match) on every attached server, so that a load
   * balancer in front, whose idle timeout must be shorter, closes them first and never sends a
   * request on a connection Node is closing (a 502). Raises, never lowers; `false` leaves the
   * server's timeouts alone. Set it above the balancer's idle timeout: 620_000 behind Google Cloud's.
   * @default 65_000
   */
  keepAliveTimeoutMs?: number | false;
  /** How many hooks of one phase may run at once. @default 1 */
  hookConcurrency?: number;
  /** Distinct hooks after which one leak warning is emitted. @default 100 */
  maxHooks?: number;
  /** Where Lifespan reports what happens. @default silent */
  logger?: Logger;
  /** Exit after a shutdown started by a signal, a cluster disconnect or PM2. @default true */
  exit?: ExitPolicy;
  /** Exit code used when a second signal arrives during shutdown. @default 1 */
  forceExitCode?: number;
  /**
   * After a shutdown that exits, how long the event loop may take to empty by itself (a pino
   * transport's last lines, piped stdout, an exporter's flush) before the exit is forced; `0` forces
   * it on the next turn of the loop. @default 1_000
   */
  exitTimeoutMs?: number;
  /** Log uncaught exceptions and unhandled rejections, shut down gracefully and exit 1. @default false */
  handleUncaught?: boolean;
  /** Run synchronous hooks from `process.on('exit')` when the process exits without shutting down. @default true */
  exitFallback?: boolean;
  /** Report `process.send('ready')` under PM2 once ready. @default true */
  pm2?: boolean;
}

/** A lifecycle's typed events. */
export interface LifecycleEvents {
  /** The state changed. */
  state: [state: LifecycleState, previous: LifecycleState];
  /** A hook started. */
  hookStart: [name: string, phase: HookResult['phase']];
  /** A hook ended. */
  hookEnd: [result: HookResult];
  /** A phase of the HTTP drain happened. */
  drain: [event: DrainEvent];
}

/** Milestones of the HTTP drain, for timelines and logs. */
export type DrainEvent =
  | { readonly type: 'listenerClosed'; readonly servers: number }
  | { readonly type: 'idleClosed'; readonly connections: number }
  | { readonly type: 'drained'; readonly completed: number }
  | { readonly type: 'webSocketsClosing'; readonly clients: number; readonly code: number; readonly windowMs: number }
  | { readonly type: 'destroyed'; readonly connections: number; readonly requests: number; readonly webSockets: number };
