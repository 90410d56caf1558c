import type { Lifecycle, RegisterStartupOptions, StartupHook, Unregister } from '@lifespan/core';
import type { OnShutdown, RegisterShutdown } from '@lifespan/core/http';

declare module 'fastify' {
  interface FastifyInstance {
    /** The application's lifecycle. */
    readonly lifecycle: Lifecycle;
    /** Registers an application-scope shutdown hook, kept once per `key` (or per function). */
    registerShutdown: RegisterShutdown;
    /** Registers a startup hook, run in order when Fastify becomes ready. */
    registerStartup: (hook: StartupHook, options?: RegisterStartupOptions) => Unregister;
  }

  interface FastifyRequest {
    /** Registers an application-scope shutdown hook, kept once per `key` (or per function). */
    registerShutdown: RegisterShutdown;
    /** Runs `fn` if shutdown begins while this request is still in flight; forgotten when it finishes. */
    onShutdown: OnShutdown;
    /** Aborts when shutdown begins while this request is in flight (end SSE and long polls on it). */
    readonly shutdownSignal: AbortSignal;
  }
}
