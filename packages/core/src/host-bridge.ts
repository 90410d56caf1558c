import { InvalidArgumentError } from './errors.js';
import { show } from './options.js';
import { now } from './run-hook.js';
import type { ShutdownReport } from './types.js';

/**
 * A framework close that must run as part of shutdown (Fastify's `close()`), bridged so that
 * either side may start the shutdown and every hook still runs once.
 */
export interface HostBridge {
  /** Call from the framework's first close hook (Fastify `preClose`): starts or joins shutdown, resolves once drained. */
  closing(): Promise<void>;
  /** Call from the framework's last close hook (Fastify `onClose`): resolves once the close phase is done. */
  closed(): Promise<void>;
}

/** What a host bridge needs of its lifecycle. */
export interface BridgedLifecycle {
  isShuttingDown(): boolean;
  shutdown(reason: string): Promise<ShutdownReport>;
  /** Resolves once the HTTP drain is over (the close phase has begun). */
  drained(): Promise<void>;
  /** The framework closes on its own: its close, not a load balancer, decided, so no drain delay. */
  skipDrainDelay(): void;
}

interface Host {
  readonly close: () => PromiseLike<unknown>;
  /** The framework's close started the shutdown (it was called directly, not by the lifecycle). */
  startedByHost: boolean;
  /** The framework's close has begun, whoever called it: the lifecycle must not call it again. */
  hostCloseCalled: boolean;
}

/**
 * The framework closes bridged with one lifecycle: a set, since apps may share a lifecycle and
 * each app's close must run.
 */
export class HostSet {
  readonly #lifecycle: BridgedLifecycle;
  readonly #hosts = new Set<Host>();

  constructor(lifecycle: BridgedLifecycle) {
    this.#lifecycle = lifecycle;
  }

  /** Number of bridged hosts. */
  get size(): number {
    return this.#hosts.size;
  }

  /**
   * Bridges `close`: a signal or `shutdown()` drains HTTP and then calls `close`; `close` called
   * directly starts the shutdown through the returned hooks.
   */
  bridge(close: () => PromiseLike<unknown>, reason: string): HostBridge {
    if (typeof close !== 'function') throw new InvalidArgumentError('close', `bridgeHost expects a function, got ${show(close)}`);
    const lifecycle = this.#lifecycle;
    const host: Host = { close, startedByHost: false, hostCloseCalled: false };
    this.#hosts.add(host);
    return {
      closing: async () => {
        host.hostCloseCalled = true;
        if (lifecycle.isShuttingDown() && !host.startedByHost) return;
        // The framework closes on its own: the lifecycle drains inside the framework's close
        // and must not call that close again.
        host.startedByHost = true;
        lifecycle.skipDrainDelay();
        void lifecycle.shutdown(reason);
        await lifecycle.drained();
      },
      closed: async () => {
        if (host.startedByHost) await lifecycle.shutdown(reason);
      },
    };
  }

  /**
   * Calls the close of every host whose close has not begun, all at once, each bounded by the
   * deadline (in `now()` time); a failure goes to `onError`.
   */
  async closeAll(deadline: number, onError: (error: unknown) => void): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const host of this.#hosts) {
      if (host.hostCloseCalled) continue;
      host.hostCloseCalled = true;
      closing.push(bounded(host.close, deadline, onError));
    }
    await Promise.all(closing);
  }
}

async function bounded(close: () => PromiseLike<unknown>, deadline: number, onError: (error: unknown) => void): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let closing: PromiseLike<unknown>;
  try {
    closing = close();
  } catch (error) {
    closing = Promise.reject(error);
  }
  await Promise.race([
    Promise.resolve(closing).then(undefined, onError),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, Math.max(0, deadline - now()));
    }),
  ]);
  clearTimeout(timer);
}
