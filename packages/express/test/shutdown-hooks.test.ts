import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import express4 from 'express4';
import request from 'supertest';
import { createLifecycle } from '@lifespan/core';
import type { Lifecycle } from '@lifespan/core';
import { shutdownHooks } from '@lifespan/express';
import type { ShutdownHooksOptions } from '@lifespan/express';
import { get, shutdownWithRequestInFlight } from '@lifespan/testsuite';

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

describe('shutdownHooks() after the first request', () => {
  const majors = [
    ['Express 5', express],
    ['Express 4', express4 as unknown as typeof express],
  ] as const;
  const mounts = ['the app', 'an express.Router()'] as const;
  const cases = majors.flatMap(([name, createApp]) => mounts.flatMap((mount) => [true, false].map((attached) => [name, mount, attached ? 'attached' : 'lazily attached', createApp] as const)));

  interface App {
    readonly url: string;
    readonly lifecycle: Lifecycle;
    readonly calls: string[];
    readonly router: { stack: unknown[] };
    release(): void;
    close(): Promise<void>;
  }

  /** An app with `GET <prefix>/` and `GET <prefix>/slow` (held until release()), the middleware mounted on the app or in a router at /api. */
  async function serve(createApp: typeof express, mount: (typeof mounts)[number], attach: boolean, options: ShutdownHooksOptions = { signals: false }): Promise<App> {
    const app = createApp();
    const hooks = shutdownHooks(options);
    const calls: string[] = [];
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const routes = mount === 'the app' ? app : createApp.Router();
    routes.use(hooks);
    routes.get('/', (req, res) => {
      req.registerShutdown(() => undefined, { key: 'pool' });
      res.json({ lifecycle: req.lifecycle === hooks.lifecycle, aborted: req.shutdownSignal.aborted });
    });
    routes.get('/slow', (req, res) => {
      req.onShutdown(() => void calls.push('scope'));
      void released.then(() => res.send('slow'));
    });
    if (routes !== app) app.use('/api', routes);
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    if (attach) hooks.lifecycle.attach(server);
    const { port } = server.address() as AddressInfo;
    const prefix = mount === 'the app' ? '' : '/api';
    const router = ((app as unknown as { _router?: App['router'] })._router ?? (app as unknown as { router: App['router'] }).router);
    return {
      url: `http://127.0.0.1:${port}${prefix}`,
      lifecycle: hooks.lifecycle,
      calls,
      router,
      release,
      close: async () => {
        release();
        await hooks.lifecycle.shutdown();
        if (server.listening) await new Promise((resolve) => server.close(resolve));
      },
    };
  }

  it.each(cases)('%s, mounted on %s, %s: a request in flight at shutdown gets Connection: close, its onShutdown, and is counted', async (_name, mount, attachment, createApp) => {
    const app = await serve(createApp, mount, attachment === 'attached');
    try {
      const { earlier } = await shutdownWithRequestInFlight(app, 3);
      expect(earlier.map((reply) => JSON.parse(reply.body) as unknown)).toEqual(earlier.map(() => ({ lifecycle: true, aborted: false })));
      expect([app.calls, app.lifecycle.hookCount]).toEqual([['scope'], 1]);
    } finally {
      await app.close();
    }
  });

  it.each(majors)('%s: mounted in an express.Router() on an attached server, does not read the app router for every request', async (_name, createApp) => {
    const app = await serve(createApp, 'an express.Router()', true);
    // Express reads its router's stack once per request to route it; count the reads beyond that.
    let reads = 0;
    let stack = app.router.stack;
    Object.defineProperty(app.router, 'stack', {
      configurable: true,
      get: () => (reads++, stack),
      set: (value: unknown[]) => void (stack = value),
    });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let i = 0; i < 50; i++) expect((await get(`${app.url}/`, agent)).status).toBe(200);
      expect(reads).toBeLessThan(50 + 10);
    } finally {
      agent.destroy();
      await app.close();
    }
  });
});

describe("shutdownHooks() and the app's router settings", () => {
  // Express builds the app's router, with 'strict routing' and 'case sensitive routing', at the
  // first app.use() or route: set them before app.use(hooks), as before any middleware.
  it.each([
    ['Express 5', express],
    ['Express 4', express4 as unknown as typeof express],
  ] as const)('%s: honours strict routing set before app.use(hooks)', async (_name, createApp) => {
    const app = createApp();
    app.set('strict routing', true);
    const hooks = shutdownHooks({ signals: false });
    app.use(hooks);
    app.get('/users', (_req, res) => void res.send('users'));
    await request(app).get('/users').expect(200, 'users');
    await request(app).get('/users/').expect(404);
    await hooks.lifecycle.shutdown();
  });
});
