import type { Socket } from 'node:net';
import { now } from './run-hook.js';

/** One TCP (or TLS) connection of an attached HTTP/1 server. */
export interface Connection {
  readonly tracker: ConnectionTracker;
  readonly socket: Socket;
  /** The idle closer's grace timer, while one runs. */
  timer: ReturnType<typeof setTimeout> | undefined;
  /** `now()` when the connection was opened (or adopted). */
  readonly openedAt: number;
}

/** The part of a node:http2 session the drainer uses. */
export interface Http2SessionLike {
  close(callback?: () => void): void;
  destroy(): void;
  once(event: 'close', listener: () => void): unknown;
}

/** What the tracker tells its owner. */
export interface ConnectionEvents {
  /** A connection was adopted (the drain may already be closing idle ones). */
  adopted(connection: Connection): void;
  /** A connection or session closed. */
  closed(connection: Connection | undefined): void;
}

// Kept beside the socket rather than on it: a property added to every socket would give sockets a
// second hidden class, and node:http's per-request code, optimized for one, would then run generic
// property access on each request (bench/README.md, "Keeping each connection's state in a WeakMap").
const connectionOf = new WeakMap<Socket, Connection>();

/** The open connections (and HTTP/2 sessions) of the attached servers. */
export class ConnectionTracker {
  readonly connections = new Set<Connection>();
  readonly sessions = new Set<Http2SessionLike>();
  readonly #events: ConnectionEvents;

  constructor(events: ConnectionEvents) {
    this.#events = events;
  }

  /** Open connections and sessions. */
  get size(): number {
    return this.connections.size + this.sessions.size;
  }

  /** The connection record of `socket`, if it is tracked. */
  of(socket: Socket): Connection | undefined {
    return connectionOf.get(socket);
  }

  /** Starts tracking `socket`; returns the record it already had, if any. */
  adopt(socket: Socket): Connection {
    const existing = connectionOf.get(socket);
    if (existing !== undefined) return existing;
    const connection: Connection = { tracker: this, socket, timer: undefined, openedAt: now() };
    connectionOf.set(socket, connection);
    this.connections.add(connection);
    socket.once('close', onSocketClose);
    this.#events.adopted(connection);
    return connection;
  }

  /** Starts tracking an HTTP/2 session; `closing` sends it GOAWAY at once. */
  trackSession(session: Http2SessionLike, closing: boolean): void {
    this.sessions.add(session);
    session.once('close', () => {
      this.sessions.delete(session);
      this.#events.closed(undefined);
    });
    // GOAWAY at once: a session that opens during the drain must still end when its streams do.
    if (closing) session.close();
  }

  /** GOAWAY to every session: each ends once its streams have. */
  closeSessions(): void {
    for (const session of this.sessions) session.close();
  }

  /** Destroys every connection and session. */
  destroyAll(): void {
    for (const { socket } of this.connections) socket.destroy();
    for (const session of this.sessions) session.destroy();
  }

  /** @internal */
  connectionClosed(connection: Connection): void {
    if (connection.timer !== undefined) clearTimeout(connection.timer);
    this.connections.delete(connection);
    this.#events.closed(connection);
  }
}

function onSocketClose(this: Socket): void {
  const connection = connectionOf.get(this);
  connection?.tracker.connectionClosed(connection);
}
