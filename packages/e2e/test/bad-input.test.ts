import { startFixture } from './start-fixture';

const describePosix = process.platform === 'win32' ? describe.skip : describe;

jest.setTimeout(15_000);

describePosix('bad input in a real process', () => {
  it.each([
    ['signal-sigkill', 'options.signals'],
    ['signal-unknown', 'options.signals'],
    ['duration-too-long', 'options.hookTimeoutMs'],
    ['attach-koa-app', 'server'],
    ['key-undefined', 'options.key'],
    ['key-other-phase', 'options.phase'],
  ])('%s: a coded error at the call, and SIGTERM still shuts the process down', async (scenario, argument) => {
    const app = await startFixture('bad-input.mjs', { SCENARIO: scenario });
    expect(app.lines()).toEqual([`threw:ERR_LIFESPAN_INVALID_ARG:${argument}`]);
    expect(await (await fetch(`${app.url}/`)).text()).toBe('ok');
    app.kill('SIGTERM');
    expect(await app.exited).toEqual({ code: 0, signal: null });
    expect(app.lines()).toEqual([`threw:ERR_LIFESPAN_INVALID_ARG:${argument}`, 'drain:request', 'close:server', 'exit:natural']);
    expect(app.stderr()).toBe('');
  });
});
