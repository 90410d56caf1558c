import { createLifecycle } from '@lifespan/core';
import { createHealthProbe } from '@lifespan/core/http';

describe('lifecycle.health()', () => {
  it('is live but not ready before startup, ready once started, neither ready nor (at the end) live during shutdown', async () => {
    const lifecycle = createLifecycle({ signals: false });
    expect(lifecycle.health()).toEqual({ live: true, ready: false, state: 'created' });
    await lifecycle.start();
    expect(lifecycle.health()).toEqual({ live: true, ready: true, state: 'ready' });
    lifecycle.registerShutdown(() => {
      expect(lifecycle.health()).toEqual({ live: true, ready: false, state: 'closing' });
    });
    const report = lifecycle.shutdown();
    expect(lifecycle.health()).toEqual({ live: true, ready: false, state: 'draining' });
    await report;
    expect(lifecycle.health()).toEqual({ live: false, ready: false, state: 'closed' });
  });

  it('is not live after a failed startup', async () => {
    const lifecycle = createLifecycle({ signals: false });
    lifecycle.registerStartup(() => {
      throw new Error('no database');
    });
    await expect(lifecycle.start()).rejects.toMatchObject({ code: 'ERR_LIFESPAN_STARTUP_FAILED' });
    expect(lifecycle.health().live).toBe(false);
  });
});

describe('lifecycle.checkHealth(options)', () => {
  it('turns readiness false with the failing check named, and no error details unless asked', async () => {
    const lifecycle = createLifecycle({ signals: false });
    lifecycle.registerHealthCheck('cache', () => true);
    lifecycle.registerHealthCheck('db', async () => {
      throw new Error('password authentication failed for user "app"');
    });
    await lifecycle.start();
    expect(await lifecycle.checkHealth()).toEqual({ live: true, ready: false, state: 'ready', failing: ['db'] });
    const detailed = await lifecycle.checkHealth({ details: true });
    expect(detailed.details?.db).toContain('password authentication failed');
    await lifecycle.shutdown();
  });

  it('counts a check that does not settle within its timeout as failing, and aborts its signal', async () => {
    const lifecycle = createLifecycle({ signals: false });
    let aborted = false;
    lifecycle.registerHealthCheck(
      'slow',
      (signal) =>
        new Promise<void>((resolve) => {
          signal.addEventListener('abort', () => {
            aborted = true;
            resolve();
          });
        }),
      { timeoutMs: 20 },
    );
    await lifecycle.start();
    expect((await lifecycle.checkHealth()).failing).toEqual(['slow']);
    expect(aborted).toBe(true);
    await lifecycle.shutdown();
  });

  it('says that a check did not settle in time, as a health check (not a shutdown hook), also to the check', async () => {
    const lifecycle = createLifecycle({ signals: false });
    let reason: unknown;
    const hang = (signal: AbortSignal): Promise<void> =>
      new Promise((resolve) => {
        signal.addEventListener('abort', () => {
          reason = signal.reason;
          resolve();
        });
      });
    lifecycle.registerHealthCheck('cache', hang, { timeoutMs: 20 });
    await lifecycle.start();
    const health = await lifecycle.checkHealth({ details: true });
    expect(health.details).toEqual({ cache: 'Health check "cache" did not settle within 20 ms' });
    expect(reason).toMatchObject({ code: 'ERR_LIFESPAN_HEALTH_CHECK_FAILED', checkName: 'cache', timeoutMs: 20 });
    await lifecycle.shutdown();
  });

  it('stops running a check once it is unregistered', async () => {
    const lifecycle = createLifecycle({ signals: false });
    const unregister = lifecycle.registerHealthCheck('db', () => Promise.reject(new Error('down')));
    await lifecycle.start();
    expect((await lifecycle.checkHealth()).ready).toBe(false);
    expect(unregister()).toBe(true);
    expect(unregister()).toBe(false);
    expect((await lifecycle.checkHealth()).ready).toBe(true);
    await lifecycle.shutdown();
  });

  it('rejects a bad name, check or timeout with ERR_LIFESPAN_INVALID_ARG', () => {
    const lifecycle = createLifecycle({ signals: false });
    expect(() => lifecycle.registerHealthCheck('', () => true)).toThrow(expect.objectContaining({ code: 'ERR_LIFESPAN_INVALID_ARG' }));
    expect(() => lifecycle.registerHealthCheck('db', 'up' as never)).toThrow(expect.objectContaining({ code: 'ERR_LIFESPAN_INVALID_ARG' }));
    expect(() => lifecycle.registerHealthCheck('db', () => true, { timeoutMs: -1 })).toThrow(expect.objectContaining({ code: 'ERR_LIFESPAN_INVALID_ARG' }));
  });
});

describe('createHealthProbe(lifecycle, routes)', () => {
  it('answers the ready and live paths with 200 or 503 and the health as JSON, and nothing else', async () => {
    const lifecycle = createLifecycle({ signals: false });
    const probe = createHealthProbe(lifecycle, { readyPath: '/readyz', livePath: '/livez' })!;
    expect(probe('GET', '/users')).toBeUndefined();
    expect(probe('POST', '/readyz')).toBeUndefined();
    expect(await probe('GET', '/readyz?verbose=1')).toMatchObject({ status: 503, body: JSON.stringify({ live: true, ready: false, state: 'created' }) });
    await lifecycle.start();
    const ready = await probe('HEAD', '/readyz');
    expect(ready).toMatchObject({ status: 200, headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' } });
    void lifecycle.shutdown();
    expect((await probe('GET', '/readyz'))?.status).toBe(503);
    expect((await probe('GET', '/livez'))?.status).toBe(200);
  });

  it('answers the live path at once from the state, without waiting for a readiness check that hangs', async () => {
    const lifecycle = createLifecycle({ signals: false });
    let release!: () => void;
    const check = jest.fn(() => new Promise<void>((resolve) => (release = resolve)));
    lifecycle.registerHealthCheck('db', check, { timeoutMs: 60_000 });
    await lifecycle.start();
    const probe = createHealthProbe(lifecycle, { readyPath: '/readyz', livePath: '/livez' })!;
    const ready = probe('GET', '/readyz')!;
    let readySettled = false;
    void ready.then(() => (readySettled = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(await probe('GET', '/livez')).toMatchObject({ status: 200, body: JSON.stringify({ live: true, state: 'ready' }) });
    expect(readySettled).toBe(false);
    expect(check).toHaveBeenCalledTimes(1);
    release();
    expect((await ready).status).toBe(200);
    await lifecycle.shutdown();
  });

  it('runs the readiness checks at most once at a time: probes that arrive meanwhile share the result; a later probe runs them again', async () => {
    const lifecycle = createLifecycle({ signals: false });
    const releases: ((healthy: boolean) => void)[] = [];
    const check = jest.fn(
      () =>
        new Promise<void>((resolve, reject) => {
          releases.push((healthy) => (healthy ? resolve() : reject(new Error('db down'))));
        }),
    );
    lifecycle.registerHealthCheck('db', check, { timeoutMs: 60_000 });
    await lifecycle.start();
    const probes = Array.from({ length: 8 }, (_, i) => lifecycle.checkHealth({ details: i % 2 === 0 }));
    await new Promise((resolve) => setImmediate(resolve));
    expect(check).toHaveBeenCalledTimes(1);
    releases[0]!(false);
    const results = await Promise.all(probes);
    for (const [i, result] of results.entries()) {
      expect(result).toMatchObject({ ready: false, failing: ['db'] });
      expect('details' in result).toBe(i % 2 === 0);
    }
    const later = lifecycle.checkHealth();
    await new Promise((resolve) => setImmediate(resolve));
    expect(check).toHaveBeenCalledTimes(2);
    releases[1]!(true);
    expect(await later).toEqual({ live: true, ready: true, state: 'ready' });
    await lifecycle.shutdown();
  });

  it('is off without routes, and rejects paths that do not start with "/"', () => {
    const lifecycle = createLifecycle({ signals: false });
    expect(createHealthProbe(lifecycle, undefined)).toBeUndefined();
    expect(() => createHealthProbe(lifecycle, { readyPath: 'readyz' })).toThrow(expect.objectContaining({ code: 'ERR_LIFESPAN_INVALID_ARG' }));
    expect(() => createHealthProbe(lifecycle, { readyPath: '/readyz', port: 9000 } as never)).toThrow(expect.objectContaining({ code: 'ERR_LIFESPAN_INVALID_ARG' }));
  });
});
