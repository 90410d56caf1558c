import { waitFor } from './clients';
import { LbProxy } from './lb-proxy';
import { keepAliveLoad } from './keep-alive-load';
import { exitWithin, recordTiming, startFixture } from './start-fixture';

// The kubelet and a Service, played with real processes on 127.0.0.1: two pods behind a proxy
// that polls /readyz every 100 ms, steady keep-alive traffic, SIGTERM to one pod.
const drainDelayMs = 500;
const gracePeriodMs = 5000;

const describeUnix = process.platform === 'win32' ? describe.skip : describe;

describeUnix('Kubernetes rollout (SIGTERM behind a load balancer)', () => {
  it('loses no request, fails readiness before closing the listener, and exits 0 within the grace period', async () => {
    const env = { DRAIN_DELAY_MS: String(drainDelayMs), TIMEOUT_MS: String(gracePeriodMs - 1000) };
    const [stopping, staying] = await Promise.all([startFixture('k8s-app.mjs', env), startFixture('k8s-app.mjs', env)]);
    await using proxy = await LbProxy.start([stopping.port, staying.port]);
    await proxy.waitRoutable(2);

    // The test stops the load; maxDurationMs only bounds it if the test fails first.
    const load = keepAliveLoad(proxy.url, { concurrency: 20, maxDurationMs: 20_000 });
    // Traffic to both pods first, however slow the machine.
    await waitFor(() => load.ok >= 100, '100 answers');
    const sentAt = stopping.kill('SIGTERM');
    const exit = await exitWithin(stopping, gracePeriodMs);
    const exitMs = stopping.exitedAt()! - sentAt;
    const okAtExit = load.ok;
    // The remaining pod carries the traffic on its own for a moment.
    await waitFor(() => load.ok >= okAtExit + 100, '100 answers from the remaining pod');
    const result = await load.stop();
    recordTiming('kubernetes: SIGTERM to exit', exitMs);

    expect(result.failed).toEqual([]);
    expect(proxy.failures).toEqual([]);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(exitMs).toBeLessThan(gracePeriodMs);
    expect(exitMs).toBeGreaterThanOrEqual(drainDelayMs);
    expect(result.pids.size).toBe(2);
    expect(stopping.lines()).toEqual(['state:draining', 'drain:flush', 'event:listener-closed', 'close:cache', 'close:db', 'exit:natural']);

    // Probes use a new connection each: a 503 means the pod answered on a listener still open.
    const observed = proxy.upstream(stopping.port).probes.filter((probe) => probe.at >= sentAt);
    const probes = observed.map((probe) => probe.result);
    const first503 = probes.indexOf(503);
    if (first503 >= 0) recordTiming('kubernetes: SIGTERM to the first 503 probe', observed[first503]!.at - sentAt);
    expect(first503).toBeGreaterThanOrEqual(0);
    expect(probes.slice(0, first503)).toEqual(probes.slice(0, first503).map(() => 200));
    expect(probes.slice(first503)).not.toContain(200);
    expect(proxy.upstream(staying.port).routable).toBe(true);

    staying.kill('SIGTERM');
    expect(await staying.exited).toEqual({ code: 0, signal: null });
  }, 30_000);
});
