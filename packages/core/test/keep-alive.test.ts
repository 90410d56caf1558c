import { once } from 'node:events';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { createLifecycle } from '@lifespan/core';
import type { LifecycleOptions } from '@lifespan/core';

// What node:http adds to keepAliveTimeout before it destroys an idle socket.
const bufferOf = (server: http.Server): number => (server as { keepAliveTimeoutBuffer?: number }).keepAliveTimeoutBuffer ?? 1000;

function attached(options: LifecycleOptions, setup: (server: http.Server) => void = () => undefined): http.Server {
  const lifecycle = createLifecycle({ signals: false, ...options });
  const server = http.createServer((_req, res) => res.end('ok'));
  setup(server);
  lifecycle.attach(server);
  return server;
}

const timeoutsOf = ({ keepAliveTimeout, headersTimeout, requestTimeout }: http.Server) => ({ keepAliveTimeout, headersTimeout, requestTimeout });

describe('createLifecycle({ keepAliveTimeoutMs })', () => {
  it('keeps idle connections open 65 s by default, longer than AWS ALB and nginx keep theirs (60 s)', () => {
    const server = attached({});
    expect(timeoutsOf(server)).toEqual({ keepAliveTimeout: 65_000, headersTimeout: 65_000 + bufferOf(server), requestTimeout: 300_000 });
  });

  it('raises headersTimeout and requestTimeout with it, so a connection opened but not used yet is not closed first', () => {
    const server = attached({ keepAliveTimeoutMs: 620_000 });
    const bound = 620_000 + bufferOf(server);
    expect(timeoutsOf(server)).toEqual({ keepAliveTimeout: 620_000, headersTimeout: bound, requestTimeout: bound });
  });

  it('never lowers what the server already keeps (Fastify: 72 s), and leaves 0 (no timeout) alone', () => {
    expect(timeoutsOf(attached({}, (server) => (server.keepAliveTimeout = 72_000)))).toMatchObject({ keepAliveTimeout: 72_000 });
    expect(timeoutsOf(attached({}, (server) => (server.headersTimeout = 0)))).toMatchObject({ keepAliveTimeout: 65_000, headersTimeout: 0 });
    const disabled = attached({ keepAliveTimeoutMs: 65_000 }, (server) => (server.keepAliveTimeout = 0));
    expect(timeoutsOf(disabled)).toEqual({ keepAliveTimeout: 0, headersTimeout: 65_000 + bufferOf(disabled), requestTimeout: 300_000 });
  });

  it("by default keeps a keep-alive timeout the app or its framework chose (Fastify's keepAliveTimeout: 10), as without Lifespan", () => {
    const chosen = (server: http.Server): void => void (server.keepAliveTimeout = 10);
    expect(timeoutsOf(attached({}, chosen))).toEqual({ ...timeoutsOf(http.createServer()), keepAliveTimeout: 10 });
    expect(timeoutsOf(attached({}, (server) => (server.keepAliveTimeout = 0)))).toMatchObject({ keepAliveTimeout: 0, headersTimeout: 60_000 });
  });

  it('with keepAliveTimeoutMs given, raises any shorter value the app set', () => {
    expect(timeoutsOf(attached({ keepAliveTimeoutMs: 65_000 }, (server) => (server.keepAliveTimeout = 10)))).toMatchObject({ keepAliveTimeout: 65_000 });
  });

  it('with false, leaves the server as node:http made it', () => {
    expect(timeoutsOf(attached({ keepAliveTimeoutMs: false }))).toEqual(timeoutsOf(http.createServer()));
  });

  it('applies to a server attached lazily by its first request', async () => {
    const lifecycle = createLifecycle({ signals: false });
    const server = http.createServer((req, res) => {
      lifecycle.trackRequest(req, res);
      res.end('ok');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const { port } = server.address() as AddressInfo;
      await fetch(`http://127.0.0.1:${port}/`, { headers: { connection: 'close' } }).then((response) => response.text());
      expect(server.keepAliveTimeout).toBe(65_000);
    } finally {
      await lifecycle.shutdown();
    }
  });

  it('is what Node arms on a connection after its response (keepAliveTimeout plus Node\'s buffer)', async () => {
    const lifecycle = createLifecycle({ signals: false, keepAliveTimeoutMs: 90_000 });
    const armed: (number | undefined)[] = [];
    const server = http.createServer((req, res) => {
      // Node arms the keep-alive timer in its own 'finish' listener, registered before this one.
      res.on('finish', () => armed.push((req.socket as { timeout?: number }).timeout));
      res.end('ok');
    });
    lifecycle.attach(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const agent = new http.Agent({ keepAlive: true });
    try {
      const { port } = server.address() as AddressInfo;
      const keepAlive = await new Promise<string | undefined>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port, agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(String(res.headers['keep-alive'])));
        }).on('error', reject);
      });
      expect(armed).toEqual([90_000 + bufferOf(server)]);
      // What Node tells clients that read it (undici): close before the server does.
      expect(keepAlive).toBe('timeout=90');
    } finally {
      agent.destroy();
      await lifecycle.shutdown();
    }
  });

  it('leaves an http2 server alone (it has no keep-alive timeout)', () => {
    const lifecycle = createLifecycle({ signals: false });
    const server = http2.createServer();
    expect(() => lifecycle.attach(server)).not.toThrow();
    expect((server as unknown as { keepAliveTimeout?: number }).keepAliveTimeout).toBeUndefined();
  });

  it.each([0, -1, Number.NaN, Infinity, 86_400_001, '65s', true, null])('rejects %p with ERR_LIFESPAN_INVALID_ARG naming the option', (value) => {
    expect(() => createLifecycle({ keepAliveTimeoutMs: value as never })).toThrow(
      expect.objectContaining({ code: 'ERR_LIFESPAN_INVALID_ARG', argument: 'options.keepAliveTimeoutMs' }),
    );
  });
});
