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
