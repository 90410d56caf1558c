import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { shutdownHooks } from '@lifespan/express';
import { createTestLifecycle, createTestProcess, shutdownApp } from '@lifespan/core/testing';
import { get } from '@lifespan/testsuite';

// The recipe of docs/testing.md for Express: SIGTERM to a process stand-in, with a request in flight.
describe('testing an Express app\'s shutdown with @lifespan/core/testing', () => {
  it('SIGTERM: the request in flight is answered, the hook runs once, the exit code is 0', async () => {
    const proc = createTestProcess();
    const hooks = shutdownHooks({ lifecycle: createTestLifecycle({ signals: ['SIGTERM'] }, proc) });
    const app = express();
    app.use(hooks);
    const closed: string[] = [];
    app.get('/slow', (req, res) => {
      req.registerShutdown(() => void closed.push('db'), { key: 'db' });
      setTimeout(() => res.send('done'), 100);
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
    express().use(hooks);
    hooks.lifecycle.registerShutdown(() => undefined, { name: 'cache' });
    const report = await shutdownApp(hooks);
    expect(report.ok).toBe(true);
    expect(report.hooks.map((hook) => hook.name)).toEqual(['cache']);
  });
});
