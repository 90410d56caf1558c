import type { Connection } from '../src/connection-tracker';
import type { LoopTurns } from '../src/fresh-read';
import { IdleCloser } from '../src/idle-closer';
import type { IdleSignals } from '../src/idle-closer';

// The grace policy alone, against fake connections and a fake view of Node's records, on fake
// timers: every decision is pinned without a socket or a wall clock.

interface FakeConnection extends Connection {
  busy: boolean;
  receiving: boolean;
  activeAt: number | undefined;
  /** A runtime that closes idle connections itself (Bun); absent: the closer destroys them. */
  closeIfIdle?: () => boolean;
}

function connection(options: { bytesRead?: number; openedAt?: number; busy?: boolean; activeAt?: number } = {}): FakeConnection {
  const socket = { bytesRead: options.bytesRead ?? 100, destroyed: false, destroy: jest.fn(() => void (socket.destroyed = true)) };
  return {
    tracker: undefined as never,
    socket: socket as never,
    timer: undefined,
    bytesAtGrace: 0,
    bytesWhenIdle: -1,
    openedAt: options.openedAt ?? performance.now(),
    watchedFromStart: true,
    responses: undefined,
    queued: undefined,
    closing: undefined,
    unseen: undefined,
    unknown: false,
    busy: options.busy ?? false,
    receiving: false,
    upgraded: false,
    activeAt: options.activeAt,
  };
}

const destroyed = (c: Connection): boolean => c.socket.destroyed;

function closer(graceMs: number, loop: { now: number | undefined } = { now: undefined }, turns?: LoopTurns, bytesCounted = true): { closer: IdleCloser; closed: number[] } {
  const signals: IdleSignals = {
    neverRead: (c) => bytesCounted && c.socket.bytesRead === 0,
    closeIfIdle: (c) => (c as FakeConnection).closeIfIdle?.(),
    busy: (c) => (c as FakeConnection).busy,
    upgraded: (c) => (c as FakeConnection).upgraded,
    receiving: (c) => (c as FakeConnection).receiving,
    lastActivity: (c) => (c as FakeConnection).activeAt,
    loopTime: () => loop.now,
    destroy: (c) => c.socket.destroy(),
  };
  const closed: number[] = [];
  const idle = new IdleCloser(signals, (count) => void closed.push(count), turns);
  idle.graceMs = graceMs;
  return { closer: idle, closed };
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Moves the clock `ms` ahead one millisecond at a time, each followed by the real turns of the loop a decision waits for (a fresh read). */
async function advance(ms: number): Promise<void> {
  for (let elapsed = 0; elapsed <= ms; elapsed++) {
    if (elapsed > 0) jest.advanceTimersByTime(1);
    for (let turn = 0; turn < 3; turn++) await nextTurn();
  }
}

/** Real turns of the event loop, each of which seems to take `lagMs` (a process starved of CPU). */
function laggingTurns(lag: { ms: number }): LoopTurns {
  let clock = 0;
  return {
    now: () => clock,
    next: (fn) =>
      void setImmediate(() => {
        clock += lag.ms;
        fn();
      }),
  };
}

describe('IdleCloser', () => {
  beforeEach(() => jest.useFakeTimers({ now: 10_000, doNotFake: ['setImmediate'] }));
  afterEach(() => jest.useRealTimers());

  it('closes an idle connection once the whole grace has passed, not before', async () => {
    const { closer: idle, closed } = closer(100);
    const c = connection();
    idle.start(new Set([c]));
    await advance(99);
    expect(destroyed(c)).toBe(false);
    await advance(1);
    expect(destroyed(c)).toBe(true);
    expect(closed).toEqual([1]);
  });

  it('decides after the poll phase: a request read there (cancel) keeps the connection', async () => {
    const { closer: idle } = closer(100);
    const c = connection();
    idle.schedule(c);
    // The grace timer fires and defers its decision to setImmediate; a request is read first.
    jest.advanceTimersByTime(100);
    expect(destroyed(c)).toBe(false);
    idle.cancel(c);
    await advance(1_000);
    expect(destroyed(c)).toBe(false);
  });

  it('never closes a busy connection; one that stops being busy gets a grace of its own', async () => {
    const { closer: idle } = closer(100);
    const c = connection({ busy: true });
    idle.start(new Set([c]));
    await advance(1_000);
    expect(destroyed(c)).toBe(false);
    c.busy = false;
    idle.schedule(c);
    await advance(99);
    expect(destroyed(c)).toBe(false);
    await advance(1);
    expect(destroyed(c)).toBe(true);
  });

  it('keeps a connection that became busy during its grace', async () => {
    const { closer: idle } = closer(100);
    const c = connection();
    idle.schedule(c);
    await advance(50);
    c.busy = true;
    await advance(1_000);
    expect(destroyed(c)).toBe(false);
  });

  it('never closes an upgraded connection', async () => {
    const { closer: idle } = closer(100);
    const c = connection();
    c.upgraded = true;
    idle.start(new Set([c]));
    await advance(1_000);
    expect(destroyed(c)).toBe(false);
  });

  it('closes every idle connection at once when none carried a byte for a whole grace', async () => {
    const loop = { now: 50_000 };
    const { closer: idle, closed } = closer(100, loop);
    const a = connection({ activeAt: 49_000 });
    const b = connection({ activeAt: 49_800 });
    idle.start(new Set([a, b]));
    await advance(0);
    expect([destroyed(a), destroyed(b)]).toEqual([true, true]);
    expect(closed).toEqual([2]);
  });

  it('gives each connection the grace when one is receiving a request, however old its last activity stamp (Deno re-arms no timer for it)', async () => {
    const loop = { now: 50_000 };
    const { closer: idle } = closer(100, loop);
    const quiet = connection({ activeAt: 40_000 });
    const arriving = connection({ activeAt: 40_000 });
    arriving.receiving = true;
    idle.start(new Set([quiet, arriving]));
    await advance(99);
    expect([destroyed(quiet), destroyed(arriving)]).toEqual([false, false]);
    await advance(1);
    expect([destroyed(quiet), destroyed(arriving)]).toEqual([true, false]);
  });

  it('gives each connection the grace when one carried a byte within it', async () => {
    const loop = { now: 50_000 };
    const { closer: idle } = closer(100, loop);
    const quiet = connection({ activeAt: 40_000 });
    const recent = connection({ activeAt: 49_950 });
    idle.start(new Set([quiet, recent]));
    await advance(99);
    expect([destroyed(quiet), destroyed(recent)]).toEqual([false, false]);
    await advance(1);
    expect([destroyed(quiet), destroyed(recent)]).toEqual([true, true]);
  });

  it('gives each connection the grace when last activity cannot be read (Node internals absent)', async () => {
    const { closer: idle } = closer(100, { now: undefined });
    const c = connection({ activeAt: undefined });
    idle.start(new Set([c]));
    await advance(99);
    expect(destroyed(c)).toBe(false);
    await advance(1);
    expect(destroyed(c)).toBe(true);
  });

  it('closes a connection opened longer than the grace ago that never sent a byte without waiting', async () => {
    const { closer: idle } = closer(100);
    const preconnect = connection({ bytesRead: 0, openedAt: performance.now() - 500 });
    const fresh = connection({ bytesRead: 0, openedAt: performance.now() - 10 });
    idle.schedule(preconnect);
    idle.schedule(fresh);
    await advance(1);
    expect(destroyed(preconnect)).toBe(true);
    expect(destroyed(fresh)).toBe(false);
    await advance(100);
    expect(destroyed(fresh)).toBe(true);
  });

  it('gives every idle connection the whole grace where the runtime cannot tell an unused one (Bun: bytesRead stays 0)', async () => {
    const { closer: idle } = closer(100, { now: undefined }, undefined, false);
    const used = connection({ bytesRead: 0, openedAt: performance.now() - 500 });
    idle.start(new Set([used]));
    await advance(99);
    expect(destroyed(used)).toBe(false);
    await advance(1);
    expect(destroyed(used)).toBe(true);
  });

  it('leaves the close to a runtime that can tell idle itself, and keeps a connection it says is reading a request (Bun)', async () => {
    const { closer: idle, closed } = closer(100, { now: undefined }, undefined, false);
    const c = connection({ bytesRead: 0 });
    const reading = { now: true };
    c.closeIfIdle = jest.fn(() => !reading.now);
    idle.start(new Set([c]));
    await advance(100);
    expect(c.closeIfIdle).toHaveBeenCalledTimes(1);
    expect(closed).toEqual([]);
    reading.now = false;
    await advance(100);
    expect(c.closeIfIdle).toHaveBeenCalledTimes(2);
    expect(closed).toEqual([1]);
    // The runtime closed it: the closer does not destroy it on top.
    expect(destroyed(c)).toBe(false);
  });

  it('keeps a connection Node is reading a request on, however long, and closes it a grace after it went idle', async () => {
    const { closer: idle } = closer(100);
    const c = connection() as FakeConnection;
    c.receiving = true;
    idle.start(new Set([c]));
    await advance(1_000);
    expect(destroyed(c)).toBe(false);
    c.receiving = false;
    await advance(99);
    expect(destroyed(c)).toBe(false);
    await advance(1);
    expect(destroyed(c)).toBe(true);
  });

  it('gives another grace to a connection whose bytes arrived during the grace without making a request yet', async () => {
    const { closer: idle } = closer(100);
    const c = connection({ bytesRead: 100 });
    idle.schedule(c);
    await advance(50);
    (c.socket as { bytesRead: number }).bytesRead += 10;
    await advance(50);
    expect(destroyed(c)).toBe(false);
    await advance(99);
    expect(destroyed(c)).toBe(false);
    await advance(1);
    expect(destroyed(c)).toBe(true);
  });

  it('decides on a fresh read: a connection that looked quiet when the drain began, and is read busy in the next poll, is kept', async () => {
    const loop = { now: 50_000 };
    const { closer: idle } = closer(100, loop);
    const c = connection({ activeAt: 40_000 });
    idle.start(new Set([c]));
    // The check phase right after the drain began follows the poll that ran before it, not a new one.
    await nextTurn();
    c.busy = true;
    await advance(0);
    expect(destroyed(c)).toBe(false);
  });

  it('on a runtime that polls its sockets only every few turns (Deno), decides only once that many have passed', async () => {
    const turns: LoopTurns = { now: () => 0, next: (fn) => void setImmediate(fn), turnsPerPoll: 8 };
    const { closer: idle } = closer(100, { now: 50_000 }, turns);
    const reused = connection({ activeAt: 40_000 });
    const idleOne = connection({ activeAt: 40_000 });
    idle.start(new Set([reused, idleOne]));
    for (let turn = 0; turn < 6; turn++) await nextTurn();
    // The runtime's poll came at last, and read a request on one of them.
    reused.busy = true;
    for (let turn = 0; turn < 30; turn++) await nextTurn();
    // Traffic: the server was not quiet, so the idle one goes after the grace, the busy one stays.
    expect(destroyed(reused) || destroyed(idleOne)).toBe(false);
    jest.advanceTimersByTime(100);
    for (let turn = 0; turn < 30; turn++) await nextTurn();
    expect(destroyed(reused)).toBe(false);
    expect(destroyed(idleOne)).toBe(true);
  });

  it('decides nothing while the event loop lags by more than the grace, and closes once a turn is quick', async () => {
    const lag = { ms: 150 };
    const { closer: idle } = closer(100, { now: undefined }, laggingTurns(lag));
    const c = connection();
    idle.schedule(c);
    await advance(100);
    for (let turn = 0; turn < 20; turn++) await nextTurn();
    expect(destroyed(c)).toBe(false);
    lag.ms = 0;
    await advance(0);
    expect(destroyed(c)).toBe(true);
  });

  it('accepts slower turns as the wait grows, up to the grace', async () => {
    const { closer: idle } = closer(100, { now: undefined }, laggingTurns({ ms: 6 }));
    const c = connection();
    idle.schedule(c);
    await advance(100);
    // A 6 ms turn is allowed once the wait is 120 ms long (5% of it).
    for (let turn = 0; turn < 25; turn++) await nextTurn();
    expect(destroyed(c)).toBe(true);
  });
});
