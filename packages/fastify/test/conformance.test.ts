import { PassThrough } from 'node:stream';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import Fastify4 from 'fastify4';
import { defineAdapterSuite } from '@lifespan/testsuite';
import type { CreateAdapterServer } from '@lifespan/testsuite';
import { lifecycle as lifecyclePlugin } from '@lifespan/fastify';

function factory(createApp: () => FastifyInstance): CreateAdapterServer {
  return async ({ lifecycle, health, record, released }) => {
    const app = createApp();
    await app.register(lifecyclePlugin, { lifecycle, health });
    app.get('/', async () => 'ok');
    app.get('/register', async (request) => {
      request.registerShutdown(() => record('hook'), { key: 'register', name: 'register' });
      request.onShutdown(() => record('scope'));
      return 'registered';
    });
    app.get('/slow', async (request) => {
      request.onShutdown(() => record('slow:scope'));
      await released();
      return 'slow';
    });
    app.get('/sse', (request, reply) => {
      const stream = new PassThrough();
      stream.write('data: open\n\n');
      request.shutdownSignal.addEventListener('abort', () => stream.end('data: bye\n\n'), { once: true });
      return reply.type('text/event-stream').send(stream);
    });
    app.get('/assign', async (request) => {
      const before = typeof request.shutdownSignal;
      const members = request as unknown as Record<'shutdownSignal', unknown>;
      members.shutdownSignal = 'assigned';
      return `${before}:${members.shutdownSignal === 'assigned' ? 'assigned' : 'kept'}`;
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    return { server: app.server, close: () => app.close() };
  };
}

defineAdapterSuite('fastify 5', factory(() => Fastify()));
// Fastify 4 ships its own (older) types; the app is driven through the Fastify 5 types the plugin is written against.
defineAdapterSuite('fastify 4', factory(() => Fastify4() as unknown as FastifyInstance));
