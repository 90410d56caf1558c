import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Lifecycle } from '@lifespan/core';
import { createTestLifecycle } from '@lifespan/core/testing';
import type { LifecycleOptions } from '@lifespan/core';
import { get } from '@lifespan/testsuite';
import { FakeProcess } from './fake-process';

// The report tells the truth: what was destroyed at the timeout is not ok, and an exception in the
// drain is reported while the close hooks still run and shutdown() still resolves.

async function serve(handler: http.RequestListener, options: LifecycleOptions = {}): Promise<{ lifecycle: Lifecycle; server: http.Server; url: string }> {
  const lifecycle = createTestLifecycle({ signals: false, exitFallback: false, exit: false, ...options }, new FakeProcess());
  const server = http.createServer(handler);
  lifecycle.attach(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { lifecycle, server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

const codes = (errors: readonly { code: string }[]): string[] => errors.map((error) => error.code);

describe('lifecycle.shutdown() report: connections destroyed at the drain timeout', () => {
  it('a hung request: not ok, with ERR_LIFESPAN_REQUESTS_ABORTED and ERR_LIFESPAN_CONNECTIONS_DESTROYED', async () => {
    const { lifecycle, url } = await serve(() => undefined, { drainTimeoutMs: 200 });
    const hung = get(`${url}/`).catch((error: NodeJS.ErrnoException) => error.code);
    while (lifecycle.inFlight === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    const report = await lifecycle.shutdown('test');
    expect(await hung).toBe('ECONNRESET');
    expect(report.ok).toBe(false);
    expect(report.http).toMatchObject({ abortedRequests: 1, connectionsDestroyed: 1 });
    expect(codes(report.errors)).toEqual(['ERR_LIFESPAN_REQUESTS_ABORTED', 'ERR_LIFESPAN_CONNECTIONS_DESTROYED']);
    expect(report.errors[1]).toMatchObject({ connections: 1 });
  });

  it('nothing destroyed: ok, no error', async () => {
    const { lifecycle, url } = await serve((_req, res) => res.end('ok'), { drainTimeoutMs: 200 });
    const agent = new http.Agent({ keepAlive: true });
    try {
      await get(`${url}/`, agent);
      const report = await lifecycle.shutdown('test');
      expect(report.ok).toBe(true);
      expect(report.errors).toEqual([]);
    } finally {
      agent.destroy();
    }
  });
});

describe('lifecycle.shutdown() report: an exception inside the drain', () => {
  it("a 'drain' listener that throws at every event: reported, the drain goes on, close hooks run, shutdown() resolves", async () => {
    const { lifecycle, url } = await serve((_req, res) => res.end('ok'), { idleGraceMs: 50 });
    const calls: string[] = [];
    lifecycle.registerShutdown(() => void calls.push('close hook'), { name: 'db' });
    lifecycle.on('drain', (event) => {
      calls.push(event.type);
      throw new Error(`listener failed on ${event.type}`);
    });
    const agent = new http.Agent({ keepAlive: true });
    try {
      await get(`${url}/`, agent);
      // Busy within the grace: the idle close comes from a timer, outside shutdown()'s own call.
      const report = await lifecycle.shutdown('test');
      expect(calls).toEqual(['listenerClosed', 'idleClosed', 'drained', 'close hook']);
      expect(report.ok).toBe(false);
      expect(codes(report.errors)).toEqual(['ERR_LIFESPAN_DRAIN_FAILED', 'ERR_LIFESPAN_DRAIN_FAILED', 'ERR_LIFESPAN_DRAIN_FAILED']);
      expect((report.errors[0]!.cause as Error).message).toBe('listener failed on listenerClosed');
      expect(report.http.idleConnectionsClosed).toBe(1);
      expect(lifecycle.state).toBe('closed');
    } finally {
      agent.destroy();
    }
  });

  it('a server whose close() throws: reported, its listener closed all the same, close hooks run', async () => {
    const lifecycle = createTestLifecycle({ signals: false, exitFallback: false, exit: false }, new FakeProcess());
    const server = http.createServer((_req, res) => res.end('ok'));
    Object.defineProperty(server, 'close', {
      configurable: true,
      writable: true,
      value: () => {
        throw new Error('close() is not supported here');
      },
    });
    const closed: string[] = [];
    lifecycle.registerShutdown(() => void closed.push('close hook'));
    lifecycle.attach(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const report = await lifecycle.shutdown('test');
    expect(server.listening).toBe(false);
    expect(closed).toEqual(['close hook']);
    expect(report.ok).toBe(false);
    expect(report.errors).toEqual([expect.objectContaining({ code: 'ERR_LIFESPAN_DRAIN_FAILED', step: 'closing the listener of a server' })]);
  });
});
