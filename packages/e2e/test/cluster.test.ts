import http from 'node:http';
import { keepAliveLoad } from './keep-alive-load';
import { recordTiming, startFixture } from './start-fixture';

interface Restart {
  oldId: number;
  newId: number;
  oldPid: number;
  newPid: number;
  exitCode: number | null;
  signal: string | null;
  killed: boolean;
}

/** One request on a new connection, as a client that just arrived: the pid that answered. */
function freshPid(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => (res.statusCode === 200 ? resolve((JSON.parse(body) as { pid: number }).pid) : reject(new Error(`status ${res.statusCode}`))));
      })
      .on('error', reject);
  });
}

const describeUnix = process.platform === 'win32' ? describe.skip : describe;

describeUnix('restartWorkers() (Node cluster rolling restart)', () => {
  it('replaces both workers under load: no request lost, each old worker runs its hooks once and exits 0', async () => {
    // A draining worker ends a keep-alive connection once it has been idle for idleGraceMs. A client
    // that reads a response late (this machine stalls processes for 60 ms and more) sends its next
    // request on that connection just as the FIN arrives, and loses it: the grace must exceed the
    // clients' worst reaction time, which the 25 ms default does not here.
    const primary = await startFixture('cluster-primary.mjs', { IDLE_GRACE_MS: '500' });
    const oldPids = primary.events('spawned').map((event) => event['pid'] as number);
    expect(oldPids).toHaveLength(2);

    const load = keepAliveLoad(primary.url, { concurrency: 20, maxDurationMs: 8000 });
    while (load.ok < 100) await new Promise((resolve) => setTimeout(resolve, 10));
    const startedAt = performance.now();
    primary.child.send('restart');
    await primary.until(() => primary.events('restarted').length + primary.events('restart-failed').length > 0, 'the rolling restart', 20_000);
    recordTiming('cluster: rolling restart of 2 workers', performance.now() - startedAt);
    const okAfterRestart = load.ok;
    while (load.ok < okAfterRestart + 100) await new Promise((resolve) => setTimeout(resolve, 10));
    const result = await load.stop();

    expect(primary.events('restart-failed')).toEqual([]);
    const [restarted] = primary.events('restarted');
    const restarts = restarted!['restarts'] as Restart[];
    expect(result.failed).toEqual([]);
    expect(restarts.map((restart) => restart.oldPid).sort()).toEqual([...oldPids].sort());
    for (const restart of restarts) expect(restart).toMatchObject({ exitCode: 0, signal: null, killed: false });
    const newPids = restarts.map((restart) => restart.newPid);
    expect(restarted!['workers']).toEqual(newPids);
    for (const pid of oldPids) {
      expect(primary.lines().filter((line) => line.endsWith(` ${pid}`))).toEqual([`drain:flush ${pid}`, `close:cache ${pid}`, `close:db ${pid}`]);
      expect(primary.lines()).toContain(`worker-exit:${pid}:0:null`);
    }

    // New clients reach the new workers, and only them.
    const served = new Set<number>();
    for (let i = 0; i < 10; i++) served.add(await freshPid(primary.url));
    expect([...served].sort()).toEqual([...newPids].sort());

    primary.child.send('stop');
    expect(await primary.exited).toEqual({ code: 0, signal: null });
    for (const pid of newPids) expect(primary.lines()).toContain(`worker-exit:${pid}:0:null`);
  }, 30_000);

  it('finishes the restart when an old worker dies while its successor starts', async () => {
    const primary = await startFixture('cluster-primary.mjs');
    const oldPids = primary.events('spawned').map((event) => event['pid'] as number);
    primary.child.send('restart-after-crash');
    await primary.until(() => primary.events('restarted').length + primary.events('restart-failed').length > 0, 'the rolling restart', 15_000);

    expect(primary.events('restart-failed')).toEqual([]);
    const restarts = primary.events('restarted')[0]!['restarts'] as Restart[];
    expect(restarts).toEqual([
      expect.objectContaining({ oldPid: oldPids[0], exitCode: 0, signal: null, killed: false }),
      expect.objectContaining({ oldPid: oldPids[1], exitCode: null, signal: 'SIGKILL', killed: false }),
    ]);
    const served = new Set<number>();
    for (let i = 0; i < 10; i++) served.add(await freshPid(primary.url));
    expect([...served].sort()).toEqual(restarts.map((restart) => restart.newPid).sort());

    primary.child.send('stop');
    expect(await primary.exited).toEqual({ code: 0, signal: null });
  }, 30_000);
});

describeUnix('a cluster worker sent SIGTERM itself (as a process group signal or a supervisor does)', () => {
  it('ends once its shutdown is over, not at exitTimeoutMs: Node\'s cluster code holds the IPC channel, which Lifespan lets go', async () => {
    // A bound far beyond the test's wait: a worker that waited for it would fail here.
    const primary = await startFixture('cluster-primary.mjs', { EXIT_TIMEOUT_MS: '60000' });
    const [pid] = primary.events('spawned').map((event) => event['pid'] as number);
    process.kill(pid!, 'SIGTERM');
    await primary.until(() => primary.lines().some((line) => line.startsWith(`worker-exit:${pid}:`)), 'the worker to exit', 15_000);
    expect(primary.lines()).toContain(`worker-exit:${pid}:0:null`);
    expect(primary.lines()).toContain(`close:db ${pid}`);
    primary.child.send('stop');
    expect(await primary.exited).toEqual({ code: 0, signal: null });
  }, 30_000);
});
