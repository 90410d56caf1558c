import type { Lifecycle } from '@lifespan/core';
import { createTestLifecycle } from '@lifespan/core/testing';
import type { LifecycleOptions } from '@lifespan/core';
import { FakeProcess } from './fake-process';

function setup(options: LifecycleOptions = {}): { lifecycle: Lifecycle; proc: FakeProcess } {
  const proc = new FakeProcess();
  return { lifecycle: createTestLifecycle({ signals: false, ...options }, proc), proc };
}

describe('lifecycle.registerShutdown(hook, { key })', () => {
  it.each([
    ['string', 'pg-pool'],
    ['symbol', Symbol('pg-pool')],
    ['object', { pool: true }],
    ['number', 42],
  ])('keeps one hook per %s key and runs only the first function', async (_kind, key) => {
    const { lifecycle } = setup();
    const first = jest.fn();
    const second = jest.fn();
    lifecycle.registerShutdown(first, { key, name: 'first' });
    lifecycle.registerShutdown(second, { key, name: 'second' });
    expect(lifecycle.hookCount).toBe(1);
    const report = await lifecycle.shutdown();
    expect(first).toHaveBeenCalledTimes(1);
    expect(second).not.toHaveBeenCalled();
    expect(report.hooks.map((hook) => hook.name)).toEqual(['first']);
  });

  it('treats distinct objects with equal contents as distinct keys', () => {
    const { lifecycle } = setup();
    lifecycle.registerShutdown(() => undefined, { key: { id: 1 } });
    lifecycle.registerShutdown(() => undefined, { key: { id: 1 } });
    expect(lifecycle.hookCount).toBe(2);
  });

  it('keeps one hook for a million registrations with one key', () => {
    const { lifecycle, proc } = setup();
    const options = { key: 'per-request', name: 'per request' };
    for (let i = 0; i < 1_000_000; i++) lifecycle.registerShutdown(() => undefined, options);
    expect(lifecycle.hookCount).toBe(1);
    expect(proc.emitWarning).not.toHaveBeenCalled();
  });
});

describe('lifecycle.registerShutdown(hook)', () => {
  it('keeps a function registered twice without a key once', async () => {
    const { lifecycle } = setup();
    const hook = jest.fn();
    lifecycle.registerShutdown(hook);
    lifecycle.registerShutdown(hook, { name: 'again' });
    expect(lifecycle.hookCount).toBe(1);
    await lifecycle.shutdown();
    expect(hook).toHaveBeenCalledTimes(1);
  });

  it('keeps one hook for a million registrations of one function', () => {
    const { lifecycle } = setup();
    const hook = (): void => undefined;
    for (let i = 0; i < 1_000_000; i++) lifecycle.registerShutdown(hook);
    expect(lifecycle.hookCount).toBe(1);
  });

  it('treats different functions without a key as different hooks', () => {
    const { lifecycle } = setup();
    lifecycle.registerShutdown(() => undefined);
    lifecycle.registerShutdown(() => undefined);
    expect(lifecycle.hookCount).toBe(2);
  });

  it('names a hook after its function, or "anonymous"', async () => {
    const { lifecycle } = setup();
    lifecycle.registerShutdown(function closePool() {});
    lifecycle.registerShutdown([() => undefined][0]!);
    const report = await lifecycle.shutdown();
    expect(report.hooks.map((hook) => hook.name)).toEqual(['anonymous', 'closePool']);
  });
});

describe('unregister()', () => {
  it('returns true when it removed the hook, false afterwards', async () => {
    const { lifecycle } = setup();
    const hook = jest.fn();
    const unregister = lifecycle.registerShutdown(hook, { key: 'k' });
    expect(unregister()).toBe(true);
    expect(unregister()).toBe(false);
    expect(lifecycle.hookCount).toBe(0);
    await lifecycle.shutdown();
    expect(hook).not.toHaveBeenCalled();
  });

  it('is the same for every registration of one hook', () => {
    const { lifecycle } = setup();
    const first = lifecycle.registerShutdown(() => undefined, { key: 'k' });
    const second = lifecycle.registerShutdown(() => undefined, { key: 'k' });
    expect(second).toBe(first);
  });

  it('does not remove a newer hook registered under the same key', () => {
    const { lifecycle } = setup();
    const stale = lifecycle.registerShutdown(() => undefined, { key: 'k' });
    stale();
    lifecycle.registerShutdown(() => undefined, { key: 'k' });
    expect(stale()).toBe(false);
    expect(lifecycle.hookCount).toBe(1);
  });

  it('cannot remove a hook that has started', async () => {
    const { lifecycle } = setup();
    let unregister: () => boolean = () => true;
    let duringRun: boolean | undefined;
    unregister = lifecycle.registerShutdown(() => {
      duringRun = unregister();
    });
    await lifecycle.shutdown();
    expect(duringRun).toBe(false);
    expect(unregister()).toBe(false);
  });

  it('cannot remove a hook its phase has claimed, even one still queued behind another', async () => {
    const { lifecycle } = setup();
    const queued = jest.fn();
    const unregisterQueued = lifecycle.registerShutdown(queued, { name: 'queued' });
    let removed: boolean | undefined;
    // Close hooks run last registered first: this one runs while `queued` waits its turn.
    lifecycle.registerShutdown(() => void (removed = unregisterQueued()), { name: 'first' });
    const report = await lifecycle.shutdown();
    expect(removed).toBe(false);
    expect(queued).toHaveBeenCalledTimes(1);
    expect(report.hooks.map((hook) => hook.name)).toEqual(['first', 'queued']);
  });

  it('removes a close hook while draining, before it started', async () => {
    const { lifecycle } = setup();
    const close = jest.fn();
    const unregister = lifecycle.registerShutdown(close, { phase: 'close' });
    const pending = lifecycle.shutdown();
    expect(lifecycle.state).toBe('draining');
    expect(unregister()).toBe(true);
    const report = await pending;
    expect(close).not.toHaveBeenCalled();
    expect(report.hooks).toEqual([]);
  });
});

describe('options.maxHooks', () => {
  it('emits one ERR_LIFESPAN_MAX_HOOKS warning when distinct hooks pass the limit', () => {
    const { lifecycle, proc } = setup({ maxHooks: 3 });
    for (let i = 0; i < 3; i++) lifecycle.registerShutdown(() => undefined);
    expect(proc.emitWarning).not.toHaveBeenCalled();
    for (let i = 0; i < 50; i++) lifecycle.registerShutdown(() => undefined);
    expect(proc.emitWarning).toHaveBeenCalledTimes(1);
    const [message, options] = proc.emitWarning.mock.calls[0]!;
    expect(options.code).toBe('ERR_LIFESPAN_MAX_HOOKS');
    expect(message).toMatch(/per request/);
    expect(message).toMatch(/key/);
  });

  it('defaults to 100 hooks', () => {
    const { lifecycle, proc } = setup();
    for (let i = 0; i < 100; i++) lifecycle.registerShutdown(() => undefined);
    expect(proc.emitWarning).not.toHaveBeenCalled();
    lifecycle.registerShutdown(() => undefined);
    expect(proc.emitWarning).toHaveBeenCalledTimes(1);
  });

  it('does not warn for keyed hooks registered over and over', () => {
    const { lifecycle, proc } = setup({ maxHooks: 1 });
    for (let i = 0; i < 1000; i++) lifecycle.registerShutdown(() => undefined, { key: 'one' });
    expect(proc.emitWarning).not.toHaveBeenCalled();
  });
});

describe('lifecycle.registerShutdown(hook, { key }) with a mistaken key', () => {
  it('refuses { key: undefined } at the call, on the hot path too, rather than identify the hook by its function', () => {
    const { lifecycle } = setup();
    const settings: { poolKey?: string } = {};
    // A closure per request: identified by its function, each would be a new hook.
    for (let i = 0; i < 3; i++) {
      expect(() => lifecycle.registerShutdown(() => undefined, { key: settings.poolKey })).toThrow(expect.objectContaining({ code: 'ERR_LIFESPAN_INVALID_ARG', argument: 'options.key' }));
    }
    const hook = (): void => undefined;
    lifecycle.registerShutdown(hook);
    expect(() => lifecycle.registerShutdown(hook, { key: undefined })).toThrow(expect.objectContaining({ argument: 'options.key' }));
    expect(() => lifecycle.registerShutdown(hook, { key: undefined, name: 'pool' })).toThrow(expect.objectContaining({ argument: 'options.key' }));
    expect(lifecycle.hookCount).toBe(1);
  });

  it('accepts null as a key like any other value', () => {
    const { lifecycle } = setup();
    lifecycle.registerShutdown(() => undefined, { key: null });
    lifecycle.registerShutdown(() => undefined, { key: null });
    expect(lifecycle.hookCount).toBe(1);
  });

  it('refuses a key registered again with another explicit phase; without a phase, or with the same one, it is the same hook', async () => {
    const { lifecycle } = setup();
    const first = jest.fn();
    lifecycle.registerShutdown(first, { key: 'pool', phase: 'drain' });
    expect(() => lifecycle.registerShutdown(() => undefined, { key: 'pool', phase: 'close' })).toThrow(
      expect.objectContaining({ code: 'ERR_LIFESPAN_INVALID_ARG', argument: 'options.phase', message: expect.stringContaining("already registered in phase 'drain'") }),
    );
    lifecycle.registerShutdown(() => undefined, { key: 'pool', phase: 'drain' });
    lifecycle.registerShutdown(() => undefined, { key: 'pool' });
    expect(lifecycle.hookCount).toBe(1);
    const report = await lifecycle.shutdown();
    expect(report.hooks.map((hook) => hook.phase)).toEqual(['drain']);
    expect(first).toHaveBeenCalledTimes(1);
  });
});
