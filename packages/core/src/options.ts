import { constants } from 'node:os';
import { Server as NetServer } from 'node:net';
import { InvalidArgumentError } from './errors.js';
import { defaultExitTimeoutMs } from './process-exit.js';
import type { ExitPolicy, LifecycleOptions, Logger } from './types.js';

/** Options with every default filled in. */
export interface ResolvedOptions {
  readonly signals: readonly NodeJS.Signals[];
  readonly timeoutMs: number;
  readonly hookTimeoutMs: number;
  readonly drainDelayMs: number;
  readonly drainTimeoutMs: number;
  readonly idleGraceMs: number;
  readonly keepAliveTimeoutMs: number | false;
  readonly hookConcurrency: number;
  readonly maxHooks: number;
  readonly logger: Logger | undefined;
  readonly exit: ExitPolicy;
  readonly forceExitCode: number;
  readonly exitTimeoutMs: number;
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
  keepAliveTimeoutMs: 65_000,
  hookConcurrency: 1,
  maxHooks: 100,
  logger: undefined,
  exit: true,
  forceExitCode: 1,
  exitTimeoutMs: defaultExitTimeoutMs,
  handleUncaught: false,
  exitFallback: true,
  pm2: true,
};

const lifecycleKeys = new Set<string>(Object.keys(defaultOptions));

/**
 * The longest delay a Node timer can wait: `setTimeout` fires a longer one after 1 ms (with a
 * TimeoutOverflowWarning), so a hook would time out at once.
 */
export const maxDurationMs = 2 ** 31 - 1;

/** Checks a duration: a finite number of milliseconds, zero or more, that a timer can wait for. */
export function checkDuration(name: string, value: unknown, allowZero = true): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw new InvalidArgumentError(name, `expected a finite number of milliseconds ${allowZero ? '>= 0' : '> 0'}, got ${show(value)}`);
  }
  if (value > maxDurationMs) {
    throw new InvalidArgumentError(name, `expected at most ${maxDurationMs} ms (about 24.8 days, the longest a Node timer can wait; a longer one fires after 1 ms), got ${value}`);
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

/**
 * Rejects anything that is not a plain options object, and keys that are not in `allowed`, naming
 * the nearest known key of a mistyped one. `call` names the function in the message when the
 * argument's name alone does not (an adapter's `options`).
 */
export function checkOptionsObject(name: string, value: unknown, allowed: ReadonlySet<string>, call?: string): Record<string, unknown> {
  const of = call === undefined ? '' : ` of ${call}`;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidArgumentError(name, `expected an options object${of}, got ${show(value)}`);
  }
  for (const key in value) {
    if (allowed.has(key)) continue;
    const meant = nearest(key, allowed);
    throw new InvalidArgumentError(`${name}.${key}`, `unknown option${of}${meant === undefined ? '' : `; did you mean '${meant}'?`} (known: ${[...allowed].join(', ')})`);
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
    keepAliveTimeoutMs: pick('keepAliveTimeoutMs', checkKeepAliveTimeout),
    hookConcurrency: pick('hookConcurrency', checkCount),
    maxHooks: pick('maxHooks', checkCount),
    logger: pick('logger', checkLogger),
    exit: pick('exit', checkExit),
    forceExitCode: pick('forceExitCode', checkExitCode),
    exitTimeoutMs: pick('exitTimeoutMs', checkDuration),
    handleUncaught: pick('handleUncaught', checkBoolean),
    exitFallback: pick('exitFallback', checkBoolean),
    pm2: pick('pm2', checkBoolean),
  };
  return resolved;
}

/** Longer than any balancer's idle timeout; past 2^31 ms Node's timers would fire after 1 ms instead. */
const maxKeepAliveTimeoutMs = 86_400_000;

function checkKeepAliveTimeout(name: string, value: unknown): number | false {
  if (value === false) return false;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > maxKeepAliveTimeoutMs) {
    throw new InvalidArgumentError(
      name,
      `expected false or milliseconds from 1 to ${maxKeepAliveTimeoutMs} (longer than the idle timeout of the load balancer in front, e.g. 65_000 behind AWS ALB or nginx), got ${show(value)}`,
    );
  }
  return value;
}

// The kernel never lets a process handle these; process.on() would throw EINVAL from uv_signal_start.
const uncatchableSignals = new Set(['SIGKILL', 'SIGSTOP']);

/** Checks the `signals` option: false, or names this platform knows (`os.constants.signals`) and lets a process catch. */
export function checkSignals(name: string, value: unknown): readonly NodeJS.Signals[] {
  if (value === false) return [];
  if (!Array.isArray(value) || value.some((signal) => typeof signal !== 'string')) {
    throw new InvalidArgumentError(name, `expected false or an array of signal names such as 'SIGTERM', got ${show(value)}`);
  }
  for (const signal of value as string[]) {
    if (uncatchableSignals.has(signal)) {
      throw new InvalidArgumentError(name, `${signal} cannot be caught by any process (the kernel acts on it directly); use 'SIGTERM' or 'SIGINT'`);
    }
    if (!isSignalName(signal)) {
      const upper = signal.toUpperCase();
      const meant = [upper, `SIG${upper}`].find(isSignalName);
      throw new InvalidArgumentError(name, `${JSON.stringify(signal)} is not a signal name on ${process.platform}${meant === undefined ? ' (os.constants.signals lists them)' : `; did you mean '${meant}'?`}`);
    }
  }
  return [...new Set(value as NodeJS.Signals[])];
}

function isSignalName(name: string): boolean {
  return Object.prototype.hasOwnProperty.call(constants.signals, name);
}

/** Checks what `attach()` was given: a node:http, node:https or node:http2 server, and not the app that makes one. */
export function checkServer(value: unknown): void {
  if (value instanceof NetServer) return;
  // A server of another runtime's node:net, still one in every way the drainer relies on.
  const candidate = value as Record<string, unknown> | null;
  if (candidate !== null && typeof candidate === 'object' && ['listen', 'close', 'address', 'on'].every((method) => typeof candidate[method] === 'function')) return;
  throw new InvalidArgumentError('server', `attach expects a node:http, node:https or node:http2 server, got ${describeServerLike(value)}`);
}

/** What an `attach()` argument that is no server probably is, and what to pass instead. */
function describeServerLike(value: unknown): string {
  const candidate = value as Record<string, unknown> | null;
  if (candidate === null || (typeof candidate !== 'object' && typeof candidate !== 'function')) return show(value);
  if (candidate['server'] instanceof NetServer && typeof candidate['register'] === 'function') {
    return 'a Fastify instance: the @lifespan/fastify plugin attaches fastify.server by itself';
  }
  if (typeof candidate['listen'] === 'function' && typeof candidate['use'] === 'function') {
    const framework = typeof candidate === 'function' ? 'an Express' : typeof candidate['callback'] === 'function' ? 'a Koa' : 'a framework';
    return `${framework} application: pass the server that app.listen() returns, e.g. lifecycle.attach(app.listen(3000))`;
  }
  return show(value);
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

/** Checks an exit code: an integer from 0 to 255. */
export function checkExitCode(name: string, value: unknown): number {
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

/** The candidate closest to `word` (case aside, a swap of two letters counting once), if close enough to be a typo. */
function nearest(word: string, candidates: Iterable<string>): string | undefined {
  const limit = Math.max(1, Math.floor(word.length / 3));
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** Levenshtein distance with adjacent transpositions (optimal string alignment). */
function editDistance(a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) rows[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let distance = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) distance = Math.min(distance, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = distance;
    }
  }
  return rows[a.length]![b.length]!;
}
