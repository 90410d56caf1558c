import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { Lifecycle } from '@lifespan/core';
import { createTestLifecycle } from '@lifespan/core/testing';
import type { LifecycleOptions } from '@lifespan/core';
import { get } from '@lifespan/testsuite';
import { HttpDrainer } from '../src/http-drain';
import { createLogger, FakeProcess } from './fake-process';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, lifecycle: Lifecycle) => void;

/** A real server on 127.0.0.1 with a lifecycle attached; the lifecycle's shutdown closes it. */
async function serve(handler: Handler, options: LifecycleOptions = {}): Promise<{ lifecycle: Lifecycle; url: string; port: number }> {
  const lifecycle = createTestLifecycle({ signals: false, exitFallback: false, ...options }, new FakeProcess());
  const server = http.createServer((req, res) => handler(req, res, lifecycle));
  lifecycle.attach(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { lifecycle, url: `http://127.0.0.1:${port}`, port };
}

/** Resolves once `count` requests have reached the handler. */
function arrivals(): { arrived: () => void; wait: (count: number) => Promise<void> } {
  let seen = 0;
  const waiters: { count: number; resolve: () => void }[] = [];
  return {
    arrived: () => {
      seen++;
      for (const waiter of waiters) if (seen >= waiter.count) waiter.resolve();
    },
    wait: (count) => (seen >= count ? Promise.resolve() : new Promise((resolve) => waiters.push({ count, resolve }))),
  };
}

describe('requestScope(req).onShutdown(fn)', () => {
  it('runs fn with the reason when shutdown begins while the response is in flight', async () => {
    const onShutdown = jest.fn();
    const { arrived, wait } = arrivals();
    const { lifecycle, url } = await serve((req, res, lc) => {
      lc.requestScope(req).onShutdown((reason) => {
        onShutdown(reason);
        res.end('stopped');
      });
      arrived();
    });
    const reply = get(url);
    await wait(1);
    expect(onShutdown).not.toHaveBeenCalled();
    const report = await lifecycle.shutdown('deploy');
    expect(onShutdown).toHaveBeenCalledTimes(1);
    expect(onShutdown).toHaveBeenCalledWith('deploy');
    expect(await reply).toMatchObject({ status: 200, body: 'stopped' });
    expect(report.http.inFlightAtStart).toBe(1);
    expect(report.http.completedDuringDrain).toBe(1);
  });

  it('never runs fn for a response that finished before shutdown', async () => {
    const onShutdown = jest.fn();
    const { lifecycle, url } = await serve((req, res, lc) => {
      lc.requestScope(req).onShutdown(onShutdown);
      res.end('done');
    });
    expect(await get(url)).toMatchObject({ status: 200, body: 'done' });
    await lifecycle.shutdown();
    expect(onShutdown).not.toHaveBeenCalled();
  });

  it('returns an unregister that forgets fn', async () => {
    const kept = jest.fn();
    const dropped = jest.fn();
    const { arrived, wait } = arrivals();
    const { lifecycle, url } = await serve((req, res, lc) => {
      const scope = lc.requestScope(req);
      scope.onShutdown(() => {
        kept();
        res.end();
      });
      const unregister = scope.onShutdown(dropped);
      expect(unregister()).toBe(true);
      expect(unregister()).toBe(false);
      arrived();
    });
    const reply = get(url);
    await wait(1);
    await lifecycle.shutdown();
    await reply;
    expect(kept).toHaveBeenCalledTimes(1);
    expect(dropped).not.toHaveBeenCalled();
  });

  it('runs fn soon when registered after shutdown began, while still in flight', async () => {
    const { arrived, wait } = arrivals();
    let release: () => void = () => undefined;
    const { lifecycle, url } = await serve((req, res, lc) => {
      release = () => {
        lc.requestScope(req).onShutdown((reason) => void res.end(`late:${reason}`));
      };
      arrived();
    });
    const reply = get(url);
    await wait(1);
    const pending = lifecycle.shutdown('late');
    release();
    expect((await reply).body).toBe('late:late');
    await pending;
  });

  it('reports a failing fn to the logger and still drains', async () => {
    const logger = createLogger();
    const { arrived, wait } = arrivals();
    const { lifecycle, url } = await serve(
      (req, res, lc) => {
        const scope = lc.requestScope(req);
        scope.onShutdown(() => {
          res.end();
          throw new Error('callback broke');
        });
        arrived();
      },
      { logger },
    );
    const reply = get(url);
    await wait(1);
    const report = await lifecycle.shutdown();
    await reply;
    expect(report.ok).toBe(true);
    expect(logger.error).toHaveBeenCalledWith(expect.stringContaining('onShutdown'), expect.objectContaining({ message: 'callback broke' }));
  });
});

describe('requestScope(req).shutdownSignal', () => {
  it('aborts when shutdown begins while the request is in flight (an SSE stream ends)', async () => {
    const { arrived, wait } = arrivals();
    const { lifecycle, url } = await serve((req, res, lc) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: hello\n\n');
      const signal = lc.requestScope(req).shutdownSignal;
      signal.addEventListener('abort', () => res.end(`data: bye (${String(signal.reason)})\n\n`), { once: true });
      arrived();
    });
    const reply = get(url);
    await wait(1);
    const report = await lifecycle.shutdown('SIGTERM');
    expect((await reply).body).toBe('data: hello\n\ndata: bye (SIGTERM)\n\n');
    expect(report.ok).toBe(true);
  });

  it('stays unaborted for a request that finished before shutdown', async () => {
    let signal: AbortSignal | undefined;
    const { lifecycle, url } = await serve((req, res, lc) => {
      signal = lc.requestScope(req).shutdownSignal;
      res.end();
    });
    await get(url);
    await lifecycle.shutdown();
    expect(signal?.aborted).toBe(false);
  });

  it('is already aborted when first read after shutdown began', async () => {
    const { arrived, wait } = arrivals();
    let read: () => AbortSignal = () => AbortSignal.abort();
    const { lifecycle, url } = await serve((req, res, lc) => {
      read = () => {
        res.end();
        return lc.requestScope(req).shutdownSignal;
      };
      arrived();
    });
    const reply = get(url);
    await wait(1);
    const pending = lifecycle.shutdown('now');
    const signal = read();
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBe('now');
    await reply;
    await pending;
  });

  it('is the same signal on every read for one request', async () => {
    const same: boolean[] = [];
    const { lifecycle, url } = await serve((req, res, lc) => {
      same.push(lc.requestScope(req).shutdownSignal === lc.requestScope(req).shutdownSignal);
      res.end();
    });
    await get(url);
    await lifecycle.shutdown();
    expect(same).toEqual([true]);
  });
});

describe('request scope retention', () => {
  /** The drainer behind a lifecycle, caught on its first requestScope() call. */
  function drainerOf(lifecycle: Lifecycle, req: http.IncomingMessage): HttpDrainer {
    const spy = jest.spyOn(HttpDrainer.prototype, 'scope');
    try {
      lifecycle.requestScope(req);
      return spy.mock.contexts[0] as HttpDrainer;
    } finally {
      spy.mockRestore();
    }
  }

  it('keeps nothing of keep-alive requests once their responses ended', async () => {
    const onShutdown = jest.fn();
    const onAbort = jest.fn();
    let probe: http.IncomingMessage | undefined;
    const { lifecycle, url } = await serve((req, res, lc) => {
      probe ??= req;
      const scope = lc.requestScope(req);
      scope.shutdownSignal.addEventListener('abort', onAbort);
      scope.onShutdown(onShutdown);
      res.end('ok');
    });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let i = 0; i < 300; i++) expect((await get(`${url}/${i}`, agent)).status).toBe(200);
      const drainer = drainerOf(lifecycle, probe!);
      expect(drainer.watchers.size).toBe(0);
      expect(drainer.inFlight).toBe(0);
      expect(drainer.connections).toBe(1);
      await lifecycle.shutdown();
      expect(onShutdown).not.toHaveBeenCalled();
      expect(onAbort).not.toHaveBeenCalled();
    } finally {
      agent.destroy();
    }
  });

  it('keeps no scope, watcher or listener of 100,000 finished requests (heap check)', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const lifecycle = createTestLifecycle({ signals: false, exitFallback: false }, new FakeProcess());
    const socket = new net.Socket();
    let aborted = 0;
    let notified = 0;
    const onAbort = (): void => void aborted++;
    const onShutdown = (): void => void notified++;
    const refs: WeakRef<object>[] = [];
    const oneRequest = (keep: boolean): void => {
      const req = new http.IncomingMessage(socket);
      const res = new http.ServerResponse(req);
      // The server's parser links the two; here nobody else does.
      (req as { res?: http.ServerResponse }).res = res;
      lifecycle.trackRequest(req, res);
      const scope = lifecycle.requestScope(req);
      scope.shutdownSignal.addEventListener('abort', onAbort);
      scope.onShutdown(onShutdown);
      if (keep) refs.push(new WeakRef(req), new WeakRef(scope), new WeakRef(scope.shutdownSignal));
      res.emit('close');
    };
    const heapAfterGc = async (): Promise<number> => {
      await new Promise((resolve) => setImmediate(resolve));
      gc();
      return process.memoryUsage().heapUsed;
    };
    for (let i = 0; i < 2_000; i++) oneRequest(false);
    const drainer = drainerOf(lifecycle, new http.IncomingMessage(socket));
    const before = await heapAfterGc();
    for (let i = 0; i < 100_000; i++) oneRequest(i % 10_000 === 0);
    const after = await heapAfterGc();
    expect(drainer.watchers.size).toBe(0);
    expect(drainer.inFlight).toBe(0);
    expect(refs.filter((ref) => ref.deref() !== undefined)).toHaveLength(0);
    // A leaked scope with its AbortController is several hundred bytes: 100,000 of them would be tens of MB.
    expect(after - before).toBeLessThan(4 * 1024 * 1024);
    socket.destroy();
    const report = await lifecycle.shutdown();
    expect(report.ok).toBe(true);
    expect(aborted).toBe(0);
    expect(notified).toBe(0);
  }, 30_000);
});
