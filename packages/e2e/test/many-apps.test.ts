import { startFixture } from './start-fixture';

const describePosix = process.platform === 'win32' ? describe.skip : describe;

jest.setTimeout(60_000);

describePosix('thousands of apps with shutdownHooks(), never shut down (a test suite)', () => {
  it('are engaged with the process while held, collected once dropped with the listeners only they needed, and the worker still exits by itself', async () => {
    const app = await startFixture('many-apps.mjs', { APPS: '2000' }, { startTimeoutMs: 50_000 });
    const [collected] = app.events('collected');
    const before = collected!['before'] as Record<string, number>;
    // Engaged at creation: signals are listened to before any request; no exit fallback for them.
    expect(collected!['created']).toEqual({ ...before, SIGTERM: before['SIGTERM']! + 1, SIGINT: before['SIGINT']! + 1 });
    // The process coordinator kept none of them alive, not even those a request reached, and the
    // listeners went with them.
    expect(collected).toMatchObject({ alive: 0, which: [], after: before });
    // A test runner's worker ends by itself once its parent is done with it: nothing of Lifespan holds it.
    app.child.send('end');
    expect(await app.exited).toEqual({ code: 0, signal: null });
    expect(app.lines()).toEqual(['exit:natural']);
  });
});
