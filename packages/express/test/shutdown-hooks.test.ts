import express from 'express';
import request from 'supertest';
import { createLifecycle } from '@lifespan/core';
import { shutdownHooks } from '@lifespan/express';

describe('shutdownHooks(options)', () => {
  it('returns a named middleware carrying its lifecycle', async () => {
    const hooks = shutdownHooks({ signals: false });
    expect(hooks.name).toBe('shutdownHooks');
    expect(hooks.lifecycle.state).toBe('created');
    await hooks.lifecycle.shutdown();
  });

  it('shares the lifecycle passed as { lifecycle }', async () => {
    const lifecycle = createLifecycle({ signals: false });
    expect(shutdownHooks({ lifecycle }).lifecycle).toBe(lifecycle);
    await lifecycle.shutdown();
  });

  it('throws ERR_LIFESPAN_INVALID_ARG for bad options', () => {
    const lifecycle = createLifecycle({ signals: false });
    expect(() => shutdownHooks({ timeoutMs: -1 })).toThrow(expect.objectContaining({ code: 'ERR_LIFESPAN_INVALID_ARG' }));
    expect(() => shutdownHooks({ nope: 1 } as never)).toThrow(expect.objectContaining({ code: 'ERR_LIFESPAN_INVALID_ARG' }));
    expect(() => shutdownHooks({ lifecycle, timeoutMs: 10 })).toThrow(expect.objectContaining({ code: 'ERR_LIFESPAN_INVALID_ARG' }));
    expect(() => shutdownHooks({ signals: false, health: { readyPath: 'readyz' } })).toThrow(expect.objectContaining({ code: 'ERR_LIFESPAN_INVALID_ARG' }));
  });

  it("puts the members on the app's request prototype, not on each request", async () => {
    const app = express();
    const hooks = shutdownHooks({ signals: false });
    app.use(hooks);
    const own: string[] = [];
    app.get('/', (req, res) => {
      own.push(...['registerShutdown', 'onShutdown', 'shutdownSignal', 'lifecycle'].filter((key) => Object.hasOwn(req, key)));
      res.json({ lifecycle: req.lifecycle === hooks.lifecycle, proto: Object.getPrototypeOf(req) === app.request, signal: req.shutdownSignal.aborted });
    });
    const reply = await request(app).get('/').expect(200);
    expect(reply.body).toEqual({ lifecycle: true, proto: true, signal: false });
    expect(own).toEqual([]);
    expect(Object.hasOwn(app.request, 'registerShutdown')).toBe(true);
    await hooks.lifecycle.shutdown();
  });

  it('attaches the server the first request arrived on when none was attached', async () => {
    const app = express();
    const hooks = shutdownHooks({ signals: false });
    app.use(hooks);
    let inFlight = -1;
    app.get('/', (_req, res) => {
      inFlight = hooks.lifecycle.inFlight;
      res.send('ok');
    });
    await request(app).get('/').expect(200, 'ok');
    expect(inFlight).toBe(1);
    expect(hooks.lifecycle.inFlight).toBe(0);
    await hooks.lifecycle.shutdown();
  });
});
