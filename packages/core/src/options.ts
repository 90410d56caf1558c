import { InvalidArgumentError } from './errors.js';
import type { ExitPolicy, LifecycleOptions, Logger } from './types.js';

/** Options with every default filled in. */
export interface ResolvedOptions {
  readonly signals: readonly NodeJS.Signals[];
  readonly timeoutMs: number;
  readonly hookTimeoutMs: number;
  readonly drainDelayMs: number;
  readonly drainTimeoutMs: number;
  readonly idleGraceMs: number;
  readonly hookConcurrency: number;
  readonly maxHooks: number;
  readonly logger: Logger | undefined;
  readonly exit: ExitPolicy;
  readonly forceExitCode: number;
  readonly handleUncaught: boolean;
  readonly exitFallback: boolean;
  readonly pm2: boolean;
}

/** Defaults of every lifecycle option. */
export const defaultOptions: ResolvedOptions = {
  signals: ['SIGTERM', 'SIGINT'],
  timeoutMs: 30_000,
  hookTimeoutMs: 10_000,
  drainDelayMs: 0,
  drainTimeoutMs: 10_000,
  idleGraceMs: 25,
  hookConcurrency: 1,
  maxHooks: 100,
  logger: undefined,
  exit: true,
  forceExitCode: 1,
  handleUncaught: false,
  exitFallback: true,
  pm2: true,
};

const lifecycleKeys = new Set<string>(Object.keys(defaultOptions));

/** Checks a duration: a finite number, zero or more. */
export function checkDuration(name: string, value: unknown, allowZero = true): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw new InvalidArgumentError(name, `expected a finite number of milliseconds ${allowZero ? '>= 0' : '> 0'}, got ${show(value)}`);
  }
  return value;
}

function checkCount(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new InvalidArgumentError(name, `expected an integer >= 1, got ${show(value)}`);
  }
  return value;
}

function checkBoolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new InvalidArgumentError(name, `expected a boolean, got ${show(value)}`);
  return value;
}

/** Rejects anything that is not a plain options object, and keys that are not in `allowed`. */
export function checkOptionsObject(name: string, value: unknown, allowed: ReadonlySet<string>): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidArgumentError(name, `expected an options object, got ${show(value)}`);
  }
  for (const key in value) {
    if (!allowed.has(key)) throw new InvalidArgumentError(`${name}.${key}`, `unknown option (known: ${[...allowed].join(', ')})`);
  }
  return value as Record<string, unknown>;
}

/** Validates `createLifecycle()` options; `extraKeys` are options an adapter consumes itself. */
export function resolveOptions(options: LifecycleOptions | undefined, extraKeys: readonly string[] = []): ResolvedOptions {
  if (options === undefined) return defaultOptions;
  const allowed = extraKeys.length === 0 ? lifecycleKeys : new Set([...lifecycleKeys, ...extraKeys]);
  const raw = checkOptionsObject('options', options, allowed);
  const pick = <T>(key: keyof ResolvedOptions, check: (name: string, value: unknown) => T): T =>
    raw[key] === undefined ? (defaultOptions[key] as T) : check(`options.${key}`, raw[key]);
  const resolved: ResolvedOptions = {
    signals: pick('signals', checkSignals),
    timeoutMs: pick('timeoutMs', (n, v) => checkDuration(n, v, false)),
    hookTimeoutMs: pick('hookTimeoutMs', (n, v) => checkDuration(n, v, false)),
    drainDelayMs: pick('drainDelayMs', checkDuration),
    drainTimeoutMs: pick('drainTimeoutMs', checkDuration),
    idleGraceMs: pick('idleGraceMs', checkDuration),
    hookConcurrency: pick('hookConcurrency', checkCount),
    maxHooks: pick('maxHooks', checkCount),
    logger: pick('logger', checkLogger),
    exit: pick('exit', checkExit),
    forceExitCode: pick('forceExitCode', checkExitCode),
    handleUncaught: pick('handleUncaught', checkBoolean),
    exitFallback: pick('exitFallback', checkBoolean),
    pm2: pick('pm2', checkBoolean),
  };
  return resolved;
}

function checkSignals(name: string, value: unknown): readonly NodeJS.Signals[] {
  if (value === false) return [];
  if (!Array.isArray(value) || value.some((signal) => typeof signal !== 'string' || !/^SIG[A-Z0-9]+$/.test(signal))) {
    throw new InvalidArgumentError(name, `expected false or an array of signal names such as 'SIGTERM', got ${show(value)}`);
  }
  return [...new Set(value as NodeJS.Signals[])];
}

function checkLogger(name: string, value: unknown): Logger {
  const logger = value as Partial<Logger> | null;
  if (logger === null || typeof logger !== 'object' || typeof logger.info !== 'function' || typeof logger.warn !== 'function' || typeof logger.error !== 'function') {
    throw new InvalidArgumentError(name, 'expected an object with info, warn and error methods (console, pino, a Fastify logger)');
  }
  return logger as Logger;
}

function checkExit(name: string, value: unknown): ExitPolicy {
  if (typeof value === 'boolean' || typeof value === 'function') return value as ExitPolicy;
  throw new InvalidArgumentError(name, `expected a boolean or a function (report) => number | false, got ${show(value)}`);
}

function checkExitCode(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 255) {
    throw new InvalidArgumentError(name, `expected an exit code from 0 to 255, got ${show(value)}`);
  }
  return value;
}

/** A short description of a bad value for error messages. */
export function show(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'object') return Array.isArray(value) ? 'an array' : 'an object';
  return String(value);
}
