import http from 'node:http';
import http2 from 'node:http2';
import { freeSocketCount, idleKeepAlive, open, unusedConnections } from './clients';
import { losses, noLoss, sigtermUnderLoad, testCa } from './load-harness';
import type { LoadPlan, UnderLoad } from './load-harness';
import { recordTiming, runtime, startFixture } from './start-fixture';

// Every request a client wrote is answered, or refused before it was written (the listener was
// gone: a real client goes elsewhere). The load runs in its own process (harness/load-process.mjs),
// the server reports what its handler saw (harness/server-ledger.cjs), and harness/fates.cjs
// decides each request's fate. A request crossing the FIN of a connection idle longer than the
// grace is the one loss no server can prevent: it is counted apart, never as an exemption.

/** The whole body of a response or HTTP/2 stream, once it ended. */
function bodyOf(stream: NodeJS.ReadableStream): Promise<string> {
  let body = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => (body += chunk));
  return new Promise((resolve, reject) => {
    stream.on('end', () => resolve(body));
    stream.on('error', reject);
  });
}
const describePosix = process.platform === 'win32' ? describe.skip : describe;
/** `npm run test:stress`: the tests whose outcome still depends on how short of CPU the server is. */
const stress = process.env.LIFESPAN_STRESS === '1';
// Generous on purpose: two busy cores. The 100 ms target is the benchmark's to measure.
const promptExitMs = 2000;

jest.setTimeout(20_000);

/**
 * Clients looping through the drain: keep-alive Agents and undici; and, in a load process of their
 * own, raw clients that reuse their connection 10 ms after each response without reading the socket
 * in between (a client too busy to see a FIN).
 */
const loopingClients: readonly LoadPlan[] = [
  { clients: [{ kind: 'agent', count: 4 }, { kind: 'undici', count: 2 }] },
  { clients: [{ kind: 'raw', name: 'stalling', count: 4, stallMs: 10 }] },
];

/** Every fate but answered, refused and crossing-FIN, described; and what a drain must show. */
function outcome({ exit, fates, app }: UnderLoad, lines = ['drain:request', 'close:server', 'exit:natural']) {
  return { exit, lines: app.lines(), ...losses(fates), expected: { exit: { code: 0, signal: null }, lines, ...noLoss } };
}

function expectNoLoss(result: UnderLoad, lines?: string[]): void {
  const { expected, ...actual } = outcome(result, lines);
  expect(actual).toEqual(expected);
}

describePosix.each(['http.mjs', 'http.cjs'])('lifecycle.attach(server) on SIGTERM (%s)', (file) => {
  it('exits 0 promptly with 50 idle keep-alive connections', async () => {
    const app = await startFixture(file, { SCENARIO: 'keep-alive' });
    const agent = await idleKeepAlive(app.url, 50);
    try {
      expect(freeSocketCount(agent)).toBe(50);
      const sentAt = app.kill('SIGTERM');
      expect(await app.exited).toEqual({ code: 0, signal: null });
      const exitMs = app.exitedAt()! - sentAt;
      recordTiming(`${file}: exit with 50 idle keep-alive connections`, exitMs);
      expect(exitMs).toBeLessThan(promptExitMs);
      expect(app.lines()).toEqual(['drain:request', 'close:server', 'exit:natural']);
    } finally {
      agent.destroy();
    }
  });

  it('exits 0 promptly with 50 connections opened but never used', async () => {
    const app = await startFixture(file, { SCENARIO: 'keep-alive' });
    const { sockets, errors } = await unusedConnections(app.port, 50);
    try {
      // Accepted by the server, not just queued in the kernel's backlog.
      await app.until(() => app.events('connection').length === 50, '50 accepted connections');
      const sentAt = app.kill('SIGTERM');
      expect(await app.exited).toEqual({ code: 0, signal: null });
      const exitMs = app.exitedAt()! - sentAt;
      recordTiming(`${file}: exit with 50 unused connections`, exitMs);
      expect(exitMs).toBeLessThan(promptExitMs);
      expect(app.lines()).toEqual(['drain:request', 'close:server', 'exit:natural']);
      expect(errors).toEqual([]);
    } finally {
      for (const socket of sockets) socket.destroy();
    }
  });

  it('answers 20 in-flight slow requests with 200 and connection: close', async () => {
    const result = await sigtermUnderLoad(
      file,
      { SCENARIO: 'slow-request' },
      [{ clients: [{ kind: 'agent', count: 20, path: '/slow?ms=200&after=shutdown', maxRequests: 1 }] }],
      { signalWhen: (app) => app.events('arrived').length === 20 },
    );
    expectNoLoss(result);
    const answered = result.fates.entries.map(({ record }) => ({ status: record.status, close: record.close }));
    expect(answered).toEqual(Array.from({ length: 20 }, () => ({ status: 200, close: true })));
  });

  it('ends a Server-Sent Events stream through shutdownSignal, then exits 0', async () => {
    const app = await startFixture(file, { SCENARIO: 'sse' });
    const agent = new http.Agent({ keepAlive: true });
    try {
      const stream = await open(`${app.url}/sse`, agent);
      const ended = bodyOf(stream);
      await app.until(() => app.events('arrived').length === 1, 'the stream to open');
      app.kill('SIGTERM');
      const body = await ended;
      expect(stream.complete).toBe(true);
      expect(body).toBe('data: hello\n\nevent: end\ndata: bye\n\n');
      expect(await app.exited).toEqual({ code: 0, signal: null });
      expect(app.lines()).toEqual(['drain:request', 'close:server', 'exit:natural']);
    } finally {
      agent.destroy();
    }
  });
});

const apps: { file: string; api: string; env: Record<string, string> }[] = [
  { file: 'http.mjs', api: 'lifecycle.attach(server)', env: { SCENARIO: 'keep-alive' } },
  { file: 'http.cjs', api: 'lifecycle.attach(server)', env: { SCENARIO: 'keep-alive' } },
  { file: 'express.mjs', api: 'shutdownHooks() of @lifespan/express', env: {} },
  { file: 'koa.mjs', api: 'shutdownHooks() of @lifespan/koa', env: {} },
  { file: 'fastify.mjs', api: 'the lifecycle plugin of @lifespan/fastify', env: {} },
];

describePosix.each(apps)('$api under load at SIGTERM ($file)', ({ file, env }) => {
  // A grace longer than any stall of this machine: no connection a client is still using is closed
  // as idle, so these tests see every other way a drain can lose a request. The same clients at the
  // default grace: drain-default-grace.test.ts.
  const grace = { IDLE_GRACE_MS: '500' };

  it.each([0, 200])('answers every request of clients looping through the drain, or refuses it once the listener is gone (drainDelayMs %i)', async (drainDelayMs) => {
    const result = await sigtermUnderLoad(file, { ...env, ...grace, DRAIN_DELAY_MS: String(drainDelayMs) }, loopingClients, { graceMs: 500 });
    expectNoLoss(result);
    // Every loop ran into the closed listener (none stopped at its bound)...
    expect(result.fates.counts.refused).toBe(10);
    // ...and while the drain delay lasted, the app kept serving as usual.
    if (drainDelayMs > 0) expect(result.fates.entries.some(({ record }) => record.answeredAt! > result.signalAt && record.close === false)).toBe(true);
  });

  // Issue 12 item 1 in each framework (Fastify's report said ok while it lost the two queued).
  it('answers every request of a pipeline written in one write before SIGTERM, Connection: close on the last', async () => {
    const result = await sigtermUnderLoad(file, { SCENARIO: file.startsWith('http.') ? 'slow-request' : 'basic' }, [{ clients: [{ kind: 'raw', name: 'pipelining', batch: 3, path: '/slow?ms=100&after=shutdown', maxRequests: 3 }] }], {
      signalWhen: (app) => app.events('arrived').length === 3,
    });
    const finished = file.startsWith('http.') ? [] : ['finished:/slow', 'finished:/slow', 'finished:/slow'];
    expectNoLoss(result, ['drain:request', ...finished, 'close:server', 'exit:natural']);
    expect(result.fates.entries.map(({ record }) => record.close)).toEqual([false, false, true]);
  });

  it('answers every request of clients pausing 0-50 ms between requests, or refuses it once the listener is gone', async () => {
    const result = await sigtermUnderLoad(file, { ...env, ...grace }, [{ clients: [{ kind: 'agent', name: 'pausing-agent', count: 6, pauseMs: [0, 50] }, { kind: 'undici', name: 'pausing-undici', count: 2, pauseMs: [0, 50] }] }], { graceMs: 500 });
    expectNoLoss(result);
    expect(result.fates.counts.refused).toBe(8);
  });
});

describePosix('lifecycle.attach(server) idle grace under load (default idleGraceMs)', () => {
  // Clients that reuse their connection 10 ms after each response, without reading the socket in
  // between (too busy to see a FIN): the default grace (25 ms) protects them. A server that closes
  // idle connections sooner (or at once, as plain server.close() does) loses their next request.
  // With drainDelayMs 0 the drain begins while the process may still be starved of CPU by the load.
  it.each([0, 200])('loses no request of clients reusing their connection within the grace (drainDelayMs %i)', async (drainDelayMs) => {
    const result = await sigtermUnderLoad('http.mjs', { SCENARIO: 'keep-alive', DRAIN_DELAY_MS: String(drainDelayMs) }, [{ clients: [{ kind: 'raw', name: 'stalling', count: 8, stallMs: 10 }] }]);
    expectNoLoss(result);
    expect(result.fates.counts.refused).toBe(8);
  });
});

// Each of these fails on today's main because of a core bug named in issue 12; the engineer who
// fixes that item turns `it.failing` into `it`. Each fails every run, not sometimes: the scenario
// is built so that the bug cannot miss.
describePosix('lifecycle.attach(server) on SIGTERM: what issue 12 says is lost today', () => {
  // Issue 12 item 1 (pipelined requests): Connection: close went on the response at the head of the
  // pipeline and Node dropped the two queued behind it, after their handlers ran. It goes on the
  // last request read on the connection now.
  it('answers every request of a pipeline written in one write before SIGTERM', async () => {
    const result = await sigtermUnderLoad('http.mjs', { SCENARIO: 'slow-request' }, [{ clients: [{ kind: 'raw', name: 'pipelining', batch: 3, path: '/slow?ms=100&after=shutdown', maxRequests: 3 }] }], {
      signalWhen: (app) => app.events('arrived').length === 3,
    });
    expectNoLoss(result);
    expect(result.fates.entries.map(({ record }) => record.close)).toEqual([false, false, true]);
  });

  // Issue 12 item 1: undici with pipelining 10, its ten requests queued on each connection at SIGTERM.
  it('answers every request of undici clients with 10 pipelined requests queued at SIGTERM', async () => {
    const result = await sigtermUnderLoad('http.mjs', { SCENARIO: 'slow-request' }, [{ clients: [{ kind: 'undici', count: 2, pipelining: 10, path: '/slow?ms=100&after=shutdown', maxRequests: 10 }] }], {
      signalWhen: (app) => app.events('arrived').length === 20,
    });
    expectNoLoss(result);
    expect(result.fates.counts.answered).toBe(20);
  });

  // Issue 12 item 1, what remains: undici pipelining 10 requests without pause through the drain.
  // Every request the server read is answered now, and the process exits 0 at once (it waited the
  // whole drainTimeoutMs and exited 1); but the response that carries Connection: close is chosen
  // when the app writes it, and a request the client sent in the meantime that the server had not
  // read yet (a process short of CPU reads late) is re-sent by undici after that response, to a
  // listener that is gone. It failed every run on this 2-core machine (about 10 of ~100 requests)
  // with the server on Node; since the drain costs less CPU (bench/scale.mjs: the idle check no
  // longer reads Node's whole connection list every turn, no grace timer after Connection: close)
  // it loses 1 request in most runs and none in some (6 of 26 against 0 of 20 before), as on Bun:
  // a test whose outcome is a coin is no test, so it runs in `npm run test:stress`, which
  // asserts the goal (no loss), and not in `npm test`. What http-terminator, stoppable and
  // plain server.close() do here, and why no bounded drain avoids it: bench/pipelining.mjs and
  // bench/README.md ("Why two of issue 12's cases still lose requests").
  (runtime.kind === 'bun' || !stress ? it.skip : it)('answers every request of undici clients pipelining 10 requests', async () => {
    const result = await sigtermUnderLoad('http.mjs', { SCENARIO: 'keep-alive', DRAIN_TIMEOUT_MS: '1000' }, [{ clients: [{ kind: 'undici', count: 2, pipelining: 10, path: '/slow?ms=5' }] }]);
    expectNoLoss(result);
  });

  // Issue 12 item 2 (requests still arriving): a connection whose request head is still arriving,
  // 5 ms between bytes, counts as idle and is closed idleGraceMs into the drain.
  it('answers requests whose heads arrive byte by byte through the drain', async () => {
    const result = await sigtermUnderLoad('http.mjs', { SCENARIO: 'keep-alive' }, [{ clients: [{ kind: 'raw', name: 'slow-link', count: 5, byteDelayMs: 5 }] }], { answeredBeforeSignal: 5 });
    expectNoLoss(result);
  });

  // Issue 12 item 3 (HTTP/2 servers): the single GOAWAY refuses the streams a client opened as it
  // went out. RFC 9113's two-step GOAWAY would spare them, and node:http2 cannot send its first step:
  // session.goaway() with the last stream id 2^31-1 makes nghttp2 ignore every stream opened after
  // it, and writing the frame to the session's socket aborts the process (bench/README.md, "Why two
  // of issue 12's cases still lose requests"). It loses 4-20 streams in most runs and none in some
  // (a full run here saw it pass), so as it.failing it made `npm test` a coin: it runs in
  // `npm run test:stress`, asserting the goal (no stream refused), until Node can send that GOAWAY.
  (stress ? it.each : it.skip.each)([
    { mode: 'h2c', secure: false },
    { mode: 'tls', secure: true },
  ])('answers every stream of HTTP/2 sessions opening streams through the drain ($mode)', async ({ mode, secure }) => {
    const result = await sigtermUnderLoad('h2.mjs', { H2: mode }, [{ secure, clients: [{ kind: 'h2', count: 4, streams: 5 }] }]);
    expectNoLoss(result);
  });

  // Issue 12 item 3 (HTTP/2 servers): HTTP/1.1 connections of createSecureServer({ allowHTTP1: true }) were not drained.
  it('answers HTTP/1.1 requests in flight on http2.createSecureServer({ allowHTTP1: true })', async () => {
    const result = await sigtermUnderLoad('h2.mjs', { H2: 'tls-http1' }, [{ secure: true, clients: [{ kind: 'agent', count: 5, path: '/slow?ms=200&after=shutdown', maxRequests: 1 }] }], {
      signalWhen: (app) => app.events('arrived').length === 5,
    });
    expectNoLoss(result);
  });
});

describePosix('lifecycle.attach(http2 server) on SIGTERM', () => {
  // Issue 12 item 3: on node:http2's compatibility API shutdownSignal never aborted, so the stream
  // was cut at drainTimeoutMs.
  it.each(['h2c', 'tls'])('ends a Server-Sent Events stream over HTTP/2 through shutdownSignal, then exits 0 (%s)', async (mode) => {
    const app = await startFixture('h2.mjs', { H2: mode });
    const client = http2.connect(`${mode === 'h2c' ? 'http' : 'https'}://localhost:${app.port}`, { ca: testCa });
    client.on('error', () => undefined);
    try {
      const stream = client.request({ ':path': '/sse' });
      const ended = bodyOf(stream);
      await app.until(() => app.events('arrived').length === 1, 'the stream to open');
      app.kill('SIGTERM');
      const body = await ended;
      expect(body).toBe('data: hello\n\nevent: end\ndata: bye\n\n');
      expect(await app.exited).toEqual({ code: 0, signal: null });
      expect(app.lines()).toEqual(['drain:request', 'close:server', 'exit:natural']);
    } finally {
      client.destroy();
    }
  });

  it.each([
    { mode: 'h2c', secure: false },
    { mode: 'tls', secure: true },
  ])('answers the HTTP/2 streams in flight at SIGTERM ($mode)', async ({ mode, secure }) => {
    const result = await sigtermUnderLoad('h2.mjs', { H2: mode }, [{ secure, clients: [{ kind: 'h2', count: 2, streams: 5, path: '/slow?ms=200&after=shutdown', maxRequests: 5 }] }], {
      signalWhen: (app) => app.events('arrived').length === 10,
    });
    expectNoLoss(result);
    expect(result.fates.counts.answered).toBe(10);
  });
});
