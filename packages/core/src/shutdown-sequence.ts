import { RequestsAbortedError } from './errors.js';
import type { LifecycleError } from './errors.js';
import type { BackgroundWork } from './background-work.js';
import type { HookRecord, HookRegistry } from './hook-registry.js';
import type { HostSet } from './host-bridge.js';
import type { HttpDrainer } from './http-drain.js';
import type { ResolvedOptions } from './options.js';
import type { ProcessLike } from './process-coordinator.js';
import { now, runHooks } from './run-hook.js';
import type { DrainStats, HookResult, LifecycleOptions, LifecycleState, ShutdownPhase, ShutdownReport } from './types.js';

/** What the sequence works on, and how it reports back to its lifecycle. */
export interface SequenceParts {
  readonly options: ResolvedOptions;
  readonly hooks: HookRegistry<ShutdownPhase>;
  readonly hosts: HostSet;
  /** `lifecycle.track()` and `lifecycle.run()`: waited for during the drain. */
  readonly work: BackgroundWork;
  /** The drainer of the attached servers, if any was ever needed (or an adapter engaged the lifecycle). */
  drainer(): HttpDrainer | undefined;
  /** An adapter engaged the lifecycle: its app's server may still get its first request during the drain delay. */
  engaged(): boolean;
  /** The shutdown came from a close (a server's, a framework's), not a load balancer's decision: no drain delay. */
  skipDrainDelay(): boolean;
  /** The framework that started the shutdown closes idle connections at once itself: no idle grace. */
  skipIdleGrace(): boolean;
  /** The process is going away for a rolling restart (cluster disconnect, PM2): WebSocket clients get 1012. */
  restarting(): boolean;
  /** True after a failed startup: the host is still in its own boot and reports the failure itself. */
  startupFailed(): boolean;
  setState(state: LifecycleState): void;
  /** Runs one hook under the deadline, with its events. */
  runHook(record: HookRecord, reason: string, deadline: number): Promise<HookResult>;
  reportError(error: unknown): void;
}

/**
 * The share of `timeoutMs` the drain phase (drain delay, HTTP drain, drain hooks, the framework's
 * close) may use: the close hooks keep the rest, at least a quarter, since releasing the
 * resources (a pool, a broker connection) is why the user registered them.
 */
export const drainShare = 0.75;

/** Options that ask the drain for more than its share: said once, at creation (the drain will be cut there). */
export function warnDeadlineSplit(proc: ProcessLike, given: LifecycleOptions | undefined, options: ResolvedOptions): void {
  if (given?.drainDelayMs === undefined && given?.drainTimeoutMs === undefined) return;
  const { drainDelayMs, drainTimeoutMs, timeoutMs } = options;
  const drainMs = timeoutMs * drainShare;
  if (drainDelayMs + drainTimeoutMs <= drainMs) return;
  proc.emitWarning(
    `drainDelayMs + drainTimeoutMs (${drainDelayMs} + ${drainTimeoutMs} ms) is more than ${drainShare * 100}% of timeoutMs (${timeoutMs} ms): ` +
      `the drain will be cut at ${drainMs} ms, so that the close hooks keep at least ${timeoutMs - drainMs} ms.`,
    {
      type: 'LifespanDeadlineWarning',
      code: 'ERR_LIFESPAN_DEADLINE_SPLIT',
      detail: 'Give the close hooks room: drainDelayMs + drainTimeoutMs + the time they need <= timeoutMs (below the orchestrator\'s grace period).',
    },
  );
}

const zeroStats: DrainStats = { inFlightAtStart: 0, completedDuringDrain: 0, abortedRequests: 0, unansweredRequests: 0, idleConnectionsClosed: 0, connectionsDestroyed: 0, webSocketsClosed: 0, webSocketsTerminated: 0 };

/**
 * One shutdown, start to report: drain (drain hooks, HTTP drain, the framework's close), then
 * close (close hooks, last registered first), all within one deadline.
 */
export class ShutdownSequence {
  readonly reason: string;
  /** In `now()` time. */
  readonly deadline: number;
  /** When the drain phase must be over, in `now()` time: the close phase keeps the rest. */
  readonly drainDeadline: number;
  readonly #parts: SequenceParts;
  readonly #started: number;
  readonly #lateDrainHooks: Promise<HookResult>[] = [];
  readonly #lateDrain: HookResult[] = [];
  #drainedNow: (() => void) | undefined;
  /** Resolves once the HTTP drain and the drain hooks are over: a framework's close may begin. */
  readonly drained = new Promise<void>((resolve) => (this.#drainedNow = resolve));
  #closePhase: Promise<HookResult[]> | undefined;

  constructor(reason: string, parts: SequenceParts) {
    this.reason = reason;
    this.#parts = parts;
    this.#started = now();
    this.deadline = this.#started + parts.options.timeoutMs;
    this.drainDeadline = this.#started + parts.options.timeoutMs * drainShare;
  }

  /** Starts a drain hook registered after the drain phase began. */
  startLate(record: HookRecord): void {
    record.claimed = true;
    this.#lateDrainHooks.push(this.#parts.runHook(record, this.reason, this.drainDeadline));
  }

  /** Runs the drain and close phases; never rejects. Call once, after the state became `'draining'`. */
  async run(): Promise<ShutdownReport> {
    const { options, hosts } = this.#parts;
    const drainer = this.#parts.drainer();
    drainer?.begin(this.reason);
    const { work } = this.#parts;
    work.begin();
    // The work's signal aborted with lifecycle.signal: it has the HTTP drain's time to finish.
    const workBudget = Math.min((this.#parts.skipDrainDelay() ? 0 : options.drainDelayMs) + options.drainTimeoutMs, options.timeoutMs * drainShare);
    const workDeadline = this.#started + workBudget;
    const drainHooks = this.#runPhase('drain');
    const httpDrain = this.#drainHttp(drainer);
    const drainResults = await drainHooks;
    await httpDrain;
    const lateDrain = this.#lateDrain;
    await this.#awaitLateDrainHooks(lateDrain);
    // It ran meanwhile; work tracked while the rest drained (a request's last job) is waited for too.
    await work.settle(workDeadline);
    const workReport = work.finish(workBudget);
    this.#drainedNow?.();
    // Drained first, then the framework's close: it finds no connection left, so it has nothing
    // to refuse with 503 and nothing to wait for. Its last close hook runs the close phase. After
    // a failed startup the host is still in its own boot and reports the failure itself. Bounded
    // by the whole deadline, not the drain's share: the close phase runs inside it.
    await hosts.closeAll(this.deadline, (error) => this.#parts.reportError(error), !this.#parts.startupFailed());
    await this.#awaitLateDrainHooks(lateDrain);
    const closeResults = await this.closePhase();
    const http = drainer?.stats ?? zeroStats;
    const errors: LifecycleError[] = [...workReport.errors];
    if (http.abortedRequests > 0) errors.push(new RequestsAbortedError(http.abortedRequests, Math.min(options.drainTimeoutMs, options.timeoutMs * drainShare)));
    if (drainer !== undefined) errors.push(...drainer.errors);
    // The drain is over: the servers are Node's own again, and nothing of Lifespan keeps them alive.
    drainer?.release();
    const hooks = [...drainResults, ...lateDrain, ...closeResults];
    return {
      reason: this.reason,
      ok: errors.length === 0 && hooks.every((hook) => hook.status === 'ok'),
      durationMs: now() - this.#started,
      hooks,
      http,
      work: workReport.results,
      errors,
    };
  }

  /** The close phase, once: from the sequence, or earlier from a framework's last close hook. */
  closePhase(): Promise<HookResult[]> {
    return (this.#closePhase ??= this.#runClosePhase());
  }

  async #runClosePhase(): Promise<HookResult[]> {
    await this.drained;
    this.#parts.setState('closing');
    return this.#runPhase('close');
  }

  #drainHttp(drainer: HttpDrainer | undefined): Promise<void> {
    const { options, hosts } = this.#parts;
    const { drainDelayMs, drainTimeoutMs, idleGraceMs, timeoutMs } = options;
    const skipDrainDelay = this.#parts.skipDrainDelay();
    // An app whose server no request has reached yet still gets the delay: its load balancer may
    // send that first request meanwhile, and the server it attaches is drained like any other.
    const awaitsFirstRequest = this.#parts.engaged() && !skipDrainDelay && drainDelayMs > 0;
    if (drainer !== undefined && (drainer.servers > 0 || drainer.connections > 0 || drainer.webSocketServers > 0 || awaitsFirstRequest)) {
      const graceMs = this.#parts.skipIdleGrace() ? 0 : idleGraceMs;
      const restarting = this.#parts.restarting();
      return drainer.drain({ delayMs: skipDrainDelay ? 0 : drainDelayMs, timeoutMs: drainTimeoutMs, idleGraceMs: graceMs, deadline: this.drainDeadline, restarting });
    }
    // A framework with no attached server still gets the delay: its load balancer needs it too.
    if (hosts.size > 0 && !skipDrainDelay && drainDelayMs > 0) return new Promise((resolve) => setTimeout(resolve, Math.min(drainDelayMs, timeoutMs * drainShare)));
    return Promise.resolve();
  }

  #runPhase(phase: ShutdownPhase): Promise<HookResult[]> {
    const hooks = this.#parts.hooks.claim(phase);
    const deadline = phase === 'drain' ? this.drainDeadline : this.deadline;
    return runHooks(hooks, this.#parts.options.hookConcurrency, (hook) => this.#parts.runHook(hook as HookRecord, this.reason, deadline));
  }

  /** Waits for drain hooks registered after shutdown began, including ones registered while earlier ones run. */
  async #awaitLateDrainHooks(results: HookResult[]): Promise<void> {
    const late = this.#lateDrainHooks;
    while (results.length < late.length) results.push(...(await Promise.all(late.slice(results.length))));
  }
}
