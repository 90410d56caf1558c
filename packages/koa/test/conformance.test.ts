import { once } from 'node:events';
import type { Server } from 'node:http';
import { PassThrough } from 'node:stream';
import Koa from 'koa';
import Koa2 from 'koa2';
import { defineAdapterSuite } from '@lifespan/testsuite';
import type { CreateAdapterServer } from '@lifespan/testsuite';
import { shutdownHooks } from '@lifespan/koa';

function factory(Application: typeof Koa): CreateAdapterServer {
  return async ({ lifecycle, health, record, released }) => {
    const app = new Application();
    app.use(shutdownHooks({ lifecycle, health }));
    app.use(async (ctx) => {
      switch (ctx.path) {
        case '/':
          ctx.body = 'ok';
          return;
        case '/register':
          ctx.registerShutdown(() => record('hook'), { key: 'register', name: 'register' });
          ctx.request.onShutdown(() => record('scope'));
          ctx.body = 'registered';
          return;
        case '/slow':
          ctx.onShutdown(() => record('slow:scope'));
          await released();
          ctx.body = 'slow';
          return;
        case '/assign': {
          const before = typeof ctx.shutdownSignal;
          const targets = [ctx, ctx.request] as unknown as Record<'shutdownSignal' | 'lifecycle', unknown>[];
          for (const target of targets) {
            target.shutdownSignal = 'assigned';
            target.lifecycle = 'assigned';
          }
          ctx.body = `${before}:${targets.every((target) => target.shutdownSignal === 'assigned' && target.lifecycle === 'assigned') ? 'assigned' : 'kept'}`;
          return;
        }
        case '/sse': {
          const stream = new PassThrough();
          ctx.type = 'text/event-stream';
          ctx.body = stream;
          stream.write('data: open\n\n');
          ctx.shutdownSignal.addEventListener('abort', () => stream.end('data: bye\n\n'), { once: true });
          return;
        }
      }
    });
    const server: Server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    lifecycle.attach(server);
    return { server, close: () => new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))) };
  };
}

defineAdapterSuite('koa 3', factory(Koa));
defineAdapterSuite('koa 2', factory(Koa2));
