import { debuglog } from 'node:util';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import { BackgroundWork } from './background-work.js';
import { announceReady, isDisconnecting } from './cluster-worker.js';
import { AlreadyShutDownError, CallbackFailedError, InvalidArgumentError, RegisterTooLateError, StartupAbortedError, StartupFailedError, WorkFailedError } from './errors.js';
import type { LifecycleError } from './errors.js';
import { HealthChecks } from './health-checks.js';
import type { HealthCheckOptions, HealthOptions } from './health-checks.js';
import { HookRegistry, phases } from './hook-registry.js';
import type { HookRecord } from './hook-registry.js';
import { HostSet } from './host-bridge.js';
import type { HostBridge, HostCloseOptions } from './host-bridge.js';
import { HttpDrainer } from './http-drain.js';
import { ListenerSet } from './listeners.js';
import type { Listener } from './listeners.js';
import type { DrainableServer } from './http-drain.js';
import { applyKeepAliveTimeout } from './keep-alive.js';
import { containedLogger, describeDrainEvent, describeForStderr } from './log-format.js';
import { serverOf } from './node-internals.js';
import { checkServer, resolveOptions, show } from './options.js';
import type { ResolvedOptions } from './options.js';
import { underPm2 } from './process-coordinator.js';
import type { ProcessLike } from './process-coordinator.js';
import { ProcessParticipant } from './process-participant.js';
import type { RequestScope } from './request-scope.js';
import type { WebSocketServerLike } from './websocket-closer.js';
import { runHook } from './run-hook.js';
import { ShutdownSequence, warnDeadlineSplit } from './shutdown-sequence.js';
import type {
  HealthStatus,
  HookResult,
  LifecycleEvents,
  LifecycleOptions,
  LifecycleState,
  Logger,
  RegisterShutdownOptions,
  RegisterStartupOptions,
  ShutdownHook,
  ShutdownPhase,
  ShutdownReport,
  StartupHook,
  Unregister,
} from './types.js';

const debug = debuglog('lifespan');

/** The environment a lifecycle runs in; tests pass a fake process. */
export interface LifecycleEnvironment {
  readonly process: ProcessLike;
  /** Option keys an adapter accepts on top of the lifecycle's own. */
  readonly extraOptionKeys?: readonly string[];
}

/**
 * The application's lifecycle: hooks registered once, a shutdown that runs each of them once,
 * HTTP draining for attached servers, process signals and readiness. The class coordinates; what
 * it coordinates lives in its own module: the hook registries, the shutdown sequence, the health
 * checks, the framework hosts, the process participant and the HTTP drainer.
 */
export class Lifecycle implements AsyncDisposable {
  readonly #listeners = new ListenerSet<LifecycleEvents>();
  /** `keepAliveTimeoutMs` was given: it is a minimum for every server, not only for Node's default. */
  readonly #keepAliveTimeoutGiven: boolean;
  readonly #options: ResolvedOptions;
  readonly #process: ProcessLike;
  readonly #shutdownHooks: HookRegistry<ShutdownPhase>;
  readonly #startupHooks: HookRegistry<'startup'>;
  readonly #healthChecks = new HealthChecks();
  readonly #hosts: HostSet;
  readonly #participant: ProcessParticipant;
  readonly #controller = new AbortController();
  readonly #work: BackgroundWork;
  #state: LifecycleState = 'created';
  #drainer: HttpDrainer | undefined;
  #startPromise: Promise<void> | undefined;
  #shutdownPromise: Promise<ShutdownReport> | undefined;
  #sequence: ShutdownSequence | undefined;
  #startupFailed = false;
  #skipDrainDelay = false;
  /** An adapter's middleware was created for it (see `engage()`). */
  #engaged = false;
  /** Lifespan, not the user, called `start()` (an attached server began listening): nobody awaits it. */
  #selfStarted = false;
  /** The user's logger, contained: one that throws must not break a shutdown. */
  readonly #log: Logger | undefined;
  /** Listeners that threw during the shutdown, for its report. */
  readonly #callbackErrors: LifecycleError[] = [];
  #skipIdleGrace = false;

  /** @internal Users: `createLifecycle()`; tests: `createTestLifecycle()` from `@lifespan/core/testing`. */
  constructor(options: LifecycleOptions | undefined, environment: LifecycleEnvironment) {
    this.#options = resolveOptions(options, environment.extraOptionKeys);
    this.#keepAliveTimeoutGiven = options?.keepAliveTimeoutMs !== undefined;
    this.#process = environment.process;
    this.#log = containedLogger(this.#options.logger, this.#process.stderr ?? process.stderr);
    warnDeadlineSplit(this.#process, options, this.#options);
    this.#work = new BackgroundWork((name, cause) => {
      const error = new WorkFailedError(name, cause);
      // Lifespan handles the promise, so Node reports no unhandled rejection: without a logger, say it on stderr.
      if (this.#log !== undefined) this.#log.error(`lifespan: background work "${name}" failed`, error);
      else (this.#process.stderr ?? process.stderr).write(describeForStderr(error));
    });
    this.#shutdownHooks = this.#shutdownRegistry();
    this.#startupHooks = this.#startupRegistry();
    this.#hosts = new HostSet({
      isShuttingDown: () => this.isShuttingDown,
      shutdown: (reason) => this.shutdown(reason),
      // Fastify boots the lifecycle (its onReady): the app holds it, as for an Express middleware; a
      // server the app listens on holds it in the process once attached (onListen).
      start: () => this.#start(false),
      hasConnections: () => (this.#drainer?.connections ?? 0) > 0,
      drained: () => this.#sequence!.drained,
      closePhase: () => this.#sequence!.closePhase(),
      skipDrainDelay: (closesIdleAtOnce) => {
        this.#skipDrainDelay = true;
        this.#skipIdleGrace = closesIdleAtOnce;
      },
    });
    this.#participant = new ProcessParticipant(this.#process, this.#options, {
      isClosed: () => this.#state === 'closed',
      hooks: this.#shutdownHooks,
      shutdown: (reason) => this.shutdown(reason),
      destroyConnections: () => this.#drainer?.destroyAll(),
      logger: this.#log,
    });
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
   * Calls `listener` on each `event`: `state` (state, previous), `hookStart` (name, phase),
   * `hookEnd` (result), `drain` (event). A listener that throws is reported
   * (`ERR_LIFESPAN_CALLBACK_FAILED`) and never breaks the shutdown.
   */
  on<Event extends keyof LifecycleEvents>(event: Event, listener: Listener<LifecycleEvents[Event]>): this {
    this.#listeners.add(event, listener, false);
    return this;
  }

  /** As `on()`, for the next `event` only. */
  once<Event extends keyof LifecycleEvents>(event: Event, listener: Listener<LifecycleEvents[Event]>): this {
    this.#listeners.add(event, listener, true);
    return this;
  }

  /** Removes a listener added with `on()` or `once()`. */
  off<Event extends keyof LifecycleEvents>(event: Event, listener: Listener<LifecycleEvents[Event]>): this {
    this.#listeners.remove(event, listener);
    return this;
  }

  /** The same as `off()`, for code written against EventEmitter (`events.once(lifecycle, 'state')`). */
  removeListener<Event extends keyof LifecycleEvents>(event: Event, listener: Listener<LifecycleEvents[Event]>): this {
    return this.off(event, listener);
  }

  /** How many listeners `event` has. */
  listenerCount(event: keyof LifecycleEvents): number {
    return this.#listeners.count(event);
  }

  /**
   * Registers a shutdown hook once: the same `key` (or, without one, the same function) is the same hook.
   * @example
   * lifecycle.registerShutdown(() => pool.end(), { key: 'pg-pool', name: 'pg pool' });
   */
  registerShutdown(hook: ShutdownHook, options?: RegisterShutdownOptions): Unregister {
    return this.#shutdownHooks.register(hook, options);
  }

  /** Registers a startup hook, run by `start()` in registration order; same identity rules as `registerShutdown`. */
  registerStartup(hook: StartupHook, options?: RegisterStartupOptions): Unregister {
    return this.#startupHooks.register(hook, options);
  }

  /** Registers a readiness check; while it fails, `health()` reports not ready with its name. */
  registerHealthCheck(name: string, check: (signal: AbortSignal) => unknown, options?: HealthCheckOptions): Unregister {
    return this.#healthChecks.register(name, check, options);
  }

  /**
   * Follows background work that is not a request (an upload, a flush, a job a request started):
   * the drain waits for it, within `drainDelayMs + drainTimeoutMs`, and the report names it if it
   * was cut or failed. Returns `promise`. Accepted until the drain is over.
   * @example
   * lifecycle.track(sendWelcomeEmail(user), 'welcome email');
   */
  track<Work extends PromiseLike<unknown>>(promise: Work, name = 'anonymous'): Work {
    if (promise === null || typeof (promise as { then?: unknown } | undefined)?.then !== 'function') {
      throw new InvalidArgumentError('promise', `track() expects a promise, got ${show(promise)}`);
    }
    checkWorkName(name);
    if (this.#work.closed) throw new AlreadyShutDownError(`track "${name}"`, this.#state);
    this.#work.add(name, promise, this.signal);
    return promise;
  }

  /**
   * Starts a worker loop (a queue consumer, a scheduler) now: `worker` gets `lifecycle.signal`,
   * which aborts when shutdown begins, so it stops taking work and finishes what it holds; the
   * drain waits for it as for `track()`. A rejection with that abort is a loop that stopped as
   * asked. Returns what `worker` returns. Like `attach()`, it installs the process signals: a
   * worker process with no server shuts down on SIGTERM too.
   * @example
   * lifecycle.run('orders consumer', async (signal) => {
   *   while (!signal.aborted) await handle(await queue.next(signal));
   * });
   */
  run<Result>(name: string, worker: (signal: AbortSignal) => Result | PromiseLike<Result>): Promise<Awaited<Result>> {
    checkWorkName(name);
    if (typeof worker !== 'function') throw new InvalidArgumentError('worker', `run() expects a function (signal) => loop, got ${show(worker)}`);
    // Started during the shutdown, it would take work it could not finish.
    if (this.isShuttingDown) throw new AlreadyShutDownError(`run "${name}"`, this.#state);
    // A worker is what a queue-consumer process lives for, server or not: signals now stop it.
    this.#joinProcess();
    const promise = Promise.resolve().then(() => worker(this.signal)) as Promise<Awaited<Result>>;
    this.#work.add(name, promise, this.signal);
    return promise;
  }

  /** Runs startup hooks in order; state `'ready'` afterwards. Fails (and shuts down) if one fails. */
  start(): Promise<void> {
    return this.#start(true);
  }

  /**
   * Engages the lifecycle with the process (signals, a cluster disconnect, PM2's message) without
   * the process holding it: adapters call it when their middleware is created, so that
   * `app.use(shutdownHooks())` alone is enough, and an app nobody holds any more is collected.
   * @internal Adapters: `engage()` from `@lifespan/core/http` (`adapterLifecycle()` calls it).
   */
  engage(): void {
    this.#engaged = true;
    if (!this.isShuttingDown) this.#participant.joinWeakly();
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
   * Hands over a WebSocket server (`ws`'s `WebSocketServer`, or Socket.IO's `io.engine`): when the
   * listeners close, each of its clients gets a close frame, 1001 (Going Away), or 1012 (Service
   * Restart) during a rolling restart, spread over the first half of the drain; the drain waits for
   * them, and those still open at `drainTimeoutMs` are terminated and reported.
   * @example
   * const wss = new WebSocketServer({ server });
   * lifecycle.attach(server).webSockets(wss);
   */
  webSockets(server: WebSocketServerLike): this {
    (this.#drainer ?? this.#createDrainer()).addWebSockets(server);
    return this;
  }

  /** Liveness and readiness from the state alone (no health checks run). */
  health(): HealthStatus {
    const state = this.#state;
    return { live: !this.#startupFailed && state !== 'closed', ready: state === 'ready', state };
  }

  /** Liveness and readiness including the registered health checks, each bounded by its timeout. */
  checkHealth(options?: HealthOptions): Promise<HealthStatus> {
    return this.#healthChecks.check(this.health(), options);
  }

  /**
   * Whether `server` was passed to `attach()`: its connections and requests are then tracked by the
   * server itself, and an adapter's middleware has nothing left to do for its requests.
   * @internal Adapters: `isAttached()` from `@lifespan/core/http`.
   */
  isAttached(server: unknown): boolean {
    return this.#drainer !== undefined && server !== null && typeof server === 'object' && this.#drainer.isAttached(server as DrainableServer);
  }

  /**
   * Tracks one request (idempotent). Adapters call it from their middleware; the first request
   * attaches its server if none was attached.
   * @internal Adapters: `trackRequest()` from `@lifespan/core/http`.
   */
  trackRequest(req: IncomingMessage, res: ServerResponse): void {
    const drainer = this.#drainer ?? this.#createDrainer();
    // Until the listeners close: a first request during the drain delay still attaches its server.
    if (drainer.servers === 0 && (this.#shutdownPromise === undefined || (this.#state === 'draining' && !drainer.closing))) {
      const server = serverOf(req) as DrainableServer | null | undefined;
      if (server !== undefined && server !== null) this.#attach(server, false);
    }
    drainer.track(req, res);
  }

  /**
   * The request-scoped shutdown handle of a tracked request (created on first use); node:http2's compatibility requests too.
   * @internal Adapters: `requestScope()` from `@lifespan/core/http`.
   */
  requestScope(req: IncomingMessage | Http2ServerRequest): RequestScope {
    return (this.#drainer ?? this.#createDrainer()).scope(req);
  }

  /**
   * Paths (probe routes) whose requests are answered but never tracked as in-flight work.
   * @internal Adapters: `excludeFromDrain()` from `@lifespan/core/http`.
   */
  excludeFromDrain(paths: readonly string[]): void {
    (this.#drainer ?? this.#createDrainer()).exclude(paths);
  }

  /**
   * Bridges a framework's own close (Fastify) with this lifecycle: a signal or `shutdown()` drains
   * HTTP and then calls `close`; `close` called directly starts the shutdown through the returned hooks.
   * Every bridged close runs, so apps may share one lifecycle.
   * @internal Adapters: `bridgeHost()` from `@lifespan/core/http`.
   */
  bridgeHost(close: () => PromiseLike<unknown>, reason = 'close', options?: HostCloseOptions): HostBridge {
    return this.#hosts.bridge(close, reason, options);
  }

  #shutdownRegistry(): HookRegistry<ShutdownPhase> {
    const { hookTimeoutMs, maxHooks } = this.#options;
    let warnedMaxHooks = false;
    return new HookRegistry({
      method: 'registerShutdown',
      phases,
      hookTimeoutMs,
      admit: (name) => {
        if (this.#state === 'closing' || this.#state === 'closed') throw new RegisterTooLateError(name, this.#state);
      },
      added: (record, size) => {
        if (size > maxHooks && !warnedMaxHooks) {
          warnedMaxHooks = true;
          warnMaxHooks(this.#process, size, maxHooks, record.name);
        }
        // Drain hooks start when shutdown begins; one that arrives later starts now.
        if (record.phase === 'drain' && this.#state === 'draining') this.#sequence!.startLate(record);
      },
    });
  }

  #startupRegistry(): HookRegistry<'startup'> {
    return new HookRegistry({
      method: 'registerStartup',
      phases: ['startup'],
      hookTimeoutMs: this.#options.hookTimeoutMs,
      admit: (name) => {
        if (this.isShuttingDown) throw new RegisterTooLateError(name, this.#state);
      },
      added: (record) => {
        if (this.#state !== 'ready') return;
        // Startup is over; run it now so that it is not silently dropped.
        record.claimed = true;
        void this.#runHook(record, 'startup', Infinity).then((result) => {
          if (result.status !== 'ok') this.#log?.error(`lifespan: late startup hook "${record.name}" ${result.status}`, result.error);
        });
      },
    });
  }

  #setState(state: LifecycleState): void {
    const previous = this.#state;
    if (previous === state) return;
    this.#state = state;
    debug('state %s -> %s', previous, state);
    this.#notify('state', state, previous);
  }

  #attach(server: DrainableServer, explicit: boolean): void {
    const drainer = this.#drainer ?? this.#createDrainer();
    // A server the app attached holds the lifecycle in the process; one that only a request
    // attached (supertest's ephemeral servers among them) does not.
    if (explicit) this.#joinProcess();
    else this.engage();
    if (!drainer.attach(server, explicit)) return;
    const { keepAliveTimeoutMs } = this.#options;
    if (keepAliveTimeoutMs !== false) applyKeepAliveTimeout(server, keepAliveTimeoutMs, !this.#keepAliveTimeoutGiven);
    if (this.#state === 'created') {
      // Readiness means "startup done and listening": start once the server listens.
      if (server.listening) this.#startItself(explicit);
      else server.once('listening', () => this.#startItself(explicit));
    }
  }

  #createDrainer(): HttpDrainer {
    this.#drainer = new HttpDrainer({
      onServerClose: () => {
        this.#skipDrainDelay = true;
        // cluster's worker.disconnect() closes the worker's servers: that is the process going away.
        if (isDisconnecting() && this.#participant.joined) this.#participant.startProcessShutdown('disconnect');
        else void this.shutdown('server.close');
      },
      onDrainEvent: (event) => {
        // Every listener runs; the first failure goes back to the drainer, which reports the step
        // that failed (ERR_LIFESPAN_DRAIN_FAILED) and goes on.
        const failures: unknown[] = [];
        this.#listeners.notify('drain', [event], this, (error) => void failures.push(error));
        this.#log?.info(`lifespan: ${describeDrainEvent(event)}`);
        if (failures.length > 0) throw failures[0];
      },
      reportScopeError: (error) => this.#log?.error('lifespan: request onShutdown callback failed', error),
    });
    return this.#drainer;
  }

  #joinProcess(): void {
    if (!this.isShuttingDown) this.#participant.join();
  }

  async #runStartup(): Promise<void> {
    this.#setState('starting');
    for (const record of this.#startupHooks.claimInOrder()) {
      if (this.isShuttingDown) break;
      const result = await this.#runHook(record, 'startup', Infinity);
      if (result.status !== 'ok') {
        this.#startupFailed = true;
        // The cause is what the hook threw (with the user's stack), or the timeout.
        const error = new StartupFailedError(record.name, result.status === 'error' ? result.error?.cause : result.error);
        this.#log?.error(`lifespan: ${error.message}`, error);
        if (this.#selfStarted) this.#participant.startupFailed(error);
        await this.shutdown('startup failed');
        throw error;
      }
    }
    if (this.isShuttingDown) throw new StartupAbortedError(this.#sequence?.reason ?? 'shutdown');
    this.#setState('ready');
    this.#log?.info('lifespan: ready');
    announceReady(this.#process, this.#options.pm2);
  }

  async #runShutdown(reason: string): Promise<ShutdownReport> {
    const sequence = new ShutdownSequence(reason, {
      options: this.#options,
      hooks: this.#shutdownHooks,
      hosts: this.#hosts,
      work: this.#work,
      drainer: () => this.#drainer ?? (this.#engaged ? this.#createDrainer() : undefined),
      engaged: () => this.#engaged,
      skipDrainDelay: () => this.#skipDrainDelay,
      skipIdleGrace: () => this.#skipIdleGrace,
      startupFailed: () => this.#startupFailed,
      restarting: () => isRestart(reason, this.#process),
      setState: (state) => this.#setState(state),
      runHook: (record, hookReason, deadline) => this.#runHook(record, hookReason, deadline),
      reportError: (error) => this.#participant.reportError(error),
    });
    this.#sequence = sequence;
    this.#log?.info(`lifespan: shutting down (${reason})`);
    this.#setState('draining');
    this.#controller.abort(reason);
    const report = withErrors(await sequence.run(), this.#callbackErrors);
    this.#setState('closed');
    this.#participant.leave();
    this.#log?.[report.ok ? 'info' : 'warn'](`lifespan: closed in ${Math.round(report.durationMs)} ms (${report.ok ? 'ok' : 'with errors'})`);
    return report;
  }

  #start(hold: boolean): Promise<void> {
    if (this.#startPromise !== undefined) return this.#startPromise;
    if (this.isShuttingDown) return Promise.reject(new AlreadyShutDownError('start()', this.#state));
    if (hold) this.#joinProcess();
    else this.engage();
    this.#startPromise = this.#runStartup();
    return this.#startPromise;
  }

  /** Starts the lifecycle for an attached server that began listening; a failure is reported there (nobody awaits this start). */
  #startItself(hold: boolean): void {
    if (this.#startPromise !== undefined) return;
    this.#selfStarted = true;
    void this.#start(hold).catch(() => undefined);
  }

  /**
   * Emits an event to each listener in turn, as `emit()` does, but a listener that throws is
   * reported (and, during a shutdown, named in its report) instead of breaking the shutdown or
   * keeping the listeners after it from running.
   */
  #notify<Event extends keyof LifecycleEvents>(event: Event, ...args: LifecycleEvents[Event]): void {
    this.#listeners.notify(event, args, this, (failure) => {
      const error = new CallbackFailedError(`A "${event}" listener`, failure);
      if (this.#sequence !== undefined && this.#state !== 'closed') this.#callbackErrors.push(error);
      this.#participant.reportError(error);
    });
  }


  #runHook(record: HookRecord, reason: string, deadline: number): Promise<HookResult> {
    this.#notify('hookStart', record.name, record.phase);
    return runHook(record, reason, deadline, this.#options.timeoutMs).then((result) => {
      this.#notify('hookEnd', result);
      if (result.status !== 'ok') this.#log?.error(`lifespan: ${result.error?.message ?? result.status}`, result.error);
      return result;
    });
  }
}

/** A shutdown the process is restarted after: a cluster disconnect (`restartWorkers()` too), or PM2, which restarts what it stops. */
function isRestart(reason: string, proc: ProcessLike): boolean {
  return reason === 'disconnect' || reason === 'pm2:shutdown' || underPm2(proc);
}

function checkWorkName(name: unknown): void {
  if (typeof name !== 'string' || name === '') throw new InvalidArgumentError('name', `expected a non-empty string naming the work, got ${show(name)}`);
}

/** The report with the listener failures of its shutdown: a report with errors is not ok. */
function withErrors(report: ShutdownReport, errors: readonly LifecycleError[]): ShutdownReport {
  if (errors.length === 0) return report;
  return { ...report, ok: false, errors: [...report.errors, ...errors] };
}

function warnMaxHooks(proc: ProcessLike, size: number, maxHooks: number, name: string): void {
  proc.emitWarning(
    `Possible shutdown hook leak: ${size} distinct hooks registered (maxHooks ${maxHooks}). ` +
      'A closure registered per request without a `key` is a new hook every time; pass { key } to register it once.',
    { type: 'LifespanMaxHooksWarning', code: 'ERR_LIFESPAN_MAX_HOOKS', detail: `Latest hook: "${name}"` },
  );
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
