import { debuglog } from 'node:util';
import { Server as NetServer } from 'node:net';
import { Server as TlsServer } from 'node:tls';
import type { Socket } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pathOf } from './health-probe.js';
import { RequestScope } from './request-scope.js';
import type { ScopeOwner } from './request-scope.js';
import { now } from './run-hook.js';
import type { DrainEvent, DrainStats } from './types.js';

const debug = debuglog('lifespan');

const kConnection = Symbol('@lifespan/core.connection');
const kRequestScope = Symbol('@lifespan/core.requestScope');
const kTracked = Symbol('@lifespan/core.tracked');
const kResponse = Symbol('@lifespan/core.response');

/** Any server Lifespan can drain: `node:http`, `node:https` or a `node:http2` server. */
export type DrainableServer = NetServer;

interface Connection {
  readonly drainer: HttpDrainer;
  readonly socket: TrackedSocket;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** `now()` when the connection was opened (or adopted). */
  readonly openedAt: number;
}

interface ServerRecord {
  readonly server: DrainableServer;
  explicit: boolean;
  readonly originalClose: DrainableServer['close'];
  closeEmitted: boolean;
  listenerClosed: boolean;
}

interface Http2SessionLike {
  close(callback?: () => void): void;
  destroy(): void;
  once(event: 'close', listener: () => void): unknown;
}

type Tracked = ServerResponse & { [kConnection]?: Connection; [kTracked]?: HttpDrainer };
type ScopedRequest = IncomingMessage & { [kRequestScope]?: RequestScope; [kResponse]?: Tracked };
type TrackedSocket = Socket & { parser?: unknown; _httpMessage?: Tracked | null };

// Kept beside the socket rather than on it: a property added to every socket would give sockets a
// second hidden class, and node:http's per-request code, optimized for one, would then run generic
// property access on each request (callgrind: ~1,000 instructions a request in a Fastify server).
const connectionOf = new WeakMap<Socket, Connection>();

/** What the drainer tells the lifecycle. */
export interface DrainerHost {
  /** An explicitly attached server was closed by someone else (`server.close()`, cluster disconnect). */
  onServerClose(server: DrainableServer): void;
  /** A drain milestone, for timelines. */
  onDrainEvent(event: DrainEvent): void;
  /** A request-scope callback threw. */
  reportScopeError(error: unknown): void;
}

/** Timing of one drain. */
export interface DrainPlan {
  readonly delayMs: number;
  readonly timeoutMs: number;
  readonly idleGraceMs: number;
  /** In `now()` time. */
  readonly deadline: number;
}

/**
 * Tracks connections and in-flight requests of the attached servers and drains them without
 * losing a request: close the listener only, `Connection: close` on every response that can still
 * carry it, close connections only once they have been idle for a grace period, destroy what is left
 * at the timeout.
 */
export class HttpDrainer implements ScopeOwner {
  readonly watchers = new Set<RequestScope>();
  shutdownReason: string | undefined;
  readonly #host: DrainerHost;
  readonly #servers = new Map<DrainableServer, ServerRecord>();
  readonly #connections = new Set<Connection>();
  readonly #inFlight = new Set<Tracked>();
  readonly #sessions = new Set<Http2SessionLike>();
  #closing = false;
  #excluded: Set<string> | undefined;
  #idleGraceMs = 25;
  #onSettled: (() => void) | undefined;
  #stats = { inFlightAtStart: 0, completedDuringDrain: 0, abortedRequests: 0, idleConnectionsClosed: 0, connectionsDestroyed: 0 };

  constructor(host: DrainerHost) {
    this.#host = host;
  }

  /** Number of requests in flight now. */
  get inFlight(): number {
    if (this.shutdownReason !== undefined) return this.#inFlight.size;
    let busy = 0;
    for (const { socket } of this.#connections) if (socket._httpMessage != null) busy++;
    return busy;
  }

  /** Number of open connections (and HTTP/2 sessions) now. */
  get connections(): number {
    return this.#connections.size + this.#sessions.size;
  }

  /** Servers attached, explicitly or lazily. */
  get servers(): number {
    return this.#servers.size;
  }

  /** Figures for the report. */
  get stats(): DrainStats {
    return { ...this.#stats };
  }

  /** Starts tracking `server`; a second call for the same server does nothing. */
  attach(server: DrainableServer, explicit: boolean): boolean {
    const known = this.#servers.get(server);
    if (known !== undefined) {
      // Lazily attached by a request first, then attached by the app: from now on its close is the app's.
      if (explicit && !known.explicit) known.explicit = true;
      return false;
    }
    const http2 = isHttp2Server(server);
    const record: ServerRecord = {
      server,
      explicit,
      originalClose: server.close,
      closeEmitted: false,
      listenerClosed: false,
    };
    this.#servers.set(server, record);
    server.once('close', () => {
      record.closeEmitted = true;
      if (!record.explicit) this.#servers.delete(server);
    });
    if (http2) {
      server.on('session', (session: Http2SessionLike) => this.#trackSession(session));
    } else {
      server.on(server instanceof TlsServer ? 'secureConnection' : 'connection', (socket: Socket) => this.#adopt(socket));
    }
    // Connections accepted before attach (a lazy attach at the first request, or an attach after
    // listen() under load) would otherwise be found only when they carry their next request.
    for (const socket of connectionsOf(server)) this.#adopt(socket);
    if (this.shutdownReason !== undefined) this.#listen(server);
    const closeCalled = (callback: ((error?: Error) => void) | undefined): void => this.#closeCalled(record, callback);
    // An own property shadows http.Server#close, so every caller (a test harness, a framework,
    // cluster's worker.disconnect()) goes through the lifecycle instead of closeIdleConnections(),
    // which resets keep-alive connections whose next request is already on the wire.
    Object.defineProperty(server, 'close', {
      configurable: true,
      writable: true,
      value: function close(this: DrainableServer, callback?: (error?: Error) => void) {
        closeCalled(callback);
        return this;
      },
    });
    debug('attached %s server (%s)', http2 ? 'http2' : 'http', explicit ? 'explicit' : 'lazy');
    return true;
  }

  /** Whether `server` was attached explicitly (not only because a request arrived on it). */
  isAttached(server: DrainableServer): boolean {
    return this.#servers.get(server)?.explicit === true;
  }

  /** Requests to these paths (health probes) are not application work: never tracked. */
  exclude(paths: readonly string[]): void {
    this.#excluded ??= new Set();
    for (const path of paths) this.#excluded.add(path);
  }

  /**
   * Tracks one request; idempotent, so both the server listener and an adapter may call it.
   * Before shutdown a request costs next to nothing here: when shutdown begins, the requests in
   * flight are found on their connections instead of being counted one by one all day long.
   */
  track(req: IncomingMessage, res: ServerResponse): void {
    if (this.shutdownReason === undefined) {
      // A connection opened before its server was attached is adopted at its first request.
      const socket = req.socket as TrackedSocket | null;
      if (socket !== null && typeof socket.end === 'function') this.#adopt(socket);
      return;
    }
    this.#track(req, res);
  }

  #track(req: IncomingMessage, res: ServerResponse): void {
    const tracked = res as Tracked;
    if (tracked[kTracked] !== undefined) return;
    if (this.#excluded !== undefined && this.#excluded.has(pathOf(req.url))) {
      // Not in-flight work, but its connection is busy until it is answered: look again then.
      const socket = req.socket as Socket | null | undefined;
      const connection = socket == null ? undefined : connectionOf.get(socket);
      if (connection !== undefined) {
        tracked[kConnection] = connection;
        res.on('close', onProbeClose);
      }
      return;
    }
    tracked[kTracked] = this;
    // Only Express sets `req.res`: remember the response so that any adapter's scope can find it.
    (req as ScopedRequest)[kResponse] = tracked;
    this.#inFlight.add(tracked);
    const socket = req.socket as TrackedSocket | null;
    // An in-memory request (Fastify's inject(), light-my-request) has a stand-in socket with no
    // connection behind it: nothing to drain, and it never closes.
    if (socket !== null && typeof socket.end === 'function' && typeof (res as { shouldKeepAlive?: unknown }).shouldKeepAlive === 'boolean') {
      const connection = connectionOf.get(socket) ?? this.#adopt(socket);
      if (connection.timer !== undefined) {
        clearTimeout(connection.timer);
        connection.timer = undefined;
      }
      tracked[kConnection] = connection;
      // A keep-alive socket can deliver another request after draining began;
      // serve it, but with `Connection: close`, so the client reconnects elsewhere and nothing is lost.
      if (this.#closing) res.shouldKeepAlive = false;
    }
    res.on('close', onResponseClose);
  }

  #listen(server: DrainableServer): void {
    // Prepended so that a response is tracked before the app's own listener can write to it.
    server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => this.track(req, res));
  }

  /** The scope of a tracked request, created on first use. */
  scope(req: IncomingMessage): RequestScope {
    const scoped = req as ScopedRequest;
    let scope = scoped[kRequestScope];
    if (scope === undefined) {
      scope = new RequestScope(this);
      scoped[kRequestScope] = scope;
      const res = responseOf(scoped);
      // A response that already ended (or cannot be found) will never report its end:
      // such a scope must not join the watchers, or it would stay there for good.
      if (res === undefined || res.writableFinished || res.destroyed || (res[kTracked] !== undefined && !this.#inFlight.has(res))) scope.finish();
      else if (res[kTracked] === undefined) {
        scoped[kResponse] = res;
        res.on('close', onScopedResponseClose);
      }
    }
    return scope;
  }

  /** Shutdown began: notify every in-flight request that asked to be told. */
  begin(reason: string): void {
    this.shutdownReason = reason;
    for (const server of this.#servers.keys()) this.#listen(server);
    // The requests in flight now are the ones whose response occupies a connection (what
    // http-terminator reads too); from here on every request is tracked as it arrives.
    for (const { socket } of this.#connections) {
      const res = socket._httpMessage;
      if (res != null && res.req !== undefined) this.#track(res.req, res);
    }
    this.#stats.inFlightAtStart = this.#inFlight.size;
    const watchers = [...this.watchers];
    this.watchers.clear();
    for (const scope of watchers) scope.fire(reason);
  }

  /** Runs the drain: delay, close listeners, `Connection: close`, idle closing, destroy at timeout. */
  async drain(plan: DrainPlan): Promise<void> {
    this.#idleGraceMs = plan.idleGraceMs;
    const delay = Math.min(plan.delayMs, plan.deadline - now());
    if (delay > 0) await sleep(delay);
    this.#closing = true;
    let listeners = 0;
    for (const record of this.#servers.values()) if (this.#closeListener(record)) listeners++;
    this.#host.onDrainEvent({ type: 'listenerClosed', servers: listeners });
    for (const res of this.#inFlight) {
      if (!res.headersSent && typeof res.shouldKeepAlive === 'boolean') res.shouldKeepAlive = false;
    }
    for (const session of this.#sessions) session.close();
    if (this.#quietForMs() >= this.#idleGraceMs) {
      // After the poll phase, like every idle close: a request already in the buffer is read first.
      setImmediate(() => this.#closeAllIdle());
    } else {
      for (const connection of this.#connections) this.#scheduleIdleClose(connection);
    }
    const budget = Math.min(plan.timeoutMs, plan.deadline - now());
    const settled = await this.#settledWithin(budget);
    if (settled) {
      this.#host.onDrainEvent({ type: 'drained', completed: this.#stats.completedDuringDrain });
      return;
    }
    const requests = this.#inFlight.size;
    const connections = this.#connections.size + this.#sessions.size;
    this.#stats.abortedRequests += requests;
    this.#stats.connectionsDestroyed += connections;
    this.destroyAll();
    this.#host.onDrainEvent({ type: 'destroyed', connections, requests });
  }

  /** Destroys everything still open; used when the process must go now. */
  destroyAll(): void {
    for (const { socket } of this.#connections) socket.destroy();
    for (const session of this.#sessions) session.destroy();
  }

  reportScopeError(error: unknown): void {
    this.#host.reportScopeError(error);
  }

  /** @internal Called with the response as `this` when it closes. */
  responseClosed(res: Tracked): void {
    this.#inFlight.delete(res);
    const scope = (res.req as ScopedRequest | undefined)?.[kRequestScope];
    scope?.finish();
    if (this.shutdownReason !== undefined) this.#stats.completedDuringDrain++;
    const connection = res[kConnection];
    if (connection !== undefined) {
      // A pipelined request answered before shutdown began is next on this connection now.
      const next = connection.socket._httpMessage;
      if (next != null && next !== res && next[kTracked] === undefined && next.req !== undefined) this.#track(next.req, next);
      if (this.#closing) this.#scheduleIdleClose(connection);
    }
    this.#checkSettled();
  }

  /** @internal A probe answered during the drain: its connection may be idle now. */
  probeClosed(connection: Connection): void {
    if (this.#closing) this.#scheduleIdleClose(connection);
  }

  #adopt(socket: TrackedSocket): Connection {
    const existing = connectionOf.get(socket);
    if (existing !== undefined) return existing;
    const connection: Connection = { drainer: this, socket, timer: undefined, openedAt: now() };
    connectionOf.set(socket, connection);
    this.#connections.add(connection);
    socket.once('close', onSocketClose);
    if (this.#closing) this.#scheduleIdleClose(connection);
    return connection;
  }

  /** @internal */
  connectionClosed(connection: Connection): void {
    if (connection.timer !== undefined) clearTimeout(connection.timer);
    this.#connections.delete(connection);
    this.#checkSettled();
  }

  #trackSession(session: Http2SessionLike): void {
    this.#sessions.add(session);
    session.once('close', () => {
      this.#sessions.delete(session);
      this.#checkSettled();
    });
    // GOAWAY at once: a session that opens during the drain must still end when its streams do.
    if (this.#closing) session.close();
  }

  #scheduleIdleClose(connection: Connection): void {
    const { socket } = connection;
    // Node keeps the response being answered on its socket (pipelined ones queue behind it): busy.
    if (socket._httpMessage != null || connection.timer !== undefined || socket.destroyed) return;
    // The grace protects a client that is about to reuse a connection it just used. One that was
    // opened longer than the grace ago and never sent a byte (a preconnect) has no such moment:
    // close it now, or the process waits for nothing.
    const unused = socket.bytesRead === 0 && now() - connection.openedAt >= this.#idleGraceMs;
    connection.timer = setTimeout(closeIfIdle, unused ? 0 : this.#idleGraceMs, connection);
  }

  /** The drain began on a quiet server: every idle connection goes now, the others when they finish. */
  #closeAllIdle(): void {
    let closed = 0;
    for (const connection of this.#connections) {
      if (connection.timer === undefined && this.#closeIdle(connection)) closed++;
      else this.#scheduleIdleClose(connection);
    }
    if (closed > 0) this.#host.onDrainEvent({ type: 'idleClosed', connections: closed });
  }

  /**
   * How long no connection has carried a byte: 0 if one is busy, -1 if Node's timers cannot tell.
   * The grace exists for clients that are about to reuse a connection: while requests flow, a
   * connection that looks idle may be one a client is just sending on (closing those at once lost
   * requests where the grace lost none, see bench/README.md). A server on which no connection has
   * seen traffic for a whole grace has no such client, and waiting would only delay the exit.
   */
  #quietForMs(): number {
    const loopNow = loopTime();
    let quiet = Infinity;
    for (const { socket, openedAt } of this.#connections) {
      if (socket._httpMessage != null) return 0;
      if (socket.bytesRead === 0) {
        quiet = Math.min(quiet, now() - openedAt);
        continue;
      }
      // Node re-arms a keep-alive connection's timeout on every read and write: its start is the
      // connection's last activity, known without any bookkeeping per request.
      const idleStart = keepAliveTimerOf(socket)?._idleStart;
      if (typeof idleStart !== 'number' || loopNow === undefined) return -1;
      quiet = Math.min(quiet, loopNow - idleStart);
    }
    return quiet;
  }

  /** @internal The idle grace passed; close if nothing arrived meanwhile. */
  idleGracePassed(connection: Connection): void {
    connection.timer = undefined;
    if (this.#closeIdle(connection)) this.#host.onDrainEvent({ type: 'idleClosed', connections: 1 });
  }

  /** Closes a connection that is still idle; false if it is busy, upgraded or already closed. */
  #closeIdle(connection: Connection): boolean {
    const { socket } = connection;
    // A request arrived during the grace (a probe too, which is never tracked): not idle.
    if (socket.destroyed || socket._httpMessage != null) return false;
    // After an upgrade (WebSocket) the HTTP parser is gone and the socket belongs to the app;
    // it ends when the app closes it (on lifecycle.signal) or is destroyed at the timeout.
    if (socket.parser === null) return false;
    this.#stats.idleConnectionsClosed++;
    // Closing a socket with nothing unread sends a FIN after the bytes already written, like
    // end(), without waiting for the client's FIN in turn. Had a request arrived since the poll
    // phase read this socket, the kernel would reset it instead: no different for the client,
    // as a request that crosses the FIN cannot be answered on this connection either way.
    socket.destroy();
    return true;
  }

  #closeListener(record: ServerRecord): boolean {
    if (record.listenerClosed) return false;
    record.listenerClosed = true;
    if (!record.server.listening) {
      // A server that never listened (Fastify before listen(), apps tested with inject()) still
      // emits 'close', as Node's close() would, or whoever waits for it (Fastify's close) waits forever.
      if (!record.closeEmitted) NetServer.prototype.close.call(record.server);
      return false;
    }
    // Only the listening socket: http.Server#close() would also destroy idle keep-alive connections.
    NetServer.prototype.close.call(record.server);
    return true;
  }

  #closeCalled(record: ServerRecord, callback: ((error?: Error) => void) | undefined): void {
    const { server } = record;
    if (callback !== undefined) {
      if (record.closeEmitted) process.nextTick(callback);
      else if (!server.listening && !record.listenerClosed) {
        // Node's own behaviour for a server that never listened.
        server.once('close', () => callback(Object.assign(new Error('Server is not running.'), { code: 'ERR_SERVER_NOT_RUNNING' })));
      } else server.once('close', () => callback());
    }
    if (!record.explicit) {
      // A server attached only because a request arrived on it (supertest's ephemeral servers)
      // is not the app's lifetime: close it the way Node would, and forget it.
      this.#servers.delete(server);
      record.originalClose.call(server);
      return;
    }
    if (this.shutdownReason === undefined) this.#host.onServerClose(server);
  }

  #settledWithin(budget: number): Promise<boolean> {
    if (this.#isSettled()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#onSettled = undefined;
        resolve(false);
      }, Math.max(0, budget));
      this.#onSettled = () => {
        clearTimeout(timer);
        this.#onSettled = undefined;
        resolve(true);
      };
    });
  }

  #isSettled(): boolean {
    return this.#inFlight.size === 0 && this.#connections.size === 0 && this.#sessions.size === 0;
  }

  #checkSettled(): void {
    if (this.#onSettled !== undefined && this.#isSettled()) this.#onSettled();
  }
}

function onResponseClose(this: Tracked): void {
  this[kTracked]?.responseClosed(this);
}

function onProbeClose(this: Tracked): void {
  const connection = this[kConnection];
  connection?.drainer.probeClosed(connection);
}

function onScopedResponseClose(this: Tracked): void {
  (this.req as ScopedRequest | undefined)?.[kRequestScope]?.finish();
}

/** The response of a request: Express links it, the drainer remembers it, else it is the one on the socket. */
function responseOf(req: ScopedRequest): Tracked | undefined {
  const known = req[kResponse] ?? (req as { res?: Tracked }).res;
  if (known !== undefined) return known;
  const current = (req.socket as TrackedSocket | null)?._httpMessage;
  return current != null && current.req === req ? current : undefined;
}

function onSocketClose(this: TrackedSocket): void {
  const connection = connectionOf.get(this);
  connection?.drainer.connectionClosed(connection);
}

function closeIfIdle(connection: Connection): void {
  // Timers run before I/O in each turn of the event loop: after a busy spell, a request that
  // reached the socket in time is still unread. Decide after the next poll phase has parsed it.
  setImmediate(closeIfStillIdle, connection, connection.timer);
}

function closeIfStillIdle(connection: Connection, timer: Connection['timer']): void {
  // A request arrived (track() cleared the timer) or a new grace began meanwhile.
  if (connection.timer === timer) connection.drainer.idleGracePassed(connection);
}

/** The open connections of a node:http(s) server, from the list Node keeps for closeAllConnections(). */
function connectionsOf(server: DrainableServer): TrackedSocket[] {
  const symbol = Object.getOwnPropertySymbols(server).find((candidate) => candidate.description === 'http.server.connections');
  const list = symbol === undefined ? undefined : (server as unknown as Record<symbol, { all?: () => { socket?: TrackedSocket | null }[] }>)[symbol];
  if (typeof list?.all !== 'function') return [];
  const sockets: TrackedSocket[] = [];
  for (const parser of list.all()) if (parser.socket != null && !parser.socket.destroyed) sockets.push(parser.socket);
  return sockets;
}

interface NodeTimer {
  _idleStart?: unknown;
}

let timeoutSymbol: symbol | null | undefined;

/** The socket's timeout timer (armed by the HTTP server with `keepAliveTimeout` while it is idle). */
function keepAliveTimerOf(socket: Socket): NodeTimer | undefined {
  // net.Socket keeps it under an internal symbol; found once by name, absent on other runtimes.
  timeoutSymbol ??= Object.getOwnPropertySymbols(socket).find((symbol) => symbol.description === 'timeout') ?? null;
  if (timeoutSymbol === null) return undefined;
  const timer = (socket as unknown as Record<symbol, NodeTimer | null | undefined>)[timeoutSymbol];
  return timer ?? undefined;
}

/** The event loop's clock, in which timers record `_idleStart`. */
function loopTime(): number | undefined {
  const timer = setTimeout(noop, 0) as unknown as NodeTimer;
  clearTimeout(timer as unknown as ReturnType<typeof setTimeout>);
  return typeof timer._idleStart === 'number' ? timer._idleStart : undefined;
}

function noop(): void {}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function isHttp2Server(server: DrainableServer): boolean {
  const name = server.constructor.name;
  return name === 'Http2SecureServer' || name === 'Http2Server';
}
