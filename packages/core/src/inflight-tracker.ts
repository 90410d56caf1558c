import type { Socket } from 'node:net';
import { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2Stream } from 'node:http2';
import type { Connection, ConnectionTracker } from './connection-tracker.js';
import type { IdleCloser } from './idle-closer.js';
import { RequestScope } from './request-scope.js';
import type { ScopeOwner } from './request-scope.js';
import { kConnection, kProbe, kRequestScope, kResponse, kTracked } from './symbols.js';
import { pathOf } from './url-path.js';

type Tracked = ServerResponse & { [kConnection]?: Connection; [kTracked]?: InflightTracker; [kProbe]?: InflightTracker };
type ScopedRequest = IncomingMessage & { [kRequestScope]?: RequestScope; [kResponse]?: Tracked };

/** What the tracker needs from the drain it serves. */
export interface InflightOwner extends ScopeOwner {
  /** The listeners are closed: every response that can still carry it gets `Connection: close`. */
  readonly closing: boolean;
  /** A response or connection ended: the drain may be over. */
  checkSettled(): void;
}

/** Counts of one drain, for the report. */
export interface MutableDrainStats {
  inFlightAtStart: number;
  completedDuringDrain: number;
  abortedRequests: number;
  unansweredRequests: number;
  idleConnectionsClosed: number;
  connectionsDestroyed: number;
  webSocketsClosed: number;
  webSocketsTerminated: number;
}

/**
 * The requests in flight once shutdown began: found on their connections at `begin()`, then
 * tracked one by one as they arrive; probe paths excluded. Also finds a request's scope.
 */
export class InflightTracker {
  readonly responses = new Set<Tracked>();
  readonly stats: MutableDrainStats = { inFlightAtStart: 0, completedDuringDrain: 0, abortedRequests: 0, unansweredRequests: 0, idleConnectionsClosed: 0, connectionsDestroyed: 0, webSocketsClosed: 0, webSocketsTerminated: 0 };
  readonly #owner: InflightOwner;
  readonly #connections: ConnectionTracker;
  readonly #closer: IdleCloser;
  #excluded: Set<string> | undefined;

  constructor(owner: InflightOwner, connections: ConnectionTracker, closer: IdleCloser) {
    this.#owner = owner;
    this.#connections = connections;
    this.#closer = closer;
  }

  /** Requests to these paths (health probes) are not application work: never tracked. */
  exclude(paths: readonly string[]): void {
    this.#excluded ??= new Set();
    for (const path of paths) this.#excluded.add(path);
  }

  /** Shutdown began: the requests in flight now are the ones whose response occupies a connection. */
  begin(): void {
    // (What http-terminator reads too); from here on every request is tracked as it arrives.
    for (const connection of this.#connections.connections) {
      for (const res of this.#connections.pending(connection)) if (res.req !== undefined) this.track(res.req, res);
      this.#connections.noteUnseen(connection);
    }
    this.stats.inFlightAtStart = this.responses.size;
  }

  /** Tracks one request during shutdown; idempotent, so both the server listener and an adapter may call it. */
  track(req: IncomingMessage, res: ServerResponse): void {
    const tracked = res as Tracked;
    if (tracked[kTracked] !== undefined) return;
    if (this.#excluded !== undefined && this.#excluded.has(pathOf(req.url))) {
      // Not in-flight work, but its connection is busy until it is answered: look again then.
      const socket = req.socket as Socket | null | undefined;
      const connection = socket == null ? undefined : this.#connections.of(socket);
      if (connection !== undefined) {
        tracked[kConnection] = connection;
        tracked[kProbe] = this;
        res.on('close', onProbeClose);
      }
      return;
    }
    tracked[kTracked] = this;
    // Only Express sets `req.res`: remember the response so that any adapter's scope can find it.
    (req as ScopedRequest)[kResponse] = tracked;
    this.responses.add(tracked);
    const socket = req.socket as Socket | null;
    // An in-memory request (Fastify's inject(), light-my-request) has a stand-in socket with no
    // connection behind it: nothing to drain, and it never closes.
    if (socket !== null && typeof socket.end === 'function' && res instanceof ServerResponse) {
      const connection = this.#connections.adopt(socket);
      this.#connections.requestRead(connection, res);
      this.#connections.observe(req, res);
      this.#closer.cancel(connection);
      tracked[kConnection] = connection;
      // A keep-alive socket can deliver another request after draining began;
      // serve it, but with `Connection: close`, so the client reconnects elsewhere and nothing is lost.
      if (this.#owner.closing) closeLast(connection, this.#connections);
    }
    res.on('close', onResponseClose);
  }

  /** The listeners just closed: `Connection: close` on the last response read on each connection, if it can still carry it. */
  closeConnections(): void {
    const connections = new Set<Connection>();
    for (const res of this.responses) {
      const connection = res[kConnection];
      if (connection !== undefined) connections.add(connection);
      else if (res instanceof ServerResponse && !res.headersSent) res.setHeader('Connection', 'close');
    }
    for (const connection of connections) closeLast(connection, this.#connections);
  }

  /**
   * `connection` closed: the requests read on it that Node never gave the socket to (pipelined
   * behind a response that ended the connection, or a client that hung up) will never be answered.
   * They are counted, and not waited for.
   */
  connectionClosed(connection: Connection): void {
    for (const res of this.#connections.unanswerable(connection) as Tracked[]) {
      if (res[kTracked] !== this || !this.responses.has(res)) continue;
      this.responses.delete(res);
      (res.req as ScopedRequest | undefined)?.[kRequestScope]?.finish();
      this.stats.unansweredRequests++;
    }
    // Pipelined before shutdown and never given the socket: at least the last one read (those
    // between it and the ones seen left no trace that can be read at no cost per request).
    if (connection.unseen !== undefined) {
      connection.unseen = undefined;
      this.stats.unansweredRequests++;
    }
  }

  /** The scope of a request, created on first use. */
  scope(req: IncomingMessage | Http2ServerRequest): RequestScope {
    const scoped = req as ScopedRequest;
    let scope = scoped[kRequestScope];
    if (scope === undefined) {
      scope = new RequestScope(this.#owner);
      scoped[kRequestScope] = scope;
      // node:http2's compatibility API: the request's stream is its whole life (public `req.stream`).
      const stream = (req as { stream?: Partial<Http2Stream> }).stream;
      if (!(req instanceof IncomingMessage) && stream !== undefined && typeof stream.once === 'function') {
        if (stream.closed === true || stream.destroyed === true) scope.finish();
        else stream.once('close', () => scope!.finish());
        return scope;
      }
      const res = this.#responseOf(scoped);
      // A response that already ended (or cannot be found) will never report its end:
      // such a scope must not join the watchers, or it would stay there for good.
      if (res === undefined || res.writableFinished || res.destroyed || (res[kTracked] !== undefined && !this.responses.has(res))) scope.finish();
      else if (res[kTracked] === undefined) {
        scoped[kResponse] = res;
        res.on('close', onScopedResponseClose);
      }
    }
    return scope;
  }

  /** For the drainer's modules only. Called with the response as `this` when it closes. */
  responseClosed(res: Tracked): void {
    this.responses.delete(res);
    (res.req as ScopedRequest | undefined)?.[kRequestScope]?.finish();
    this.stats.completedDuringDrain++;
    const connection = res[kConnection];
    if (connection !== undefined) {
      // A pipelined request answered before shutdown began is next on this connection now.
      const next = this.#connections.current(connection) as Tracked | null | undefined;
      if (next != null && next !== res && next[kTracked] === undefined && next.req !== undefined) {
        // Read before shutdown began, out of sight until now.
        this.stats.inFlightAtStart++;
        if (connection.unseen === next.req) connection.unseen = undefined;
        this.track(next.req, next);
      }
      // A response sent with `Connection: close` ends its connection (Node ends the socket once it
      // is written): no grace timer to arm, and none to clear, for each of thousands in flight.
      const endsConnection = connection.closing === res && res.writableFinished;
      if (this.#owner.closing && !endsConnection) this.#closer.schedule(connection);
    }
    this.#owner.checkSettled();
  }

  /** For the drainer's modules only. A probe answered during the drain: its connection may be idle now. */
  probeClosed(connection: Connection): void {
    if (this.#owner.closing) this.#closer.schedule(connection);
  }

  /** The response of a request: Express links it, the tracker remembers it, else it is the one on the socket. */
  #responseOf(req: ScopedRequest): Tracked | undefined {
    const known = req[kResponse] ?? (req as { res?: Tracked }).res;
    if (known !== undefined) return known;
    const socket = req.socket as Socket | null;
    const current = socket === null ? undefined : (this.#connections.currentOn(socket) as Tracked | null | undefined);
    return current != null && current.req === req ? current : undefined;
  }
}

/**
 * Ends `connection` after the last response read on it (public API; the header also tells the
 * client why). Node drops every response queued behind one that ends the connection, so with
 * pipelined requests the header moves to the newest one read, as long as it has not been sent.
 */
function closeLast(connection: Connection, connections: ConnectionTracker): void {
  const last = connections.lastRead(connection);
  const marked = connection.closing;
  if (last === marked) return;
  if (marked !== undefined && !marked.headersSent) {
    marked.removeHeader('Connection');
    connection.closing = undefined;
  }
  // Sent already (or not known yet): the connection is closed once idle, after the grace.
  if (last === undefined || last.headersSent) return;
  last.setHeader('Connection', 'close');
  connection.closing = last;
}

function onResponseClose(this: Tracked): void {
  this[kTracked]?.responseClosed(this);
}

function onProbeClose(this: Tracked): void {
  const connection = this[kConnection];
  if (connection !== undefined) this[kProbe]?.probeClosed(connection);
}

function onScopedResponseClose(this: Tracked): void {
  (this.req as ScopedRequest | undefined)?.[kRequestScope]?.finish();
}
