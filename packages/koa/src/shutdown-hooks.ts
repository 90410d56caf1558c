import type { Middleware, Next, ParameterizedContext } from 'koa';
import type { Lifecycle } from '@lifespan/core';
import { adapterLifecycle, createHealthProbe, defineRequestMembers, middlewareDone, trackRequest } from '@lifespan/core/http';
import type { AdapterOptions } from '@lifespan/core/http';

// Set on app.context (every ctx's prototype) once the middleware has nothing left to do for that app.
const kSettled = Symbol('@lifespan/koa.settled');
interface Settled {
  [kSettled]?: Lifecycle;
}

/** Options of `shutdownHooks()`: every lifecycle option, or `{ lifecycle }` to share one, plus probe routes. */
export type ShutdownHooksOptions = AdapterOptions;

/** The middleware returned by `shutdownHooks()`, carrying the lifecycle it feeds. */
export interface ShutdownHooksMiddleware extends Middleware {
  /** The application's lifecycle: attach servers, register hooks, shut down. */
  readonly lifecycle: Lifecycle;
}

/**
 * Koa middleware that gives `ctx` and `ctx.request` `registerShutdown`, `onShutdown`,
 * `shutdownSignal` and `lifecycle`, and lets the lifecycle drain the server requests arrive on.
 * Creating it engages the app with the process (signals, a cluster disconnect, PM2).
 * @example
 * app.use(shutdownHooks({ drainDelayMs: 5000 }));
 * app.listen(3000);
 */
export function shutdownHooks(options?: ShutdownHooksOptions): ShutdownHooksMiddleware {
  const lifecycle = adapterLifecycle(options, 'shutdownHooks()');
  const probe = createHealthProbe(lifecycle, options?.health);
  const middleware = function shutdownHooks(ctx: ParameterizedContext, next: Next): Promise<unknown> {
    // Koa composes its middleware into a copy of the list, so unlike Express's router this layer
    // cannot leave; once it has nothing left to do for this app, it costs one property read.
    if ((ctx as Settled)[kSettled] === lifecycle) return next();
    // The app is only known once a request arrives; its prototypes get the members once, and
    // both ctx and ctx.request find the node request under `req`.
    defineRequestMembers(ctx.app.context, lifecycle, 'req');
    defineRequestMembers(ctx.app.request, lifecycle, 'req');
    // Before the probe: the first request is often a probe (a load balancer waits for readiness
    // before it sends traffic), and it must attach the server, or readiness never comes. Probe
    // paths are never tracked as in-flight work.
    trackRequest(lifecycle, ctx.req, ctx.res);
    if (middlewareDone(lifecycle, ctx.req, probe)) Object.defineProperty(ctx.app.context, kSettled, { configurable: true, value: lifecycle });
    const answer = probe?.(ctx.method, ctx.url);
    if (answer !== undefined) {
      return answer.then((probed) => {
        ctx.status = probed.status;
        ctx.set(probed.headers);
        ctx.body = probed.body;
      });
    }
    return next();
  };
  return Object.assign(middleware, { lifecycle });
}
