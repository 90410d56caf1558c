import http from 'node:http';
import type { Lifecycle } from '@lifespan/core';
import { createTestLifecycle } from '@lifespan/core/testing';
import type { LifecycleOptions, ShutdownReport } from '@lifespan/core';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { join, joinWeakly, leave, participantCount, trigger } from '../src/process-coordinator';
import type { Participant } from '../src/process-coordinator';
import { createLogger, FakeProcess } from './fake-process';

const kCoordinator = Symbol.for('@lifespan/core.signals');

function lifecycleOn(proc: FakeProcess, options: LifecycleOptions = {}): Lifecycle {
  return createTestLifecycle(options, proc);
}

/** Lets queued promise jobs (a shutdown without timers) run to the end. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe('process coordinator', () => {
  describe('a startup hook that fails', () => {
    it('exits 1, saying so on stderr with the hook and its cause, when Lifespan started the lifecycle itself', async () => {
      const proc = new FakeProcess();
      const lifecycle = lifecycleOn(proc);
      const closed = jest.fn();
      lifecycle.registerShutdown(closed);
      lifecycle.registerStartup(() => Promise.reject(new Error('database unreachable')), { name: 'db' });
      const server = http.createServer();
      lifecycle.attach(server);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      await settle();
      expect(closed).toHaveBeenCalledTimes(1);
      expect(proc.exitCode).toBe(1);
      expect(proc.written()).toContain('lifespan: ERR_LIFESPAN_STARTUP_FAILED: Startup hook "db" failed, so the lifecycle shut down: database unreachable\n  Caused by: Error: database unreachable\n');
      expect(server.listening).toBe(false);
    });

    it('only rejects when the app called start() itself: the rejection is the app\'s to handle', async () => {
      const proc = new FakeProcess();
      const lifecycle = lifecycleOn(proc);
      lifecycle.registerStartup(() => Promise.reject(new Error('database unreachable')), { name: 'db' });
      await expect(lifecycle.start()).rejects.toMatchObject({ code: 'ERR_LIFESPAN_STARTUP_FAILED' });
      await settle();
      expect(proc.exit).not.toHaveBeenCalled();
      expect(proc.exitCode).toBeUndefined();
      expect(proc.written()).toBe('');
    });
  });

  describe('joinWeakly(participant)', () => {
    function participant(signals: NodeJS.Signals[], calls: string[] = []): Participant {
      return {
        signals,
        handleUncaught: false,
        exitFallback: true,
        forceExitCode: 1,
        hasLogger: true,
        shutdownFor: (reason) => {
          calls.push(`shutdown:${reason}`);
          return Promise.resolve(0);
        },
        forcedExit: () => undefined,
        runExitFallback: () => void calls.push('exit fallback'),
      };
    }

    it('shuts a weakly held participant down on a signal, but gives it no exit fallback', async () => {
      const proc = new FakeProcess();
      const calls: string[] = [];
      const held = participant(['SIGTERM'], calls);
      joinWeakly(proc, held);
      expect(proc.listened()).toEqual(['SIGTERM']);
      proc.emit('SIGTERM');
      await settle();
      expect(calls).toEqual(['shutdown:SIGTERM']);
      expect(proc.exitCode).toBe(0);
      leave(proc, held);
    });

    it('holds a participant strongly once it joins, with every listener it asks for', () => {
      const proc = new FakeProcess();
      const held = participant(['SIGINT']);
      joinWeakly(proc, held);
      join(proc, held);
      expect(participantCount(proc)).toEqual({ strong: 1, weak: 0 });
      expect(proc.listened()).toEqual(['SIGINT', 'exit']);
      joinWeakly(proc, held);
      expect(participantCount(proc)).toEqual({ strong: 1, weak: 0 });
      leave(proc, held);
      expect(proc.listened()).toEqual([]);
    });

    it('lets 10,000 participants nobody holds be collected, and removes the listeners only they needed', async () => {
      setFlagsFromString('--expose-gc');
      const gc = runInNewContext('gc') as () => void;
      const proc = new FakeProcess();
      (() => {
        for (let i = 0; i < 10_000; i++) joinWeakly(proc, participant(['SIGTERM', 'SIGINT']));
      })();
      expect(participantCount(proc).weak).toBe(10_000);
      expect(proc.listened()).toEqual(['SIGINT', 'SIGTERM']);
      // V8 runs FinalizationRegistry callbacks in a task of their own after a collection, and the
      // listeners go in a setImmediate after them: on a loaded machine that takes more rounds.
      for (let round = 0; round < 200 && proc.listened().length > 0; round++) {
        gc();
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(participantCount(proc)).toEqual({ strong: 0, weak: 0 });
      expect(proc.listened()).toEqual([]);
    });
  });

  describe('user code that misbehaves', () => {
    it('a listener that throws is reported, in the report too, and neither the listeners after it nor the shutdown stop', async () => {
      const proc = new FakeProcess();
      const lifecycle = lifecycleOn(proc);
      const hook = jest.fn();
      lifecycle.registerShutdown(hook);
      lifecycle.on('state', () => {
        throw Object.create(null);
      });
      lifecycle.on('hookEnd', () => {
        throw new Error('hookEnd broke');
      });
      const states: string[] = [];
      lifecycle.on('state', (state) => void states.push(state));
      const report = await lifecycle.shutdown();
      expect(hook).toHaveBeenCalledTimes(1);
      expect(states).toEqual(['draining', 'closing', 'closed']);
      expect(report.ok).toBe(false);
      expect(report.errors.map((error) => [error.code, error.message])).toEqual([
        // draining, closing, then the close hook's end ('closed' comes after the report).
        ['ERR_LIFESPAN_CALLBACK_FAILED', 'A "state" listener threw: a thrown object that cannot be shown as text'],
        ['ERR_LIFESPAN_CALLBACK_FAILED', 'A "state" listener threw: a thrown object that cannot be shown as text'],
        ['ERR_LIFESPAN_CALLBACK_FAILED', 'A "hookEnd" listener threw: hookEnd broke'],
      ]);
      expect(proc.written()).toContain('lifespan: ERR_LIFESPAN_CALLBACK_FAILED: A "hookEnd" listener threw: hookEnd broke\n');
    });

    it('a logger that throws: its lines and the failure go to stderr, the shutdown is ok', async () => {
      const proc = new FakeProcess();
      const broken = (): never => {
        throw new Error('logger broke');
      };
      const lifecycle = lifecycleOn(proc, { logger: { info: broken, warn: broken, error: broken } });
      const hook = jest.fn();
      lifecycle.registerShutdown(hook);
      const report = await lifecycle.shutdown();
      expect(report.ok).toBe(true);
      expect(hook).toHaveBeenCalledTimes(1);
      expect(proc.written()).toContain("lifespan: shutting down (shutdown)\nlifespan: ERR_LIFESPAN_CALLBACK_FAILED: The logger's info() threw: logger broke\n");
    });

    it('a lifecycle whose shutdown rejects (another copy of core) still lets the process exit, with 1', async () => {
      const proc = new FakeProcess();
      await lifecycleOn(proc).start();
      (proc as unknown as Record<symbol, { participants: Set<{ shutdownFor: unknown; signals: string[] }> }>)[kCoordinator]!.participants.add({
        ...[...(proc as unknown as Record<symbol, { participants: Set<object> }>)[kCoordinator]!.participants][0]!,
        shutdownFor: () => Promise.reject(new Error('a bug')),
      } as never);
      proc.emit('SIGTERM');
      await settle();
      expect(proc.exitCode).toBe(1);
      expect(proc.written()).toContain("lifespan: a lifecycle's shutdown failed, so the exit code is 1: a bug");
    });
  });

  it('installs nothing when a lifecycle is created, and its handlers on start()', async () => {
    const proc = new FakeProcess();
    const lifecycle = lifecycleOn(proc);
    lifecycle.registerShutdown(() => undefined);
    expect(proc.listened()).toEqual([]);
    await lifecycle.start();
    expect(proc.listened()).toEqual(['SIGINT', 'SIGTERM', 'exit']);
    await lifecycle.shutdown();
  });

  it('installs its handlers on attach(server)', async () => {
    const proc = new FakeProcess();
    const lifecycle = lifecycleOn(proc, { signals: ['SIGTERM'], exitFallback: false });
    const server = http.createServer();
    expect(proc.listened()).toEqual([]);
    lifecycle.attach(server);
    expect(proc.listened()).toEqual(['SIGTERM']);
    await lifecycle.shutdown();
    expect(proc.listened()).toEqual([]);
  });

  it('installs nothing with signals: false and exitFallback: false', async () => {
    const proc = new FakeProcess();
    const lifecycle = lifecycleOn(proc, { signals: false, exitFallback: false });
    await lifecycle.start();
    expect(proc.listened()).toEqual([]);
    await lifecycle.shutdown();
  });

  it('keeps one listener per signal for 100 lifecycles and shuts all of them down on one signal', async () => {
    const proc = new FakeProcess();
    const warning = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const hooks = Array.from({ length: 100 }, () => jest.fn());
      const lifecycles = hooks.map((hook) => {
        const lifecycle = lifecycleOn(proc);
        lifecycle.registerShutdown(hook);
        return lifecycle;
      });
      await Promise.all(lifecycles.map((lifecycle) => lifecycle.start()));
      for (const event of proc.eventNames()) expect(proc.listenerCount(event)).toBe(1);
      proc.emit('SIGTERM');
      await settle();
      for (const lifecycle of lifecycles) expect(lifecycle.state).toBe('closed');
      for (const hook of hooks) expect(hook).toHaveBeenCalledTimes(1);
      expect(proc.exit).not.toHaveBeenCalled();
      expect(proc.exitCode).toBe(0);
      expect(warning).not.toHaveBeenCalled();
      expect(proc.emitWarning).not.toHaveBeenCalled();
    } finally {
      warning.mockRestore();
    }
  });

  it('shares one coordinator per process object, stored under Symbol.for', async () => {
    const proc = new FakeProcess();
    const a = lifecycleOn(proc);
    const b = lifecycleOn(proc);
    await a.start();
    await b.start();
    const coordinator = (proc as unknown as Record<symbol, { participants: Set<unknown> }>)[kCoordinator];
    expect(coordinator?.participants.size).toBe(2);
    await a.shutdown();
    await b.shutdown();
    expect(coordinator?.participants.size).toBe(0);
  });

  it('shuts down only lifecycles that listen to the signal', async () => {
    const proc = new FakeProcess();
    const term = lifecycleOn(proc, { signals: ['SIGTERM'] });
    const int = lifecycleOn(proc, { signals: ['SIGINT'] });
    await term.start();
    await int.start();
    proc.emit('SIGINT');
    await settle();
    expect(int.state).toBe('closed');
    expect(term.state).toBe('ready');
    expect(proc.exitCode).toBe(0);
    await term.shutdown();
  });

  it('forces an exit with forceExitCode on a second signal during shutdown', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate'] });
    try {
      const proc = new FakeProcess();
      const lifecycle = lifecycleOn(proc, { forceExitCode: 3 });
      lifecycle.registerShutdown(() => new Promise(() => undefined), { timeoutMs: 60_000 });
      await lifecycle.start();
      proc.emit('SIGTERM');
      await settle();
      expect(proc.exit).not.toHaveBeenCalled();
      expect(proc.exitCode).toBeUndefined();
      proc.emit('SIGINT');
      expect(proc.exit).toHaveBeenCalledTimes(1);
      expect(proc.exit).toHaveBeenCalledWith(3);
      // One line, no stack of Lifespan's own frames.
      expect(proc.written()).toBe('lifespan: ERR_LIFESPAN_FORCED_EXIT: Received SIGINT again during shutdown; exiting immediately with code 3\n');
      // The fake exit returned: let the hung hook reach the deadline so that no timer outlives the test.
      await jest.advanceTimersByTimeAsync(30_000);
      expect(lifecycle.state).toBe('closed');
    } finally {
      jest.useRealTimers();
    }
  });

  it('forces exit code 1 by default and logs ERR_LIFESPAN_FORCED_EXIT through the logger', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate'] });
    try {
      const proc = new FakeProcess();
      const logger = createLogger();
      const lifecycle = lifecycleOn(proc, { logger });
      lifecycle.registerShutdown(() => new Promise(() => undefined), { name: 'hung' });
      await lifecycle.start();
      proc.emit('SIGTERM');
      proc.emit('SIGTERM');
      expect(proc.exit).toHaveBeenCalledWith(1);
      expect(logger.error).toHaveBeenCalledWith(expect.any(String), expect.objectContaining({ code: 'ERR_LIFESPAN_FORCED_EXIT' }));
      await jest.advanceTimersByTimeAsync(10_000);
      expect(lifecycle.state).toBe('closed');
    } finally {
      jest.useRealTimers();
    }
  });

  it('writes one line for a forced exit, however many lifecycles have no logger', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate'] });
    try {
      const proc = new FakeProcess();
      const lifecycles = [lifecycleOn(proc), lifecycleOn(proc), lifecycleOn(proc, { logger: createLogger() })];
      for (const lifecycle of lifecycles) {
        lifecycle.registerShutdown(() => new Promise(() => undefined), { timeoutMs: 60_000 });
        await lifecycle.start();
      }
      proc.emit('SIGTERM');
      proc.emit('SIGTERM');
      expect(proc.exit).toHaveBeenCalledTimes(1);
      expect(proc.written().split('\n')).toEqual(['lifespan: ERR_LIFESPAN_FORCED_EXIT: Received SIGTERM again during shutdown; exiting immediately with code 1', '']);
      await jest.advanceTimersByTimeAsync(30_000);
    } finally {
      jest.useRealTimers();
    }
  });

  describe('a first signal during a shutdown that no signal began', () => {
    async function hungLifecycle(proc: FakeProcess, options: LifecycleOptions = {}): Promise<{ lifecycle: Lifecycle; release: () => void }> {
      const lifecycle = lifecycleOn(proc, options);
      let release!: () => void;
      lifecycle.registerShutdown(() => new Promise<void>((resolve) => (release = resolve)), { name: 'slow' });
      await lifecycle.start();
      return { lifecycle, release: () => release() };
    }

    it.each([
      ['a cluster disconnect', (proc: FakeProcess) => trigger(proc, 'disconnect')],
      ["PM2's shutdown message", (proc: FakeProcess) => proc.emit('message', 'shutdown')],
    ])('joins the shutdown that %s began; only the signal after it forces the exit', async (_what, begin) => {
      const proc = new FakeProcess({ env: { pm_id: '0' }, ipc: true });
      const { lifecycle, release } = await hungLifecycle(proc);
      begin(proc);
      await settle();
      expect(lifecycle.state).toBe('closing');
      proc.emit('SIGTERM');
      await settle();
      expect(proc.exit).not.toHaveBeenCalled();
      expect(proc.exitCode).toBeUndefined();
      release();
      await settle();
      expect(proc.exit).not.toHaveBeenCalled();
      expect(proc.exitCode).toBe(0);
      expect(proc.written()).toBe('');
    });

    it('forces the exit on the signal after that first one', async () => {
      const proc = new FakeProcess();
      const { release } = await hungLifecycle(proc, { forceExitCode: 4 });
      trigger(proc, 'disconnect');
      await settle();
      proc.emit('SIGTERM');
      proc.emit('SIGINT');
      expect(proc.exit).toHaveBeenCalledTimes(1);
      expect(proc.exit).toHaveBeenCalledWith(4);
      release();
      await settle();
    });

    it('also shuts down the lifecycles that only that signal concerns, and exits once every one decided', async () => {
      const proc = new FakeProcess();
      const uncaught = await hungLifecycle(proc, { handleUncaught: true, exit: () => 0 });
      const other = lifecycleOn(proc, { exit: () => 3 });
      await other.start();
      proc.emit('uncaughtException', new Error('kaput'));
      await settle();
      expect(other.state).toBe('ready');
      proc.emit('SIGTERM');
      await settle();
      expect(other.state).toBe('closed');
      expect(proc.exit).not.toHaveBeenCalled();
      expect(proc.exitCode).toBeUndefined();
      uncaught.release();
      await settle();
      expect(proc.exit).not.toHaveBeenCalled();
      expect(proc.exitCode).toBe(3);
    });
  });

  describe('at a terminal', () => {
    it('says in one line what the first signal does and how to force it, when no lifecycle has a logger', async () => {
      const proc = new FakeProcess({ tty: true });
      const lifecycle = lifecycleOn(proc, { timeoutMs: 25_000 });
      await lifecycle.start();
      proc.emit('SIGINT');
      expect(proc.written()).toBe(
        'lifespan: SIGINT received: finishing the requests in flight and running the shutdown hooks (at most 25 s); press Ctrl+C again to force an exit\n',
      );
      await settle();
      expect(proc.exitCode).toBe(0);
    });

    it('names the signal to send again for a signal other than SIGINT', async () => {
      const proc = new FakeProcess({ tty: true });
      await lifecycleOn(proc, { timeoutMs: 1500 }).start();
      proc.emit('SIGTERM');
      expect(proc.written()).toContain('(at most 1.5 s); send SIGTERM again to force an exit\n');
      await settle();
    });

    it('says nothing when stderr is not a terminal, or when every lifecycle has a logger', async () => {
      for (const proc of [new FakeProcess(), new FakeProcess({ tty: true })]) {
        await lifecycleOn(proc, proc.stderr.isTTY ? { logger: createLogger() } : {}).start();
        proc.emit('SIGINT');
        await settle();
        expect(proc.exitCode).toBe(0);
        expect(proc.written()).toBe('');
      }
    });
  });

  describe('options.exit', () => {
    it('exits 0 after a signal when the report is ok', async () => {
      const proc = new FakeProcess();
      await lifecycleOn(proc).start();
      proc.emit('SIGTERM');
      await settle();
      expect(proc.exitCode).toBe(0);
    });

    it('sets the exit code and lets the event loop empty, forcing the exit only exitTimeoutMs later', async () => {
      jest.useFakeTimers();
      try {
        const proc = new FakeProcess();
        await lifecycleOn(proc, { exitTimeoutMs: 2_000 }).start();
        proc.emit('SIGTERM');
        await jest.advanceTimersByTimeAsync(0);
        expect(proc.exitCode).toBe(0);
        await jest.advanceTimersByTimeAsync(1_999);
        expect(proc.exit).not.toHaveBeenCalled();
        await jest.advanceTimersByTimeAsync(1);
        expect(proc.exit).toHaveBeenCalledWith(0);
      } finally {
        jest.useRealTimers();
      }
    });

    it('waits the longest exitTimeoutMs of the lifecycles that shut down (1 s by default)', async () => {
      jest.useFakeTimers();
      try {
        const proc = new FakeProcess();
        await lifecycleOn(proc, { exitTimeoutMs: 0 }).start();
        await lifecycleOn(proc).start();
        proc.emit('SIGTERM');
        await jest.advanceTimersByTimeAsync(999);
        expect(proc.exitCode).toBe(0);
        expect(proc.exit).not.toHaveBeenCalled();
        await jest.advanceTimersByTimeAsync(1);
        expect(proc.exit).toHaveBeenCalledWith(0);
      } finally {
        jest.useRealTimers();
      }
    });

    it('exits 1 after a signal when the report is not ok, and leaves the reason on stderr', async () => {
      const proc = new FakeProcess();
      const lifecycle = lifecycleOn(proc);
      lifecycle.registerShutdown(() => {
        throw new Error('boom');
      }, { name: 'broken' });
      await lifecycle.start();
      proc.emit('SIGTERM');
      await settle();
      expect(proc.exitCode).toBe(1);
      expect(proc.written()).toContain('ERR_LIFESPAN_HOOK_FAILED');
      expect(proc.written()).toContain('broken');
    });

    it('leaves the process alone with exit: false, and removes its listeners', async () => {
      const proc = new FakeProcess();
      const lifecycle = lifecycleOn(proc, { exit: false });
      await lifecycle.start();
      proc.emit('SIGTERM');
      await settle();
      expect(lifecycle.state).toBe('closed');
      expect(proc.exit).not.toHaveBeenCalled();
      expect(proc.exitCode).toBeUndefined();
      expect(proc.listened()).toEqual([]);
    });

    it('lets a function decide the exit code from the report', async () => {
      const proc = new FakeProcess();
      const decide = jest.fn((report: ShutdownReport) => (report.reason === 'SIGINT' ? 7 : 0));
      await lifecycleOn(proc, { exit: decide }).start();
      proc.emit('SIGINT');
      await settle();
      expect(decide).toHaveBeenCalledWith(expect.objectContaining({ reason: 'SIGINT', ok: true }));
      expect(proc.exitCode).toBe(7);
    });

    it('exits 1 and reports the failure when the exit function throws', async () => {
      const proc = new FakeProcess();
      const logger = createLogger();
      await lifecycleOn(proc, { logger, exit: () => { throw new Error('policy broke'); } }).start();
      proc.emit('SIGTERM');
      await settle();
      expect(proc.exitCode).toBe(1);
      expect(logger.error).toHaveBeenCalledWith(expect.stringContaining('policy broke'), expect.any(Error));
    });

    it.each([256, -1, 1.5, '0', undefined])('exits 1 and says so when the exit function returns %p, not an exit code', async (code) => {
      const proc = new FakeProcess();
      await lifecycleOn(proc, { exit: () => code as number }).start();
      proc.emit('SIGTERM');
      await settle();
      expect(proc.exitCode).toBe(1);
      expect(proc.written()).toContain('lifespan: ERR_LIFESPAN_CALLBACK_FAILED: The exit policy (options.exit) returned');
    });

    it('lets a function return false to stay alive', async () => {
      const proc = new FakeProcess();
      await lifecycleOn(proc, { exit: () => false }).start();
      proc.emit('SIGTERM');
      await settle();
      expect(proc.exit).not.toHaveBeenCalled();
      expect(proc.exitCode).toBeUndefined();
    });

    it('exits with the highest code any lifecycle wants', async () => {
      const proc = new FakeProcess();
      await lifecycleOn(proc, { exit: () => 2 }).start();
      await lifecycleOn(proc, { exit: () => 5 }).start();
      await lifecycleOn(proc, { exit: false }).start();
      proc.emit('SIGTERM');
      await settle();
      expect(proc.exit).not.toHaveBeenCalled();
      expect(proc.exitCode).toBe(5);
    });

    it('never exits when shutdown was triggered by code', async () => {
      const proc = new FakeProcess();
      const lifecycle = lifecycleOn(proc);
      lifecycle.registerShutdown(() => {
        throw new Error('boom');
      });
      await lifecycle.start();
      await lifecycle.shutdown();
      await settle();
      expect(proc.exit).not.toHaveBeenCalled();
      expect(proc.exitCode).toBeUndefined();
      expect(proc.listened()).toEqual([]);
    });

    it('never exits when shutdown was triggered by server.close()', async () => {
      const proc = new FakeProcess();
      const lifecycle = lifecycleOn(proc);
      const server = http.createServer();
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      lifecycle.attach(server);
      await new Promise<void>((resolve) => server.close(() => resolve()));
      const report = await lifecycle.shutdown();
      expect(report.reason).toBe('server.close');
      await settle();
      expect(proc.exit).not.toHaveBeenCalled();
      expect(proc.exitCode).toBeUndefined();
    });
  });

  describe('options.handleUncaught', () => {
    it('is off by default', async () => {
      const proc = new FakeProcess();
      const lifecycle = lifecycleOn(proc);
      await lifecycle.start();
      expect(proc.listenerCount('uncaughtException')).toBe(0);
      expect(proc.listenerCount('unhandledRejection')).toBe(0);
      await lifecycle.shutdown();
    });

    it.each(['uncaughtException', 'unhandledRejection'])('logs an %s, shuts down and exits 1', async (event) => {
      const proc = new FakeProcess();
      const logger = createLogger();
      const lifecycle = lifecycleOn(proc, { handleUncaught: true, logger });
      const hook = jest.fn();
      lifecycle.registerShutdown(hook);
      await lifecycle.start();
      const failure = new Error('kaput');
      proc.emit(event, failure);
      await settle();
      expect(logger.error).toHaveBeenCalledWith(expect.stringContaining('kaput'), expect.objectContaining({ code: 'ERR_LIFESPAN_UNCAUGHT', cause: failure }));
      expect(hook).toHaveBeenCalledTimes(1);
      expect(lifecycle.state).toBe('closed');
      expect(proc.exitCode).toBe(1);
    });

    it('writes the uncaught error to stderr without a logger', async () => {
      const proc = new FakeProcess();
      await lifecycleOn(proc, { handleUncaught: true }).start();
      proc.emit('uncaughtException', new Error('kaput'));
      await settle();
      expect(proc.written()).toContain('kaput');
      expect(proc.exitCode).toBe(1);
    });
  });

  describe('exit fallback', () => {
    it('runs synchronous hooks only and warns ERR_LIFESPAN_ASYNC_HOOK_AT_EXIT for asynchronous ones', async () => {
      const proc = new FakeProcess();
      const lifecycle = lifecycleOn(proc);
      const calls: string[] = [];
      lifecycle.registerShutdown(() => void calls.push('sync close'), { name: 'sync close' });
      lifecycle.registerShutdown(async () => void calls.push('async close'), { name: 'async close' });
      lifecycle.registerShutdown(() => Promise.resolve(calls.push('promise close')), { name: 'promise close' });
      lifecycle.registerShutdown(() => void calls.push('sync drain'), { name: 'sync drain', phase: 'drain' });
      await lifecycle.start();
      proc.emit('exit', 0);
      expect(calls).toEqual(['sync drain', 'promise close', 'sync close']);
      const written = proc.written();
      expect(written).toContain('ERR_LIFESPAN_ASYNC_HOOK_AT_EXIT');
      expect(written).toContain('"async close"');
      expect(written).toContain('"promise close"');
      expect(written).not.toContain('"sync close"');
    });

    it('warns through the logger when there is one', async () => {
      const proc = new FakeProcess();
      const logger = createLogger();
      const lifecycle = lifecycleOn(proc, { logger });
      lifecycle.registerShutdown(async () => undefined, { name: 'async' });
      await lifecycle.start();
      proc.emit('exit', 0);
      expect(logger.warn).toHaveBeenCalledWith(expect.stringContaining('ERR_LIFESPAN_ASYNC_HOOK_AT_EXIT'));
      expect(proc.stderr.write).not.toHaveBeenCalled();
    });

    it('does not run hooks again after a completed shutdown', async () => {
      const proc = new FakeProcess();
      const lifecycle = lifecycleOn(proc, { exit: false });
      const hook = jest.fn();
      lifecycle.registerShutdown(hook);
      await lifecycle.start();
      proc.emit('SIGTERM');
      await settle();
      proc.emit('exit', 0);
      expect(hook).toHaveBeenCalledTimes(1);
    });

    it('is not installed with exitFallback: false', async () => {
      const proc = new FakeProcess();
      const lifecycle = lifecycleOn(proc, { exitFallback: false });
      await lifecycle.start();
      expect(proc.listenerCount('exit')).toBe(0);
      await lifecycle.shutdown();
    });
  });

  describe('PM2', () => {
    it("starts shutdown on the 'shutdown' message and reports ready with send('ready') under PM2", async () => {
      const proc = new FakeProcess({ env: { pm_id: '0' }, ipc: true });
      const lifecycle = lifecycleOn(proc);
      const hook = jest.fn();
      lifecycle.registerShutdown(hook);
      await lifecycle.start();
      expect(proc.send).toHaveBeenCalledWith('ready');
      expect(proc.listenerCount('message')).toBe(1);
      proc.emit('message', 'something else');
      expect(lifecycle.state).toBe('ready');
      proc.emit('message', 'shutdown');
      await settle();
      expect(hook).toHaveBeenCalledTimes(1);
      expect((await lifecycle.shutdown()).reason).toBe('pm2:shutdown');
      expect(proc.exitCode).toBe(0);
      // A 'message' listener holds a forked process's IPC channel open: it goes, so the loop can empty.
      expect(proc.listenerCount('message')).toBe(0);
      // The signal listeners stay: a SIGTERM now forces the exit rather than killing the process by default.
      expect(proc.listenerCount('SIGTERM')).toBe(1);
    });

    it('neither listens to messages nor sends ready outside PM2', async () => {
      const proc = new FakeProcess({ ipc: true });
      const lifecycle = lifecycleOn(proc);
      await lifecycle.start();
      expect(proc.send).not.toHaveBeenCalled();
      expect(proc.listenerCount('message')).toBe(0);
      await lifecycle.shutdown();
    });

    it('does not send ready with pm2: false', async () => {
      const proc = new FakeProcess({ env: { pm_id: '3' }, ipc: true });
      const lifecycle = lifecycleOn(proc, { pm2: false });
      await lifecycle.start();
      expect(proc.send).not.toHaveBeenCalled();
      await lifecycle.shutdown();
    });
  });

  it('removes every listener once every lifecycle has closed', async () => {
    const proc = new FakeProcess({ env: { pm_id: '1' }, ipc: true });
    const a = lifecycleOn(proc, { handleUncaught: true });
    const b = lifecycleOn(proc, { signals: ['SIGHUP'] });
    await a.start();
    await b.start();
    expect(proc.listened()).toEqual(['SIGHUP', 'SIGINT', 'SIGTERM', 'exit', 'message', 'uncaughtException', 'unhandledRejection']);
    await a.shutdown();
    expect(proc.listened()).toEqual(['SIGHUP', 'exit', 'message']);
    await b.shutdown();
    expect(proc.listened()).toEqual([]);
  });
});
