import { WorkCutError, WorkFailedError } from './errors.js';
import type { LifecycleError } from './errors.js';
import { now } from './run-hook.js';
import type { WorkResult } from './types.js';

/** One piece of work that is not a request: a tracked promise, or a worker loop. */
interface Work {
  readonly name: string;
  /** Settled with an error other than the shutdown's own abort. */
  error: unknown;
  failed: boolean;
  /** `now()` when it settled. */
  settledAt: number | undefined;
}

/**
 * Work that is not a request (`lifecycle.track()`, `lifecycle.run()`): what runs when shutdown
 * begins, and what starts during the drain, is waited for within the drain's time; what has not
 * settled by then is named in the report as cut.
 */
export class BackgroundWork {
  readonly #running = new Set<Work>();
  /** Work that ran during this drain, in the order it was found. */
  readonly #draining: Work[] = [];
  #drainStarted: number | undefined;
  #closed = false;
  #wake: (() => void) | undefined;
  /** A tracked promise rejected outside a drain: nobody else may be told. */
  readonly #reportFailure: (name: string, error: unknown) => void;

  constructor(reportFailure: (name: string, error: unknown) => void) {
    this.#reportFailure = reportFailure;
  }

  /** Number of pieces of work running now. */
  get size(): number {
    return this.#running.size;
  }

  /**
   * Follows `promise` until it settles. `abortReason`: a rejection with it (the shutdown's abort,
   * seen by a loop that passed the signal on) is a loop that stopped as asked, not a failure.
   */
  add(name: string, promise: PromiseLike<unknown>, signal: AbortSignal): void {
    const work: Work = { name, error: undefined, failed: false, settledAt: undefined };
    const settled = (): void => {
      work.settledAt = now();
      this.#running.delete(work);
      this.#wake?.();
    };
    // Handlers on the promise itself: work awaited before a shutdown is gone from it by then.
    Promise.resolve(promise).then(settled, (error: unknown) => {
      if (!(signal.aborted && isAbort(error, signal))) {
        work.failed = true;
        work.error = error;
        if (this.#drainStarted === undefined) this.#reportFailure(name, error);
      }
      settled();
    });
    this.#running.add(work);
    if (this.#drainStarted !== undefined) this.#draining.push(work);
    else this.#wake?.();
  }

  /** Whether the drain is over: work added now would be waited for by nobody. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Shutdown began: the work running now is this drain's. */
  begin(): void {
    this.#drainStarted = now();
    this.#draining.push(...this.#running);
  }

  /** Waits for the work running, and for what starts meanwhile, until `deadline` (in `now()` time); never rejects. */
  async settle(deadline: number): Promise<void> {
    while (this.#running.size > 0 && now() < deadline) await this.#nextChange(deadline - now());
    this.#wake = undefined;
  }

  /** The drain is over: what each piece of work came to, and the errors for the report. */
  finish(budgetMs: number): { results: WorkResult[]; errors: LifecycleError[] } {
    this.#closed = true;
    return this.#results(this.#drainStarted ?? now(), Math.round(budgetMs));
  }

  #results(started: number, budgetMs: number): { results: WorkResult[]; errors: LifecycleError[] } {
    const results: WorkResult[] = [];
    const errors: LifecycleError[] = [];
    const cut: string[] = [];
    for (const work of this.#draining) {
      // From the start of the drain: how long the shutdown waited for it.
      const durationMs = Math.max(0, (work.settledAt ?? now()) - started);
      if (work.settledAt === undefined) {
        cut.push(work.name);
        results.push({ name: work.name, status: 'cut', durationMs });
      } else if (work.failed) {
        const error = new WorkFailedError(work.name, work.error);
        errors.push(error);
        results.push({ name: work.name, status: 'error', durationMs, error });
      } else {
        results.push({ name: work.name, status: 'ok', durationMs });
      }
    }
    if (cut.length > 0) errors.unshift(new WorkCutError(cut, budgetMs));
    return { results, errors };
  }

  /** Resolves when a piece of work settles or starts, or after `ms`. */
  #nextChange(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, Math.max(0, ms));
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
  }
}

/** The shutdown's abort as a loop passes it on: the signal's reason itself, or an `AbortError`. */
function isAbort(error: unknown, signal: AbortSignal): boolean {
  // By name, not instanceof: a DOMException may come from another realm (a vm context, a test runner's).
  return error === signal.reason || (typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'AbortError');
}
