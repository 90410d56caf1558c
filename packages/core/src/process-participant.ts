import { onDisconnect } from './cluster-worker.js';
import { CallbackFailedError, ForcedExitError, UncaughtError } from './errors.js';
import { phases } from './hook-registry.js';
import type { HookRecord, HookRegistry } from './hook-registry.js';
import { reportError, writeFailures } from './log-format.js';
import type { ErrorOutput } from './log-format.js';
import { show } from './options.js';
import type { ResolvedOptions } from './options.js';
import { join, joinWeakly, leave, trigger } from './process-coordinator.js';
import type { Participant, ProcessLike, ProcessTrigger } from './process-coordinator.js';
import type { Logger, ShutdownPhase, ShutdownReport } from './types.js';

/** What a lifecycle shows the process side. */
export interface ParticipantOwner {
  /** True once the lifecycle is closed. */
  isClosed(): boolean;
  /** The shutdown hooks, for the exit fallback. */
  readonly hooks: HookRegistry<ShutdownPhase>;
  shutdown(reason: string): Promise<ShutdownReport>;
  /** The process exits now: destroy every connection left. */
  destroyConnections(): void;
  /** The user's logger, contained (one that throws writes to stderr instead), or none. */
  readonly logger: Logger | undefined;
}

/**
 * One lifecycle's part in the process: it joins the process-wide coordinator (signals, PM2, a
 * cluster disconnect, uncaught errors, the exit fallback), turns a report into an exit code, and
 * says on stderr what a supervisor needs to know when no logger is configured.
 */
export class ProcessParticipant {
  readonly #proc: ProcessLike;
  readonly #options: ResolvedOptions;
  readonly #owner: ParticipantOwner;
  #participant: Participant | undefined;
  #stopWatchingDisconnect: (() => void) | undefined;
  /** Held strongly by the coordinator. */
  #held = false;

  constructor(proc: ProcessLike, options: ResolvedOptions, owner: ParticipantOwner) {
    this.#proc = proc;
    this.#options = options;
    this.#owner = owner;
  }

  /** Whether it has joined the process, held or not (it joins once, and leaves when the lifecycle closes). */
  get joined(): boolean {
    return this.#participant !== undefined;
  }

  /** Joins the coordinator, held strongly: the lifecycle was started or given a server by the app. */
  join(): void {
    if (this.#held) return;
    this.#held = true;
    join(this.#proc, this.#theParticipant());
  }

  /** Joins the coordinator without being kept alive by it (see `joinWeakly()`); `join()` may follow. */
  joinWeakly(): void {
    if (this.#participant !== undefined) return;
    joinWeakly(this.#proc, this.#theParticipant());
  }

  #theParticipant(): Participant {
    if (this.#participant !== undefined) return this.#participant;
    const options = this.#options;
    this.#participant = {
      signals: options.signals,
      handleUncaught: options.handleUncaught,
      exitFallback: options.exitFallback,
      forceExitCode: options.forceExitCode,
      hasLogger: options.logger !== undefined,
      timeoutMs: options.timeoutMs,
      exitTimeoutMs: options.exitTimeoutMs,
      shutdownFor: (reason, error) => this.#shutdownFor(reason, error),
      forcedExit: (signal, code) => {
        this.#owner.destroyConnections();
        // Without a logger the coordinator writes the one line for the whole process.
        if (this.#owner.logger !== undefined) this.reportError(new ForcedExitError(signal, code));
      },
      runExitFallback: () => this.#runExitFallback(),
    };
    // Bun closes no server on worker.disconnect(): its 'disconnect' event is the sign (cluster-worker.ts).
    this.#stopWatchingDisconnect = onDisconnect(() => this.startProcessShutdown('disconnect'));
    return this.#participant;
  }

  /** Leaves the coordinator: the lifecycle is closed. */
  leave(): void {
    if (this.#participant !== undefined) leave(this.#proc, this.#participant);
    this.#stopWatchingDisconnect?.();
  }

  /** Starts a process-level shutdown of every lifecycle in the process (a cluster disconnect). */
  startProcessShutdown(reason: ProcessTrigger): void {
    trigger(this.#proc, reason);
  }

  /**
   * A startup hook failed while Lifespan started the lifecycle itself (an attached server began
   * listening), so nobody awaits `start()`: say so, and end the process by the exit policy, as for
   * a signal, so that a supervisor restarts it. With a logger the lifecycle has logged it already.
   */
  startupFailed(error: unknown): void {
    if (this.#owner.logger === undefined) this.reportError(error);
    if (this.joined) trigger(this.#proc, 'startup failed', error);
  }

  /** Reports an error through the logger, or else on the process's stderr. */
  reportError(error: unknown): void {
    reportError(this.#owner.logger, this.#stderr, error);
  }

  async #shutdownFor(reason: ProcessTrigger, error: unknown): Promise<number | false> {
    const uncaught = reason === 'uncaughtException' || reason === 'unhandledRejection';
    if (uncaught) this.reportError(new UncaughtError(reason, error));
    const report = await this.#owner.shutdown(reason);
    const policy = this.#options.exit;
    if (policy === false) return false;
    if (typeof policy === 'function') return this.#exitCodeOf(policy, report);
    if (!report.ok && this.#owner.logger === undefined) writeFailures(report, this.#stderr);
    return report.ok && !uncaught && reason !== 'startup failed' ? 0 : 1;
  }

  /** The user's exit policy, contained: one that throws or returns something else than 0-255 or `false` means exit 1. */
  #exitCodeOf(policy: (report: ShutdownReport) => number | false, report: ShutdownReport): number | false {
    const callback = 'The exit policy (options.exit)';
    let code: unknown;
    try {
      code = policy(report);
    } catch (failure) {
      this.reportError(new CallbackFailedError(callback, failure));
      return 1;
    }
    if (code === false || (Number.isInteger(code) && (code as number) >= 0 && (code as number) <= 255)) return code as number | false;
    this.reportError(new CallbackFailedError(callback, undefined, `returned ${show(code)}, not an exit code from 0 to 255 or false; the exit code is 1`));
    return 1;
  }

  /** 'exit' listeners cannot await: run what is synchronous, say what could not be awaited. */
  #runExitFallback(): void {
    if (this.#owner.isClosed()) return;
    for (const phase of phases) for (const hook of this.#owner.hooks.claim(phase)) this.#runAtExit(hook);
  }

  #runAtExit(hook: HookRecord): void {
    if (hook.fn.constructor.name === 'AsyncFunction') {
      this.#warnAtExit(hook.name);
      return;
    }
    try {
      const result = hook.fn({ signal: AbortSignal.abort('exit'), reason: 'exit', deadline: Date.now() });
      if (result !== null && typeof result === 'object' && typeof (result as PromiseLike<unknown>).then === 'function') {
        (result as Promise<unknown>).catch?.(() => undefined);
        this.#warnAtExit(hook.name);
      }
    } catch (error) {
      this.reportError(error);
    }
  }

  #warnAtExit(name: string): void {
    const message = `lifespan: the process exited without shutting down; shutdown hook "${name}" is asynchronous and could not be awaited (ERR_LIFESPAN_ASYNC_HOOK_AT_EXIT)`;
    if (this.#owner.logger !== undefined) this.#owner.logger.warn(message);
    // Warnings are emitted on a later tick, which never comes during 'exit': write it now.
    else this.#stderr.write(`${message}\n`);
  }

  get #stderr(): ErrorOutput {
    return this.#proc.stderr ?? process.stderr;
  }
}
