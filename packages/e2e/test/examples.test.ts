import { once } from 'node:events';
import { WebSocket } from 'ws';
import { get, open } from './clients';
import { disposableAgent } from './disposable-agent';
import { readBody } from './read-body';
import { startFixture } from './start-fixture';

// examples/<framework>/server.mjs run as users run them, so that they never rot. They announce their
// port the way fixtures do; with LIFESPAN_EVENTS=1 they print `@lifespan {json}` lines, the last
// one the shutdown report.
const describePosix = process.platform === 'win32' ? describe.skip : describe;

jest.setTimeout(15_000);

interface ReportLine {
  type: 'report';
  report: {
    ok: boolean;
    reason: string;
    hooks: { name: string; status: string }[];
    http: { inFlightAtStart: number; webSocketsClosed: number };
    work: { name: string; status: string }[];
  };
}

describePosix.each(['express', 'koa', 'fastify'])('examples/%s/server.mjs', (name) => {
  it('serves /, a slow request and an SSE stream through SIGTERM, closes its WebSocket with 1001, lets its job finish, exits 0 and reports ok', async () => {
    const app = await startFixture(`../../../examples/${name}/server.mjs`, { PORT: '0', DRAIN_DELAY_MS: '100', LIFESPAN_EVENTS: '1' });
    using agent = disposableAgent({ keepAlive: true });
    // Listening comes before readiness: the startup hook connects the pool first.
    let probe = await get(`${app.url}/readyz`, agent);
    for (let i = 0; i < 200 && probe.status !== 200; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      probe = await get(`${app.url}/readyz`, agent);
    }
    expect(probe.status).toBe(200);
    for (let i = 0; i < 5; i++) expect(await get(`${app.url}/`, agent)).toMatchObject({ status: 200, body: '{"answer":42}' });

    const stream = await open(`${app.url}/events`, agent);
    expect(stream.statusCode).toBe(200);
    const events = readBody(stream);
    const webSocket = new WebSocket(`${app.url.replace('http:', 'ws:')}/ws`);
    const closed = new Promise<string>((resolve) => webSocket.once('close', (code, reason) => resolve(`${code} ${reason}`)));
    await once(webSocket, 'message');
    const slow = get(`${app.url}/slow?ms=300`, agent);
    // A request sent after /slow on another connection has been answered: /slow has arrived too.
    expect((await get(`${app.url}/`, agent)).status).toBe(200);
    app.kill('SIGTERM');
    expect(await slow).toMatchObject({ status: 200, body: '{"slow":true}' });
    expect(await events).toContain('event: bye\n');
    expect(await closed).toBe('1001 server shutting down');
    expect(await app.exited).toEqual({ code: 0, signal: null });

    const reports = app
      .lines()
      .filter((line) => line.startsWith('@lifespan '))
      .map((line) => JSON.parse(line.slice('@lifespan '.length)) as { type: string })
      .filter((event): event is ReportLine => event.type === 'report');
    expect(reports).toHaveLength(1);
    const { report } = reports[0]!;
    expect(report).toMatchObject({ ok: true, reason: 'SIGTERM' });
    // The pool's hook, registered by every request to / under one key, ran once.
    expect(report.hooks.map((hook) => `${hook.name}:${hook.status}`)).toEqual(['db pool:ok']);
    // The slow request and the SSE stream.
    expect(report.http.inFlightAtStart).toBe(2);
    expect(report.http.webSocketsClosed).toBe(1);
    // The job loop was mid-job (one job after another): that job finished inside the drain.
    expect(report.work).toEqual([expect.objectContaining({ name: 'report job', status: 'ok' })]);
    expect(app.stderr()).toBe('');
  });
});
