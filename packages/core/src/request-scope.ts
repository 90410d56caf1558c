import { InvalidArgumentError } from './errors.js';
import { show } from './options.js';
import type { Unregister } from './types.js';

/** What a request scope needs from its owner: whether shutdown has begun, and a set to join. */
export interface ScopeOwner {
  readonly shutdownReason: string | undefined;
  readonly watchers: Set<RequestScope>;
  reportScopeError(error: unknown): void;
}

/** A request-scoped shutdown callback. */
export type RequestShutdownHook = (reason: string) => unknown;

const noop: Unregister = () => false;

/**
 * Shutdown awareness of one in-flight request. Built lazily (only when a handler asks for it), and
 * it joins the owner's watcher set only while it has something to notify, so that a finished
 * request leaves nothing behind.
 */
export class RequestScope {
  #owner: ScopeOwner;
  #controller: AbortController | undefined;
  #hooks: RequestShutdownHook[] | undefined;
  #finished = false;

  constructor(owner: ScopeOwner) {
    this.#owner = owner;
  }

  /** Aborts when shutdown begins while this request is in flight. */
  get shutdownSignal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      const reason = this.#owner.shutdownReason;
      if (reason !== undefined) this.#controller.abort(reason);
      else if (!this.#finished) this.#owner.watchers.add(this);
    }
    return this.#controller.signal;
  }

  /** Runs `fn` if shutdown begins before this response finishes; forgotten when it finishes. */
  onShutdown(fn: RequestShutdownHook): Unregister {
    if (typeof fn !== 'function') throw new InvalidArgumentError('fn', `onShutdown expects a function, got ${show(fn)}`);
    if (this.#finished) return noop;
    const reason = this.#owner.shutdownReason;
    if (reason !== undefined) {
      // Shutdown already began: the caller is still in flight, so tell it now rather than never.
      queueMicrotask(() => this.#call(fn, reason));
      return noop;
    }
    (this.#hooks ??= []).push(fn);
    this.#owner.watchers.add(this);
    return () => {
      const index = this.#hooks?.indexOf(fn) ?? -1;
      if (index < 0) return false;
      this.#hooks!.splice(index, 1);
      return true;
    };
  }

  /** @internal Shutdown began while the request was in flight. */
  fire(reason: string): void {
    this.#controller?.abort(reason);
    const hooks = this.#hooks;
    this.#hooks = undefined;
    if (hooks) for (let i = hooks.length - 1; i >= 0; i--) this.#call(hooks[i]!, reason);
  }

  /** @internal The response finished: drop everything. */
  finish(): void {
    this.#finished = true;
    this.#hooks = undefined;
    this.#owner.watchers.delete(this);
  }

  #call(fn: RequestShutdownHook, reason: string): void {
    try {
      const result = fn(reason);
      if (result !== null && typeof result === 'object' && typeof (result as PromiseLike<unknown>).then === 'function') {
        (result as PromiseLike<unknown>).then(undefined, (error: unknown) => this.#owner.reportScopeError(error));
      }
    } catch (error) {
      this.#owner.reportScopeError(error);
    }
  }
}
