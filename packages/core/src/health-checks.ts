import { HealthCheckFailedError, InvalidArgumentError } from './errors.js';
import { checkName } from './hook-registry.js';
import { checkDuration, checkOptionsObject, show } from './options.js';
import { runHook } from './run-hook.js';
import type { RunnableHook } from './run-hook.js';
import type { HealthStatus, Unregister } from './types.js';

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

interface HealthCheck {
  readonly name: string;
  readonly fn: (signal: AbortSignal) => unknown;
  readonly timeoutMs: number;
}

const optionKeys = new Set(['timeoutMs']);

/** Readiness checks by name; while one fails, the app is not ready. */
export class HealthChecks {
  readonly #checks = new Map<string, HealthCheck>();
  /** The run in progress: probes that arrive meanwhile share it, so checks run at most once at a time. */
  #running: Promise<ReadonlyMap<string, string>> | undefined;

  /** Adds (or replaces) the check called `name`. */
  register(name: string, check: (signal: AbortSignal) => unknown, options?: HealthCheckOptions): Unregister {
    checkName('name', name);
    if (typeof check !== 'function') throw new InvalidArgumentError('check', `registerHealthCheck expects a function, got ${show(check)}`);
    let timeoutMs = 1000;
    if (options !== undefined) {
      checkOptionsObject('options', options, optionKeys);
      if (options.timeoutMs !== undefined) timeoutMs = checkDuration('options.timeoutMs', options.timeoutMs, false);
    }
    const entry: HealthCheck = { name, fn: check, timeoutMs };
    this.#checks.set(name, entry);
    return () => this.#checks.get(name) === entry && this.#checks.delete(name);
  }

  /** `base` with every check run, each bounded by its timeout: not ready, naming the failed ones, if any failed. */
  async check(base: HealthStatus, options: HealthOptions | undefined): Promise<HealthStatus> {
    if (!base.ready || this.#checks.size === 0) return base;
    // Many probes at once (a kubelet, a balancer per node) must not pile up runs on a slow dependency.
    const failures = await (this.#running ??= this.#runAll().finally(() => (this.#running = undefined)));
    if (failures.size === 0) return base;
    const status: HealthStatus = { ...base, ready: false, failing: [...failures.keys()] };
    return options?.details === true ? { ...status, details: Object.fromEntries(failures) } : status;
  }

  /** Runs every check once, each bounded by its timeout: the failed ones' names and messages. */
  async #runAll(): Promise<ReadonlyMap<string, string>> {
    const failures = new Map<string, string>();
    await Promise.all(
      [...this.#checks.values()].map(async (check) => {
        const hook: RunnableHook = { fn: ({ signal }) => check.fn(signal), name: check.name, phase: 'startup', timeoutMs: check.timeoutMs };
        const result = await runHook(hook, 'health', Infinity, Infinity, () => new HealthCheckFailedError(check.name, undefined, check.timeoutMs));
        if (result.status === 'timeout') failures.set(check.name, result.error!.message);
        else if (result.status !== 'ok') failures.set(check.name, new HealthCheckFailedError(check.name, result.error?.cause ?? result.error).message);
      }),
    );
    return failures;
  }
}
