import type { Lifecycle } from '@lifespan/core';
import type { OnShutdown, RegisterShutdown } from '@lifespan/core/http';

declare module 'koa' {
  interface BaseContext {
    /** Registers an application-scope shutdown hook, kept once per `key` (or per function). */
    registerShutdown: RegisterShutdown;
    /** Runs `fn` if shutdown begins while this request is still in flight; forgotten when it finishes. */
    onShutdown: OnShutdown;
    /** Aborts when shutdown begins while this request is in flight (end SSE and long polls on it). */
    readonly shutdownSignal: AbortSignal;
    /** The application's lifecycle. */
    readonly lifecycle: Lifecycle;
  }

  interface BaseRequest {
    /** Registers an application-scope shutdown hook, kept once per `key` (or per function). */
    registerShutdown: RegisterShutdown;
    /** Runs `fn` if shutdown begins while this request is still in flight; forgotten when it finishes. */
    onShutdown: OnShutdown;
    /** Aborts when shutdown begins while this request is in flight (end SSE and long polls on it). */
    readonly shutdownSignal: AbortSignal;
    /** The application's lifecycle. */
    readonly lifecycle: Lifecycle;
  }
}
