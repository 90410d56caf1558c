import { EventEmitter } from 'node:events';
import { Lifecycle } from './lifecycle.js';
import { InvalidArgumentError } from './errors.js';
import { show } from './options.js';
import type { ProcessLike } from './process-coordinator.js';
import type { LifecycleOptions, ShutdownReport } from './types.js';

export type { ProcessLike } from './process-coordinator.js';

/** Options of `createTestProcess()`. */
export interface TestProcessOptions {
  /** The process environment the lifecycle reads (e.g. `PM2_HOME`, `NODE_APP_INSTANCE`). @default {} */
  env?: Record<string, string | undefined>;
  /** Give it an IPC channel (`send`), as a cluster worker or a PM2 app has. @default false */
  ipc?: boolean;
  /** Whether its stderr is a terminal (Lifespan then prints one line on Ctrl+C). @default false */
  tty?: boolean;
}

/** A warning the lifecycle emitted through `process.emitWarning()`. */
export interface TestWarning {
  readonly message: string;
  readonly type: string | undefined;
  readonly code: string | undefined;
}

/**
 * A stand-in for `process` that a lifecycle can listen to, signal and "exit" without touching the
 * test runner's own process: `signal('SIGTERM')` delivers a signal, `exited` resolves to the exit
 * code the lifecycle chose, and stderr, warnings and IPC messages are recorded.
 */
export class TestProcess extends EventEmitter implements ProcessLike {
  readonly env: Record<string, string | undefined>;
  readonly stderr: { write(text: string): boolean; readonly isTTY: boolean };
  readonly send: ((message: unknown) => boolean) | undefined;
  /** Resolves with the exit code the lifecycle chose (set as `exitCode`, or given to `exit()`), the first one. */
  readonly exited: Promise<number>;
  /** Every `emitWarning()` call, in order. */
  readonly warnings: TestWarning[] = [];
  /** Every IPC message sent (with `ipc: true`), in order. */
  readonly sent: unknown[] = [];
  #exitCode: number | undefined;
  #forcedExitCode: number | undefined;
  #stderr = '';
  #resolveExit!: (code: number) => void;

  constructor(options: TestProcessOptions = {}) {
    super();
    this.env = { ...options.env };
    const tty = options.tty === true;
    this.stderr = { isTTY: tty, write: (text: string) => ((this.#stderr += text), true) };
    this.send = options.ipc === true ? (message: unknown) => (this.sent.push(message), true) : undefined;
    this.exited = new Promise((resolve) => (this.#resolveExit = resolve));
  }

  /**
   * The exit code the lifecycle chose, or `undefined` while the "process" lives. A lifecycle sets
   * it when its shutdown is over, as on the real `process`, and calls `exit()` only to force the
   * exit (a second signal, or an event loop that did not empty within `exitTimeoutMs`).
   */
  get exitCode(): number | undefined {
    return this.#exitCode;
  }

  set exitCode(code: number | string | undefined) {
    this.#end(Number(code));
  }

  /** The code `exit()` was called with: the exit was forced. `undefined` if it never was. */
  get forcedExitCode(): number | undefined {
    return this.#forcedExitCode;
  }

  /** What was written to stderr. */
  get stderrText(): string {
    return this.#stderr;
  }

  /** Delivers a signal, as `kill -TERM` would. */
  signal(name: NodeJS.Signals): this {
    this.emit(name, name);
    return this;
  }

  exit(code = 0): void {
    this.#forcedExitCode ??= code;
    this.#end(code);
  }

  #end(code: number): void {
    if (this.#exitCode !== undefined) return;
    this.#exitCode = code;
    this.#resolveExit(code);
  }

  emitWarning(warning: string, options: { type?: string; code?: string } = {}): void {
    this.warnings.push({ message: warning, type: options.type, code: options.code });
  }
}

/** A process stand-in for one test; see `TestProcess`. */
export function createTestProcess(options?: TestProcessOptions): TestProcess {
  return new TestProcess(options);
}

/**
 * A lifecycle bound to a process stand-in instead of the real `process`: its signals, exit code and
 * stderr are the stand-in's, so a test can send SIGTERM and read the exit code without signalling
 * the test runner. Pass it to an adapter as `{ lifecycle }`.
 * @example
 * const proc = createTestProcess();
 * app.use(shutdownHooks({ lifecycle: createTestLifecycle({ drainDelayMs: 0 }, proc) }));
 * proc.signal('SIGTERM');
 * expect(await proc.exited).toBe(0);
 */
export function createTestLifecycle(options?: LifecycleOptions, process: ProcessLike = new TestProcess()): Lifecycle {
  return new Lifecycle(options, { process });
}

/** Anything that carries a lifecycle: a Fastify instance, an Express or Koa `shutdownHooks()` middleware. */
export interface HasLifecycle {
  readonly lifecycle: Lifecycle;
}

/**
 * Shuts an app down as a signal would (drain, hooks, framework close) without exiting, and returns
 * the report. Takes a lifecycle, a Fastify instance or an adapter's middleware.
 */
export function shutdownApp(target: Lifecycle | HasLifecycle, reason = 'test'): Promise<ShutdownReport> {
  const lifecycle = target instanceof Lifecycle ? target : (target as Partial<HasLifecycle> | null)?.lifecycle;
  if (lifecycle === undefined || typeof (lifecycle as Partial<Lifecycle>).shutdown !== 'function') {
    throw new InvalidArgumentError('target', `expected a lifecycle, or an app or middleware with a lifecycle, got ${show(target)}`);
  }
  return lifecycle.shutdown(reason);
}
