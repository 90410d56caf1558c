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
    expect(app.lines()).toEqual(['drain:request', 'close:hung', 'close:server']);
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
    expect(app.stderr()).toContain('ERR_LIFESPAN_FORCED_EXIT');
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
      expect([...app.lines()].sort()).toEqual(['close:a', 'close:b', 'drain:a', 'drain:b']);
    } finally {
      for (const agent of agents) agent.destroy();
    }
  });

  it('shuts a cluster worker down once when the primary calls worker.disconnect()', async () => {
    const app = await startFixture(file, { SCENARIO: 'cluster' });
    // An idle keep-alive connection on the worker: disconnect must not wait for it forever.
    const agent = await idleKeepAlive(app.url, 2);
    try {
      app.child.send('disconnect-worker');
      expect(await app.exited).toEqual({ code: 0, signal: null });
      expect(app.lines()).toEqual(['drain:request', 'close:server', 'worker-exit:0:null', 'exit:natural']);
    } finally {
      agent.destroy();
    }
  });
});
