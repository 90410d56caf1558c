import type { Socket } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { currentResponse, lastRequestRead, readingRequest } from './node-internals.js';
import { now } from './run-hook.js';
import { destroySession } from './session-socket.js';
import { kObserved } from './symbols.js';

/** One TCP (or TLS) connection of an attached HTTP/1 server. */
export interface Connection {
  readonly tracker: ConnectionTracker;
  readonly socket: Socket;
  /** The idle closer's grace timer, while one runs. */
  timer: ReturnType<typeof setTimeout> | undefined;
  /** `socket.bytesRead` when that grace began: bytes that came during it and made no request are one still arriving. */
  bytesAtGrace: number;
  /** `socket.bytesRead` when Node last listed it idle (-1: never): with no byte since, no request can have begun. */
  bytesWhenIdle: number;
  /** `now()` when the connection was opened, or the latest it can have been (adopted from Node's list: the server's last accept). */
  readonly openedAt: number;
  /** Seen from its `'connection'` event on: no request on it went unseen. */
  readonly watchedFromStart: boolean;
  /** Public tracking only: its responses not yet closed, oldest first. */
  responses: ServerResponse[] | undefined;
  /** Node's records only: responses read behind the one being written (pipelined), oldest first; only once a pipeline was seen. */
  queued: ServerResponse[] | undefined;
  /** The response Lifespan put `Connection: close` on: the last one read on this connection. */
  closing: ServerResponse | undefined;
  /** Node's records only: the last request read, when its response was out of sight at shutdown (pipelined before it began). */
  unseen: IncomingMessage | undefined;
  /** Public tracking only: it may carry a request nobody saw (open before it could be watched). */
  unknown: boolean;
  /** Handed over to the app by an `'upgrade'` or `'connect'` event (WebSocket, CONNECT tunnel). */
  upgraded: boolean;
}

/** The part of a node:http2 session the drainer uses. */
export interface Http2SessionLike {
  close(callback?: () => void): void;
  destroy(): void;
  once(event: 'close', listener: () => void): unknown;
  readonly closed: boolean;
  readonly destroyed: boolean;
  /** node:http2's proxy of the session's socket: its properties can be read, it cannot be destroyed. */
  readonly socket?: { readonly remotePort?: number } | undefined;
}

/** What the tracker tells its owner. */
export interface ConnectionEvents {
  /** A connection was adopted (the drain may already be closing idle ones). */
  adopted(connection: Connection): void;
  /** A connection or session closed, or a watched response did. */
  closed(connection: Connection | undefined): void;
  /** A connection closed (told before `closed`): what was read on it and not answered never will be. */
  gone(connection: Connection): void;
}

type Observed = ServerResponse & { [kObserved]?: Connection };

// Kept beside the socket rather than on it: a property added to every socket would give sockets a
// second hidden class, and node:http's per-request code, optimized for one, would then run generic
// property access on each request (bench/README.md, "Keeping each connection's state in a WeakMap").
const connectionOf = new WeakMap<Socket, Connection>();

/**
 * The open connections (and HTTP/2 sessions) of the attached servers, and what each is doing:
 * read from Node's own records, or, where those cannot be read, from the public events.
 */
export class ConnectionTracker {
  readonly connections = new Set<Connection>();
  readonly sessions = new Set<Http2SessionLike>();
  readonly #events: ConnectionEvents;
  /** Requests are watched through the public events (Node's record of them is unreadable). */
  #public = false;

  constructor(events: ConnectionEvents) {
    this.#events = events;
  }

  /** Open connections and sessions. */
  get size(): number {
    return this.connections.size + this.sessions.size;
  }

  /** Whether requests are watched one by one through the public events. */
  get watchesRequests(): boolean {
    return this.#public;
  }

  /** The connection record of `socket`, if it is tracked. */
  of(socket: Socket): Connection | undefined {
    return connectionOf.get(socket);
  }

  /**
   * Starts tracking `socket` (`fromStart`: at its `'connection'` event; `openedAt`: the latest it
   * can have been opened, if not now); returns the record it already had, if any.
   */
  adopt(socket: Socket, fromStart = false, openedAt = now()): Connection {
    const existing = connectionOf.get(socket);
    if (existing !== undefined) return existing;
    const connection: Connection = {
      tracker: this,
      socket,
      timer: undefined,
      bytesAtGrace: 0,
      bytesWhenIdle: -1,
      openedAt,
      watchedFromStart: fromStart,
      responses: undefined,
      queued: undefined,
      closing: undefined,
      unseen: undefined,
      unknown: false,
      upgraded: false,
    };
    if (this.#public) this.#watch(connection);
    connectionOf.set(socket, connection);
    this.connections.add(connection);
    // on(), not once(): a socket closes once, and once() would allocate a wrapper per connection.
    socket.on('close', onSocketClose);
    this.#events.adopted(connection);
    return connection;
  }

  /** The response being written on `connection`, or null. */
  current(connection: Connection): ServerResponse | null | undefined {
    return this.#public ? (connection.responses?.[0] ?? null) : currentResponse(connection.socket);
  }

  /** The response being written on `socket`, tracked or not (a request scope looks for its own). */
  currentOn(socket: Socket): ServerResponse | null | undefined {
    if (!this.#public) return currentResponse(socket);
    const connection = connectionOf.get(socket);
    return connection === undefined ? undefined : this.current(connection);
  }

  /**
   * A request was read on `connection`: one read while another response occupies the socket is
   * pipelined, queued by Node behind it. Costs one read per request; the queue exists only once a
   * pipeline was seen.
   */
  requestRead(connection: Connection, res: ServerResponse): void {
    if (this.#public) return;
    // The responses written since the last request are let go.
    if (connection.queued !== undefined) {
      const queued = connection.queued.filter(unsent);
      connection.queued = queued.length > 0 ? queued : undefined;
    }
    const current = currentResponse(connection.socket);
    if (current == null || current === res || connection.queued?.includes(res)) return;
    (connection.queued ??= []).push(res);
  }

  /** The responses not yet written on `connection`, in the order they were read: the current one and those queued behind it. */
  pending(connection: Connection): readonly ServerResponse[] {
    if (this.#public) return connection.responses ?? [];
    const res = currentResponse(connection.socket);
    const queued = connection.queued?.filter((candidate) => candidate !== res && unsent(candidate)) ?? [];
    return res == null ? queued : [res, ...queued];
  }

  /**
   * The response of the last request read on `connection`, the one that can end it without dropping
   * another; undefined if none is pending, or if Node read a later request whose response is out of
   * sight (pipelined before shutdown began: it is found once it reaches the socket).
   */
  lastRead(connection: Connection): ServerResponse | undefined {
    const pending = this.pending(connection);
    const last = pending[pending.length - 1];
    if (last === undefined || this.#public) return last;
    return lastRequestRead(connection.socket) === last.req ? last : undefined;
  }

  /**
   * Shutdown began: remembers the last request read on `connection` if its response is out of
   * sight (queued in Node behind the known ones, read before requests were tracked one by one).
   * Node's parser keeps that request until its response finishes.
   */
  noteUnseen(connection: Connection): void {
    if (this.#public) return;
    const pending = this.pending(connection);
    const last = pending[pending.length - 1];
    const read = lastRequestRead(connection.socket) as IncomingMessage | null | undefined;
    connection.unseen = last !== undefined && read != null && read !== last.req ? read : undefined;
  }

  /**
   * Responses read on a connection that closed before Node gave them its socket: their requests were
   * read (their handlers ran) and can never be answered.
   */
  unanswerable(connection: Connection): ServerResponse[] {
    const list = this.#public ? connection.responses : connection.queued;
    return list?.filter((res) => !res.writableFinished && res.socket == null) ?? [];
  }

  /** Whether a response occupies `connection` (or, watched publicly, whether that cannot be known). */
  busy(connection: Connection): boolean {
    if (!this.#public) return currentResponse(connection.socket) != null;
    return connection.unknown || (connection.responses !== undefined && connection.responses.length > 0);
  }

  /** Whether a request is arriving on `connection` (its head on a slow link, a large header): not idle. */
  receiving(connection: Connection): boolean {
    if (connection.upgraded) return false;
    const { socket } = connection;
    // Node's list is read whole (every connection) once per turn, and a drain closing thousands of
    // idle connections takes thousands of turns: ask it again only once bytes came.
    if (connection.bytesWhenIdle === socket.bytesRead) return false;
    const reading = readingRequest(socket);
    if (reading === false) connection.bytesWhenIdle = socket.bytesRead;
    return reading === true;
  }

  /** Whether `connection` was handed over after an upgrade: the app owns it. */
  upgraded(connection: Connection): boolean {
    return connection.upgraded;
  }

  /** Connections whose requests cannot all be seen: Node's `closeIdleConnections()` must decide for them. */
  get hasUnknown(): boolean {
    if (!this.#public) return false;
    for (const connection of this.connections) if (connection.unknown) return true;
    return false;
  }

  /** Node's record of responses cannot be read: from now on every request is watched through the public events. */
  watchRequests(): void {
    if (this.#public) return;
    this.#public = true;
    for (const connection of this.connections) this.#watch(connection);
  }

  /** A request seen through the public events (idempotent). */
  observe(req: IncomingMessage, res: ServerResponse): void {
    const observed = res as Observed;
    if (!this.#public || observed[kObserved] !== undefined) return;
    const socket = req.socket as Socket | null;
    if (socket === null || typeof socket.end !== 'function') return;
    const connection = this.adopt(socket);
    observed[kObserved] = connection;
    (connection.responses ??= []).push(res);
    res.once('close', onObservedClose);
  }

  /**
   * An `'upgrade'` or `'connect'` event handed this socket to the app: never idle, destroyed only at
   * the timeout. Tracked from now on whatever tracked it before: Node takes it off its list.
   */
  observeUpgrade(socket: Socket): void {
    this.adopt(socket).upgraded = true;
  }

  /** Starts tracking an HTTP/2 session; `closing` sends it GOAWAY after `graceMs` (see `closeSession`). */
  trackSession(session: Http2SessionLike, closing: boolean, graceMs: number): void {
    this.sessions.add(session);
    session.once('close', () => {
      this.sessions.delete(session);
      this.#events.closed(undefined);
    });
    // A session that opens during the drain must still end when its streams do.
    if (closing) closeSession(session, graceMs);
  }

  /** GOAWAY to every session after `graceMs` (see `closeSession`): each ends once its streams have. */
  closeSessions(graceMs: number): void {
    for (const session of this.sessions) closeSession(session, graceMs);
  }

  /** Destroys every connection and session. */
  destroyAll(): void {
    for (const { socket } of this.connections) socket.destroy();
    for (const session of this.sessions) destroySession(session);
  }

  /**
   * Destroys an idle connection, and counts it gone now rather than at its `'close'` event: that
   * comes a loop turn later, and a process that exits once the drain settles (as the peers do at the
   * server's `'close'`, which Node emits at destroy()) need not run thousands of them first.
   */
  destroy(connection: Connection): void {
    connection.socket.destroy();
    this.connectionClosed(connection);
  }

  /** For the drainer's modules only: `connection` closed (idempotent: its `'close'` event may follow destroy()). */
  connectionClosed(connection: Connection): void {
    if (!this.connections.has(connection)) return;
    if (connection.timer !== undefined) clearTimeout(connection.timer);
    this.#events.gone(connection);
    this.connections.delete(connection);
    this.#events.closed(connection);
  }

  /** For the drainer's modules only. */
  observedClosed(connection: Connection, res: ServerResponse): void {
    const list = connection.responses;
    const index = list === undefined ? -1 : list.indexOf(res);
    if (index >= 0) list!.splice(index, 1);
    this.#events.closed(connection);
  }

  #watch(connection: Connection): void {
    connection.responses ??= [];
    // Requests it carried before it was watched went unseen, unless it never carried a byte.
    if (!connection.watchedFromStart && connection.socket.bytesRead > 0) connection.unknown = true;
  }
}

/** Not yet fully written to its socket. */
function unsent(res: ServerResponse): boolean {
  return !res.writableFinished && !res.destroyed;
}

/**
 * Sends an HTTP/2 session its GOAWAY after the idle grace and the next poll phase: a stream whose
 * HEADERS cross a GOAWAY is refused (REFUSED_STREAM), which Node's client does not retry, so a
 * stream a client opened just before the drain (Fastify's close, a signal) is read and served first.
 */
function closeSession(session: Http2SessionLike, graceMs: number): void {
  const close = (): void => void (session.closed || session.destroyed || session.close());
  // No grace: GOAWAY now, as Node's and Fastify's own close would.
  if (graceMs === 0) close();
  else setTimeout(() => setImmediate(close), graceMs);
}

function onSocketClose(this: Socket): void {
  const connection = connectionOf.get(this);
  connection?.tracker.connectionClosed(connection);
}

function onObservedClose(this: Observed): void {
  const connection = this[kObserved];
  connection?.tracker.observedClosed(connection, this);
}
