import http from 'node:http';
import { get, idleKeepAlive } from './clients';
import { recordTiming, startFixture } from './start-fixture';

const describePosix = process.platform === 'win32' ? describe.skip : describe;
// Generous on purpose: two busy cores.
const promptExitMs = 2000;

jest.setTimeout(15_000);

describePosix.each(['http.mjs', 'http.cjs'])('createLifecycle() in a real process (%s)', (file) => {
  it('abandons a hung hook at its timeout and exits 1 with ERR_LIFESPAN_HOOK_TIMEOUT on stderr', async () => {
    const app = await startFixture(file, { SCENARIO: 'hung-hook', HOOK_TIMEOUT_MS: '300' });
    app.kill('SIGTERM');
    expect(await app.exited).toEqual({ code: 1, signal: null });
    // The hooks after the hung one still run.
    expect(app.lines()).toEqual(['drain:request', 'close:hung', 'close:server', 'exit:natural']);
    expect(app.stderr()).toContain('ERR_LIFESPAN_HOOK_TIMEOUT');
  });

  it('exits 1 at once on a second SIGTERM during shutdown', async () => {
    const app = await startFixture(file, { SCENARIO: 'hung-hook', HOOK_TIMEOUT_MS: '30000' });
    app.kill('SIGTERM');
    await app.until(() => app.lines().includes('close:hung'), 'the hung hook to start');
    const sentAt = app.kill('SIGTERM');
    expect(await app.exited).toEqual({ code: 1, signal: null });
    const exitMs = app.exitedAt()! - sentAt;
    recordTiming(`${file}: exit after a second SIGTERM`, exitMs);
    expect(exitMs).toBeLessThan(promptExitMs);
    expect(app.lines()).toEqual(['drain:request', 'close:hung']);
    // One line: no stack of Lifespan's signal handler.
    expect(app.stderr()).toBe('lifespan: ERR_LIFESPAN_FORCED_EXIT: Received SIGTERM again during shutdown; exiting immediately with code 1\n');
  });

  it('runs the hooks once on server.close() and leaves the exit to the event loop', async () => {
    const app = await startFixture(file, { SCENARIO: 'server-close' });
    const agent = new http.Agent({ keepAlive: true });
    try {
      const response = await get(`${app.url}/close`, agent);
      expect(response).toMatchObject({ status: 200, body: 'closing', headers: { connection: 'close' } });
      expect(await app.exited).toEqual({ code: 0, signal: null });
      // 'exit:natural' comes from 'beforeExit', which process.exit() never emits.
      expect(app.lines()).toEqual(['drain:request', 'close:server', 'alive-after-shutdown', 'exit:natural']);
      expect(app.events('server-closed')).toHaveLength(1);
    } finally {
      agent.destroy();
    }
  });

  it('shuts two lifecycles in one process down with one SIGTERM', async () => {
    const app = await startFixture(file, { SCENARIO: 'two-lifecycles' });
    const agents = await Promise.all(app.ports.map((port) => idleKeepAlive(`http://127.0.0.1:${port}`, 5)));
    try {
      expect(app.ports).toHaveLength(2);
      // fetch keeps its own pool of idle keep-alive connections: those must not hold the exit either.
      for (const port of app.ports) expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe('ok');
      app.kill('SIGTERM');
      expect(await app.exited).toEqual({ code: 0, signal: null });
      expect([...app.lines()].sort()).toEqual(['close:a', 'close:b', 'drain:a', 'drain:b', 'exit:natural']);
    } finally {
      for (const agent of agents) agent.destroy();
    }
  });

  it('takes a SIGTERM during a cluster disconnect as a first signal: the request in flight is answered, the hooks run once, exit 0', async () => {
    const app = await startFixture(file, { SCENARIO: 'cluster' });
    const [spawned] = app.events('spawned');
    const agent = new http.Agent({ keepAlive: true });
    try {
      const inFlight = get(`${app.url}/slow?after=shutdown&ms=300`, agent);
      await app.until(() => app.events('arrived').length === 1, 'the request to arrive');
      // A rolling restart disconnects the worker; the orchestrator stops the pod meanwhile.
      app.child.send('disconnect-worker');
      await app.until(() => app.lines().includes('drain:request'), 'the worker to begin its shutdown');
      process.kill(spawned!['pid'] as number, 'SIGTERM');
      expect(await inFlight).toMatchObject({ status: 200, body: 'slow', headers: { connection: 'close' } });
      expect(await app.exited).toEqual({ code: 0, signal: null });
      expect(app.lines()).toEqual(['drain:request', 'close:server', 'exit:natural', 'worker-exit:0:null', 'exit:natural']);
    } finally {
      agent.destroy();
    }
  });

  it("takes a SIGTERM after PM2's shutdown message as a first signal; the request in flight is answered, exit 0", async () => {
    const app = await startFixture(file, { SCENARIO: 'basic', pm_id: '0' });
    const agent = new http.Agent({ keepAlive: true });
    try {
      const inFlight = get(`${app.url}/slow?after=shutdown&ms=300`, agent);
      await app.until(() => app.events('arrived').length === 1, 'the request to arrive');
      app.child.send('shutdown');
      await app.until(() => app.lines().includes('drain:request'), 'the shutdown to begin');
      app.kill('SIGTERM');
      expect(await inFlight).toMatchObject({ status: 200, body: 'slow', headers: { connection: 'close' } });
      expect(await app.exited).toEqual({ code: 0, signal: null });
      expect(app.lines()).toEqual(['drain:request', 'close:server', 'exit:natural']);
      expect(app.stderr()).toBe('');
    } finally {
      agent.destroy();
    }
  });

  it("forces exit 1 on the second SIGTERM after PM2's shutdown message, in one line", async () => {
    const app = await startFixture(file, { SCENARIO: 'hung-hook', HOOK_TIMEOUT_MS: '30000', pm_id: '0', REPORT_SIGNALS: '1' });
    app.child.send('shutdown');
    await app.until(() => app.lines().includes('close:hung'), 'the hung hook to start');
    app.kill('SIGTERM');
    await app.until(() => app.events('signal').length === 1, 'the first SIGTERM to be handled');
    app.kill('SIGTERM');
    expect(await app.exited).toEqual({ code: 1, signal: null });
    expect(app.lines()).toEqual(['drain:request', 'close:hung']);
    expect(app.stderr()).toBe('lifespan: ERR_LIFESPAN_FORCED_EXIT: Received SIGTERM again during shutdown; exiting immediately with code 1\n');
  });

  it('shuts a cluster worker down once when the primary calls worker.disconnect()', async () => {
    const app = await startFixture(file, { SCENARIO: 'cluster' });
    // An idle keep-alive connection on the worker: disconnect must not wait for it forever.
    const agent = await idleKeepAlive(app.url, 2);
    try {
      app.child.send('disconnect-worker');
      expect(await app.exited).toEqual({ code: 0, signal: null });
      expect(app.lines()).toEqual(['drain:request', 'close:server', 'exit:natural', 'worker-exit:0:null', 'exit:natural']);
    } finally {
      agent.destroy();
    }
  });
});
