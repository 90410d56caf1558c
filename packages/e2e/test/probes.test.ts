import { get } from './clients';
import { disposableAgent } from './disposable-agent';
import { startFixture } from './start-fixture';

const describePosix = process.platform === 'win32' ? describe.skip : describe;

jest.setTimeout(20_000);

describePosix('probes a kubelet can trust (a readiness check that hangs)', () => {
  it('answers /livez at once from the state while readiness checks are still running', async () => {
    const app = await startFixture('probes.mjs');
    using agent = disposableAgent({ keepAlive: true, maxSockets: 10 });
    let readySettled = false;
    const ready = get(`${app.url}/readyz`, agent).finally(() => (readySettled = true));
    await app.until(() => app.lines().includes('check:run'), 'the readiness check to start');
    const live = await get(`${app.url}/livez`, agent);
    expect(live.status).toBe(200);
    // Liveness alone: whether the process should be restarted, not whether it should get traffic.
    expect(JSON.parse(live.body)).toEqual({ live: true, state: 'ready' });
    expect(readySettled).toBe(false);
    app.child.send('release');
    expect((await ready).status).toBe(200);
    app.kill('SIGTERM');
    expect(await app.exited).toEqual({ code: 0, signal: null });
  });

  it('runs the readiness checks at most once at a time, and concurrent probes share the result', async () => {
    const app = await startFixture('probes.mjs');
    using agent = disposableAgent({ keepAlive: true, maxSockets: 10 });
    const probes = Array.from({ length: 8 }, () => get(`${app.url}/readyz`, agent));
    await app.until(() => app.events('probe').length === 8, 'eight probes to arrive');
    app.child.send('release');
    for (const probe of await Promise.all(probes)) expect(probe.status).toBe(200);
    expect(app.lines().filter((line) => line === 'check:run')).toHaveLength(1);
    // A later probe runs the check again: the result is shared, not cached.
    const later = get(`${app.url}/readyz`, agent);
    await app.until(() => app.lines().filter((line) => line === 'check:run').length === 2, 'the next probe to run the check');
    app.child.send('release');
    expect((await later).status).toBe(200);
    app.kill('SIGTERM');
    expect(await app.exited).toEqual({ code: 0, signal: null });
  });
});
