import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { adapterLifecycle, bridgeHost, createHealthProbe, requestMembers, reuseLifecycle } from '@lifespan/core/http';
import type { AdapterOptions } from '@lifespan/core/http';

/** Options of the `lifecycle` plugin: every lifecycle option, or `{ lifecycle }` to share one, plus probe routes. */
export type LifecyclePluginOptions = AdapterOptions;

// Keys Fastify itself may put on plugin options.
const pluginKeys = ['prefix', 'logLevel', 'logSerializers'];

// Async, so that a bad option rejects `register()` rather than escaping as an uncaught exception.
async function lifecyclePlugin(fastify: FastifyInstance, options: LifecyclePluginOptions): Promise<void> {
  // Registered again (in a child context, or twice): the app already has its lifecycle.
  if (fastify.hasDecorator('lifecycle') && reuseLifecycle(fastify.lifecycle, options, 'the lifecycle plugin', pluginKeys)) return;
  const lifecycle = adapterLifecycle(options, 'the lifecycle plugin', pluginKeys);
  const probe = createHealthProbe(lifecycle, options.health);
  const members = requestMembers(lifecycle, 'raw');

  fastify.decorate('lifecycle', lifecycle);
  fastify.decorate('registerShutdown', members.registerShutdown);
  fastify.decorate('registerStartup', lifecycle.registerStartup.bind(lifecycle));
  fastify.decorateRequest('registerShutdown', members.registerShutdown);
  fastify.decorateRequest('onShutdown', members.onShutdown);
  // A getter, as Fastify recommends for values built per request: nothing is allocated unless read.
  fastify.decorateRequest('shutdownSignal', { getter: members.shutdownSignal, setter: members.setShutdownSignal });

  if (probe !== undefined) {
    fastify.addHook('onRequest', function healthProbe(request: FastifyRequest, reply: FastifyReply, next: HookHandlerDoneFunction): void {
      const answer = probe(request.raw.method, request.raw.url);
      if (answer === undefined) return next();
      answer.then((probed) => void reply.code(probed.status).headers(probed.headers).send(probed.body), next);
    });
  }
  // No per-request hook: fastify.server is attached below, so core finds the requests in flight on
  // its connections when shutdown begins (bench/README.md has the cost of a hook).

  // One shutdown, whichever side starts it. A signal drains, then calls Fastify's close. The app's
  // fastify.close() drains before Fastify's close begins: once it has, Fastify answers 503 to
  // requests on open connections (return503OnClosing) and closes idle ones without a grace.
  // Lifespan's close hooks run from the plugin's onClose hook, so in one place whatever the trigger.
  const root = closeOwner(fastify);
  const close = root.close;
  // forceCloseConnections: true: the app asked Fastify's close to cut connections at once; a drain
  // fastify.close() starts then takes no idle grace either (requests in flight still finish).
  const closesIdleAtOnce = fastify.initialConfig.forceCloseConnections === true;
  const bridge = bridgeHost(lifecycle, () => (close as () => Promise<undefined>).call(root), 'fastify.close', { closesIdleAtOnce });
  root.close = bridge.wrapClose(close);
  fastify.addHook('onReady', function lifespanReady() {
    return bridge.ready();
  });
  fastify.addHook('preClose', function lifespanPreClose() {
    return bridge.closing();
  });
  fastify.addHook('onClose', function lifespanOnClose() {
    return bridge.closed();
  });
  // Attached once Fastify listens: a server the app listens on itself (serverFactory) stays the
  // app's, as Fastify leaves it, and an app only ever inject()ed has nothing to drain.
  fastify.addHook('onListen', function lifespanListen() {
    lifecycle.attach(fastify.server);
  });
}

/** The instance whose `close` every context inherits (the root: child contexts are made with Object.create). */
function closeOwner(fastify: FastifyInstance): FastifyInstance {
  let owner = fastify;
  while (!Object.prototype.hasOwnProperty.call(owner, 'close')) {
    const parent = Object.getPrototypeOf(owner) as FastifyInstance | null;
    if (parent === null) return fastify;
    owner = parent;
  }
  return owner;
}

/**
 * Fastify plugin: `fastify.lifecycle`, `fastify.registerShutdown`, `fastify.registerStartup`,
 * `request.registerShutdown`, `request.onShutdown`, `request.shutdownSignal`, and one shutdown
 * whether it starts from a signal, `lifecycle.shutdown()` or `fastify.close()`.
 * @example
 * await app.register(lifecycle, { drainDelayMs: 5000 });
 * app.registerShutdown(() => redis.quit(), { key: 'redis' });
 */
export const lifecycle = fp(lifecyclePlugin, { name: '@lifespan/fastify', fastify: '4.x || 5.x' });
