import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import Koa from 'koa';
import { createLifecycle } from '@lifespan/core';

async function listen(server: http.Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

function get(port: number, path: string, agent: http.Agent): Promise<{ status: number; connection: string | undefined }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
      })
      .on('error', reject);
  });
}

describe('lifecycle.attach(server)', () => {
  it('returns the lifecycle, and a second attach of the same server is a no-op', () => {
    const lifecycle = createLifecycle({ signals: false });
    const server = http.createServer();
    expect(lifecycle.attach(server)).toBe(lifecycle);
    const listeners = server.listenerCount('connection');
    expect(lifecycle.attach(server)).toBe(lifecycle);
    expect(server.listenerCount('connection')).toBe(listeners);
    void lifecycle.shutdown();
  });

  it('drains every attached server: in-flight requests on each finish with Connection: close', async () => {
    const lifecycle = createLifecycle({ signals: false });
    const handler: http.RequestListener = (req, res) => void setTimeout(() => res.end('ok'), req.url === '/slow' ? 100 : 0);
    const api = http.createServer(handler);
    const admin = http.createServer(handler);
    lifecycle.attach(api).attach(admin);
    const [apiPort, adminPort] = [await listen(api), await listen(admin)];
    const agent = new http.Agent({ keepAlive: true });
    try {
      const inFlight = [get(apiPort, '/slow', agent), get(adminPort, '/slow', agent)];
      while (lifecycle.inFlight < 2) await new Promise((resolve) => setTimeout(resolve, 5));
      const report = lifecycle.shutdown('test');
      expect(await Promise.all(inFlight)).toEqual([
        { status: 200, connection: 'close' },
        { status: 200, connection: 'close' },
      ]);
      const result = await report;
      expect(result.http).toMatchObject({ inFlightAtStart: 2, abortedRequests: 0 });
      expect([api.listening, admin.listening]).toEqual([false, false]);
    } finally {
      agent.destroy();
    }
  });

  it('drains connections the server accepted before it was attached', async () => {
    const lifecycle = createLifecycle({ signals: false, exit: false });
    const server = http.createServer((_req, res) => res.end('ok'));
    const port = await listen(server);
    const agent = new http.Agent({ keepAlive: true });
    try {
      await get(port, '/', agent);
      const [socket] = Object.values(agent.freeSockets).flat();
      const closed = once(socket!, 'close');
      lifecycle.attach(server);
      expect(lifecycle.isAttached(server)).toBe(true);
      expect((await lifecycle.shutdown('test')).ok).toBe(true);
      await closed;
      expect(server.listening).toBe(false);
    } finally {
      agent.destroy();
    }
  });

  it('isAttached() is true only for servers passed to attach()', () => {
    const lifecycle = createLifecycle({ signals: false });
    const server = http.createServer();
    expect(lifecycle.isAttached(server)).toBe(false);
    lifecycle.attach(server);
    expect(lifecycle.isAttached(server)).toBe(true);
    expect(lifecycle.isAttached(http.createServer())).toBe(false);
    expect(lifecycle.isAttached(undefined)).toBe(false);
  });

  it('throws ERR_LIFESPAN_INVALID_ARG for something that is not a server', () => {
    const lifecycle = createLifecycle({ signals: false });
    expect(() => lifecycle.attach({} as http.Server)).toThrow(expect.objectContaining({ code: 'ERR_LIFESPAN_INVALID_ARG' }));
  });

  it.each([
    ['a Koa application', () => new Koa(), 'a Koa application: pass the server that app.listen() returns'],
    ['an Express application', () => express(), 'an Express application: pass the server that app.listen() returns'],
    ['a Fastify instance', () => Fastify(), 'the @lifespan/fastify plugin attaches fastify.server by itself'],
  ])('throws ERR_LIFESPAN_INVALID_ARG at the call for %s, saying what to pass', async (_kind, make, hint) => {
    const lifecycle = createLifecycle({ signals: false });
    const app = make();
    expect(() => lifecycle.attach(app as unknown as http.Server)).toThrow(expect.objectContaining({ code: 'ERR_LIFESPAN_INVALID_ARG', argument: 'server', message: expect.stringContaining(hint) as string }));
    expect(lifecycle.state).toBe('created');
    if ('close' in app && typeof app.close === 'function') await (app as { close(): Promise<unknown> }).close();
  });
});

describe('lifecycle.shutdown() with idle connections', () => {
  async function idleShutdown(used: boolean): Promise<number> {
    const lifecycle = createLifecycle({ signals: false, idleGraceMs: 300 });
    const server = http.createServer((_req, res) => res.end('ok'));
    lifecycle.attach(server);
    const port = await listen(server);
    const agent = new http.Agent({ keepAlive: true });
    const { connect } = await import('node:net');
    const raw = connect(port, '127.0.0.1');
    try {
      await once(raw, 'connect');
      if (used) await get(port, '/', agent);
      else await new Promise((resolve) => setTimeout(resolve, 350));
      const report = await lifecycle.shutdown('test');
      return report.durationMs;
    } finally {
      agent.destroy();
      raw.destroy();
    }
  }

  it('closes a connection opened before the grace and never used without waiting for the grace', async () => {
    expect(await idleShutdown(false)).toBeLessThan(250);
  });

  it('gives a connection that just served a request the whole grace to send another', async () => {
    expect(await idleShutdown(true)).toBeGreaterThanOrEqual(290);
  });
});

describe('lifecycle.shutdown(): the listener', () => {
  /** Sends one request on `socket` and resolves with the raw response once the server ends it. */
  function rawRequest(socket: Socket): Promise<string> {
    return new Promise((resolve) => {
      let received = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (received += chunk));
      socket.once('close', () => resolve(received));
      socket.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n');
    });
  }

  it('closes only the listener: an idle keep-alive connection and one that has sent nothing yet can each still send a request', async () => {
    const net = await import('node:net');
    const lifecycle = createLifecycle({ signals: false, exit: false, idleGraceMs: 2_000 });
    const server = http.createServer((_req, res) => res.end('ok'));
    lifecycle.attach(server);
    const port = await listen(server);
    const used = net.connect(port, '127.0.0.1');
    const fresh = net.connect(port, '127.0.0.1');
    try {
      await Promise.all([once(used, 'connect'), once(fresh, 'connect')]);
      used.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n');
      await once(used, 'data');
      used.removeAllListeners('data');
      while ((await new Promise<number>((resolve) => server.getConnections((_error, count) => resolve(count)))) < 2) await new Promise((resolve) => setTimeout(resolve, 5));
      const shutdown = lifecycle.shutdown('test');
      while (server.listening) await new Promise((resolve) => setTimeout(resolve, 5));
      // http.Server#close() would have destroyed both by now (Node 19+: the idle one; Node 26: the fresh one too).
      const [again, first] = await Promise.all([rawRequest(used), rawRequest(fresh)]);
      for (const reply of [again, first]) {
        expect(reply).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
        expect(reply).toMatch(/\r\nConnection: close\r\n/);
      }
      expect((await shutdown).ok).toBe(true);
    } finally {
      used.destroy();
      fresh.destroy();
    }
  });

  it("gives the server back once closed: close(cb) succeeds, then after listen() it is Node's own and really closes", async () => {
    const lifecycle = createLifecycle({ signals: false, exit: false });
    const server = http.createServer((_req, res) => res.end('ok'));
    const listeners = (): number[] => ['request', 'connection', 'close', 'upgrade', 'connect', 'newListener', 'removeListener'].map((name) => server.listenerCount(name));
    const before = listeners();
    lifecycle.attach(server);
    await listen(server);
    await lifecycle.shutdown('test');
    expect(listeners()).toEqual(before);
    // Closed by the drain: a close() now succeeds, as one called during the shutdown would.
    expect(await new Promise<Error | undefined>((resolve) => server.close(resolve))).toBeUndefined();
    const port = await listen(server);
    expect(Object.prototype.hasOwnProperty.call(server, 'close')).toBe(false);
    const agent = new http.Agent({ keepAlive: true });
    try {
      expect((await get(port, '/', agent)).status).toBe(200);
      const error = await new Promise<Error | undefined>((resolve) => server.close(resolve));
      expect(error).toBeUndefined();
      expect(server.listening).toBe(false);
    } finally {
      agent.destroy();
    }
  });

  it("leaves a close() the app had set before attach() in place after shutdown", async () => {
    const lifecycle = createLifecycle({ signals: false, exit: false });
    const server = http.createServer();
    const own = function close(this: http.Server, callback?: (error?: Error) => void): http.Server {
      return http.Server.prototype.close.call(this, callback);
    };
    Object.defineProperty(server, 'close', { configurable: true, writable: true, value: own });
    lifecycle.attach(server);
    await listen(server);
    expect(server.close).not.toBe(own);
    await lifecycle.shutdown('test');
    expect(server.close).toBe(own);
  });
});
