import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { lifecycle } from '@lifespan/fastify';
import { createTestLifecycle, createTestProcess, shutdownApp } from '@lifespan/core/testing';
import { get } from '@lifespan/testsuite';

// The recipe of docs/testing.md for Fastify: SIGTERM to a process stand-in, with a request in flight.
describe('testing a Fastify app\'s shutdown with @lifespan/core/testing', () => {
  it('SIGTERM: the request in flight is answered, the hook runs once, fastify closes, the exit code is 0', async () => {
    const proc = createTestProcess();
    const app = Fastify();
    await app.register(lifecycle, { lifecycle: createTestLifecycle({ signals: ['SIGTERM'] }, proc) });
    const closed: string[] = [];
    app.addHook('onClose', async () => void closed.push('onClose'));
    app.get('/slow', async (request) => {
      request.registerShutdown(() => void closed.push('db'), { key: 'db' });
      await new Promise((resolve) => setTimeout(resolve, 100));
      return 'done';
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const answer = get(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}/slow`).then(({ status, body }) => ({ status, body }));
    await new Promise((resolve) => setTimeout(resolve, 30));
    proc.signal('SIGTERM');
    expect(await answer).toEqual({ status: 200, body: 'done' });
    expect(await proc.exited).toBe(0);
    expect(closed).toEqual(expect.arrayContaining(['db', 'onClose']));
  });

  it('shutdownApp(fastify) returns the report without exiting', async () => {
    const app = Fastify();
    await app.register(lifecycle, { lifecycle: createTestLifecycle() });
    app.registerShutdown(() => undefined, { name: 'cache' });
    await app.ready();
    const report = await shutdownApp(app);
    expect(report.ok).toBe(true);
    expect(report.hooks.map((hook) => hook.name)).toEqual(['cache']);
  });
});
