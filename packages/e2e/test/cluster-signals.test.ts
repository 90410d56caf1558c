import http from 'node:http';
import { runtime, startFixture } from './start-fixture';
import type { Fixture } from './start-fixture';

const describeUnix = process.platform === 'win32' ? describe.skip : describe;

jest.setTimeout(30_000);

/** One GET on a connection of its own; resolves with the status and body, or the client's error code. */
function request(url: string): Promise<string> {
  return new Promise((resolve) => {
    http
      .get(url, { agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve(res.complete ? `${res.statusCode}` : 'incomplete'));
        res.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
      })
      .on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

/** Starts `count` slow requests and waits until each one reached a worker. */
async function inFlight(primary: Fixture, count: number): Promise<Promise<string>[]> {
  const requests = Array.from({ length: count }, () => request(`${primary.url}/slow?ms=1500`));
  await primary.until(() => primary.events('arrived').length === count, `${count} requests to reach the workers`);
  return requests;
}

describeUnix('stopWorkersOnSignal() (the cluster recipe of docs/kubernetes.md)', () => {
  it.each([
    ['to the primary alone', (primary: Fixture) => primary.kill('SIGTERM')],
    // docker stop with an init that signals the group, systemd's control group, Ctrl+C at a terminal.
    ['to the whole process group', (primary: Fixture) => process.kill(-primary.child.pid!, 'SIGTERM')],
  ])('SIGTERM %s: every request in flight is answered, each worker runs its hooks once, the primary exits 0', async (_to, signal) => {
    const primary = await startFixture('cluster-recipe.mjs', {}, { detached: true });
    const workers = primary.events('spawned').map((event) => event['pid'] as number);
    expect(workers).toHaveLength(2);
    const requests = await inFlight(primary, 10);
    // Both workers carry some of them; Bun's cluster (1.4.5) does not spread connections over its
    // workers (all 10 reached one of them in every run here), so there it is one or both.
    const carriers = new Set(primary.events('arrived').map((event) => event['pid'] as number));
    if (runtime.kind === 'bun') expect(workers).toEqual(expect.arrayContaining([...carriers]));
    else expect(carriers).toEqual(new Set(workers));

    signal(primary);
    expect(await Promise.all(requests)).toEqual(Array.from({ length: 10 }, () => '200'));
    expect(await primary.exited).toEqual({ code: 0, signal: null });
    for (const pid of workers) {
      expect(primary.lines().filter((line) => line.endsWith(` ${pid}`))).toEqual([`drain:flush ${pid}`, `close:db ${pid}`]);
      expect(primary.lines()).toContain(`worker-exit:${pid}:0:null`);
    }
    // No worker was forked to replace one that was asked to stop.
    expect(primary.events('spawned')).toHaveLength(2);
    expect(primary.stderr()).toBe('');
  });

  it("exits with the workers' worst exit code", async () => {
    // Each worker has a close hook that fails, so each exits 1 (and says why on stderr).
    const primary = await startFixture('cluster-recipe.mjs', { FAILING_HOOK: '1' }, { detached: true });
    const workers = primary.events('spawned').map((event) => event['pid'] as number);
    primary.kill('SIGTERM');
    expect(await primary.exited).toEqual({ code: 1, signal: null });
    for (const pid of workers) expect(primary.lines()).toContain(`worker-exit:${pid}:1:null`);
    expect(primary.stderr().match(/ERR_LIFESPAN_HOOK_FAILED: Shutdown hook "cache" failed: cache unreachable/g)).toHaveLength(2);
  });

  it('kills the workers and exits 1 on a second signal', async () => {
    const primary = await startFixture('cluster-recipe.mjs', {}, { detached: true });
    const workers = primary.events('spawned').map((event) => event['pid'] as number);
    const requests = await inFlight(primary, 4);
    primary.kill('SIGTERM');
    await primary.until(() => workers.every((pid) => primary.lines().includes(`drain:flush ${pid}`)), 'both workers to begin their shutdown');
    primary.kill('SIGTERM');
    // Settles once every process holding the output pipe is gone: the primary and both workers.
    expect(await primary.exited).toEqual({ code: 1, signal: null });
    // Killed in the middle of their requests, before their close hooks. On Bun, whose cluster sends
    // every connection to one worker, the other has nothing to drain and may finish first.
    for (const result of await Promise.all(requests)) expect(result).not.toBe('200');
    const carriers = new Set(primary.events('arrived').map((event) => event['pid'] as number));
    for (const pid of workers) if (runtime.kind !== 'bun' || carriers.has(pid)) expect(primary.lines()).not.toContain(`close:db ${pid}`);
    expect(primary.stderr()).toBe('lifespan: ERR_LIFESPAN_FORCED_EXIT: Received SIGTERM again during shutdown; exiting immediately with code 1\n');
  });
});
