import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import Fastify4 from 'fastify4';
import { lifecycle as lifecyclePlugin } from '@lifespan/fastify';

/** The combination docs/fastify.md offers: Fastify 5's own request.signal and the plugin's shutdownSignal. */
const requestLifetime = (request: FastifyRequest): AbortSignal => AbortSignal.any([request.signal, request.shutdownSignal]);

/** What a handler waiting on a signal saw when it aborted. */
interface Seen {
  readonly reason: unknown;
  readonly shutdown: boolean;
  readonly fastify: boolean;
}

async function build(app: FastifyInstance, seen: (value: Seen) => void, entered: () => void): Promise<string> {
  await app.register(lifecyclePlugin, { signals: false, drainTimeoutMs: 2000 });
  app.get('/wait', { handlerTimeout: 300 }, (request, reply) => {
    const signal = requestLifetime(request);
    entered();
    signal.addEventListener('abort', () => {
      seen({ reason: signal.reason, shutdown: request.shutdownSignal.aborted, fastify: request.signal.aborted });
      if (!reply.sent) void reply.code(503).header('connection', 'close').send('going away');
    });
  });
  app.get('/disconnect', (request) => {
    const signal = requestLifetime(request);
    entered();
    return new Promise((resolve) => signal.addEventListener('abort', () => (seen({ reason: signal.reason, shutdown: request.shutdownSignal.aborted, fastify: request.signal.aborted }), resolve('gone'))));
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}

describe('Fastify 5: AbortSignal.any([request.signal, request.shutdownSignal]) covers disconnect, handler timeout and shutdown', () => {
  let app: FastifyInstance;
  let url: string;
  let seen: Promise<Seen>;
  let entered: Promise<void>;
  beforeEach(async () => {
    app = Fastify();
    let resolve!: (value: Seen) => void;
    let enter!: () => void;
    seen = new Promise((done) => (resolve = done));
    entered = new Promise((done) => (enter = done));
    url = await build(app, resolve, enter);
  });
  afterEach(() => app.close());

  it('aborts at shutdown, with the shutdown reason; request.signal itself does not', async () => {
    const response = fetch(`${url}/wait`);
    await entered;
    void app.lifecycle.shutdown('deploy');
    expect(await seen).toEqual({ reason: 'deploy', shutdown: true, fastify: false });
    expect((await response).status).toBe(503);
  });

  it("aborts at Fastify's handlerTimeout with FST_ERR_HANDLER_TIMEOUT; request.shutdownSignal stays shutdown-only", async () => {
    const response = await fetch(`${url}/wait`);
    expect(await seen).toMatchObject({ reason: { code: 'FST_ERR_HANDLER_TIMEOUT' }, shutdown: false, fastify: true });
    expect(response.status).toBe(503);
  });

  it('aborts when the client disconnects; request.shutdownSignal stays shutdown-only', async () => {
    const request = http.get(`${url}/disconnect`);
    request.on('error', () => undefined);
    await entered;
    request.destroy();
    expect(await seen).toMatchObject({ shutdown: false, fastify: true });
  });
});

describe('Fastify 4 (no request.signal): request.shutdownSignal is unchanged', () => {
  it('has no request.signal of its own, and shutdownSignal aborts at shutdown', async () => {
    const app = Fastify4() as unknown as FastifyInstance;
    await app.register(lifecyclePlugin, { signals: false });
    let found: { own: unknown; aborted: boolean } | undefined;
    app.get('/', (request, reply) => {
      request.shutdownSignal.addEventListener('abort', () => {
        found = { own: (request as { signal?: unknown }).signal, aborted: request.shutdownSignal.aborted };
        void reply.send('bye');
      });
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const response = fetch(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}/`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    void app.lifecycle.shutdown('deploy');
    expect(await (await response).text()).toBe('bye');
    expect(found).toEqual({ own: undefined, aborted: true });
    await app.close();
  });
});

