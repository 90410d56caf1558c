import { once } from 'node:events';
import type { Lifecycle } from '@lifespan/core';
import { createTestLifecycle } from '@lifespan/core/testing';
import type { HookContext, LifecycleOptions, LifecycleState } from '@lifespan/core';
import { FakeProcess, never } from './fake-process';

function setup(options: LifecycleOptions = {}): { lifecycle: Lifecycle; proc: FakeProcess } {
  const proc = new FakeProcess();
  return { lifecycle: createTestLifecycle({ signals: false, ...options }, proc), proc };
}

afterEach(() => {
  jest.useRealTimers();
});

describe('lifecycle.shutdown() phases', () => {
  it('runs close hooks in reverse registration order (the smoke case)', async () => {
    const calls: string[] = [];
    const { lifecycle } = setup();
    lifecycle.registerShutdown(() => void calls.push('db'), { name: 'db' });
    lifecycle.registerShutdown(() => void calls.push('cache'), { name: 'cache' });
    await lifecycle.shutdown();
    expect(calls).toEqual(['cache', 'db']);
  });

  it('runs every drain hook before any close hook, last registered first within each phase', async () => {
    const calls: string[] = [];
    const { lifecycle } = setup();
    const hook = (name: string) => async () => {
      calls.push(`start ${name}`);
      await Promise.resolve();
      calls.push(`end ${name}`);
    };
    lifecycle.registerShutdown(hook('close1'), { name: 'close1' });
    lifecycle.registerShutdown(hook('drain1'), { name: 'drain1', phase: 'drain' });
    lifecycle.registerShutdown(hook('close2'), { name: 'close2', phase: 'close' });
    lifecycle.registerShutdown(hook('drain2'), { name: 'drain2', phase: 'drain' });
    const report = await lifecycle.shutdown();
    expect(calls).toEqual([
      'start drain2', 'end drain2', 'start drain1', 'end drain1',
      'start close2', 'end close2', 'start close1', 'end close1',
    ]);
    expect(report.hooks.map((h) => [h.name, h.phase, h.status])).toEqual([
      ['drain2', 'drain', 'ok'],
      ['drain1', 'drain', 'ok'],
      ['close2', 'close', 'ok'],
      ['close1', 'close', 'ok'],
    ]);
  });

  it('runs hooks of one phase concurrently with hookConcurrency > 1', async () => {
    const { lifecycle } = setup({ hookConcurrency: 3 });
    let running = 0;
    let peak = 0;
    const started: string[] = [];
    for (const name of ['a', 'b', 'c', 'd']) {
      lifecycle.registerShutdown(
        async () => {
          started.push(name);
          running++;
          peak = Math.max(peak, running);
          await new Promise((resolve) => setImmediate(resolve));
          running--;
        },
        { name },
      );
    }
    const report = await lifecycle.shutdown();
    expect(peak).toBe(3);
    expect(started).toEqual(['d', 'c', 'b', 'a']);
    expect(report.ok).toBe(true);
  });

  it('still runs a close hook registered while draining', async () => {
    const { lifecycle } = setup();
    const late = jest.fn();
    lifecycle.registerShutdown(() => {
      lifecycle.registerShutdown(late, { name: 'late' });
    }, { name: 'drain', phase: 'drain' });
    const report = await lifecycle.shutdown();
    expect(late).toHaveBeenCalledTimes(1);
    expect(report.hooks.map((h) => h.name)).toEqual(['drain', 'late']);
  });

  it('starts a drain hook registered while draining right away', async () => {
    const { lifecycle } = setup();
    const late = jest.fn();
    lifecycle.registerShutdown(() => {
      lifecycle.registerShutdown(late, { name: 'late drain', phase: 'drain' });
    }, { name: 'first', phase: 'drain' });
    const report = await lifecycle.shutdown();
    expect(late).toHaveBeenCalledTimes(1);
    expect(report.hooks.map((h) => h.name)).toEqual(['first', 'late drain']);
  });

  it('finishes a drain hook registered while a late drain hook runs before the close phase, and reports it', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] });
    const { lifecycle } = setup();
    const calls: string[] = [];
    lifecycle.registerShutdown(() => void calls.push('close'), { name: 'close' });
    const pending = lifecycle.shutdown();
    lifecycle.registerShutdown(() => new Promise<void>((resolve) => setTimeout(() => resolve(void calls.push('first late')), 100)), { name: 'first late', phase: 'drain' });
    await jest.advanceTimersByTimeAsync(10);
    lifecycle.registerShutdown(() => new Promise<void>((resolve) => setTimeout(() => resolve(void calls.push('second late')), 200)), { name: 'second late', phase: 'drain' });
    await jest.advanceTimersByTimeAsync(300);
    const report = await pending;
    expect(calls).toEqual(['first late', 'second late', 'close']);
    expect(report.hooks.map((h) => h.name)).toEqual(['first late', 'second late', 'close']);
  });

  it.each(['closing', 'closed'] as const)('throws ERR_LIFESPAN_REGISTER_TOO_LATE when registering in "%s"', async (state) => {
    const { lifecycle } = setup();
    let thrown: unknown;
    lifecycle.on('state', (next) => {
      if (next !== state) return;
      try {
        lifecycle.registerShutdown(() => undefined, { name: 'too late' });
      } catch (error) {
        thrown = error;
      }
    });
    await lifecycle.shutdown();
    expect(thrown).toMatchObject({ code: 'ERR_LIFESPAN_REGISTER_TOO_LATE' });
    expect((thrown as Error).message).toContain('too late');
    expect(() => lifecycle.registerShutdown(() => undefined)).toThrow(expect.objectContaining({ code: 'ERR_LIFESPAN_REGISTER_TOO_LATE' }));
  });
});

describe('hook context', () => {
  it('gives every hook { signal, reason, deadline }', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] });
    const { lifecycle } = setup({ hookTimeoutMs: 2000 });
    const contexts: HookContext[] = [];
    lifecycle.registerShutdown((context) => void contexts.push(context), { phase: 'drain' });
    lifecycle.registerShutdown((context) => void contexts.push(context), { timeoutMs: 500 });
    const before = Date.now();
    await lifecycle.shutdown('deploy');
    expect(contexts).toHaveLength(2);
    for (const context of contexts) {
      expect(context.signal).toBeInstanceOf(AbortSignal);
      expect(context.signal.aborted).toBe(false);
      expect(context.reason).toBe('deploy');
    }
    expect(contexts[0]!.deadline).toBe(before + 2000);
    expect(contexts[1]!.deadline).toBe(before + 500);
  });

  it('caps the deadline in the context at the lifecycle deadline', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] });
    const { lifecycle } = setup({ timeoutMs: 300, hookTimeoutMs: 10_000 });
    let deadline = 0;
    lifecycle.registerShutdown((context) => {
      deadline = context.deadline;
    });
    const before = Date.now();
    await lifecycle.shutdown();
    expect(deadline).toBe(before + 300);
  });
});

describe('hook timeouts', () => {
  it('abandons a hook at its timeoutMs with ERR_LIFESPAN_HOOK_TIMEOUT, aborts its signal and runs the rest', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] });
    const { lifecycle } = setup();
    const after = jest.fn();
    let signal: AbortSignal | undefined;
    lifecycle.registerShutdown(after, { name: 'after' });
    lifecycle.registerShutdown((context) => {
      signal = context.signal;
      return never();
    }, { name: 'hung', timeoutMs: 100 });
    let settled = false;
    const pending = lifecycle.shutdown().then((report) => {
      settled = true;
      return report;
    });
    await jest.advanceTimersByTimeAsync(99);
    expect(settled).toBe(false);
    expect(signal?.aborted).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    const report = await pending;
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toMatchObject({ code: 'ERR_LIFESPAN_HOOK_TIMEOUT' });
    expect(after).toHaveBeenCalledTimes(1);
    expect(report.ok).toBe(false);
    expect(report.hooks[0]).toMatchObject({ name: 'hung', status: 'timeout', error: { code: 'ERR_LIFESPAN_HOOK_TIMEOUT', hookName: 'hung', timeoutMs: 100 } });
    expect(report.hooks[0]!.durationMs).toBe(100);
    expect(report.hooks[1]).toMatchObject({ name: 'after', status: 'ok' });
  });

  it('uses hookTimeoutMs as the default timeout, 10 s unless set', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] });
    const { lifecycle } = setup();
    lifecycle.registerShutdown(() => never(), { name: 'hung' });
    const pending = lifecycle.shutdown();
    await jest.advanceTimersByTimeAsync(10_000);
    const report = await pending;
    expect(report.hooks[0]).toMatchObject({ status: 'timeout', durationMs: 10_000, error: { code: 'ERR_LIFESPAN_HOOK_TIMEOUT' } });
  });

  it('never outlives the global deadline: the hook running is cut off and later hooks are skipped', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] });
    const { lifecycle } = setup({ timeoutMs: 1000 });
    const skipped = jest.fn();
    lifecycle.registerShutdown(skipped, { name: 'close later' });
    lifecycle.registerShutdown(() => never(), { name: 'slow', timeoutMs: 5000 });
    const started = performance.now();
    let settledAt = 0;
    const pending = lifecycle.shutdown().then((report) => {
      settledAt = performance.now();
      return report;
    });
    await jest.advanceTimersByTimeAsync(1000);
    const report = await pending;
    expect(settledAt - started).toBe(1000);
    expect(report.durationMs).toBeLessThanOrEqual(1000);
    expect(skipped).not.toHaveBeenCalled();
    expect(report.hooks.map((h) => [h.name, h.status, h.error?.code])).toEqual([
      ['slow', 'timeout', 'ERR_LIFESPAN_DEADLINE_EXCEEDED'],
      ['close later', 'skipped', 'ERR_LIFESPAN_DEADLINE_EXCEEDED'],
    ]);
    expect(report.hooks[1]!.durationMs).toBe(0);
  });

  it('gives the drain phase at most three quarters of timeoutMs: a hung drain hook is cut there, and the close hooks run in the last quarter', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] });
    const { lifecycle, proc } = setup({ timeoutMs: 1000 });
    const skipped = jest.fn();
    let closedAt = 0;
    const started = performance.now();
    lifecycle.registerShutdown(() => void (closedAt = performance.now() - started), { name: 'pool' });
    lifecycle.registerShutdown(skipped, { name: 'drain later', phase: 'drain' });
    lifecycle.registerShutdown(() => never(), { name: 'slow', phase: 'drain', timeoutMs: 5000 });
    const pending = lifecycle.shutdown();
    await jest.advanceTimersByTimeAsync(1000);
    const report = await pending;
    expect(closedAt).toBe(750);
    expect(skipped).not.toHaveBeenCalled();
    expect(report.hooks.map((h) => [h.name, h.status, h.error?.code])).toEqual([
      ['slow', 'timeout', 'ERR_LIFESPAN_DEADLINE_EXCEEDED'],
      ['drain later', 'skipped', 'ERR_LIFESPAN_DEADLINE_EXCEEDED'],
      ['pool', 'ok', undefined],
    ]);
    // Only timeoutMs was given: the drain is capped without a warning.
    expect(proc.emitWarning).not.toHaveBeenCalled();
  });

  it.each([
    [{ timeoutMs: 1500, drainTimeoutMs: 1500 }, true],
    [{ timeoutMs: 20_000, drainDelayMs: 5000, drainTimeoutMs: 10_001 }, true],
    [{ timeoutMs: 20_000, drainDelayMs: 5000, drainTimeoutMs: 10_000 }, false],
    [{ timeoutMs: 1000 }, false],
  ])('warns ERR_LIFESPAN_DEADLINE_SPLIT at creation when drainDelayMs + drainTimeoutMs, given, leave the close hooks less than a quarter: %p', (options, warned) => {
    const { proc } = setup(options);
    expect(proc.emitWarning.mock.calls.map(([, { code }]) => code)).toEqual(warned ? ['ERR_LIFESPAN_DEADLINE_SPLIT'] : []);
  });

  it('bounds startup hooks by their timeoutMs', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] });
    const { lifecycle } = setup();
    lifecycle.registerStartup(() => never(), { name: 'connect', timeoutMs: 50 });
    const started = lifecycle.start();
    const outcome = started.then(() => undefined, (error: unknown) => error);
    await jest.advanceTimersByTimeAsync(50);
    expect(await outcome).toMatchObject({ code: 'ERR_LIFESPAN_STARTUP_FAILED', cause: { code: 'ERR_LIFESPAN_HOOK_TIMEOUT' } });
    expect((await outcome as Error).message).toContain('Startup hook "connect" failed, so the lifecycle shut down: Startup hook "connect" did not settle within 50 ms');
  });
});

describe('error isolation', () => {
  it('reports a hook that throws or rejects with ERR_LIFESPAN_HOOK_FAILED and runs the others', async () => {
    const { lifecycle } = setup();
    const calls: string[] = [];
    const boom = new Error('boom');
    lifecycle.registerShutdown(() => void calls.push('first'), { name: 'first' });
    lifecycle.registerShutdown(() => {
      calls.push('rejects');
      return Promise.reject(new Error('nope'));
    }, { name: 'rejects' });
    lifecycle.registerShutdown(() => {
      calls.push('throws');
      throw boom;
    }, { name: 'throws' });
    lifecycle.registerShutdown(() => {
      throw 'a string';
    }, { name: 'throws a string', phase: 'drain' });
    const report = await lifecycle.shutdown();
    expect(calls).toEqual(['throws', 'rejects', 'first']);
    expect(report.ok).toBe(false);
    expect(report.hooks.map((h) => [h.name, h.status, h.error?.code])).toEqual([
      ['throws a string', 'error', 'ERR_LIFESPAN_HOOK_FAILED'],
      ['throws', 'error', 'ERR_LIFESPAN_HOOK_FAILED'],
      ['rejects', 'error', 'ERR_LIFESPAN_HOOK_FAILED'],
      ['first', 'ok', undefined],
    ]);
    expect(report.hooks[1]!.error?.cause).toBe(boom);
    expect(report.hooks[1]!.error?.message).toContain('throws');
    expect(report.hooks[0]!.error?.message).toContain('a string');
  });

  it('resolves with a complete report', async () => {
    const { lifecycle } = setup();
    lifecycle.registerShutdown(() => undefined, { name: 'x' });
    const report = await lifecycle.shutdown('why');
    expect(report).toEqual({
      reason: 'why',
      ok: true,
      work: [],
      durationMs: expect.any(Number),
      hooks: [{ name: 'x', phase: 'close', status: 'ok', durationMs: expect.any(Number) }],
      http: { inFlightAtStart: 0, completedDuringDrain: 0, abortedRequests: 0, unansweredRequests: 0, idleConnectionsClosed: 0, connectionsDestroyed: 0, webSocketsClosed: 0, webSocketsTerminated: 0 },
      errors: [],
    });
  });
});

describe('lifecycle.shutdown()', () => {
  it('returns the same promise on every call and runs each hook once', async () => {
    const { lifecycle } = setup();
    const hook = jest.fn();
    lifecycle.registerShutdown(hook);
    const first = lifecycle.shutdown('first');
    const second = lifecycle.shutdown('second');
    expect(second).toBe(first);
    const report = await first;
    expect(lifecycle.shutdown('later')).toBe(first);
    await lifecycle[Symbol.asyncDispose]();
    expect(report.reason).toBe('first');
    expect(hook).toHaveBeenCalledTimes(1);
  });

  it('runs hooks once whatever mix of triggers arrives', async () => {
    const proc = new FakeProcess();
    const lifecycle = createTestLifecycle({ signals: ['SIGTERM'], exit: false }, proc);
    const hook = jest.fn();
    lifecycle.registerShutdown(hook);
    await lifecycle.start();
    const byCode = lifecycle.shutdown('code');
    proc.emit('SIGTERM');
    await lifecycle[Symbol.asyncDispose]();
    const report = await byCode;
    expect(hook).toHaveBeenCalledTimes(1);
    expect(report.reason).toBe('code');
    expect(proc.exit).not.toHaveBeenCalled();
  });

  it('reports isShuttingDown from the first call', () => {
    const { lifecycle } = setup();
    expect(lifecycle.isShuttingDown).toBe(false);
    void lifecycle.shutdown();
    expect(lifecycle.isShuttingDown).toBe(true);
  });
});

describe('lifecycle.state', () => {
  it("goes created → starting → ready → draining → closing → closed, with a 'state' event for each step", async () => {
    const { lifecycle } = setup();
    const events: [LifecycleState, LifecycleState][] = [];
    lifecycle.on('state', (state, previous) => events.push([state, previous]));
    lifecycle.registerStartup(() => Promise.resolve());
    expect(lifecycle.state).toBe('created');
    const started = lifecycle.start();
    expect(lifecycle.state).toBe('starting');
    await started;
    expect(lifecycle.state).toBe('ready');
    const pending = lifecycle.shutdown();
    expect(lifecycle.state).toBe('draining');
    await pending;
    expect(lifecycle.state).toBe('closed');
    expect(events).toEqual([
      ['starting', 'created'],
      ['ready', 'starting'],
      ['draining', 'ready'],
      ['closing', 'draining'],
      ['closed', 'closing'],
    ]);
  });

  it('skips startup when shut down before start()', async () => {
    const { lifecycle } = setup();
    const states: LifecycleState[] = [];
    lifecycle.on('state', (state) => states.push(state));
    await lifecycle.shutdown();
    expect(states).toEqual(['draining', 'closing', 'closed']);
  });

  it('is "draining" while drain hooks run and "closing" while close hooks run', async () => {
    const { lifecycle } = setup();
    const seen: string[] = [];
    lifecycle.registerShutdown(() => void seen.push(`close:${lifecycle.state}`));
    lifecycle.registerShutdown(() => void seen.push(`drain:${lifecycle.state}`), { phase: 'drain' });
    await lifecycle.shutdown();
    expect(seen).toEqual(['drain:draining', 'close:closing']);
  });
});

describe('lifecycle.signal', () => {
  it('aborts with the reason when shutdown begins, before any hook runs', async () => {
    const { lifecycle } = setup();
    let abortedInHook: boolean | undefined;
    lifecycle.registerShutdown(() => {
      abortedInHook = lifecycle.signal.aborted;
    }, { phase: 'drain' });
    expect(lifecycle.signal.aborted).toBe(false);
    const pending = lifecycle.shutdown('deploy');
    expect(lifecycle.signal.aborted).toBe(true);
    expect(lifecycle.signal.reason).toBe('deploy');
    await pending;
    expect(abortedInHook).toBe(true);
  });
});

describe('lifecycle[Symbol.asyncDispose]()', () => {
  it('shuts down at the end of an `await using` block', async () => {
    const hook = jest.fn();
    let outer: Lifecycle | undefined;
    {
      await using lifecycle = createTestLifecycle({ signals: false }, new FakeProcess());
      outer = lifecycle;
      lifecycle.registerShutdown(hook);
      expect(hook).not.toHaveBeenCalled();
    }
    expect(hook).toHaveBeenCalledTimes(1);
    expect(outer.state).toBe('closed');
    expect((await outer.shutdown()).reason).toBe('dispose');
  });
});

describe('lifecycle.start()', () => {
  it('runs startup hooks in registration order, once, and becomes ready', async () => {
    const { lifecycle } = setup();
    const calls: string[] = [];
    const hook = (name: string) => async () => {
      await Promise.resolve();
      calls.push(name);
    };
    lifecycle.registerStartup(hook('db'), { name: 'db', key: 'db' });
    lifecycle.registerStartup(hook('cache'), { name: 'cache' });
    lifecycle.registerStartup(hook('ignored'), { key: 'db' });
    const first = lifecycle.start();
    expect(lifecycle.start()).toBe(first);
    await first;
    expect(calls).toEqual(['db', 'cache']);
    expect(lifecycle.health()).toEqual({ live: true, ready: true, state: 'ready' });
  });

  it('rejects with ERR_LIFESPAN_STARTUP_FAILED and runs the shutdown hooks registered so far', async () => {
    const { lifecycle } = setup();
    const calls: string[] = [];
    const failure = new Error('cannot connect');
    lifecycle.registerShutdown(() => void calls.push('close db'), { name: 'db' });
    lifecycle.registerStartup(() => void calls.push('start db'), { name: 'db' });
    lifecycle.registerStartup(() => {
      calls.push('start cache');
      throw failure;
    }, { name: 'cache' });
    lifecycle.registerStartup(() => void calls.push('never'), { name: 'after' });
    const error = await lifecycle.start().then(() => undefined, (e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_LIFESPAN_STARTUP_FAILED', hookName: 'cache' });
    expect((error as Error).cause).toBe(failure);
    expect(calls).toEqual(['start db', 'start cache', 'close db']);
    expect(lifecycle.state).toBe('closed');
    expect(lifecycle.health().live).toBe(false);
    expect((await lifecycle.shutdown()).reason).toBe('startup failed');
  });

  it('rejects with ERR_LIFESPAN_STARTUP_ABORTED when shutdown begins during startup', async () => {
    const { lifecycle } = setup();
    const second = jest.fn();
    lifecycle.registerStartup(() => void lifecycle.shutdown('early'));
    lifecycle.registerStartup(second);
    await expect(lifecycle.start()).rejects.toMatchObject({ code: 'ERR_LIFESPAN_STARTUP_ABORTED' });
    expect(second).not.toHaveBeenCalled();
  });

  it('rejects with ERR_LIFESPAN_ALREADY_SHUT_DOWN after shutdown', async () => {
    const { lifecycle } = setup();
    await lifecycle.shutdown();
    await expect(lifecycle.start()).rejects.toMatchObject({ code: 'ERR_LIFESPAN_ALREADY_SHUT_DOWN' });
  });

  it('runs a startup hook registered once ready', async () => {
    const { lifecycle } = setup();
    await lifecycle.start();
    const late = jest.fn();
    lifecycle.registerStartup(late);
    await Promise.resolve();
    await Promise.resolve();
    expect(late).toHaveBeenCalledTimes(1);
    await lifecycle.shutdown();
  });
});

describe('lifecycle events', () => {
  it('calls on() listeners in order for every event, once() listeners for the next one only; off() removes', async () => {
    const { lifecycle } = setup();
    const calls: string[] = [];
    const first = (state: LifecycleState): void => void calls.push(`first:${state}`);
    lifecycle.on('state', first);
    lifecycle.once('state', (state) => void calls.push(`once:${state}`));
    lifecycle.on('state', (state) => void calls.push(`second:${state}`));
    expect(lifecycle.listenerCount('state')).toBe(3);
    await lifecycle.start();
    expect(calls).toEqual(['first:starting', 'once:starting', 'second:starting', 'first:ready', 'second:ready']);
    expect(lifecycle.listenerCount('state')).toBe(2);
    lifecycle.off('state', first);
    calls.length = 0;
    await lifecycle.shutdown();
    expect(calls).toEqual(['second:draining', 'second:closing', 'second:closed']);
  });

  it('does not call a listener added while an event is being delivered until the next one', async () => {
    const { lifecycle } = setup();
    const late = jest.fn();
    lifecycle.once('state', () => void lifecycle.on('state', late));
    await lifecycle.start();
    expect(late.mock.calls.map(([state]) => state)).toEqual(['ready']);
    await lifecycle.shutdown();
  });

  it("works with node:events' once() and on(), as code written for an EventEmitter expects", async () => {
    const { lifecycle } = setup();
    const ready = once(lifecycle as never, 'state');
    await lifecycle.start();
    expect(await ready).toEqual(['starting', 'created']);
    expect(lifecycle.listenerCount('state')).toBe(0);
    await lifecycle.shutdown();
  });

  it('offers subscribers nothing to emit with: a user cannot fake a transition', async () => {
    const { lifecycle } = setup();
    expect((lifecycle as unknown as { emit?: unknown }).emit).toBeUndefined();
    await lifecycle.shutdown();
  });
});
