import type { Application, NextFunction, Request, RequestHandler, Response } from 'express';
import type { Lifecycle } from '@lifespan/core';
import { adapterLifecycle, createHealthProbe, defineRequestMembers, middlewareDone, trackRequest } from '@lifespan/core/http';
import type { AdapterOptions } from '@lifespan/core/http';

// Set on the app's request object (every req's prototype) once the middleware has nothing left to
// do for that app; where its layer cannot leave (mounted in a sub-router) a request pays this read.
const kSettled = Symbol('@lifespan/express.settled');
interface Settled {
  [kSettled]?: Lifecycle;
}

/** Options of `shutdownHooks()`: every lifecycle option, or `{ lifecycle }` to share one, plus probe routes. */
export type ShutdownHooksOptions = AdapterOptions;

/** The middleware returned by `shutdownHooks()`, carrying the lifecycle it feeds. */
export interface ShutdownHooksMiddleware extends RequestHandler {
  /** The application's lifecycle: attach servers, register hooks, shut down. */
  readonly lifecycle: Lifecycle;
}

/**
 * Express middleware that gives every request `registerShutdown`, `onShutdown`, `shutdownSignal`
 * and `lifecycle`, and lets the lifecycle drain the server the requests arrive on.
 * Creating it engages the app with the process (signals, a cluster disconnect, PM2).
 * @example
 * app.use(shutdownHooks({ drainDelayMs: 5000 }));
 * app.listen(3000);
 */
export function shutdownHooks(options?: ShutdownHooksOptions): ShutdownHooksMiddleware {
  const lifecycle = adapterLifecycle(options, 'shutdownHooks()');
  const probe = createHealthProbe(lifecycle, options?.health);
  const middleware = function shutdownHooks(req: Request, res: Response, next: NextFunction): void {
    if ((req as Settled)[kSettled] === lifecycle) return next();
    // Express sets each request's prototype to the app's request object: the members live there,
    // defined by the first request (a later one only pays for the own-property check).
    const appRequest = Object.getPrototypeOf(req) as object;
    defineRequestMembers(appRequest, lifecycle);
    // Before the probe: the first request is often a probe (a load balancer waits for readiness
    // before it sends traffic), and it must attach the server, or readiness never comes. Probe
    // paths are never tracked as in-flight work.
    trackRequest(lifecycle, req, res);
    if (middlewareDone(lifecycle, req, probe)) {
      Object.defineProperty(appRequest, kSettled, { configurable: true, value: lifecycle });
      // Express charges every request for each layer it walks: a layer with no work left leaves,
      // tried once per app.
      leaveRouter(req.app, middleware);
    }
    const answer = probe?.(req.method, req.url);
    if (answer !== undefined) {
      answer.then((probed) => void res.writeHead(probed.status, probed.headers).end(probed.body), next);
      return;
    }
    next();
  };
  return Object.assign(middleware, { lifecycle });
}

interface Router {
  stack: { handle?: unknown }[];
}

/**
 * Takes `handle`'s layer out of the app's router (`app.router` in Express 5, `app._router` in 4).
 * A new array, not a splice: requests being routed keep walking the array they started with.
 * Mounted in a sub-router, the layer is not found there and stays, settled.
 */
function leaveRouter(app: Application, handle: unknown): void {
  const router = ((app as { _router?: Router })._router ?? (app as { router?: Router }).router) as Router | undefined;
  if (router === undefined || !Array.isArray(router.stack)) return;
  const stack = router.stack.filter((layer) => layer.handle !== handle);
  if (stack.length !== router.stack.length) router.stack = stack;
}
