import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { shutdownHooks } from '@lifespan/koa';
import { createTestLifecycle, createTestProcess, shutdownApp } from '@lifespan/core/testing';
import { get } from '@lifespan/testsuite';

// The recipe of docs/testing.md for Koa: SIGTERM to a process stand-in, with a request in flight.
describe('testing a Koa app\'s shutdown with @lifespan/core/testing', () => {
  it('SIGTERM: the request in flight is answered, the hook runs once, the exit code is 0', async () => {
    const proc = createTestProcess();
    const hooks = shutdownHooks({ lifecycle: createTestLifecycle({ signals: ['SIGTERM'] }, proc) });
    const app = new Koa();
    app.use(hooks);
    const closed: string[] = [];
    app.use(async (ctx) => {
      ctx.registerShutdown(() => void closed.push('db'), { key: 'db' });
      await new Promise((resolve) => setTimeout(resolve, 100));
      ctx.body = 'done';
    });
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    hooks.lifecycle.attach(server);
    const answer = get(`http://127.0.0.1:${(server.address() as AddressInfo).port}/slow`).then(({ status, body }) => ({ status, body }));
    await new Promise((resolve) => setTimeout(resolve, 30));
    proc.signal('SIGTERM');
    expect(await answer).toEqual({ status: 200, body: 'done' });
    expect(await proc.exited).toBe(0);
    expect(closed).toEqual(['db']);
  });

  it('shutdownApp(hooks) returns the report without exiting', async () => {
    const hooks = shutdownHooks({ lifecycle: createTestLifecycle() });
    new Koa().use(hooks);
    hooks.lifecycle.registerShutdown(() => undefined, { name: 'cache' });
    const report = await shutdownApp(hooks);
    expect(report.ok).toBe(true);
    expect(report.hooks.map((hook) => hook.name)).toEqual(['cache']);
  });
});
