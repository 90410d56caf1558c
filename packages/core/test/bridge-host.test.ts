import { once } from 'node:events';
import http from 'node:http';
import { createLifecycle } from '@lifespan/core';

describe('lifecycle.bridgeHost(close)', () => {
  it('closes every bridged host when shutdown() starts, each once', async () => {
    const lifecycle = createLifecycle({ signals: false });
    const first = jest.fn(() => Promise.resolve());
    const second = jest.fn(() => Promise.resolve());
    lifecycle.bridgeHost(first, 'fastify.close');
    lifecycle.bridgeHost(second, 'fastify.close');
    const report = await lifecycle.shutdown();
    expect(report.ok).toBe(true);
    expect(first).toHaveBeenCalledTimes(1);
    expect(second).toHaveBeenCalledTimes(1);
  });

  it('closes the other hosts when one host\'s own close starts the shutdown, and not that one again', async () => {
    const lifecycle = createLifecycle({ signals: false });
    const calls: string[] = [];
    // A host whose close goes through its bridge, as Fastify's close runs preClose and onClose.
    const host = (name: string) => {
      const bridge = lifecycle.bridgeHost(async () => {
        calls.push(`${name}:close`);
        await bridge.closing();
        await bridge.closed();
      }, 'fastify.close');
      return bridge;
    };
    host('app0');
    const app1 = host('app1');
    lifecycle.registerShutdown(() => void calls.push('close hook'));
    await app1.closing();
    await app1.closed();
    expect(calls).toEqual(['app0:close', 'close hook']);
    expect((await lifecycle.shutdown()).reason).toBe('fastify.close');
  });

  it('does not call the host close after a failed startup (the host is still booting)', async () => {
    const lifecycle = createLifecycle({ signals: false });
    const close = jest.fn(() => Promise.resolve());
    lifecycle.bridgeHost(close, 'fastify.close');
    lifecycle.registerStartup(() => Promise.reject(new Error('no database')), { name: 'db' });
    await expect(lifecycle.start()).rejects.toMatchObject({ code: 'ERR_LIFESPAN_STARTUP_FAILED' });
    expect(lifecycle.state).toBe('closed');
    expect(close).not.toHaveBeenCalled();
  });
});

describe('lifecycle.attach(server)', () => {
  it('lets close() of a server that never listened complete once shutdown drained it', async () => {
    const lifecycle = createLifecycle({ signals: false });
    const server = http.createServer();
    lifecycle.attach(server);
    const closed = once(server, 'close');
    await lifecycle.shutdown();
    await closed;
    const error = await new Promise<Error | undefined>((resolve) => server.close(resolve));
    expect(error).toBeUndefined();
  });
});
