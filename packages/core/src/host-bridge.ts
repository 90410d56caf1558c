import { InvalidArgumentError } from './errors.js';
import { show } from './options.js';
import { now } from './run-hook.js';
import type { ShutdownReport } from './types.js';

/**
 * A framework whose own close must run as part of shutdown (Fastify's `close()`), bridged so that
 * either side may start the shutdown and every hook still runs once, in one order.
 */
export interface HostBridge {
  /**
   * The framework's own close was called (Fastify: `fastify.close()`, wrapped by `wrapClose()`).
   * Starts the shutdown and resolves once HTTP is drained, when the framework's close may begin; or
   * returns `undefined` when there is no connection to drain: it may begin at once (and then finds
   * the drain in its first close hook).
   */
  beforeClose(): Promise<void> | undefined;
  /** Call from the framework's first close hook (Fastify `preClose`): starts or joins shutdown, resolves once drained. */
  closing(): Promise<void>;
  /** Call from the framework's last close hook (Fastify `onClose`): runs the close phase once every host got there; resolves once it is done. */
  closed(): Promise<void>;
  /** Call once the framework has booted (Fastify `onReady`): starts the lifecycle, unless a shutdown began first. */
  ready(): Promise<void>;
  /**
   * The framework's close method, made to drain first (see `beforeClose()`); called exactly as the
   * original (callback or promise), and left to the original when there is nothing to drain.
   */
  wrapClose<Close extends (...args: never[]) => unknown>(close: Close): Close;
}

/** What a host bridge needs of its lifecycle. */
export interface BridgedLifecycle {
  isShuttingDown(): boolean;
  shutdown(reason: string): Promise<ShutdownReport>;
  /** Runs the startup hooks (once); rejects if one fails. */
  start(): Promise<void>;
  /** Whether an attached server has a connection (or HTTP/2 session) open now. */
  hasConnections(): boolean;
  /** Resolves once the HTTP drain and the drain hooks are over. Only called once shutdown began. */
  drained(): Promise<void>;
  /** Runs the close phase once; later calls get the same promise. Only called once shutdown began. */
  closePhase(): Promise<unknown>;
  /**
   * The framework closes on its own: its close, not a load balancer, decided, so no drain delay;
   * `closesIdleAtOnce`: no idle grace either (the framework is set to close connections at once).
   */
  skipDrainDelay(closesIdleAtOnce: boolean): void;
}

/** How a framework closes, as its own options say. */
export interface HostCloseOptions {
  /** Its own close closes idle connections and HTTP/2 sessions at once (Fastify `forceCloseConnections: true`): a drain it starts takes no idle grace. @default false */
  readonly closesIdleAtOnce?: boolean;
}

interface Host {
  readonly close: () => PromiseLike<unknown>;
  /** The framework's close has begun, whoever called it: the lifecycle must not call it again. */
  hostCloseCalled: boolean;
  /** The framework reached its last close hook (or its close is over). */
  reached: boolean;
}

/**
 * The framework closes bridged with one lifecycle: a set, since apps may share a lifecycle and
 * each app's close must run. Lifespan's close hooks run from a framework's last close hook once
 * every host has reached its own, so they take one place among the framework's close hooks
 * whatever started the shutdown.
 */
export class HostSet {
  readonly #lifecycle: BridgedLifecycle;
  readonly #hosts = new Set<Host>();
  #allReached: (() => void) | undefined;
  readonly #reachedAll = new Promise<void>((resolve) => (this.#allReached = resolve));

  constructor(lifecycle: BridgedLifecycle) {
    this.#lifecycle = lifecycle;
  }

  /** Number of bridged hosts. */
  get size(): number {
    return this.#hosts.size;
  }

  /**
   * Bridges `close`: a signal or `shutdown()` drains HTTP and then calls `close`; the framework's
   * close called directly starts the shutdown through the returned hooks.
   */
  bridge(close: () => PromiseLike<unknown>, reason: string, options: HostCloseOptions = {}): HostBridge {
    if (typeof close !== 'function') throw new InvalidArgumentError('close', `bridgeHost expects a function, got ${show(close)}`);
    const closesIdleAtOnce = options.closesIdleAtOnce === true;
    const lifecycle = this.#lifecycle;
    const host: Host = { close, hostCloseCalled: false, reached: false };
    this.#hosts.add(host);
    const startedByHost = (): Promise<void> => {
      if (!host.hostCloseCalled) {
        host.hostCloseCalled = true;
        // The framework closes on its own: the app itself asked to stop, no drain delay.
        if (!lifecycle.isShuttingDown()) lifecycle.skipDrainDelay(closesIdleAtOnce);
        void lifecycle.shutdown(reason);
      }
      return lifecycle.drained();
    };
    const bridge: HostBridge = {
      beforeClose: () => {
        if (host.hostCloseCalled) return undefined;
        // Nothing to drain: the framework may close at once, as it would without Lifespan.
        if (!lifecycle.isShuttingDown() && !lifecycle.hasConnections()) return undefined;
        return startedByHost();
      },
      closing: startedByHost,
      closed: async () => {
        // A close during boot may reach the last close hook without the first (Fastify's preClose).
        await startedByHost();
        this.#reach(host);
        await this.#reachedAll;
        await lifecycle.closePhase();
      },
      ready: () => {
        // A close that came first (fastify.close() before boot finished) is not a failed start.
        if (lifecycle.isShuttingDown()) return Promise.resolve();
        return lifecycle.start().catch((error: unknown) => {
          if (!lifecycle.isShuttingDown() || (error as { code?: unknown }).code === 'ERR_LIFESPAN_STARTUP_FAILED') throw error;
        });
      },
      wrapClose: <Close extends (...args: never[]) => unknown>(frameworkClose: Close): Close =>
        function close(this: unknown, ...args: unknown[]): unknown {
          const original = frameworkClose as unknown as (...a: unknown[]) => unknown;
          // An argument the framework itself rejects: its close, unchanged.
          if (args[0] !== undefined && typeof args[0] !== 'function') return original.apply(this, args);
          const drained = bridge.beforeClose();
          if (drained === undefined) return original.apply(this, args);
          const closed = drained.then(() => original.apply(this, args));
          // A callback-style close returns the instance at once, a promise-style one its promise.
          return args[0] === undefined ? closed : this;
        } as unknown as Close,
    };
    return bridge;
  }

  /**
   * Calls the close of every host whose close has not begun, all at once (none when `callClose` is
   * false: after a failed startup the host is still in its own boot), and waits until each host has
   * reached its last close hook, bounded by the deadline (in `now()` time); a failure goes to `onError`.
   */
  async closeAll(deadline: number, onError: (error: unknown) => void, callClose = true): Promise<void> {
    const closing: Promise<unknown>[] = [];
    for (const host of this.#hosts) {
      if (!callClose || host.hostCloseCalled) continue;
      host.hostCloseCalled = true;
      closing.push(call(host.close).then(undefined, onError).finally(() => this.#reach(host)));
    }
    if (callClose && this.#hosts.size > 0) await bounded(Promise.all([...closing, this.#reachedAll]), deadline);
    // Whatever did not reach its close hook in time no longer holds the close phase back.
    this.#allReached?.();
  }

  #reach(host: Host): void {
    host.reached = true;
    for (const other of this.#hosts) if (!other.reached) return;
    this.#allReached?.();
  }
}

function call(close: () => PromiseLike<unknown>): Promise<unknown> {
  try {
    return Promise.resolve(close());
  } catch (error) {
    return Promise.reject(error);
  }
}

async function bounded(promise: Promise<unknown>, deadline: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    promise,
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, Math.max(0, deadline - now()));
    }),
  ]);
  clearTimeout(timer);
}
