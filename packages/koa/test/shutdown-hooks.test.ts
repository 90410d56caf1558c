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
