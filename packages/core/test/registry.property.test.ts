import fc from 'fast-check';
import { createTestLifecycle } from '@lifespan/core/testing';
import type { HookStatus, LifecycleState, ShutdownHook, ShutdownPhase, ShutdownReport, Unregister } from '@lifespan/core';
import { FakeProcess, never } from './fake-process';

type Behaviour = 'ok' | 'throw' | 'reject' | 'hang' | 'slow' | 'abortable';

type Identity = { kind: 'key'; key: number } | { kind: 'fresh' } | { kind: 'reuse'; index: number };

type Command =
  | { type: 'register'; phase: ShutdownPhase; identity: Identity; behaviour: Behaviour; slowMs: number; timeoutMs: number | undefined }
  | { type: 'unregister'; index: number }
  | { type: 'registerStartup'; behaviour: 'ok' | 'throw' | 'hang'; timeoutMs: number | undefined }
  | { type: 'start' }
  | { type: 'shutdown'; times: number }
  | { type: 'tick'; ms: number };

/** The model's view of one distinct hook. */
interface HookModel {
  readonly name: string;
  readonly phase: ShutdownPhase;
  readonly behaviour: Behaviour;
  readonly order: number;
  readonly beforeShutdown: boolean;
  readonly unregister: Unregister;
  readonly calls: number[];
  removed: boolean;
}

/** A function registered without a key; registering it again is the same hook while it is registered. */
interface Slot {
  readonly fn: ShutdownHook;
  current: HookModel | undefined;
}

const command: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      type: fc.constant('register' as const),
      phase: fc.constantFrom<ShutdownPhase>('drain', 'close'),
      identity: fc.oneof(
        fc.record({ kind: fc.constant('key' as const), key: fc.integer({ min: 0, max: 3 }) }),
        fc.record({ kind: fc.constant('fresh' as const) }),
        fc.record({ kind: fc.constant('reuse' as const), index: fc.nat() }),
      ),
      behaviour: fc.constantFrom<Behaviour>('ok', 'ok', 'throw', 'reject', 'hang', 'slow', 'abortable'),
      slowMs: fc.integer({ min: 1, max: 400 }),
      timeoutMs: fc.option(fc.integer({ min: 1, max: 500 }), { nil: undefined }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ type: fc.constant('unregister' as const), index: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      type: fc.constant('registerStartup' as const),
      behaviour: fc.constantFrom('ok' as const, 'ok' as const, 'ok' as const, 'throw' as const, 'hang' as const),
      timeoutMs: fc.option(fc.integer({ min: 1, max: 500 }), { nil: undefined }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ type: 'start' as const }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('shutdown' as const), times: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ type: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 300 }) }) },
);

const config = fc.record({
  timeoutMs: fc.integer({ min: 50, max: 1500 }),
  hookTimeoutMs: fc.integer({ min: 10, max: 800 }),
  hookConcurrency: fc.integer({ min: 1, max: 3 }),
});

const allowed: Record<Behaviour, readonly HookStatus[]> = {
  ok: ['ok', 'skipped'],
  throw: ['error', 'skipped'],
  reject: ['error', 'skipped'],
  hang: ['timeout', 'skipped'],
  abortable: ['timeout', 'skipped'],
  slow: ['ok', 'timeout', 'skipped'],
};

/** Runs one random sequence against a lifecycle and checks every invariant of the registry contract. */
async function check(options: { timeoutMs: number; hookTimeoutMs: number; hookConcurrency: number }, commands: Command[]): Promise<void> {
  const lifecycle = createTestLifecycle({ signals: false, ...options }, new FakeProcess());
  const models: HookModel[] = [];
  const byIdentity = new Map<unknown, HookModel>();
  const registrations: { unregister: Unregister; model: HookModel }[] = [];
  const slots: Slot[] = [];
  const promises: Promise<ShutdownReport>[] = [];
  let sequence = 0;
  let ghostCalls = 0;
  const startupCalls: { order: number; seq: number }[] = [];
  let startupOrder = 0;
  let shutdownAt: number | undefined;
  let settledAt: number | undefined;
  // Shutdown may also begin inside start() (a failing startup hook): time it by the state.
  lifecycle.on('state', (state) => {
    if (state === 'draining') shutdownAt = performance.now();
    if (state === 'closed') settledAt = performance.now();
  });

  const body = (behaviour: Behaviour, slowMs: number, signal: AbortSignal): unknown => {
    switch (behaviour) {
      case 'ok':
        return undefined;
      case 'throw':
        throw new Error('hook threw');
      case 'reject':
        return Promise.reject(new Error('hook rejected'));
      case 'hang':
        return never();
      case 'slow':
        return new Promise((resolve) => setTimeout(resolve, slowMs));
      case 'abortable':
        // Settles only once its time is up: its status is still 'timeout', but it does not linger.
        return new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
    }
  };

  const shutdown = (times: number): void => {
    for (let i = 0; i < times; i++) promises.push(lifecycle.shutdown(`run ${promises.length}`));
  };

  for (const step of commands) {
    const state: LifecycleState = lifecycle.state;
    const begun = lifecycle.isShuttingDown;
    switch (step.type) {
      case 'register': {
        let identity: unknown;
        let slot: Slot | undefined;
        let fn: ShutdownHook;
        const name = `h${models.length}`;
        const own = { model: undefined as HookModel | undefined };
        const keyed: ShutdownHook = ({ signal }) => {
          if (own.model === undefined) {
            ghostCalls++;
            return undefined;
          }
          own.model.calls.push(sequence++);
          return body(own.model.behaviour, step.slowMs, signal);
        };
        if (step.identity.kind === 'key') {
          identity = `key-${step.identity.key}`;
          fn = keyed;
        } else {
          if (step.identity.kind === 'reuse' && slots.length > 0) slot = slots[step.identity.index % slots.length]!;
          else {
            const fresh: Slot = {
              current: undefined,
              fn: ({ signal }) => {
                if (fresh.current === undefined) {
                  ghostCalls++;
                  return undefined;
                }
                fresh.current.calls.push(sequence++);
                return body(fresh.current.behaviour, step.slowMs, signal);
              },
            };
            slot = fresh;
            slots.push(fresh);
          }
          identity = slot.fn;
          fn = slot.fn;
        }
        const existing = byIdentity.get(identity);
        const options = { name, phase: step.phase, ...(step.identity.kind === 'key' ? { key: identity } : {}), ...(step.timeoutMs === undefined ? {} : { timeoutMs: step.timeoutMs }) };
        if (existing === undefined && (state === 'closing' || state === 'closed')) {
          expect(() => lifecycle.registerShutdown(fn, options)).toThrow(expect.objectContaining({ code: 'ERR_LIFESPAN_REGISTER_TOO_LATE' }));
          break;
        }
        if (existing !== undefined && existing.phase !== step.phase) {
          // A key (or function) keeps its first phase; asking for another one is refused at the call.
          expect(() => lifecycle.registerShutdown(fn, options)).toThrow(expect.objectContaining({ code: 'ERR_LIFESPAN_INVALID_ARG', argument: 'options.phase' }));
          break;
        }
        const unregister = lifecycle.registerShutdown(fn, options);
        if (existing !== undefined) {
          expect(unregister).toBe(existing.unregister);
          registrations.push({ unregister, model: existing });
          break;
        }
        const model: HookModel = { name, phase: step.phase, behaviour: step.behaviour, order: models.length, beforeShutdown: !begun, unregister, calls: [], removed: false };
        models.push(model);
        byIdentity.set(identity, model);
        own.model = model;
        if (slot !== undefined) slot.current = model;
        registrations.push({ unregister, model });
        expect(lifecycle.hookCount).toBe(byIdentity.size);
        break;
      }
      case 'unregister': {
        if (registrations.length === 0) break;
        const { unregister, model } = registrations[step.index % registrations.length]!;
        const current = !model.removed;
        const started = model.calls.length > 0 || (begun && (model.phase === 'drain' || state === 'closing' || state === 'closed'));
        const removed = unregister();
        expect(removed).toBe(current && !started);
        if (removed) {
          model.removed = true;
          for (const [identity, candidate] of byIdentity) if (candidate === model) byIdentity.delete(identity);
          expect(lifecycle.hookCount).toBe(byIdentity.size);
        }
        break;
      }
      case 'registerStartup': {
        const order = startupOrder++;
        const hook = (): unknown => {
          startupCalls.push({ order, seq: sequence++ });
          if (step.behaviour === 'throw') throw new Error('startup threw');
          return step.behaviour === 'hang' ? never() : undefined;
        };
        const options = step.timeoutMs === undefined ? {} : { timeoutMs: step.timeoutMs };
        if (begun) expect(() => lifecycle.registerStartup(hook, options)).toThrow(expect.objectContaining({ code: 'ERR_LIFESPAN_REGISTER_TOO_LATE' }));
        else lifecycle.registerStartup(hook, options);
        break;
      }
      case 'start':
        lifecycle.start().catch((error: unknown) => {
          expect(error).toMatchObject({ code: expect.stringMatching(/^ERR_LIFESPAN_(ALREADY_SHUT_DOWN|STARTUP_ABORTED|STARTUP_FAILED)$/) });
        });
        break;
      case 'shutdown':
        shutdown(step.times);
        break;
      case 'tick':
        await jest.advanceTimersByTimeAsync(step.ms);
        break;
    }
  }
  shutdown(1);
  for (let i = 0; settledAt === undefined && i < options.timeoutMs / 10 + 50; i++) await jest.advanceTimersByTimeAsync(10);
  expect(settledAt).toBeDefined();
  const report = await promises[0]!;

  // shutdown() is idempotent: one promise, whatever the number of calls.
  for (const promise of promises) expect(promise).toBe(promises[0]);
  // The deadline holds on the (fake) clock.
  expect(settledAt! - shutdownAt!).toBeLessThanOrEqual(options.timeoutMs);
  expect(report.durationMs).toBeLessThanOrEqual(options.timeoutMs);
  // The report lists exactly the hooks registered and not unregistered, each once.
  const expected = models.filter((model) => !model.removed);
  expect(report.hooks.map((hook) => hook.name).sort()).toEqual(expected.map((model) => model.name).sort());
  expect(ghostCalls).toBe(0);
  const byName = new Map(report.hooks.map((hook) => [hook.name, hook]));
  for (const model of models) {
    // Each hook runs at most once; a removed or skipped hook never runs.
    const result = byName.get(model.name);
    expect(model.calls.length).toBe(result === undefined || result.status === 'skipped' ? 0 : 1);
    if (result === undefined) continue;
    expect(result.phase).toBe(model.phase);
    expect(allowed[model.behaviour]).toContain(result.status);
  }
  const ran = expected.filter((model) => model.calls.length === 1);
  const drain = ran.filter((model) => model.phase === 'drain');
  const close = ran.filter((model) => model.phase === 'close');
  // Every drain hook starts before any close hook.
  if (drain.length > 0 && close.length > 0) {
    expect(Math.max(...drain.map((model) => model.calls[0]!))).toBeLessThan(Math.min(...close.map((model) => model.calls[0]!)));
  }
  // Within a phase, last registered first (drain hooks registered after shutdown began start when registered).
  const lifo = (hooks: HookModel[]): void => {
    const started = [...hooks].sort((a, b) => a.calls[0]! - b.calls[0]!).map((model) => model.order);
    expect(started).toEqual([...started].sort((a, b) => b - a));
  };
  lifo(close);
  lifo(drain.filter((model) => model.beforeShutdown));
  // Startup hooks run at most once each, in registration order.
  expect(startupCalls.map((call) => call.order)).toEqual([...new Set(startupCalls.map((call) => call.order))].sort((a, b) => a - b));
  jest.clearAllTimers();
}

describe('lifecycle registry (property-based)', () => {
  beforeEach(() => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] });
  });

  afterEach(() => {
    jest.useRealTimers();
  });

  it('runs each hook at most once, drain before close, last registered first, reports exactly the registered hooks and keeps the deadline', async () => {
    await fc.assert(
      fc.asyncProperty(config, fc.array(command, { maxLength: 30 }), async (options, commands) => {
        await check(options, commands);
      }),
      { numRuns: 150 },
    );
  }, 30_000);
});
