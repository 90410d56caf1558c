import { EventEmitter } from 'node:events';
import cluster from 'node:cluster';
import { debuglog } from 'node:util';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  AlreadyShutDownError,
  ForcedExitError,
  HealthCheckFailedError,
  InvalidArgumentError,
  RegisterTooLateError,
  RequestsAbortedError,
  StartupAbortedError,
  StartupFailedError,
  UncaughtError,
} from './errors.js';
import type { LifecycleError } from './errors.js';
import { HttpDrainer } from './http-drain.js';
import { applyKeepAliveTimeout } from './keep-alive.js';
import type { DrainableServer } from './http-drain.js';
import { serverOf } from './node-internals.js';
import { checkDuration, checkOptionsObject, checkServer, resolveOptions, show } from './options.js';
import type { ResolvedOptions } from './options.js';
import { join, leave, trigger } from './process-coordinator.js';
import type { Participant, ProcessLike, ProcessTrigger } from './process-coordinator.js';
import type { RequestScope } from './request-scope.js';
import { workerReadyMessage } from './restart-workers.js';
import { now, runHook, runHooks } from './run-hook.js';
import type { RunnableHook } from './run-hook.js';
import type {
  DrainEvent,
  HealthStatus,
  HookResult,
  LifecycleEvents,
  LifecycleOptions,
  LifecycleState,
  RegisterShutdownOptions,
  RegisterStartupOptions,
  ShutdownHook,
  ShutdownPhase,
  ShutdownReport,
  StartupHook,
  Unregister,
} from './types.js';

const debug = debuglog('lifespan');

const shutdownOptionKeys = new Set(['key', 'name', 'phase', 'timeoutMs']);
const startupOptionKeys = new Set(['key', 'name', 'timeoutMs']);
const healthOptionKeys = new Set(['timeoutMs']);
const emptyStats = { inFlightAtStart: 0, completedDuringDrain: 0, abortedRequests: 0, idleConnectionsClosed: 0, connectionsDestroyed: 0 };

interface HookRecord extends RunnableHook {
  readonly key: unknown;
  readonly unregister: Unregister;
  started: boolean;
}

interface HealthCheck {
  readonly name: string;
  readonly fn: (signal: AbortSignal) => unknown;
  readonly timeoutMs: number;
}

/** The environment a lifecycle runs in; tests pass a fake process. */
export interface LifecycleEnvironment {
  readonly process: ProcessLike;
  /** Option keys an adapter accepts on top of the lifecycle's own. */
  readonly extraOptionKeys?: readonly string[];
}

/**
 * A framework close that must run as part of shutdown (Fastify's `close()`), bridged so that
 * either side may start the shutdown and every hook still runs once.
 */
export interface HostBridge {
  /** Call from the framework's first close hook (Fastify `preClose`): starts or joins shutdown, resolves once drained. */
  closing(): Promise<void>;
  /** Call from the framework's last close hook (Fastify `onClose`): resolves once the close phase is done. */
  closed(): Promise<void>;
}

/** Options of `health()`. */
export interface HealthOptions {
  /** Include failure messages of health checks (they may reveal internals to whoever can reach the probe). @default false */
  details?: boolean;
}

/** Options of `registerHealthCheck()`. */
export interface HealthCheckOptions {
  /** Time the check may take before it counts as failed. @default 1_000 */
  timeoutMs?: number;
}

// EventEmitter without its constructor. EventEmitter.init() run on one more class of object made V8
// optimize node:http's OutgoingMessage and IncomingMessage constructors, which inline it, with
// generic property access: merely creating a lifecycle cost every Fastify request 1.4% more
// instructions (bench/README.md). EventEmitter's methods create `_events` on first use, and what
// init() would copy (maxListeners, captureRejections) is read from EventEmitter.prototype instead.
function UninitializedEmitter(): void {}
UninitializedEmitter.prototype = EventEmitter.prototype;
const Emitter = UninitializedEmitter as unknown as typeof EventEmitter;

/**
 * The application's lifecycle: hooks registered once, a shutdown that runs each of them once,
 * HTTP draining for attached servers, process signals and readiness.
 */
export class Lifecycle extends Emitter<LifecycleEvents> implements AsyncDisposable {
  readonly #options: ResolvedOptions;
  readonly #process: ProcessLike;
  readonly #shutdownHooks = new Map<unknown, HookRecord>();
  readonly #startupHooks = new Map<unknown, HookRecord>();
  readonly #healthChecks = new Map<string, HealthCheck>();
  readonly #controller = new AbortController();
  readonly #lateDrainHooks: Promise<HookResult>[] = [];
  #state: LifecycleState = 'created';
  #startPromise: Promise<void> | undefined;
  #shutdownPromise: Promise<ShutdownReport> | undefined;
  #reason: string | undefined;
  #deadline = Infinity;
  #drainer: HttpDrainer | undefined;
  #participant: Participant | undefined;
  #startupFailed = false;
  #warnedMaxHooks = false;
  #host: { close: () => PromiseLike<unknown>; ownedByHost: boolean; closeStarted: boolean } | undefined;
  #delayDrain = true;

  constructor(options: LifecycleOptions | undefined, environment: LifecycleEnvironment) {
    super();
    this.#options = resolveOptions(options, environment.extraOptionKeys);
    this.#process = environment.process;
  }

  /** Where the lifecycle is now. */
  get state(): LifecycleState {
    return this.#state;
  }

  /** True from the moment shutdown begins. */
  get isShuttingDown(): boolean {
    return this.#shutdownPromise !== undefined;
  }

  /** Aborted when shutdown begins; its reason is the shutdown reason. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** The options in force, defaults filled in. */
  get options(): ResolvedOptions {
    return this.#options;
  }

  /** Number of distinct shutdown hooks registered. */
  get hookCount(): number {
    return this.#shutdownHooks.size;
  }

  /** Requests in flight on attached (or lazily attached) servers. */
  get inFlight(): number {
    return this.#drainer?.inFlight ?? 0;
  }

  /**
   * Registers a shutdown hook once: the same `key` (or, without one, the same function) is the same hook.
   * @example
   * lifecycle.registerShutdown(() => pool.end(), { key: 'pg-pool', name: 'pg pool' });
   */
  registerShutdown(hook: ShutdownHook, options?: RegisterShutdownOptions): Unregister {
    // The hot path, taken on every request: a hook the app already has, with no option but `key`,
    // which nothing can make invalid. Checked without the full parse, which cost ~500 instructions
    // a call (callgrind): half a percent of a Koa request.
    if (typeof hook === 'function' && (options === undefined || keyOnly(options))) {
      const existing = this.#shutdownHooks.get(options?.key === undefined ? hook : options.key);
      if (existing !== undefined) return existing.unregister;
    }
    const { key, name, timeoutMs, phase } = this.#hookOptions('registerShutdown', hook, options, shutdownOptionKeys);
    const existing = this.#shutdownHooks.get(key);
    if (existing !== undefined) return existing.unregister;
    const hookName = name ?? nameOf(hook);
    if (this.#state === 'closing' || this.#state === 'closed') {
      throw new RegisterTooLateError(hookName, this.#state);
    }
    const record = this.#record(this.#shutdownHooks, key, hook, hookName, phase, timeoutMs);
    if (this.#shutdownHooks.size > this.#options.maxHooks && !this.#warnedMaxHooks) {
      this.#warnedMaxHooks = true;
      this.#process.emitWarning(
        `Possible shutdown hook leak: ${this.#shutdownHooks.size} distinct hooks registered (maxHooks ${this.#options.maxHooks}). ` +
          'A closure registered per request without a `key` is a new hook every time; pass { key } to register it once.',
        { type: 'LifespanMaxHooksWarning', code: 'ERR_LIFESPAN_MAX_HOOKS', detail: `Latest hook: "${hookName}"` },
      );
    }
    if (phase === 'drain' && this.#state === 'draining') {
      // Drain hooks start when shutdown begins; one that arrives later starts now.
      record.started = true;
      this.#lateDrainHooks.push(this.#runOne(record));
    }
    return record.unregister;
  }

  /** Registers a startup hook, run by `start()` in registration order; same identity rules as `registerShutdown`. */
  registerStartup(hook: StartupHook, options?: RegisterStartupOptions): Unregister {
    const { key, name, timeoutMs } = this.#hookOptions('registerStartup', hook, options, startupOptionKeys);
    const existing = this.#startupHooks.get(key);
    if (existing !== undefined) return existing.unregister;
    const hookName = name ?? nameOf(hook);
    if (this.isShuttingDown) throw new RegisterTooLateError(hookName, this.#state);
    const record = this.#record(this.#startupHooks, key, hook, hookName, 'startup', timeoutMs);
    if (this.#state === 'ready') {
      // Startup is over; run it now so that it is not silently dropped.
      record.started = true;
      void this.#runOne(record, Infinity).then((result) => {
        if (result.status !== 'ok') this.#options.logger?.error(`lifespan: late startup hook "${hookName}" ${result.status}`, result.error);
      });
    }
    return record.unregister;
  }

  /** Registers a readiness check; while it fails, `health()` reports not ready with its name. */
  registerHealthCheck(name: string, check: (signal: AbortSignal) => unknown, options?: HealthCheckOptions): Unregister {
    checkName('name', name);
    if (typeof check !== 'function') throw new InvalidArgumentError('check', `registerHealthCheck expects a function, got ${show(check)}`);
    let timeoutMs = 1000;
    if (options !== undefined) {
      checkOptionsObject('options', options, healthOptionKeys);
      if (options.timeoutMs !== undefined) timeoutMs = checkDuration('options.timeoutMs', options.timeoutMs, false);
    }
    const entry: HealthCheck = { name, fn: check, timeoutMs };
    this.#healthChecks.set(name, entry);
    return () => this.#healthChecks.get(name) === entry && this.#healthChecks.delete(name);
  }

  /** Runs startup hooks in order; state `'ready'` afterwards. Fails (and shuts down) if one fails. */
  start(): Promise<void> {
    if (this.#startPromise !== undefined) return this.#startPromise;
    if (this.isShuttingDown) return Promise.reject(new AlreadyShutDownError('start()', this.#state));
    this.#joinProcess();
    this.#startPromise = this.#runStartup();
    return this.#startPromise;
  }

  /** Shuts down once: concurrent and later calls get the same promise. Never rejects. */
  shutdown(reason = 'shutdown'): Promise<ShutdownReport> {
    if (typeof reason !== 'string') throw new InvalidArgumentError('reason', `expected a string, got ${show(reason)}`);
    return (this.#shutdownPromise ??= this.#runShutdown(reason));
  }

  /** Shuts down; lets `await using lifecycle = createLifecycle()` clean up. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown('dispose');
  }

  /** Tracks `server` (http, https or http2): its connections are drained at shutdown and its `close()` shuts the lifecycle down. */
  attach(server: DrainableServer): this {
    checkServer(server);
    this.#attach(server, true);
    return this;
  }

  /**
   * Whether `server` was passed to `attach()`: its connections and requests are then tracked by the
   * server itself, and an adapter's middleware has nothing left to do for its requests.
   */
  isAttached(server: unknown): boolean {
    return this.#drainer !== undefined && server !== null && typeof server === 'object' && this.#drainer.isAttached(server as DrainableServer);
  }

  /**
   * Tracks one request (idempotent). Adapters call it from their middleware; the first request
   * attaches its server if none was attached.
   */
  trackRequest(req: IncomingMessage, res: ServerResponse): void {
    const drainer = this.#drainer ?? this.#createDrainer();
    if (drainer.servers === 0 && this.#shutdownPromise === undefined) {
      const server = serverOf(req) as DrainableServer | null | undefined;
      if (server !== undefined && server !== null) this.#attach(server, false);
    }
    drainer.track(req, res);
  }

  /** The request-scoped shutdown handle of a tracked request (created on first use). */
  requestScope(req: IncomingMessage): RequestScope {
    return (this.#drainer ?? this.#createDrainer()).scope(req);
  }

  /** Paths (probe routes) whose requests are answered but never tracked as in-flight work. */
  excludeFromDrain(paths: readonly string[]): void {
    (this.#drainer ?? this.#createDrainer()).exclude(paths);
  }

  /** Liveness and readiness from the state alone (no health checks run). */
  health(): HealthStatus {
    const state = this.#state;
    return { live: !this.#startupFailed && state !== 'closed', ready: state === 'ready', state };
  }

  /** Liveness and readiness including the registered health checks, each bounded by its timeout. */
  async checkHealth(options?: HealthOptions): Promise<HealthStatus> {
    const base = this.health();
    if (!base.ready || this.#healthChecks.size === 0) return base;
    const failures = new Map<string, string>();
    await Promise.all(
      [...this.#healthChecks.values()].map(async (check) => {
        const hook: RunnableHook = { fn: ({ signal }) => check.fn(signal), name: check.name, phase: 'startup', timeoutMs: check.timeoutMs };
        const result = await runHook(hook, 'health', Infinity, Infinity, () => new HealthCheckFailedError(check.name, undefined, check.timeoutMs));
        if (result.status === 'timeout') failures.set(check.name, result.error!.message);
        else if (result.status !== 'ok') failures.set(check.name, new HealthCheckFailedError(check.name, result.error?.cause ?? result.error).message);
      }),
    );
    if (failures.size === 0) return base;
    const status: HealthStatus = { ...base, ready: false, failing: [...failures.keys()] };
    return options?.details === true ? { ...status, details: Object.fromEntries(failures) } : status;
  }

  /**
   * Bridges a framework's own close (Fastify) with this lifecycle: a signal or `shutdown()` drains
   * HTTP and then calls `close`; `close` called directly starts the shutdown through the returned hooks.
   */
  bridgeHost(close: () => PromiseLike<unknown>, reason = 'close'): HostBridge {
    if (typeof close !== 'function') throw new InvalidArgumentError('close', `bridgeHost expects a function, got ${show(close)}`);
    const host = { close, ownedByHost: false, closeStarted: false };
    this.#host = host;
    return {
      closing: async () => {
        host.closeStarted = true;
        if (this.isShuttingDown && !host.ownedByHost) return;
        // The framework closes on its own: the lifecycle drains inside the framework's close
        // and must not call that close again.
        host.ownedByHost = true;
        this.#delayDrain = false;
        void this.shutdown(reason);
        await this.#waitForState('closing');
      },
      closed: async () => {
        if (host.ownedByHost) await this.shutdown(reason);
      },
    };
  }

  /** Validates a hook and its options; the identity is the `key`, or else the function itself. */
  #hookOptions(
    method: string,
    hook: unknown,
    options: RegisterShutdownOptions | undefined,
    allowed: ReadonlySet<string>,
  ): { key: unknown; name: string | undefined; timeoutMs: number; phase: ShutdownPhase } {
    if (typeof hook !== 'function') throw new InvalidArgumentError('hook', `${method} expects a function, got ${show(hook)}`);
    if (options === undefined) return { key: hook, name: undefined, timeoutMs: this.#options.hookTimeoutMs, phase: 'close' };
    checkOptionsObject('options', options, allowed);
    const { phase = 'close' } = options;
    if (phase !== 'drain' && phase !== 'close') throw new InvalidArgumentError('options.phase', `expected 'drain' or 'close', got ${show(phase)}`);
    return {
      key: options.key !== undefined ? options.key : hook,
      name: options.name === undefined ? undefined : checkName('options.name', options.name),
      timeoutMs: options.timeoutMs === undefined ? this.#options.hookTimeoutMs : checkDuration('options.timeoutMs', options.timeoutMs, false),
      phase,
    };
  }

  #record(map: Map<unknown, HookRecord>, key: unknown, fn: (context: never) => unknown, name: string, phase: HookRecord['phase'], timeoutMs: number): HookRecord {
    const record: HookRecord = {
      key,
      fn: fn as HookRecord['fn'],
      name,
      phase,
      timeoutMs,
      started: false,
      unregister: () => {
        if (map.get(key) !== record || record.started) return false;
        return map.delete(key);
      },
    };
    map.set(key, record);
    return record;
  }

  #setState(state: LifecycleState): void {
    const previous = this.#state;
    if (previous === state) return;
    this.#state = state;
    debug('state %s -> %s', previous, state);
    this.emit('state', state, previous);
  }

  #attach(server: DrainableServer, explicit: boolean): void {
    const drainer = this.#drainer ?? this.#createDrainer();
    if (!drainer.attach(server, explicit)) return;
    const { keepAliveTimeoutMs } = this.#options;
    if (keepAliveTimeoutMs !== false) applyKeepAliveTimeout(server, keepAliveTimeoutMs);
    this.#joinProcess();
    if (this.#state === 'created') {
      // Readiness means "startup done and listening": start once the server listens.
      if (server.listening) void this.start().catch(() => undefined);
      else server.once('listening', () => void this.start().catch(() => undefined));
    }
  }

  #createDrainer(): HttpDrainer {
    this.#drainer = new HttpDrainer({
      onServerClose: () => {
        const disconnecting = cluster.isWorker && cluster.worker?.exitedAfterDisconnect === true;
        this.#delayDrain = false;
        // cluster's worker.disconnect() closes the worker's servers: that is the process going away.
        if (disconnecting && this.#participant !== undefined) trigger(this.#process, 'disconnect');
        else void this.shutdown('server.close');
      },
      onDrainEvent: (event: DrainEvent) => {
        this.emit('drain', event);
        this.#options.logger?.info(`lifespan: ${describeDrainEvent(event)}`);
      },
      reportScopeError: (error: unknown) => this.#options.logger?.error('lifespan: request onShutdown callback failed', error),
    });
    return this.#drainer;
  }

  #joinProcess(): void {
    if (this.#participant !== undefined || this.isShuttingDown) return;
    const options = this.#options;
    this.#participant = {
      signals: options.signals,
      handleUncaught: options.handleUncaught,
      exitFallback: options.exitFallback,
      forceExitCode: options.forceExitCode,
      hasLogger: options.logger !== undefined,
      timeoutMs: options.timeoutMs,
      shutdownFor: (trigger, error) => this.#shutdownFor(trigger, error),
      forcedExit: (signal, code) => {
        this.#drainer?.destroyAll();
        // Without a logger the coordinator writes the one line for the whole process.
        if (options.logger !== undefined) this.#reportError(new ForcedExitError(signal, code));
      },
      runExitFallback: () => this.#runExitFallback(),
    };
    join(this.#process, this.#participant);
  }

  async #shutdownFor(trigger: ProcessTrigger, error: unknown): Promise<number | false> {
    const uncaught = trigger === 'uncaughtException' || trigger === 'unhandledRejection';
    if (uncaught) this.#reportError(new UncaughtError(trigger, error));
    const report = await this.shutdown(trigger);
    const policy = this.#options.exit;
    if (policy === false) return false;
    if (typeof policy === 'function') {
      try {
        return policy(report);
      } catch (failure) {
        this.#reportError(failure);
        return 1;
      }
    }
    if (!report.ok && this.#options.logger === undefined) writeFailures(report, this.#stderr);
    return report.ok && !uncaught ? 0 : 1;
  }

  #runExitFallback(): void {
    if (this.#state === 'closed') return;
    // 'exit' listeners cannot await: run what is synchronous, say what could not be awaited.
    const pending = [...this.#shutdownHooks.values()].filter((hook) => !hook.started).reverse();
    const drain = pending.filter((hook) => hook.phase === 'drain');
    const close = pending.filter((hook) => hook.phase === 'close');
    for (const hook of [...drain, ...close]) {
      hook.started = true;
      if (hook.fn.constructor.name === 'AsyncFunction') {
        this.#warnAtExit(hook.name);
        continue;
      }
      try {
        const result = hook.fn({ signal: AbortSignal.abort('exit'), reason: 'exit', deadline: Date.now() });
        if (result !== null && typeof result === 'object' && typeof (result as PromiseLike<unknown>).then === 'function') {
          (result as Promise<unknown>).catch?.(() => undefined);
          this.#warnAtExit(hook.name);
        }
      } catch (error) {
        this.#reportError(error);
      }
    }
  }

  #warnAtExit(name: string): void {
    const message = `lifespan: the process exited without shutting down; shutdown hook "${name}" is asynchronous and could not be awaited (ERR_LIFESPAN_ASYNC_HOOK_AT_EXIT)`;
    if (this.#options.logger !== undefined) this.#options.logger.warn(message);
    // Warnings are emitted on a later tick, which never comes during 'exit': write it now.
    else this.#stderr.write(`${message}\n`);
  }

  #reportError(error: unknown): void {
    const logger = this.#options.logger;
    if (logger !== undefined) logger.error(`lifespan: ${error instanceof Error ? error.message : String(error)}`, error);
    else if (error instanceof Error) {
      // Without a logger, stderr is all a supervisor keeps: lead with the stable code, as writeFailures() does.
      const code = (error as { code?: unknown }).code;
      this.#stderr.write(`${typeof code === 'string' && code.startsWith('ERR_LIFESPAN_') ? `lifespan: ${code}: ` : ''}${error.stack ?? error.message}\n`);
    }
  }

  get #stderr(): { write(text: string): unknown } {
    return this.#process.stderr ?? process.stderr;
  }

  async #runStartup(): Promise<void> {
    this.#setState('starting');
    for (const record of this.#startupHooks.values()) {
      if (this.isShuttingDown) break;
      record.started = true;
      const result = await this.#runOne(record, Infinity);
      if (result.status !== 'ok') {
        this.#startupFailed = true;
        const error = new StartupFailedError(record.name, result.error);
        this.#options.logger?.error(`lifespan: ${error.message}`, error);
        await this.shutdown('startup failed');
        throw error;
      }
    }
    if (this.isShuttingDown) throw new StartupAbortedError(this.#reason ?? 'shutdown');
    this.#setState('ready');
    this.#options.logger?.info('lifespan: ready');
    if (this.#options.pm2 && this.#process.env['pm_id'] !== undefined && typeof this.#process.send === 'function') {
      // PM2's wait_ready waits for exactly this message.
      this.#process.send('ready');
    }
    if (cluster.isWorker && typeof this.#process.send === 'function') {
      // restartWorkers() in the primary waits for this before it disconnects the old worker.
      this.#process.send(workerReadyMessage);
    }
  }

  #runOne(record: HookRecord, deadline = this.#deadline): Promise<HookResult> {
    this.emit('hookStart', record.name, record.phase);
    return runHook(record, this.#reason ?? 'startup', deadline, this.#options.timeoutMs).then((result) => {
      this.emit('hookEnd', result);
      if (result.status !== 'ok') this.#options.logger?.error(`lifespan: ${result.error?.message ?? result.status}`, result.error);
      return result;
    });
  }

  #runPhase(phase: ShutdownPhase): Promise<HookResult[]> {
    const hooks: HookRecord[] = [];
    for (const record of this.#shutdownHooks.values()) if (record.phase === phase && !record.started) hooks.push(record);
    hooks.reverse();
    for (const record of hooks) record.started = true;
    return runHooks(hooks, this.#options.hookConcurrency, (hook) => this.#runOne(hook as HookRecord));
  }

  async #runShutdown(reason: string): Promise<ShutdownReport> {
    const started = now();
    this.#reason = reason;
    this.#deadline = started + this.#options.timeoutMs;
    this.#options.logger?.info(`lifespan: shutting down (${reason})`);
    this.#setState('draining');
    this.#controller.abort(reason);
    const drainer = this.#drainer;
    drainer?.begin(reason);
    const errors: LifecycleError[] = [];
    const drainHooks = this.#runPhase('drain');
    let httpDrain: Promise<void> = Promise.resolve();
    if (drainer !== undefined && (drainer.servers > 0 || drainer.connections > 0)) {
      const { drainDelayMs, drainTimeoutMs, idleGraceMs } = this.#options;
      httpDrain = drainer.drain({ delayMs: this.#delayDrain ? drainDelayMs : 0, timeoutMs: drainTimeoutMs, idleGraceMs, deadline: this.#deadline });
    } else if (this.#host !== undefined && !this.#host.ownedByHost && this.#delayDrain && this.#options.drainDelayMs > 0) {
      httpDrain = new Promise((resolve) => setTimeout(resolve, Math.min(this.#options.drainDelayMs, this.#options.timeoutMs)));
    }
    const drainResults = await drainHooks;
    await httpDrain;
    const lateDrain: HookResult[] = [];
    await this.#awaitLateDrainHooks(lateDrain);
    // After a failed startup the host reports the failure itself (Fastify's ready() rejects); its
    // close, called from inside its own boot, would wait for that boot and never settle.
    if (this.#host !== undefined && !this.#host.closeStarted && !this.#startupFailed) {
      this.#host.closeStarted = true;
      // Drained first, then the framework's close: it finds no connection left, so it has
      // nothing to refuse with 503 and nothing to wait for.
      await this.#bounded(this.#host.close(), (error) => this.#reportError(error));
      await this.#awaitLateDrainHooks(lateDrain);
    }
    this.#setState('closing');
    const closeResults = await this.#runPhase('close');
    const http = drainer?.stats ?? emptyStats;
    if (http.abortedRequests > 0) errors.push(new RequestsAbortedError(http.abortedRequests, Math.min(this.#options.drainTimeoutMs, this.#options.timeoutMs)));
    if (drainer !== undefined) errors.push(...drainer.errors);
    const hooks = [...drainResults, ...lateDrain, ...closeResults];
    const report: ShutdownReport = {
      reason,
      ok: errors.length === 0 && hooks.every((hook) => hook.status === 'ok'),
      durationMs: now() - started,
      hooks,
      http,
      errors,
    };
    drainer?.release();
    this.#setState('closed');
    if (this.#participant !== undefined) leave(this.#process, this.#participant);
    this.#options.logger?.[report.ok ? 'info' : 'warn'](`lifespan: closed in ${Math.round(report.durationMs)} ms (${report.ok ? 'ok' : 'with errors'})`);
    return report;
  }

  /** Waits for drain hooks registered after shutdown began, including ones registered while earlier ones run. */
  async #awaitLateDrainHooks(results: HookResult[]): Promise<void> {
    while (results.length < this.#lateDrainHooks.length) results.push(...(await Promise.all(this.#lateDrainHooks.slice(results.length))));
  }

  async #bounded(promise: PromiseLike<unknown>, onError: (error: unknown) => void): Promise<void> {
    const remaining = this.#deadline - now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.resolve(promise).then(undefined, onError),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, Math.max(0, remaining));
      }),
    ]);
    clearTimeout(timer);
  }

  #waitForState(state: LifecycleState): Promise<void> {
    const order: LifecycleState[] = ['created', 'starting', 'ready', 'draining', 'closing', 'closed'];
    if (order.indexOf(this.#state) >= order.indexOf(state)) return Promise.resolve();
    return new Promise((resolve) => {
      const onState = (next: LifecycleState): void => {
        if (order.indexOf(next) >= order.indexOf(state)) {
          this.off('state', onState);
          resolve();
        }
      };
      this.on('state', onState);
    });
  }
}

function checkName(argument: string, name: unknown): string {
  if (typeof name !== 'string' || name.length === 0) throw new InvalidArgumentError(argument, `expected a non-empty string, got ${show(name)}`);
  return name;
}

function nameOf(fn: (...args: never[]) => unknown): string {
  return fn.name !== undefined && fn.name !== '' ? fn.name : 'anonymous';
}

function describeDrainEvent(event: DrainEvent): string {
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

function writeFailures(report: ShutdownReport, stderr: { write(text: string): unknown }): void {
  // The process is about to exit 1 with no logger configured: leave the reason on stderr.
  for (const hook of report.hooks) if (hook.error !== undefined) stderr.write(`lifespan: ${hook.error.code}: ${hook.error.message}\n`);
  for (const error of report.errors) stderr.write(`lifespan: ${error.code}: ${error.message}\n`);
}

/**
 * Creates the lifecycle of one application. Nothing is installed until it is attached or started.
 * @example
 * const lifecycle = createLifecycle({ drainDelayMs: 5000 });
 * lifecycle.registerShutdown(() => pool.end(), { key: 'pg-pool' });
 * lifecycle.attach(server.listen(3000));
 */
export function createLifecycle(options?: LifecycleOptions): Lifecycle {
  return new Lifecycle(options, { process });
}

/** Whether `options` is an object whose only (enumerable) option is `key`. */
function keyOnly(options: unknown): boolean {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) return false;
  for (const name in options) if (name !== 'key') return false;
  return true;
}
