import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { EventEmitter } from 'node:events';
import Fastify from 'fastify';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import Fastify4 from 'fastify4';
import { createLifecycle } from '@lifespan/core';
import { createTestLifecycle } from '@lifespan/core/testing';
import { get } from '@lifespan/testsuite';
import { lifecycle as lifecyclePlugin } from '@lifespan/fastify';

const majors: [string, (options?: FastifyServerOptions) => FastifyInstance][] = [
  ['fastify 5', (options) => Fastify(options)],
  ['fastify 4', (options) => Fastify4(options as never) as unknown as FastifyInstance],
];

const urlOf = (app: FastifyInstance): string => `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

describe.each(majors)('the lifecycle plugin inside %s', (_name, createApp) => {
  const cleanup: (() => unknown)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  async function build(options: object = { signals: false }): Promise<FastifyInstance> {
    const app = createApp();
    cleanup.push(() => app.close());
    await app.register(lifecyclePlugin, options);
    return app;
  }

  it('lets fastify.close() interrupt a boot: ready() and close() both succeed', async () => {
    const app = await build();
    const ready = app.ready();
    const closed = app.close();
    await expect(ready).resolves.toBeDefined();
    await expect(closed).resolves.toBeUndefined();
    expect(app.lifecycle.state).toBe('closed');
  });

  it('lets an aborted listen({ signal }) close the app before it listens', async () => {
    const app = await build();
    const onClose = new Promise<void>((resolve) => app.addHook('onClose', (_instance, done) => (resolve(), done())));
    const controller = new AbortController();
    // Fastify 4 never settles this promise itself (with or without the plugin); Fastify 5 resolves it.
    void app.listen({ port: 0, host: '127.0.0.1', signal: controller.signal }).catch(() => undefined);
    controller.abort();
    await onClose;
    await app.lifecycle.shutdown();
    expect(app.lifecycle.state).toBe('closed');
  });

  it('serves requests that arrive on open connections during a drain started by fastify.close(), with Connection: close', async () => {
    const app = await build();
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let started!: () => void;
    const slowStarted = new Promise<void>((resolve) => (started = resolve));
    app.get('/', async () => 'ok');
    app.get('/slow', async () => {
      started();
      await released;
      return 'slow';
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const url = urlOf(app);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
    cleanup.push(() => agent.destroy());
    // Two warm keep-alive connections: one carries the slow request, the other the next one.
    await Promise.all([get(`${url}/`, agent), get(`${url}/`, agent)]);
    const slow = get(`${url}/slow`, agent);
    await slowStarted;
    const closed = app.close();
    const during = await get(`${url}/`, agent);
    expect(during.status).toBe(200);
    expect(during.headers.connection).toBe('close');
    release();
    expect((await slow).status).toBe(200);
    await closed;
    expect(app.lifecycle.state).toBe('closed');
  });

  it('closes every app sharing one lifecycle, each onClose once', async () => {
    const lifecycle = createLifecycle({ signals: false });
    const calls: string[] = [];
    const apps = [await build({ lifecycle }), await build({ lifecycle })];
    apps.forEach((app, index) => app.addHook('onClose', async () => void calls.push(`app${index}:onClose`)));
    for (const app of apps) await app.listen({ port: 0, host: '127.0.0.1' });
    const report = await lifecycle.shutdown();
    expect(report.ok).toBe(true);
    expect(calls.sort()).toEqual(['app0:onClose', 'app1:onClose']);
    for (const app of apps) expect(app.server.listening).toBe(false);
  });

  it.each(['SIGTERM', 'lifecycle.shutdown()', 'fastify.close()'])('runs Lifespan close hooks from the plugin\'s onClose hook, in Fastify\'s onClose order, when %s starts the shutdown', async (trigger) => {
    let exited!: () => void;
    const exit = new Promise<void>((resolve) => (exited = resolve));
    const fake = Object.assign(new EventEmitter(), { env: {}, exit: () => exited(), emitWarning: () => undefined });
    const lifecycle = createTestLifecycle({}, fake);
    const calls: string[] = [];
    const app = createApp();
    cleanup.push(() => app.close());
    // Registered before the plugin: Fastify runs it after the plugin's own onClose hook.
    app.addHook('onClose', async () => void calls.push('fastify:onClose before plugin'));
    await app.register(lifecyclePlugin, { lifecycle });
    app.registerShutdown(() => void calls.push('lifespan:close'), { key: 'close' });
    app.registerShutdown(() => void calls.push('lifespan:drain'), { key: 'drain', phase: 'drain' });
    app.addHook('preClose', async () => void calls.push('fastify:preClose'));
    app.addHook('onClose', async () => void calls.push('fastify:onClose'));
    app.get('/', async () => 'ok');
    await app.listen({ port: 0, host: '127.0.0.1' });
    const agent = new http.Agent({ keepAlive: true });
    cleanup.push(() => agent.destroy());
    await get(`${urlOf(app)}/`, agent);
    if (trigger === 'SIGTERM') {
      fake.emit('SIGTERM', 'SIGTERM');
      await exit;
    } else if (trigger === 'lifecycle.shutdown()') await lifecycle.shutdown();
    else await app.close();
    expect(calls).toEqual(['lifespan:drain', 'fastify:preClose', 'fastify:onClose', 'lifespan:close', 'fastify:onClose before plugin']);
  });

  it('reuses the lifecycle when registered again in a child context, and refuses other options with a coded error', async () => {
    const app = await build();
    let child: FastifyInstance | undefined;
    await app.register(async (instance) => {
      await instance.register(lifecyclePlugin);
      await instance.register(lifecyclePlugin, { lifecycle: app.lifecycle });
      child = instance;
    });
    expect(child?.lifecycle).toBe(app.lifecycle);
    await expect(app.register(lifecyclePlugin, { drainDelayMs: 10 })).rejects.toMatchObject({ code: 'ERR_LIFESPAN_INVALID_ARG' });
  });

  it('leaves a serverFactory server the app listens on itself to the app, as Fastify does', async () => {
    const server = http.createServer();
    cleanup.push(() => new Promise((resolve) => server.close(resolve)));
    const app = createApp({ serverFactory: (handler) => server.on('request', handler) });
    await app.register(lifecyclePlugin, { signals: false });
    app.get('/', async () => 'ok');
    await app.ready();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    expect((await get(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`)).status).toBe(200);
    await app.close();
    expect(server.listening).toBe(true);
  });

  it("keeps the closeIdleConnections() calls of fastify.close() on a native server as they are without the plugin", async () => {
    // Node's close() makes one; Fastify 4 one more of its own.
    const callsOf = async (app: FastifyInstance): Promise<number> => {
      await app.listen({ port: 0, host: '127.0.0.1' });
      await get(urlOf(app));
      let calls = 0;
      const server = app.server as http.Server;
      server.closeIdleConnections = () => void calls++;
      await app.close();
      expect(server.listening).toBe(false);
      return calls;
    };
    const without = await callsOf(createApp());
    expect(without).toBeGreaterThanOrEqual(1);
    expect(await callsOf(await build())).toBe(without);
  });

  it('serves an HTTP/2 request sent just before fastify.close(), not REFUSED_STREAM', async () => {
    const app = createApp({ http2: true } as FastifyServerOptions);
    cleanup.push(() => app.close());
    await app.register(lifecyclePlugin, { signals: false });
    app.get('/', async () => 'ok');
    await app.listen({ port: 0, host: '127.0.0.1' });
    const url = urlOf(app);
    let closed: Promise<unknown> | undefined;
    const status = await new Promise<number | string>((resolve) => {
      const session = http2.connect(url, () => {
        session
          .request({ ':path': '/' })
          .on('response', (headers) => resolve(Number(headers[':status'])))
          .on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message))
          .on('close', () => session.destroy())
          .resume();
        closed = app.close();
      });
    });
    expect(status).toBe(200);
    await closed;
  });

  it('sends GOAWAY at once with forceCloseConnections: true, as Fastify does: a stream opened after fastify.close() is refused', async () => {
    const app = createApp({ http2: true, forceCloseConnections: true } as FastifyServerOptions);
    cleanup.push(() => app.close());
    await app.register(lifecyclePlugin, { signals: false });
    app.get('/', async () => 'ok');
    await app.listen({ port: 0, host: '127.0.0.1' });
    const session = http2.connect(urlOf(app));
    cleanup.push(() => session.destroy());
    await new Promise<void>((resolve) => session.once('remoteSettings', () => resolve()));
    const closed = app.close();
    const status = await new Promise<number | string>((resolve) => {
      session
        .request({ ':path': '/' })
        .on('response', (headers) => resolve(Number(headers[':status'])))
        .on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message))
        .resume();
    });
    expect(status).toBe('ERR_HTTP2_STREAM_ERROR');
    await closed;
  });
});
