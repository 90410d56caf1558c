import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { adapterLifecycle, bridgeHost, createHealthProbe, requestMembers } from '@lifespan/core/http';
import type { AdapterOptions } from '@lifespan/core/http';

/** Options of the `lifecycle` plugin: every lifecycle option, or `{ lifecycle }` to share one, plus probe routes. */
export type LifecyclePluginOptions = AdapterOptions;

// Keys Fastify itself may put on plugin options.
const pluginKeys = ['prefix', 'logLevel', 'logSerializers'];

// Async, so that a bad option rejects `register()` rather than escaping as an uncaught exception.
async function lifecyclePlugin(fastify: FastifyInstance, options: LifecyclePluginOptions): Promise<void> {
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
  // its connections when shutdown begins. An onRequest hook would cost every request ~6% CPU.

  // Either side may start the shutdown; the bridge makes it one shutdown with each hook run once:
  // a signal drains, then calls fastify.close(); fastify.close() drains inside preClose.
  const bridge = bridgeHost(lifecycle, () => fastify.close(), 'fastify.close');
  fastify.addHook('onReady', () => lifecycle.start());
  fastify.addHook('preClose', () => bridge.closing());
  fastify.addHook('onClose', () => bridge.closed());
  lifecycle.attach(fastify.server);
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
