import { startFixture } from './start-fixture';

const describePosix = process.platform === 'win32' ? describe.skip : describe;

describePosix('lifecycle.run() in a real process', () => {
  it('on SIGTERM the consumer stops pulling, its job in progress finishes inside the drain, before the close hooks; exit 0', async () => {
    const app = await startFixture('background-work.mjs');
    await app.until(() => app.events('job').length >= 3, 'three jobs');
    app.kill('SIGTERM');
    expect(await app.exited).toEqual({ code: 0, signal: null });
    // The process may exit by itself just before Lifespan's exit (nothing left to run): not a hook.
    const lines = app.lines().filter((line) => line !== 'exit:natural');
    const last = app.events('job').length - 1;
    const jobs = lines.filter((line) => line.startsWith('job:'));
    // Every job started was done, and the last one before the close hook ran.
    expect(jobs.at(-2)).toBe(`job:start:${last}`);
    expect(jobs.at(-1)).toBe(`job:done:${last}`);
    expect(lines.slice(lines.indexOf(`job:done:${last}`) + 1)).toEqual(['close:server']);
    expect(lines.indexOf('drain:request')).toBeLessThan(lines.indexOf(`job:done:${last}`));
  });

  it('a worker that ignores its signal is cut at drainTimeoutMs and named on stderr (ERR_LIFESPAN_WORK_CUT); exit 1', async () => {
    const app = await startFixture('background-work.mjs', { SCENARIO: 'stuck', DRAIN_TIMEOUT_MS: '500' });
    await app.until(() => app.events('job').length >= 1, 'a job');
    app.kill('SIGTERM');
    expect(await app.exited).toEqual({ code: 1, signal: null });
    expect(app.stderr()).toContain('ERR_LIFESPAN_WORK_CUT');
    expect(app.stderr()).toContain('"stuck"');
    expect(app.lines().filter((line) => line !== 'exit:natural').at(-1)).toBe('close:server');
  });
});
