import { startFixture } from './start-fixture';

const describePosix = process.platform === 'win32' ? describe.skip : describe;

jest.setTimeout(20_000);

describePosix('a startup hook that fails in a real process', () => {
  it.each([
    ['nothing else holds the event loop', {}],
    ['a pool keeps the event loop alive', { POOL: '1' }],
  ])('says so on stderr (code, hook, cause and where it threw) and exits 1 when %s', async (_case, env) => {
    const app = await startFixture('startup-failure.mjs', env);
    expect(await app.exited).toEqual({ code: 1, signal: null });
    // The shutdown hooks registered so far ran, once.
    expect(app.lines().filter((line) => line !== 'exit:natural')).toEqual(['drain:request', 'close:server']);
    const stderr = app.stderr();
    expect(stderr).toContain('lifespan: ERR_LIFESPAN_STARTUP_FAILED: Startup hook "db" failed, so the lifecycle shut down: database unreachable');
    // The user's own frame: the file and function that threw.
    expect(stderr).toMatch(/at (Object\.)?connectDatabase \(.*fixtures\/startup-failure\.mjs:\d+:\d+\)/);
  });

  it('exits with the exit policy: exit: false leaves the process alone', async () => {
    // Without a signal to follow, the pool keeps it running: the test ends it.
    const app = await startFixture('startup-failure.mjs', { POOL: '1', EXIT: 'false' });
    await app.until(() => app.lines().includes('close:server'), 'the shutdown hooks to run');
    expect(app.stderr()).toContain('ERR_LIFESPAN_STARTUP_FAILED');
    app.child.kill('SIGKILL');
    expect(await app.exited).toEqual({ code: null, signal: 'SIGKILL' });
  });
});
