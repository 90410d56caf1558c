import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import Koa2 from 'koa2';
import request from 'supertest';
import { createLifecycle } from '@lifespan/core';
import type { Lifecycle } from '@lifespan/core';
import { shutdownHooks } from '@lifespan/koa';
import type { ShutdownHooksOptions } from '@lifespan/koa';
import { shutdownWithRequestInFlight } from '@lifespan/testsuite';

describe('shutdownHooks(options)', () => {
  it('returns a named middleware carrying its lifecycle', async () => {
    const hooks = shutdownHooks({ signals: false });
    expect(hooks.name).toBe('shutdownHooks');
    expect(hooks.lifecycle.state).toBe('created');
    await hooks.lifecycle.shutdown();
  });

  it('throws ERR_LIFESPAN_INVALID_ARG for bad options', () => {
    const lifecycle = createLifecycle({ signals: false });
    expect(() => shutdownHooks({ drainDelayMs: Number.NaN })).toThrow(expect.objectContaining({ code: 'ERR_LIFESPAN_INVALID_ARG' }));
    expect(() => shutdownHooks({ nope: 1 } as never)).toThrow(expect.objectContaining({ code: 'ERR_LIFESPAN_INVALID_ARG' }));
    expect(() => shutdownHooks({ lifecycle, signals: false })).toThrow(expect.objectContaining({ code: 'ERR_LIFESPAN_INVALID_ARG' }));
    expect(() => shutdownHooks({ lifecycle, health: { livePath: 42 as never } })).toThrow(expect.objectContaining({ code: 'ERR_LIFESPAN_INVALID_ARG' }));
  });

  it('puts the members on app.context and app.request, not on each ctx', async () => {
    const app = new Koa();
    const hooks = shutdownHooks({ signals: false });
    app.use(hooks);
    app.use((ctx) => {
      const members = ['registerShutdown', 'onShutdown', 'shutdownSignal', 'lifecycle'];
      ctx.body = {
        own: members.filter((key) => Object.hasOwn(ctx, key) || Object.hasOwn(ctx.request, key)),
        lifecycle: ctx.lifecycle === hooks.lifecycle && ctx.request.lifecycle === hooks.lifecycle,
        sameSignal: ctx.shutdownSignal === ctx.request.shutdownSignal,
      };
    });
    const reply = await request(app.callback()).get('/').expect(200);
    expect(reply.body).toEqual({ own: [], lifecycle: true, sameSignal: true });
    expect(Object.hasOwn(app.context, 'registerShutdown')).toBe(true);
    expect(Object.hasOwn(app.request, 'registerShutdown')).toBe(true);
    await hooks.lifecycle.shutdown();
  });

  it('attaches the server the first request arrived on when none was attached', async () => {
    const app = new Koa();
    const hooks = shutdownHooks({ signals: false });
    app.use(hooks);
    let inFlight = -1;
    app.use((ctx) => {
      inFlight = hooks.lifecycle.inFlight;
      ctx.body = 'ok';
    });
    await request(app.callback()).get('/').expect(200, 'ok');
    expect(inFlight).toBe(1);
    expect(hooks.lifecycle.inFlight).toBe(0);
    await hooks.lifecycle.shutdown();
  });
});

describe('shutdownHooks() after the first request', () => {
  const majors = [
    ['Koa 3', Koa],
    ['Koa 2', Koa2 as unknown as typeof Koa],
  ] as const;
  const cases = majors.flatMap(([name, Application]) => [true, false].map((attached) => [name, attached ? 'attached' : 'lazily attached', Application] as const));

  interface App {
    readonly url: string;
    readonly lifecycle: Lifecycle;
    readonly calls: string[];
    release(): void;
    close(): Promise<void>;
  }

  /** An app with `GET /` and `GET /slow` (held until release()). */
  async function serve(Application: typeof Koa, attach: boolean, options: ShutdownHooksOptions = { signals: false }): Promise<App> {
    const app = new Application();
    const hooks = shutdownHooks(options);
    const calls: string[] = [];
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    app.use(hooks);
    app.use(async (ctx) => {
      if (ctx.path === '/slow') {
        ctx.onShutdown(() => void calls.push('scope'));
        await released;
        ctx.body = 'slow';
        return;
      }
      ctx.registerShutdown(() => undefined, { key: 'pool' });
      ctx.body = { lifecycle: ctx.request.lifecycle === hooks.lifecycle, aborted: ctx.shutdownSignal.aborted };
    });
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    if (attach) hooks.lifecycle.attach(server);
    const { port } = server.address() as AddressInfo;
    return {
      url: `http://127.0.0.1:${port}`,
      lifecycle: hooks.lifecycle,
      calls,
      release,
      close: async () => {
        release();
        await hooks.lifecycle.shutdown();
        if (server.listening) await new Promise((resolve) => server.close(resolve));
      },
    };
  }

  it.each(cases)('%s, %s: a request in flight at shutdown gets Connection: close, its onShutdown, and is counted', async (_name, attachment, Application) => {
    const app = await serve(Application, attachment === 'attached');
    try {
      const { earlier } = await shutdownWithRequestInFlight(app, 3);
      expect(earlier.map((reply) => JSON.parse(reply.body) as unknown)).toEqual(earlier.map(() => ({ lifecycle: true, aborted: false })));
      expect([app.calls, app.lifecycle.hookCount]).toEqual([['scope'], 1]);
    } finally {
      await app.close();
    }
  });
});
