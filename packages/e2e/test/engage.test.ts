import { get, unusedConnections } from './clients';
import { disposableAgent } from './disposable-agent';
import { startFixture } from './start-fixture';

// `app.use(shutdownHooks())` and `app.listen()`, nothing else: the form the README opens with.
// The lazy-attach scenario of support/adapter-app.cjs never calls attach().
const describePosix = process.platform === 'win32' ? describe.skip : describe;
const fixtures = (['express', 'koa'] as const).flatMap((framework) => (['mjs', 'cjs'] as const).map((format) => ({ framework, file: `${framework}.${format}` })));
/** The hooks' lines, without `exit:natural` (printed only if nothing else holds the event loop). */
const hookLines = (lines: string[]): string[] => lines.filter((line) => line !== 'exit:natural');

jest.setTimeout(20_000);

describePosix.each(fixtures)('shutdownHooks() alone, no attach() ($file)', ({ framework, file }) => {
  it('runs the hooks and exits 0 on a SIGTERM before any request', async () => {
    const app = await startFixture(file, { SCENARIO: 'lazy-attach' });
    app.kill('SIGTERM');
    expect(await app.exited).toEqual({ code: 0, signal: null });
    expect(hookLines(app.lines())).toEqual(['drain:request', 'close:server']);
  });

  it('runs the hooks and exits 0 on a SIGTERM before any request, with an unused connection open', async () => {
    const app = await startFixture(file, { SCENARIO: 'lazy-attach' });
    const { sockets } = await unusedConnections(app.port, 1);
    try {
      app.kill('SIGTERM');
      expect(await app.exited).toEqual({ code: 0, signal: null });
      expect(hookLines(app.lines())).toEqual(['drain:request', 'close:server']);
    } finally {
      for (const socket of sockets) socket.destroy();
    }
  });

  it('answers the requests that arrive during drainDelayMs after a SIGTERM that came before any request, and drains them', async () => {
    const app = await startFixture(file, { SCENARIO: 'lazy-attach', DRAIN_DELAY_MS: '600' });
    using agent = disposableAgent({ keepAlive: true });
    app.kill('SIGTERM');
    // A load balancer still routes here during the delay: this is the server's first request.
    await app.until(() => app.lines().includes('drain:request'), 'the shutdown to begin');
    expect(await get(`${app.url}/`, agent)).toMatchObject({ status: 200, body: 'ok' });
    // Still in flight when the delay ends and the listener closes.
    const slow = get(`${app.url}/slow?ms=800`, agent);
    expect(await slow).toMatchObject({ status: 200, body: 'slow', headers: { connection: 'close' } });
    expect(await app.exited).toEqual({ code: 0, signal: null });
    expect(hookLines(app.lines())).toEqual(['drain:request', 'finished:/slow', 'close:server']);
  });

  it('in a cluster worker: worker.disconnect() before any request runs the hooks, and the worker exits 0', async () => {
    const primary = await startFixture('cluster-adapter.mjs', { FRAMEWORK: framework });
    primary.child.send('disconnect-worker');
    expect(await primary.exited).toEqual({ code: 0, signal: null });
    expect(hookLines(primary.lines())).toEqual(['drain:request', 'close:server', 'worker-exit:0:null']);
  });

  it('in a cluster worker: worker.disconnect() with a request in flight on a server only requests attached drains it, and the worker exits 0', async () => {
    const primary = await startFixture('cluster-adapter.mjs', { FRAMEWORK: framework });
    using agent = disposableAgent({ keepAlive: true });
    expect(await get(`${primary.url}/`, agent)).toMatchObject({ status: 200, body: 'ok' });
    const slow = get(`${primary.url}/slow`, agent);
    await primary.until(() => primary.events('arrived').length === 1, 'the slow request to arrive');
    primary.child.send('disconnect-worker');
    expect(await slow).toMatchObject({ status: 200, body: 'slow', headers: { connection: 'close' } });
    expect(await primary.exited).toEqual({ code: 0, signal: null });
    expect(hookLines(primary.lines())).toEqual(['drain:request', 'close:server', 'worker-exit:0:null']);
  });
});
