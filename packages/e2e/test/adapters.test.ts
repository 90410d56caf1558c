import { get, open } from './clients';
import { disposableAgent } from './disposable-agent';
import { firstChunk, readBody } from './read-body';
import { runtime, startFixture } from './start-fixture';

// The built adapters in real processes: fixtures/<framework>.mjs and .cjs (support/adapter-app.cjs).
const describePosix = process.platform === 'win32' ? describe.skip : describe;
const apis = { express: 'shutdownHooks() of @lifespan/express', koa: 'shutdownHooks() of @lifespan/koa', fastify: 'the lifecycle plugin of @lifespan/fastify' } as const;
const frameworks = ['express', 'koa', 'fastify'] as const;
const fixtures = frameworks.flatMap((framework) => (['mjs', 'cjs'] as const).map((format) => ({ framework, api: apis[framework], file: `${framework}.${format}` })));

jest.setTimeout(15_000);

describePosix.each(fixtures)('$api in a real process ($file)', ({ framework, file }) => {
  // One process for what a SIGTERM meets in a real app: a hook registered by every request, a slow
  // request and an SSE stream in flight (processes are what make these tests slow).
  it('serves a slow request and an SSE stream in flight at SIGTERM, runs a hook keyed by 200 requests once, drains before closing, exits 0', async () => {
    const app = await startFixture(file);
    using agent = disposableAgent({ keepAlive: true, maxSockets: 10 });
    const registered = await Promise.all(Array.from({ length: 200 }, () => get(`${app.url}/register`, agent)));
    expect(registered.filter((response) => response.status === 200 && response.body === 'registered')).toHaveLength(200);
    const stream = await open(`${app.url}/sse`, agent);
    expect(stream.statusCode).toBe(200);
    expect(stream.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(await firstChunk(stream)).toBe('data: hello\n\n');
    const streamRest = readBody(stream);
    const inFlight = get(`${app.url}/slow?ms=200&after=shutdown`, agent);
    await app.until(() => app.events('arrived').length === 2, 'the SSE and the slow request to arrive');
    app.kill('SIGTERM');
    expect(await inFlight).toMatchObject({ status: 200, body: 'slow', headers: { connection: 'close' } });
    // Ended through the request's own shutdownSignal (req, ctx, request).
    expect(await streamRest).toBe('event: end\ndata: bye\n\n');
    expect(await app.exited).toEqual({ code: 0, signal: null });
    // Close hooks run last registered first: the pool's came with the first /register request.
    expect(app.lines()).toEqual(['drain:request', 'finished:/slow', 'close:pool', 'close:server', 'exit:natural']);
  });

  it('answers /readyz with 503 during drainDelayMs while other requests still get 200', async () => {
    // Express and Koa: no attach() call, so the first request, a probe, attaches the server (as
    // behind a load balancer that sends no traffic before the probe says ready).
    const app = await startFixture(file, { DRAIN_DELAY_MS: '300', SCENARIO: framework === 'fastify' ? 'basic' : 'lazy-attach' });
    // A new connection for each request: a response then proves the listener was still open.
    using agent = disposableAgent();
    expect((await get(`${app.url}/readyz`, agent)).status).toBe(200);
    app.kill('SIGTERM');
    let probe = await get(`${app.url}/readyz`, agent);
    for (let i = 0; i < 100 && probe.status === 200; i++) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      probe = await get(`${app.url}/readyz`, agent);
    }
    expect(probe.status).toBe(503);
    expect(JSON.parse(probe.body)).toMatchObject({ ready: false, state: 'draining' });
    expect(await get(`${app.url}/`, agent)).toMatchObject({ status: 200, body: 'ok' });
    expect(await app.exited).toEqual({ code: 0, signal: null });
    expect(app.lines()).toEqual(['drain:request', 'close:server', 'exit:natural']);
  });

  if (framework === 'fastify') {
    it('runs each hook once when fastify.close() is called in-process, and the process exits on its own', async () => {
      const app = await startFixture(file);
      using agent = disposableAgent({ keepAlive: true });
      expect((await get(`${app.url}/register`, agent)).status).toBe(200);
      const response = await get(`${app.url}/close`, agent);
      // On Deno (2.9.6) the answer to the very request that calls fastify.close() leaves before the
      // drain marks it `Connection: close`: it is answered all the same, and its connection is then
      // closed as idle (README, runtime table).
      const connection = runtime.kind === 'deno' ? expect.stringMatching(/^(close|keep-alive)$/) : 'close';
      expect(response).toMatchObject({ status: 200, body: 'closing', headers: { connection } });
      expect(await app.exited).toEqual({ code: 0, signal: null });
      // 'exit:natural' comes from 'beforeExit', which Lifespan's process.exit() never emits.
      expect(app.lines()).toEqual(['drain:request', 'close:pool', 'close:server', 'exit:natural']);
      expect(app.events('fastify-closed')).toHaveLength(1);
    });
  }
});
