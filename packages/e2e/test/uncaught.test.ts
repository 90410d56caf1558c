import { startFixture } from './start-fixture';

const describePosix = process.platform === 'win32' ? describe.skip : describe;

jest.setTimeout(20_000);

describePosix('handleUncaught in a real process', () => {
  it("shuts down, exits 1, and puts the app's own stack (the file and line that threw) on stderr", async () => {
    const app = await startFixture('uncaught.mjs');
    app.child.send('throw');
    expect(await app.exited).toEqual({ code: 1, signal: null });
    expect(app.lines().filter((line) => line !== 'exit:natural')).toEqual(['drain:request', 'close:server']);
    const stderr = app.stderr();
    expect(stderr).toContain('lifespan: ERR_LIFESPAN_UNCAUGHT: uncaughtException: card declined\n  Caused by: Error: card declined\n');
    expect(stderr).toMatch(/at (Timeout\.)?chargeCustomer (\[as _onTimeout\] )?\(.*fixtures\/uncaught\.mjs:\d+:\d+\)/);
  });
});
