import http from 'node:http';
import { startFixture } from './start-fixture';

const describePosix = process.platform === 'win32' ? describe.skip : describe;

jest.setTimeout(20_000);

describePosix('the deadline keeps room for the close phase (timeoutMs 1500, a request slower than that)', () => {
  it.each([
    ['the default drainTimeoutMs (10 s): no warning, the drain is capped', {}, false],
    ['drainTimeoutMs 1500 set too: a warning at creation', { DRAIN_TIMEOUT_MS: '1500' }, true],
  ])('cuts the drain at three quarters of the deadline so that the close hooks still run, with %s', async (_case, env, warned) => {
    const app = await startFixture('deadline-split.mjs', env);
    // Options that ask the drain for more than its share: a warning at creation, with its code.
    expect(app.stderr().includes('ERR_LIFESPAN_DEADLINE_SPLIT')).toBe(warned);
    const slow = new Promise<string>((resolve) => {
      http.get(`${app.url}/`, { agent: false }, (res) => res.resume().on('end', () => resolve(String(res.statusCode)))).on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
    });
    await app.until(() => app.events('arrived').length === 1, 'the slow request to arrive');
    app.kill('SIGTERM');
    // The request outlives the deadline: it is cut at the end of the drain's share.
    expect(await slow).toBe('ECONNRESET');
    expect(await app.exited).toEqual({ code: 1, signal: null });
    expect(app.lines().filter((line) => line !== 'exit:natural')).toEqual(['close:pool', 'hook:pool:ok']);
    expect(app.stderr()).toContain('ERR_LIFESPAN_REQUESTS_ABORTED');
  });
});
