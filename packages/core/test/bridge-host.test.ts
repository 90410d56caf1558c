import { once } from 'node:events';
import http from 'node:http';
import { createLifecycle } from '@lifespan/core';

describe('lifecycle.bridgeHost(close)', () => {
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
