import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import Fastify4 from 'fastify4';
import request from 'supertest';
import { EventEmitter } from 'node:events';
import { createLifecycle } from '@lifespan/core';
import { createTestLifecycle } from '@lifespan/core/testing';
import lifecycleDefault, { lifecycle as lifecyclePlugin } from '@lifespan/fastify';

const majors: [string, () => FastifyInstance][] = [
  ['fastify 5', () => Fastify()],
  ['fastify 4', () => Fastify4() as unknown as FastifyInstance],
];

describe.each(majors)('lifecycle plugin on %s', (_name, createApp) => {
  const apps: FastifyInstance[] = [];
  afterEach(async () => {
    for (const app of apps.splice(0)) {
      await app.lifecycle.shutdown();
      await app.close();
    }
  });

  async function build(options: object = { signals: false }): Promise<{ app: FastifyInstance; calls: string[] }> {
    const app = createApp();
    apps.push(app);
    const calls: string[] = [];
    await app.register(lifecyclePlugin, options);
    app.addHook('onClose', async () => void calls.push('fastify:onClose'));
    app.registerShutdown(() => void calls.push('close hook'), { key: 'close' });
    app.get('/', async (req) => {
      req.registerShutdown(() => void calls.push('request hook'), { key: 'request' });
      return 'ok';
    });
    return { app, calls };
  }

  it('is the default export too, declared for Fastify 4 and 5', () => {
    expect(lifecycleDefault).toBe(lifecyclePlugin);
    const meta = (lifecyclePlugin as unknown as Record<symbol, { name: string; fastify: string }>)[Symbol.for('plugin-meta')];
    expect(meta).toMatchObject({ name: '@lifespan/fastify', fastify: '4.x || 5.x' });
  });

  it('throws ERR_LIFESPAN_INVALID_ARG for bad options', async () => {
    const app = createApp();
    await expect(app.register(lifecyclePlugin, { timeoutMs: 0 })).rejects.toMatchObject({ code: 'ERR_LIFESPAN_INVALID_ARG' });
    const other = createApp();
    const lifecycle = createLifecycle({ signals: false });
    await expect(other.register(lifecyclePlugin, { lifecycle, drainDelayMs: 5 })).rejects.toMatchObject({ code: 'ERR_LIFESPAN_INVALID_ARG' });
    await lifecycle.shutdown();
  });

  it('runs startup hooks in onReady, before ready() resolves', async () => {
    const { app } = await build();
    const states: string[] = [];
    app.registerStartup(() => void states.push(app.lifecycle.state));
    expect(app.lifecycle.state).toBe('created');
    await app.ready();
    expect(states).toEqual(['starting']);
    expect(app.lifecycle.state).toBe('ready');
  });

  it('fails ready() when a startup hook fails', async () => {
    const { app } = await build();
    app.registerStartup(() => Promise.reject(new Error('no database')), { name: 'db' });
    await expect(app.ready()).rejects.toMatchObject({ code: 'ERR_LIFESPAN_STARTUP_FAILED' });
  });

  it('calls fastify.close() once when lifecycle.shutdown() starts, after the drain', async () => {
    const { app, calls } = await build();
    await app.listen({ port: 0, host: '127.0.0.1' });
    await request(app.server).get('/').expect(200, 'ok');
    const report = await app.lifecycle.shutdown('test');
    expect(report.ok).toBe(true);
    expect(calls).toEqual(['fastify:onClose', 'request hook', 'close hook']);
    await app.close();
    expect(calls.filter((call) => call === 'fastify:onClose')).toHaveLength(1);
  });

  it('on a signal turns unready at once, waits drainDelayMs, then calls fastify.close() once', async () => {
    let exited!: (code?: number) => void;
    const exit = new Promise<number | undefined>((resolve) => (exited = resolve));
    const fake = Object.assign(new EventEmitter(), { env: {}, exit: (code?: number) => exited(code), emitWarning: () => undefined });
    // Long enough for the request below to be served within it on a busy machine.
    const lifecycle = createTestLifecycle({ drainDelayMs: 1000 }, fake);
    const { app, calls } = await build({ lifecycle });
    await app.listen({ port: 0, host: '127.0.0.1' });
    fake.emit('SIGTERM', 'SIGTERM');
    expect(app.lifecycle.health()).toMatchObject({ ready: false, state: 'draining' });
    await request(app.server).get('/').expect(200, 'ok');
    expect(calls).toEqual([]);
    expect(await exit).toBe(0);
    expect(calls).toEqual(['fastify:onClose', 'request hook', 'close hook']);
  });

  it('shuts the lifecycle down once from fastify.close(), hooks done before close() resolves', async () => {
    const { app, calls } = await build();
    await app.listen({ port: 0, host: '127.0.0.1' });
    await request(app.server).get('/').expect(200, 'ok');
    await app.close();
    expect(app.lifecycle.state).toBe('closed');
    expect(calls.sort()).toEqual(['close hook', 'fastify:onClose', 'request hook']);
    expect((await app.lifecycle.shutdown()).reason).toBe('fastify.close');
  });

  it('closes every app that shares one lifecycle, whichever starts the shutdown', async () => {
    const lifecycle = createLifecycle({ signals: false });
    const closed: string[] = [];
    const [app0, app1] = [createApp(), createApp()];
    for (const [name, app] of [['app0', app0], ['app1', app1]] as const) {
      await app.register(lifecyclePlugin, { lifecycle });
      app.addHook('onClose', async () => void closed.push(name));
      await app.listen({ port: 0, host: '127.0.0.1' });
    }
    lifecycle.registerShutdown(() => void closed.push('close hook'));
    await app0.close();
    expect(closed.sort()).toEqual(['app0', 'app1', 'close hook']);
    expect(app1.server.listening).toBe(false);

    const other = createLifecycle({ signals: false });
    const otherClosed: string[] = [];
    for (const app of [createApp(), createApp()]) {
      await app.register(lifecyclePlugin, { lifecycle: other });
      app.addHook('onClose', async () => void otherClosed.push('app'));
      await app.ready();
    }
    expect((await other.shutdown()).ok).toBe(true);
    expect(otherClosed).toEqual(['app', 'app']);
  });

  it('answers probe routes from the lifecycle', async () => {
    const { app } = await build({ signals: false, health: { readyPath: '/readyz' } });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const ready = await request(app.server).get('/readyz').expect(200);
    expect(ready.body).toEqual({ live: true, ready: true, state: 'ready' });
    await request(app.server).get('/').expect(200, 'ok');
  });

  it('types and decorates request members without closures per request', async () => {
    const { app } = await build();
    app.get('/members', async (req) => ({
      signal: req.shutdownSignal.aborted,
      onShutdown: typeof req.onShutdown,
      same: req.registerShutdown === app.registerShutdown,
    }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    const reply = await request(app.server).get('/members').expect(200);
    expect(reply.body).toEqual({ signal: false, onShutdown: 'function', same: true });
  });
});

// Fastify 5's light-my-request loads an ESM-only dependency that jest cannot require on Node 20,
// so inject() is exercised on Fastify 4 here (same plugin code path on both majors).
describe('lifecycle plugin with fastify.inject()', () => {
  it('serves injected requests and closes without waiting for their stand-in sockets', async () => {
    const app = Fastify4() as unknown as FastifyInstance;
    await app.register(lifecyclePlugin, { signals: false });
    const closed: string[] = [];
    app.registerShutdown(() => void closed.push('close hook'));
    app.get('/', async (req) => {
      req.onShutdown(() => void closed.push('request scope'));
      return { inFlight: app.lifecycle.inFlight };
    });
    const reply = await app.inject('/');
    // In-memory requests have no connection: before shutdown they are not counted (nothing to drain).
    expect(reply.json()).toEqual({ inFlight: 0 });
    expect(app.lifecycle.inFlight).toBe(0);
    await app.close();
    expect(app.lifecycle.state).toBe('closed');
    expect(closed).toEqual(['close hook']);
  });
});
