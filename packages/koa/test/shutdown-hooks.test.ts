import { once } from 'node:events';
import type { Server } from 'node:http';
import Koa from 'koa';
import request from 'supertest';
import { createLifecycle } from '@lifespan/core';
import { shutdownHooks } from '@lifespan/koa';

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

describe('shutdownHooks() on an attached server', () => {
  const serve = async (app: Koa): Promise<Server> => {
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return server;
  };

  it('only passes requests on after the first one, and the members stay', async () => {
    const app = new Koa();
    const hooks = shutdownHooks({ signals: false });
    const track = jest.spyOn(hooks.lifecycle, 'trackRequest');
    app.use(hooks);
    app.use((ctx) => {
      ctx.registerShutdown(() => undefined, { key: 'pool' });
      ctx.body = { lifecycle: ctx.request.lifecycle === hooks.lifecycle, aborted: ctx.shutdownSignal.aborted, inFlight: hooks.lifecycle.inFlight };
    });
    const server = await serve(app);
    hooks.lifecycle.attach(server);
    try {
      const replies: unknown[] = [];
      for (let i = 0; i < 3; i++) replies.push((await request(server).get('/').expect(200)).body);
      expect(replies).toEqual(Array.from({ length: 3 }, () => ({ lifecycle: true, aborted: false, inFlight: 1 })));
      expect(track).toHaveBeenCalledTimes(1);
      expect(hooks.lifecycle.hookCount).toBe(1);
    } finally {
      await hooks.lifecycle.shutdown();
    }
  });

  it('keeps working on every request while the server is only lazily attached, or answers probes', async () => {
    const lazyApp = new Koa();
    const lazy = shutdownHooks({ signals: false });
    const lazyTrack = jest.spyOn(lazy.lifecycle, 'trackRequest');
    lazyApp.use(lazy);
    lazyApp.use((ctx) => void (ctx.body = 'ok'));
    const probedApp = new Koa();
    const probed = shutdownHooks({ signals: false, health: { readyPath: '/readyz' } });
    const probedTrack = jest.spyOn(probed.lifecycle, 'trackRequest');
    probedApp.use(probed);
    probedApp.use((ctx) => void (ctx.body = 'ok'));
    try {
      const lazyServer = await serve(lazyApp);
      for (let i = 0; i < 2; i++) await request(lazyServer).get('/').expect(200, 'ok');
      expect(lazyTrack).toHaveBeenCalledTimes(2);

      const probedServer = await serve(probedApp);
      probed.lifecycle.attach(probedServer);
      await request(probedServer).get('/').expect(200, 'ok');
      await request(probedServer).get('/readyz').expect(200);
      expect(probedTrack).toHaveBeenCalledTimes(2);
    } finally {
      await Promise.all([lazy.lifecycle.shutdown(), probed.lifecycle.shutdown()]);
    }
  });
});
