import { InvalidArgumentError } from './errors.js';
import { checkDuration, checkOptionsObject, show } from './options.js';
import type { RunnableHook } from './run-hook.js';
import type { HookResult, ShutdownPhase, Unregister } from './types.js';

/** The phases a hook can belong to: a shutdown phase, or startup. */
export type HookPhase = Exclude<HookResult['phase'], 'request'>;

/** The shutdown phases in the order they run; registration, the sequence and the exit fallback all follow it. */
export const phases = ['drain', 'close'] as const satisfies readonly ShutdownPhase[];

/** One registered hook. */
export interface HookRecord<Phase extends HookPhase = HookPhase> extends RunnableHook {
  readonly key: unknown;
  readonly phase: Phase;
  readonly unregister: Unregister;
  /**
   * Set when a runner takes the hook (its phase began, or the exit fallback reached it), before it
   * runs: from then on it can no longer be unregistered, and no other runner takes it.
   */
  claimed: boolean;
}

/** What a registry is for, and what it asks of its owner. */
export interface RegistrySpec<Phase extends HookPhase> {
  /** The public method that registers, for error messages. */
  readonly method: string;
  /** The phases a hook may ask for (`options.phase`); the last one is the default. */
  readonly phases: readonly Phase[];
  /** Timeout of a hook registered without `timeoutMs`. */
  readonly hookTimeoutMs: number;
  /** Called with the name of a hook about to be added; throws if none may be added now. */
  admit(name: string): void;
  /** Called once a new hook is in the registry. */
  added(record: HookRecord<Phase>, size: number): void;
}

interface HookOptions {
  key?: unknown;
  name?: string;
  phase?: string;
  timeoutMs?: number;
}

/**
 * Hooks identified once: the same `key` (or, without one, the same function) is the same hook, so
 * code that registers on every request keeps one hook. Runners claim hooks phase by phase.
 */
export class HookRegistry<Phase extends HookPhase> {
  readonly #records = new Map<unknown, HookRecord<Phase>>();
  readonly #spec: RegistrySpec<Phase>;
  readonly #optionKeys: ReadonlySet<string>;

  constructor(spec: RegistrySpec<Phase>) {
    this.#spec = spec;
    this.#optionKeys = new Set(spec.phases.length > 1 ? ['key', 'name', 'phase', 'timeoutMs'] : ['key', 'name', 'timeoutMs']);
  }

  /** Number of distinct hooks. */
  get size(): number {
    return this.#records.size;
  }

  /** Registers `hook` unless a hook with its identity is already here; returns the unregister function of the one kept. */
  register(hook: unknown, options: HookOptions | undefined): Unregister {
    // The hot path, taken on every request: a hook the app already has, with no option but `key`,
    // which nothing can make invalid, so the full option parse is skipped (bench/README.md).
    if (typeof hook === 'function' && (options === undefined || keyOnly(options))) {
      // `{ key: undefined }` is not `{}`: #parse refuses it.
      const existing = options?.key === undefined ? (options === undefined || !('key' in options) ? this.#records.get(hook) : undefined) : this.#records.get(options.key);
      if (existing !== undefined) return existing.unregister;
    }
    const { key, name, timeoutMs, phase } = this.#parse(hook, options);
    const existing = this.#records.get(key);
    if (existing !== undefined) {
      // A key keeps the phase it was first registered in; asking for another one is a mistake
      // that would otherwise run the hook at the wrong moment without a word.
      if (options?.phase !== undefined && existing.phase !== phase) {
        throw new InvalidArgumentError('options.phase', `the hook "${existing.name}" with this key is already registered in phase '${existing.phase}', so it cannot be registered again in '${phase}'; use another key`);
      }
      return existing.unregister;
    }
    const hookName = name ?? nameOf(hook as (...args: never[]) => unknown);
    this.#spec.admit(hookName);
    const records = this.#records;
    const record: HookRecord<Phase> = {
      key,
      fn: hook as HookRecord['fn'],
      name: hookName,
      phase,
      timeoutMs,
      claimed: false,
      unregister: () => records.get(key) === record && !record.claimed && records.delete(key),
    };
    records.set(key, record);
    this.#spec.added(record, records.size);
    return record.unregister;
  }

  /** Takes every unclaimed hook of `phase`, last registered first. */
  claim(phase: Phase): HookRecord<Phase>[] {
    const claimed: HookRecord<Phase>[] = [];
    for (const record of this.#records.values()) if (record.phase === phase && !record.claimed) claimed.push(record);
    claimed.reverse();
    for (const record of claimed) record.claimed = true;
    return claimed;
  }

  /** Takes unclaimed hooks one at a time in registration order, including hooks added meanwhile. */
  *claimInOrder(): Generator<HookRecord<Phase>, void, undefined> {
    for (const record of this.#records.values()) {
      if (record.claimed) continue;
      record.claimed = true;
      yield record;
    }
  }

  #parse(hook: unknown, options: HookOptions | undefined): { key: unknown; name: string | undefined; timeoutMs: number; phase: Phase } {
    const { method, phases: allowed, hookTimeoutMs } = this.#spec;
    const fallback = allowed[allowed.length - 1]!;
    if (typeof hook !== 'function') throw new InvalidArgumentError('hook', `${method} expects a function, got ${show(hook)}`);
    if (options === undefined) return { key: hook, name: undefined, timeoutMs: hookTimeoutMs, phase: fallback };
    checkOptionsObject('options', options, this.#optionKeys);
    if ('key' in options && options.key === undefined) {
      // Usually a setting or property not set yet: identifying the hook by its function instead
      // would make a closure registered per request a new hook on every request.
      throw new InvalidArgumentError('options.key', `${method} got { key: undefined }; pass a defined key, or leave key out to identify the hook by its function`);
    }
    const phase = (options.phase ?? fallback) as Phase;
    if (!allowed.includes(phase)) {
      throw new InvalidArgumentError('options.phase', `expected ${allowed.map((name) => `'${name}'`).join(' or ')}, got ${show(phase)}`);
    }
    return {
      key: 'key' in options ? options.key : hook,
      name: options.name === undefined ? undefined : checkName('options.name', options.name),
      timeoutMs: options.timeoutMs === undefined ? hookTimeoutMs : checkDuration('options.timeoutMs', options.timeoutMs, false),
      phase,
    };
  }
}

/** Checks a hook or health-check name: a non-empty string. */
export function checkName(argument: string, name: unknown): string {
  if (typeof name !== 'string' || name.length === 0) throw new InvalidArgumentError(argument, `expected a non-empty string, got ${show(name)}`);
  return name;
}

function nameOf(fn: (...args: never[]) => unknown): string {
  return fn.name !== undefined && fn.name !== '' ? fn.name : 'anonymous';
}

/** Whether `options` is an object whose only (enumerable) option is `key`. */
function keyOnly(options: unknown): boolean {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) return false;
  for (const name in options) if (name !== 'key') return false;
  return true;
}
