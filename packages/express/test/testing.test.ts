import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { shutdownHooks } from '@lifespan/express';
import { createTestLifecycle, createTestProcess, shutdownApp } from '@lifespan/core/testing';

// The recipe of docs/testing.md for Express: SIGTERM to a process stand-in, with a request in flight.
function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      })
      .on('error', reject);
  });
}

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
    const answer = get((server.address() as AddressInfo).port, '/slow');
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
