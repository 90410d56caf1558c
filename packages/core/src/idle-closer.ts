import type { Connection } from './connection-tracker.js';
import { FreshRead } from './fresh-read.js';
import type { LoopTurns } from './fresh-read.js';
import { now } from './run-hook.js';

/** What the idle closer needs to know about a connection; node-internals answers it, tests fake it. */
export interface IdleSignals {
  /** A response is being written on it (pipelined ones included). */
  busy(connection: Connection): boolean;
  /** Handed over after an upgrade (WebSocket): the app owns it. */
  upgraded(connection: Connection): boolean;
  /** A request is arriving on it (its head still incomplete). */
  receiving(connection: Connection): boolean;
  /** It never received a byte (a preconnect); false where the runtime cannot tell. */
  neverRead(connection: Connection): boolean;
  /**
   * Has the runtime close it if the runtime knows it idle: true closed, false a request is in
   * progress on it, undefined the runtime cannot (the closer destroys it itself).
   */
  closeIfIdle(connection: Connection): boolean | undefined;
  /** When it last carried a byte, in `loopTime()`; undefined if that cannot be known. */
  lastActivity(connection: Connection): number | undefined;
  /** The clock of `lastActivity`. */
  loopTime(): number | undefined;
  /** Destroys it (idle: a FIN after what was written), and counts it gone at once. */
  destroy(connection: Connection): void;
}

/**
 * The idle-close policy of a drain: a connection is closed once it has been idle for the grace,
 * so that a client about to reuse a connection it just used is not cut off; on a server where no
 * connection carried traffic for a whole grace, idle connections go at once. Every decision is
 * taken on a fresh read of the sockets (`FreshRead`), never on what the loop read before a stall.
 */
export class IdleCloser {
  graceMs = 25;
  readonly #signals: IdleSignals;
  readonly #closed: (count: number) => void;
  readonly #fresh: FreshRead;
  #closedThisTurn = 0;

  /** `closed(n)` is told of every n connections closed together; `turns` is the event loop unless a test fakes it. */
  constructor(signals: IdleSignals, closed: (count: number) => void, turns?: LoopTurns) {
    this.#signals = signals;
    this.#closed = closed;
    this.#fresh = new FreshRead(() => this.graceMs, turns);
  }

  /** The drain began: close what is idle, at once if the server is quiet, else after the grace. */
  start(connections: ReadonlySet<Connection>): void {
    // Not on what the loop read before the drain: a process starved of CPU at SIGTERM has requests
    // unread in the kernel's buffers, on connections that look idle and quiet.
    const began = now();
    this.#fresh.run(() => {
      if (this.#quietForMs(connections) >= this.graceMs) {
        for (const connection of connections) this.#fresh.run(() => this.#closeQuiet(connection));
      } else {
        // The grace counts from the start of the drain.
        const left = Math.max(0, this.graceMs - (now() - began));
        for (const connection of connections) this.schedule(connection, left);
      }
    });
  }

  /** Closes `connection` after the grace (or `graceMs`), if it is idle now and still idle then. */
  schedule(connection: Connection, graceMs = this.graceMs): void {
    const { socket } = connection;
    // Node keeps the response being answered on its socket (pipelined ones queue behind it): busy.
    if (this.#signals.busy(connection) || connection.timer !== undefined || socket.destroyed) return;
    // The grace protects a client that is about to reuse a connection it just used. One that was
    // opened longer than the grace ago and never sent a byte (a preconnect) has no such moment:
    // close it now, or the process waits for nothing.
    const unused = this.#signals.neverRead(connection) && now() - connection.openedAt >= this.graceMs;
    connection.bytesAtGrace = socket.bytesRead;
    connection.timer = setTimeout(closeIfIdle, unused ? 0 : graceMs, this, connection);
  }

  /** A request arrived on `connection`: it is not idle. */
  cancel(connection: Connection): void {
    if (connection.timer === undefined) return;
    clearTimeout(connection.timer);
    connection.timer = undefined;
  }

  /** For the drainer's modules only. The grace timer fired: decide on the next fresh read, unless a request came first. */
  timerFired(connection: Connection): void {
    const timer = connection.timer;
    this.#fresh.run(() => {
      // A request arrived (the timer was cleared) or a new grace began meanwhile.
      if (connection.timer === timer) this.#gracePassed(connection);
    });
  }

  /** The grace passed; close if nothing arrived meanwhile. */
  #gracePassed(connection: Connection): void {
    connection.timer = undefined;
    // Bytes came during the grace and made no request yet: one is still arriving. It is closed only
    // once it has been quiet for a whole grace; the drain timeout bounds it.
    if (connection.socket.bytesRead !== connection.bytesAtGrace) this.schedule(connection);
    else this.#closeIdle(connection);
  }

  /** The drain began on a quiet server: an idle connection goes now, a busy one when it is idle. */
  #closeQuiet(connection: Connection): void {
    if (connection.timer !== undefined || !this.#closeIdle(connection)) this.schedule(connection);
  }

  /** One more connection closed; those closed in one turn are told together. */
  #counted(): void {
    if (this.#closedThisTurn++ > 0) return;
    // A promise job runs once this callback of the loop returns (and fake timers leave it alone).
    void Promise.resolve().then(() => {
      const count = this.#closedThisTurn;
      this.#closedThisTurn = 0;
      this.#closed(count);
    });
  }

  /**
   * How long no connection has carried a byte: 0 if one is busy, -1 if that cannot be known.
   * While requests flow, a connection that looks idle may be one a client is just sending on
   * (closing those at once lost requests where the grace lost none, see bench/README.md).
   */
  #quietForMs(connections: ReadonlySet<Connection>): number {
    const loopNow = this.#signals.loopTime();
    let quiet = Infinity;
    for (const connection of connections) {
      // A request arriving is traffic, whether or not its bytes re-armed the socket's timer (Deno's
      // node:http leaves the timer of an idle keep-alive connection alone until a request begins).
      if (this.#signals.busy(connection) || this.#signals.receiving(connection)) return 0;
      if (this.#signals.neverRead(connection)) {
        quiet = Math.min(quiet, now() - connection.openedAt);
        continue;
      }
      const idleStart = this.#signals.lastActivity(connection);
      if (idleStart === undefined || loopNow === undefined) return -1;
      quiet = Math.min(quiet, loopNow - idleStart);
    }
    return quiet;
  }

  /** Closes (and counts) a connection that is still idle; false if it is busy, upgraded or already closed. */
  #closeIdle(connection: Connection): boolean {
    const { socket } = connection;
    // A request arrived during the grace (a probe too, which is never tracked): not idle.
    if (socket.destroyed || this.#signals.busy(connection)) return false;
    // Node is reading a request on it: busy, however slowly its bytes come.
    if (this.#signals.receiving(connection)) {
      this.schedule(connection);
      return false;
    }
    // After an upgrade (WebSocket) the socket belongs to the app; it ends when the app closes it
    // (on lifecycle.signal) or is destroyed at the timeout.
    if (this.#signals.upgraded(connection)) return false;
    // Bun tells only by closing: a request still arriving keeps it, as above.
    const closedByRuntime = this.#signals.closeIfIdle(connection);
    if (closedByRuntime === false) {
      this.schedule(connection);
      return false;
    }
    // Closing a socket with nothing unread sends a FIN after the bytes already written, like
    // end(), without waiting for the client's FIN in turn. A request that crosses the FIN gets a
    // reset instead: no different for the client, it could not be answered on this connection.
    // Counted first: the destroy may settle the drain, whose report must include this one.
    this.#counted();
    if (closedByRuntime === undefined) this.#signals.destroy(connection);
    return true;
  }
}

function closeIfIdle(closer: IdleCloser, connection: Connection): void {
  // Timers run before I/O in each turn of the event loop: after a busy spell, a request that
  // reached the socket in time is still unread.
  closer.timerFired(connection);
}
