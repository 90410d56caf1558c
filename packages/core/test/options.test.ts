import { createLifecycle } from '@lifespan/core';
import type { Lifecycle } from '@lifespan/core';
import { createTestLifecycle } from '@lifespan/core/testing';
import type { LifecycleOptions, ShutdownHook } from '@lifespan/core';
import { adapterLifecycle, createHealthProbe } from '@lifespan/core/http';
import { createLogger, FakeProcess } from './fake-process';

function setup(options: LifecycleOptions = {}): Lifecycle {
  return createTestLifecycle({ signals: false, ...options }, new FakeProcess());
}

/** The coded error `fn` throws, so that code and message can be checked together. */
function thrownBy(fn: () => unknown): { code?: string; message: string; argument?: string } {
  try {
    fn();
  } catch (error) {
    return error as { code?: string; message: string; argument?: string };
  }
  throw new Error('expected a throw');
}

describe('createLifecycle(options)', () => {
  it.each([
    ['timeoutMs', -1],
    ['timeoutMs', Number.NaN],
    ['timeoutMs', Infinity],
    ['timeoutMs', 0],
    ['timeoutMs', '100'],
    ['hookTimeoutMs', -5],
    ['hookTimeoutMs', Infinity],
    ['drainDelayMs', -1],
    ['drainTimeoutMs', Number.NaN],
    ['idleGraceMs', Infinity],
    ['hookConcurrency', 0],
    ['hookConcurrency', 1.5],
    ['maxHooks', 0],
    ['signals', 'SIGTERM'],
    ['signals', ['TERM']],
    ['signals', ['SIGFOO']],
    ['signals', ['SIGTERM', 'SIGKILL']],
    ['signals', ['SIGSTOP']],
    ['signals', [15]],
    ['timeoutMs', 2 ** 31],
    ['hookTimeoutMs', 2 ** 31],
    ['drainDelayMs', 2 ** 31],
    ['drainTimeoutMs', 1e12],
    ['idleGraceMs', 2 ** 31],
    ['exitTimeoutMs', -1],
    ['exitTimeoutMs', Number.NaN],
    ['exitTimeoutMs', 2 ** 31],
    ['exitTimeoutMs', '1000'],
    ['exit', 'yes'],
    ['forceExitCode', 256],
    ['handleUncaught', 1],
    ['logger', {}],
    ['logger', { info() {}, warn() {} }],
    ['logger', null],
  ])('throws ERR_LIFESPAN_INVALID_ARG naming options.%s for %p', (key, value) => {
    const error = thrownBy(() => createLifecycle({ [key]: value } as LifecycleOptions));
    expect(error.code).toBe('ERR_LIFESPAN_INVALID_ARG');
    expect(error.argument).toBe(`options.${key}`);
    expect(error.message).toContain(`options.${key}`);
    expect(error).toBeInstanceOf(Error);
  });

  it('says why a signal cannot be used, and which one was meant', () => {
    expect(thrownBy(() => createLifecycle({ signals: ['SIGKILL'] })).message).toContain('SIGKILL cannot be caught');
    expect(thrownBy(() => createLifecycle({ signals: ['SIGFOO' as NodeJS.Signals] })).message).toContain('"SIGFOO" is not a signal name');
    expect(thrownBy(() => createLifecycle({ signals: ['sigterm' as NodeJS.Signals] })).message).toContain("did you mean 'SIGTERM'?");
    expect(thrownBy(() => createLifecycle({ signals: ['HUP' as NodeJS.Signals] })).message).toContain("did you mean 'SIGHUP'?");
  });

  it('accepts every catchable signal this platform knows, and durations up to 2^31-1 ms', () => {
    expect(createLifecycle({ signals: ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGUSR2', 'SIGQUIT'] }).options.signals).toHaveLength(5);
    const longest = 2 ** 31 - 1;
    expect(createLifecycle({ timeoutMs: longest, hookTimeoutMs: longest, drainDelayMs: longest, drainTimeoutMs: longest, idleGraceMs: longest }).options).toMatchObject({ timeoutMs: longest });
  });

  it('says that a duration above 2^31-1 ms is longer than any timer can wait', () => {
    expect(thrownBy(() => createLifecycle({ hookTimeoutMs: 2 ** 31 })).message).toContain('at most 2147483647 ms');
  });

  it('throws ERR_LIFESPAN_INVALID_ARG naming an unknown option', () => {
    const error = thrownBy(() => createLifecycle({ timeout: 5 } as LifecycleOptions));
    expect(error).toMatchObject({ code: 'ERR_LIFESPAN_INVALID_ARG', argument: 'options.timeout' });
  });

  it('throws ERR_LIFESPAN_INVALID_ARG for options that are not an object', () => {
    expect(thrownBy(() => createLifecycle('fast' as LifecycleOptions))).toMatchObject({ code: 'ERR_LIFESPAN_INVALID_ARG', argument: 'options' });
  });

  it.each([
    ['timeout', 'timeoutMs'],
    ['drainDelay', 'drainDelayMs'],
    ['signal', 'signals'],
    ['timeoutms', 'timeoutMs'],
    ['idelGraceMs', 'idleGraceMs'],
    ['hookTimeout', 'hookTimeoutMs'],
  ])('asks "did you mean" for the mistyped option %s', (typo, meant) => {
    const error = thrownBy(() => createLifecycle({ [typo]: 5 } as LifecycleOptions));
    expect(error).toMatchObject({ code: 'ERR_LIFESPAN_INVALID_ARG', argument: `options.${typo}` });
    expect(error.message).toContain(`did you mean '${meant}'?`);
  });

  it('suggests nothing for an option that is no near miss, and still lists the known ones', () => {
    const error = thrownBy(() => createLifecycle({ retries: 3 } as LifecycleOptions));
    expect(error.message).not.toContain('did you mean');
    expect(error.message).toContain('known: signals, timeoutMs');
  });

  it('installs nothing on the process', () => {
    const before = ['SIGTERM', 'SIGINT', 'exit', 'uncaughtException', 'message'].map((event) => process.listenerCount(event));
    const lifecycle = createLifecycle();
    lifecycle.registerShutdown(() => undefined);
    const after = ['SIGTERM', 'SIGINT', 'exit', 'uncaughtException', 'message'].map((event) => process.listenerCount(event));
    expect(after).toEqual(before);
  });
});

describe('lifecycle.registerShutdown(hook, options)', () => {
  const lifecycle = setup();

  it.each([
    ['a string', 'close()'],
    ['null', null],
    ['an object', { close() {} }],
  ])('throws ERR_LIFESPAN_INVALID_ARG naming "hook" for %s', (_kind, hook) => {
    expect(thrownBy(() => lifecycle.registerShutdown(hook as unknown as ShutdownHook))).toMatchObject({ code: 'ERR_LIFESPAN_INVALID_ARG', argument: 'hook' });
    expect(thrownBy(() => lifecycle.registerStartup(hook as unknown as ShutdownHook))).toMatchObject({ code: 'ERR_LIFESPAN_INVALID_ARG', argument: 'hook' });
  });

  it.each([-1, 0, Number.NaN, Infinity, -Infinity, '10', 2 ** 31])('throws ERR_LIFESPAN_INVALID_ARG naming options.timeoutMs for %p', (timeoutMs) => {
    const error = thrownBy(() => lifecycle.registerShutdown(() => undefined, { timeoutMs: timeoutMs as number }));
    expect(error).toMatchObject({ code: 'ERR_LIFESPAN_INVALID_ARG', argument: 'options.timeoutMs' });
    expect(error.message).toContain('options.timeoutMs');
    expect(thrownBy(() => lifecycle.registerStartup(() => undefined, { timeoutMs: timeoutMs as number }))).toMatchObject({ argument: 'options.timeoutMs' });
  });

  it('throws ERR_LIFESPAN_INVALID_ARG naming options.phase for an unknown phase', () => {
    const error = thrownBy(() => lifecycle.registerShutdown(() => undefined, { phase: 'cleanup' as 'close' }));
    expect(error).toMatchObject({ code: 'ERR_LIFESPAN_INVALID_ARG', argument: 'options.phase' });
    expect(error.message).toContain('cleanup');
  });

  it('throws ERR_LIFESPAN_INVALID_ARG naming an unknown option, and the option meant', () => {
    expect(thrownBy(() => lifecycle.registerShutdown(() => undefined, { keys: 'pool' } as never)).message).toContain("did you mean 'key'?");
    expect(thrownBy(() => lifecycle.registerShutdown(() => undefined, { phsae: 'drain' } as never)).message).toContain("did you mean 'phase'?");
    expect(thrownBy(() => lifecycle.registerShutdown(() => undefined, { priority: 1 } as never))).toMatchObject({ code: 'ERR_LIFESPAN_INVALID_ARG', argument: 'options.priority' });
    expect(thrownBy(() => lifecycle.registerStartup(() => undefined, { phase: 'drain' } as never))).toMatchObject({ code: 'ERR_LIFESPAN_INVALID_ARG', argument: 'options.phase' });
  });

  it('throws ERR_LIFESPAN_INVALID_ARG naming options.name for an empty name', () => {
    expect(thrownBy(() => lifecycle.registerShutdown(() => undefined, { name: '' }))).toMatchObject({ code: 'ERR_LIFESPAN_INVALID_ARG', argument: 'options.name' });
  });

  it('registers nothing when it throws', () => {
    expect(lifecycle.hookCount).toBe(0);
  });

  it('checks the options of a key that is already registered too', () => {
    const own = setup();
    const hook = (): void => undefined;
    const unregister = own.registerShutdown(hook, { key: 'pool' });
    expect(own.registerShutdown(() => undefined, { key: 'pool' })).toBe(unregister);
    expect(own.registerShutdown(hook)).not.toBe(unregister);
    expect(thrownBy(() => own.registerShutdown(() => undefined, { key: 'pool', phase: 'cleanup' as 'close' }))).toMatchObject({ argument: 'options.phase' });
    expect(thrownBy(() => own.registerShutdown(() => undefined, { key: 'pool', priority: 1 } as never))).toMatchObject({ argument: 'options.priority' });
    expect(thrownBy(() => own.registerShutdown(hook, [] as never))).toMatchObject({ code: 'ERR_LIFESPAN_INVALID_ARG', argument: 'options' });
    expect(thrownBy(() => own.registerShutdown('pool' as never, { key: 'pool' }))).toMatchObject({ argument: 'hook' });
    expect(own.hookCount).toBe(2);
  });

  it('throws ERR_LIFESPAN_INVALID_ARG naming "reason" for a non-string shutdown reason', () => {
    expect(thrownBy(() => lifecycle.shutdown(42 as unknown as string))).toMatchObject({ code: 'ERR_LIFESPAN_INVALID_ARG', argument: 'reason' });
  });
});

describe('options.logger', () => {
  it('is optional: a failing shutdown without a logger writes nothing anywhere', async () => {
    const proc = new FakeProcess();
    const lifecycle = createTestLifecycle({ signals: false }, proc);
    lifecycle.registerShutdown(() => {
      throw new Error('boom');
    });
    const report = await lifecycle.shutdown();
    expect(report.ok).toBe(false);
    expect(proc.stderr.write).not.toHaveBeenCalled();
    expect(proc.emitWarning).not.toHaveBeenCalled();
    // The jest setup fails this test if anything reached the console.
  });

  it('receives info, warn and error messages when given', async () => {
    const logger = createLogger();
    const lifecycle = createTestLifecycle({ signals: false, logger }, new FakeProcess());
    lifecycle.registerShutdown(() => {
      throw new Error('boom');
    }, { name: 'broken' });
    await lifecycle.start();
    await lifecycle.shutdown();
    expect(logger.info).toHaveBeenCalledWith('lifespan: ready');
    expect(logger.error).toHaveBeenCalledWith(expect.stringContaining('broken'), expect.objectContaining({ code: 'ERR_LIFESPAN_HOOK_FAILED' }));
    expect(logger.warn).toHaveBeenCalledWith(expect.stringContaining('with errors'));
  });
});

describe('error.argument', () => {
  const lifecycle = setup();
  const shared = setup();
  // One format everywhere: the parameter's name, then the path to the bad value inside it, as the
  // user wrote the call; the function goes in the message when the name alone does not say it.
  it.each<[string, () => unknown, string]>([
    ['createLifecycle() option', () => createLifecycle({ timeout: 5 } as LifecycleOptions), 'options.timeout'],
    ['createLifecycle() options', () => createLifecycle(5 as LifecycleOptions), 'options'],
    ['registerShutdown() hook', () => lifecycle.registerShutdown(5 as never), 'hook'],
    ['registerShutdown() option', () => lifecycle.registerShutdown(() => undefined, { name: '' }), 'options.name'],
    ['registerHealthCheck() name', () => lifecycle.registerHealthCheck('', () => true), 'name'],
    ['registerHealthCheck() check', () => lifecycle.registerHealthCheck('db', 5 as never), 'check'],
    ['registerHealthCheck() option', () => lifecycle.registerHealthCheck('db', () => true, { timeout: 5 } as never), 'options.timeout'],
    ['shutdown() reason', () => lifecycle.shutdown(5 as never), 'reason'],
    ['attach() server', () => lifecycle.attach(5 as never), 'server'],
    ["an adapter's unknown option", () => adapterLifecycle({ nope: 1 } as never, 'shutdownHooks()'), 'options.nope'],
    ["an adapter's options.lifecycle", () => adapterLifecycle({ lifecycle: 5 as never }, 'shutdownHooks()'), 'options.lifecycle'],
    ["an adapter's option beside { lifecycle }", () => adapterLifecycle({ lifecycle: shared, timeoutMs: 5 }, 'shutdownHooks()'), 'options.timeoutMs'],
    ["an adapter's options.health", () => createHealthProbe(lifecycle, 5 as never), 'options.health'],
    ["an adapter's options.health path", () => createHealthProbe(lifecycle, { readyPath: 'readyz' }), 'options.health.readyPath'],
    ["an adapter's options.health option", () => createHealthProbe(lifecycle, { readPath: '/readyz' } as never), 'options.health.readPath'],
  ])('names the argument of %s as a path from the parameter', (_what, call, argument) => {
    const error = thrownBy(call);
    expect(error).toMatchObject({ code: 'ERR_LIFESPAN_INVALID_ARG', argument });
    expect(error.argument).toMatch(/^[a-z][A-Za-z]*(\.[A-Za-z]+)*$/);
    expect(error.message.startsWith(`Invalid argument "${argument}": `)).toBe(true);
  });

  it("names the adapter in the message of an adapter's option, and the option meant", () => {
    expect(thrownBy(() => adapterLifecycle({ drainDelay: 5 } as never, 'shutdownHooks()')).message).toContain("unknown option of shutdownHooks(); did you mean 'drainDelayMs'?");
    expect(thrownBy(() => adapterLifecycle({ lifecycle: shared, timeoutMs: 5 }, 'shutdownHooks()')).message).toContain('in shutdownHooks()');
    expect(thrownBy(() => createHealthProbe(lifecycle, { readPath: '/readyz' } as never)).message).toContain("did you mean 'readyPath'?");
  });
});
