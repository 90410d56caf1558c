import { DeadlineExceededError, HookFailedError, HookTimeoutError } from './errors.js';
import type { LifecycleError } from './errors.js';
import type { HookResult } from './types.js';

/** A hook as the runner sees it. */
export interface RunnableHook {
  readonly fn: (context: { signal: AbortSignal; reason: string; deadline: number }) => unknown;
  readonly name: string;
  readonly phase: HookResult['phase'];
  readonly timeoutMs: number;
}

/** Milliseconds since an arbitrary origin; `performance.now()` so that fake timers can drive it. */
export const now = (): number => performance.now();

/**
 * Runs one hook, never throwing: its own timeout and the global deadline (both in `now()` time)
 * bound it, and whatever it does ends up as a HookResult. `timedOut` makes the error of its own
 * timeout, for what is not a lifecycle hook (a health check).
 */
export async function runHook(
  hook: RunnableHook,
  reason: string,
  deadline: number,
  globalTimeoutMs: number,
  timedOut: () => LifecycleError = () => new HookTimeoutError(hook.name, hook.timeoutMs, hook.phase),
): Promise<HookResult> {
  const started = now();
  const remaining = deadline - started;
  if (remaining <= 0) {
    return { name: hook.name, phase: hook.phase, status: 'skipped', durationMs: 0, error: new DeadlineExceededError(hook.name, globalTimeoutMs) };
  }
  const cutByDeadline = remaining < hook.timeoutMs;
  const budget = cutByDeadline ? remaining : hook.timeoutMs;
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(resolve, budget, 'timeout');
  });
  try {
    const context = { signal: controller.signal, reason, deadline: Date.now() + budget };
    const outcome = await Promise.race([Promise.resolve().then(() => hook.fn(context)).then(() => 'ok' as const), timeout]);
    const durationMs = now() - started;
    if (outcome === 'ok') return { name: hook.name, phase: hook.phase, status: 'ok', durationMs };
    const error: LifecycleError = cutByDeadline ? new DeadlineExceededError(hook.name, globalTimeoutMs) : timedOut();
    controller.abort(error);
    return { name: hook.name, phase: hook.phase, status: 'timeout', durationMs, error };
  } catch (cause) {
    return { name: hook.name, phase: hook.phase, status: 'error', durationMs: now() - started, error: new HookFailedError(hook.name, hook.phase, cause) };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs hooks in the given order, `concurrency` at a time; results come back in start order.
 * A hook that cannot start before the deadline is reported as skipped.
 */
export async function runHooks(
  hooks: readonly RunnableHook[],
  concurrency: number,
  run: (hook: RunnableHook) => Promise<HookResult>,
): Promise<HookResult[]> {
  const results: HookResult[] = new Array<HookResult>(hooks.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < hooks.length) {
      const index = next++;
      results[index] = await run(hooks[index]!);
    }
  };
  const workers: Promise<void>[] = [];
  for (let i = 0; i < Math.min(concurrency, hooks.length); i++) workers.push(worker());
  await Promise.all(workers);
  return results;
}
