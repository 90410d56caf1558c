import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLifecycle } from '@lifespan/core';

describe('lifecycle.requestScope(req)', () => {
  it('finds the response of a tracked plain node request (no req.res, as in Koa and Fastify)', async () => {
    const lifecycle = createLifecycle({ signals: false, idleGraceMs: 1 });
    const reasons: string[] = [];
    let finish!: () => void;
    const server = http.createServer((req, res) => {
      lifecycle.trackRequest(req, res);
      expect((req as { res?: unknown }).res).toBeUndefined();
      lifecycle.requestScope(req).onShutdown((reason) => void reasons.push(reason));
      finish = () => res.end('done');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    lifecycle.attach(server);
    const { port } = server.address() as AddressInfo;
    const reply = fetch(`http://127.0.0.1:${port}/`).then((response) => response.text());
    while (lifecycle.inFlight === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    const shutdown = lifecycle.shutdown('test');
    expect(reasons).toEqual(['test']);
    finish();
    expect(await reply).toBe('done');
    expect((await shutdown).ok).toBe(true);
  });
});

describe('lifecycle.trackRequest(req, res)', () => {
  it('tracks an in-memory request (Fastify inject) arriving during the drain without adopting its stand-in socket', async () => {
    const { EventEmitter } = await import('node:events');
    const lifecycle = createLifecycle({ signals: false, drainTimeoutMs: 200 });
    const server = http.createServer();
    lifecycle.attach(server);
    lifecycle.registerShutdown(() => new Promise((resolve) => setTimeout(resolve, 20)), { phase: 'drain' });
    const shutdown = lifecycle.shutdown();
    // Like light-my-request's socket: an emitter with no connection behind it, no end(), never closing.
    const req = new http.IncomingMessage(new EventEmitter() as never);
    req.url = '/';
    const res = new http.ServerResponse(req);
    lifecycle.trackRequest(req, res);
    expect(lifecycle.inFlight).toBe(1);
    res.emit('close');
    expect(lifecycle.inFlight).toBe(0);
    const report = await shutdown;
    expect(report.ok).toBe(true);
    expect(report.http.connectionsDestroyed).toBe(0);
  });
});
