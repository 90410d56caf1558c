import { once } from 'node:events';
import express from 'express';
import express4 from 'express4';
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

describe('shutdownHooks() on an attached server', () => {
  const majors = [
    ['Express 5', express, (app: express.Express) => (app as unknown as { router: { stack: { handle: unknown }[] } }).router.stack],
    ['Express 4', express4 as unknown as typeof express, (app: express.Express) => (app as unknown as { _router: { stack: { handle: unknown }[] } })._router.stack],
  ] as const;

  it.each(majors)('%s: leaves the router after the first request, and the members stay', async (_name, createApp, stackOf) => {
    const app = createApp();
    const hooks = shutdownHooks({ signals: false });
    app.use(hooks);
    app.get('/', (req, res) => {
      req.registerShutdown(() => undefined, { key: 'pool' });
      res.json({ lifecycle: req.lifecycle === hooks.lifecycle, aborted: req.shutdownSignal.aborted, inFlight: hooks.lifecycle.inFlight });
    });
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    hooks.lifecycle.attach(server);
    expect(stackOf(app).some((layer) => layer.handle === hooks)).toBe(true);
    const first = await request(server).get('/').expect(200);
    expect(stackOf(app).some((layer) => layer.handle === hooks)).toBe(false);
    const second = await request(server).get('/').expect(200);
    expect([first.body, second.body]).toEqual([
      { lifecycle: true, aborted: false, inFlight: 1 },
      { lifecycle: true, aborted: false, inFlight: 1 },
    ]);
    expect(hooks.lifecycle.hookCount).toBe(1);
    await hooks.lifecycle.shutdown();
  });

  it.each(majors)('%s: stays in the router while the server is only lazily attached, or answers probes', async (_name, createApp, stackOf) => {
    const lazyApp = createApp();
    const lazy = shutdownHooks({ signals: false });
    lazyApp.use(lazy);
    lazyApp.get('/', (_req, res) => void res.send('ok'));
    await request(lazyApp).get('/').expect(200, 'ok');
    expect(stackOf(lazyApp).some((layer) => layer.handle === lazy)).toBe(true);

    const probedApp = createApp();
    const probed = shutdownHooks({ signals: false, health: { readyPath: '/readyz' } });
    probedApp.use(probed);
    const server = probedApp.listen(0, '127.0.0.1');
    await once(server, 'listening');
    probed.lifecycle.attach(server);
    await request(server).get('/readyz').expect(200);
    expect(stackOf(probedApp).some((layer) => layer.handle === probed)).toBe(true);
    await Promise.all([lazy.lifecycle.shutdown(), probed.lifecycle.shutdown()]);
  });
});
