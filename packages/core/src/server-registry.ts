import { debuglog } from 'node:util';
import { Server as NetServer } from 'node:net';
import { Server as TlsServer } from 'node:tls';
import type { TLSSocket } from 'node:tls';
import type { Socket } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2SessionLike } from './connection-tracker.js';
import { isDisconnecting } from './cluster-worker.js';
import { bindSessionSocket } from './session-socket.js';
import { capabilities, checkRequest, closeListenerOnly, connectionsOf, isHttp2Server } from './node-internals.js';
import { now } from './run-hook.js';

const debug = debuglog('lifespan');

/** Any server Lifespan can drain: `node:http`, `node:https` or a `node:http2` server. */
export type DrainableServer = NetServer;

interface ServerRecord {
  readonly server: DrainableServer;
  readonly http2: boolean;
  explicit: boolean;
  /** The `close` in effect before attach(): Node's own, or one the app or a framework set. */
  readonly originalClose: DrainableServer['close'];
  /** That close, if it was an own property of the server (restored as it was). */
  readonly ownClose: PropertyDescriptor | undefined;
  /** Removes what attach() added to the server (listeners), so that it can be freed or reused. */
  readonly undo: (() => void)[];
  closeEmitted: boolean;
  listenerClosed: boolean;
  /** It had connections before attach() that Node would not list: the drain waits for its 'close'. */
  hidden: boolean;
  /** Node's list of its connections was read, once it listened: it can be read again at shutdown. */
  listed: boolean;
  /** `now()` at its last accepted connection (or at attach()): the latest any connection Node lists for it was opened. */
  lastAccept: number;
  /** The self-check of Node's records, until a request runs it. */
  check: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
}

/** What the registry tells its owner. */
export interface ServerEvents {
  /**
   * A connection of an attached server: accepted now (`fromStart`), or earlier and found in Node's
   * list (`openedAt`: the latest it can have been opened).
   */
  connection(socket: Socket, fromStart: boolean, openedAt?: number): void;
  /** An HTTP/2 session of an attached server. */
  session(session: Http2SessionLike): void;
  /** A server emitted 'close': its listener and every connection Node knew of are gone. */
  closed(server: DrainableServer): void;
  /** A request, once requests are tracked one by one (`trackRequests()`). */
  request(req: IncomingMessage, res: ServerResponse): void;
  /** An explicitly attached server's `close()` was called before shutdown (the app, a framework, cluster). */
  closeCalled(server: DrainableServer): void;
  /** The self-check found Node's record of responses unreadable, on this request: watch requests publicly. */
  internalsMissing(req: IncomingMessage, res: ServerResponse): void;
  /** A request seen through the public `'request'` event (only once `watchRequests()` was called). */
  observe(req: IncomingMessage, res: ServerResponse): void;
  /** A socket handed over to the app by an `'upgrade'` or `'connect'` event. */
  upgraded(socket: Socket): void;
}

/**
 * The attached servers: their connection events, the interception of their `close()`, and
 * closing their listeners.
 */
export class ServerRegistry {
  readonly #servers = new Map<DrainableServer, ServerRecord>();
  readonly #events: ServerEvents;
  #shuttingDown = false;
  #drainOver = false;
  #watching = false;
  #released = false;

  constructor(events: ServerEvents) {
    this.#events = events;
  }

  /** Servers attached, explicitly or lazily. */
  get size(): number {
    return this.#servers.size;
  }

  /** Starts tracking `server`; false if it was attached already, or the drain is over. */
  attach(server: DrainableServer, explicit: boolean): boolean {
    if (this.#released) return false;
    const known = this.#servers.get(server);
    if (known !== undefined) {
      // Lazily attached by a request first, then attached by the app: from now on its close is the app's.
      if (explicit && !known.explicit) known.explicit = true;
      return false;
    }
    const http2 = isHttp2Server(server);
    const found = capabilities();
    const record: ServerRecord = {
      server,
      http2,
      explicit,
      originalClose: server.close,
      ownClose: Object.getOwnPropertyDescriptor(server, 'close'),
      undo: [],
      closeEmitted: false,
      listenerClosed: false,
      hidden: false,
      listed: false,
      lastAccept: now(),
      check: undefined,
    };
    this.#servers.set(server, record);
    const events = this.#events;
    this.#on(record, 'close', () => {
      record.closeEmitted = true;
      if (!record.explicit) this.#forget(record);
      events.closed(server);
    });
    if (http2) {
      // node:http2 emits 'session' from its own 'connection' listener ('secureConnection' over TLS),
      // which runs before this one: the socket that comes next is that session's.
      let opened: Http2SessionLike | undefined;
      this.#on(record, 'session', (session: Http2SessionLike) => {
        opened = session;
        events.session(session);
      });
      this.#on(record, server instanceof TlsServer ? 'secureConnection' : 'connection', (socket: Socket) => {
        const session = opened;
        opened = undefined;
        if (session !== undefined) bindSessionSocket(session, socket);
        // createSecureServer({ allowHTTP1: true }) serves HTTP/1.1 clients with node:http's own code
        // on their TLS sockets: drain those as an https server's.
        else if (server instanceof TlsServer && (socket as TLSSocket).alpnProtocol !== 'h2') events.connection(socket, true);
      });
    } else {
      this.#on(record, server instanceof TlsServer ? 'secureConnection' : 'connection', (socket: Socket) => {
        // Where Node's list of the connections can be read, a connection costs nothing until shutdown
        // begins (adoptListed()), but the time of the last accept, for telling an unused preconnect.
        if (this.#lists(record)) record.lastAccept = now();
        else events.connection(socket, true);
      });
      // The public sign of a socket handed over (WebSocket, CONNECT tunnel); on Node 26 it also
      // comes before an upgrade request's body was read, while node:http still parses it.
      for (const name of ['upgrade', 'connect'] as const) record.undo.push(mirrorListeners(server, name, (req: IncomingMessage) => events.upgraded(req.socket)));
      if (server.listening) {
        // Connections accepted before attach (a lazy attach at the first request, or an attach after
        // listen() under load) would otherwise be found only when they carry their next request.
        const sockets = connectionsOf(server);
        if (sockets === undefined) record.hidden = true;
        else {
          record.listed = true;
          if (!this.#lists(record)) for (const socket of sockets) events.connection(socket, false);
        }
      }
      // Node makes the list when the server starts listening (after attach(), usually).
      this.#on(record, 'listening', () => void (record.listed = connectionsOf(server) !== undefined));
      if (found.currentResponse === undefined) this.#checkOnFirstRequest(record);
      else if (this.#watching) this.#watchRequestsOf(record);
    }
    if (this.#shuttingDown) this.#trackRequestsOf(record);
    const closeCalled = (callback: ((error?: Error) => void) | undefined): void => this.#closeCalled(record, callback);
    // An own property shadows http.Server#close until the lifecycle is closed, so every caller (a
    // test harness, a framework, cluster's worker.disconnect()) goes through the lifecycle instead of
    // closeIdleConnections(), which resets keep-alive connections whose next request is already on the wire.
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

  /**
   * Whether the connections of `server` are read from Node's list when shutdown begins rather than
   * tracked one by one (nothing to do for them before shutdown but a pipeline's queue).
   */
  listsConnectionsOf(server: unknown): boolean {
    const record = this.#servers.get(server as DrainableServer);
    return record !== undefined && this.#lists(record);
  }

  /** Every connection Node lists for the attached HTTP/1 servers, tracked or not. */
  listedSockets(): Socket[] {
    const sockets: Socket[] = [];
    for (const record of this.#servers.values()) if (record.listed) sockets.push(...(connectionsOf(record.server, true) ?? []));
    return sockets;
  }

  /**
   * Shutdown began (or the process must go now): every connection Node lists is adopted, with the
   * server's last accept as the latest it was opened. Until then nobody tracked them.
   */
  adoptListed(): void {
    for (const record of this.#servers.values()) {
      if (!record.listed) continue;
      for (const socket of connectionsOf(record.server, true) ?? []) this.#events.connection(socket, false, record.lastAccept);
    }
  }

  /** Shutdown began: from now on every request of every attached server is reported. */
  trackRequests(): void {
    this.#shuttingDown = true;
    for (const record of this.#servers.values()) this.#trackRequestsOf(record);
  }

  /** The drain has settled (or destroyed what was left): no connection is left to protect. */
  drainOver(): void {
    this.#drainOver = true;
  }

  /**
   * The lifecycle is closed: every server gets its own `close()` back and loses Lifespan's
   * listeners, so it behaves as Node's own again (listen() and close() work) and can be freed.
   */
  release(): void {
    this.#released = true;
    for (const record of this.#servers.values()) this.#forget(record, true);
  }

  /** Node's record of responses is unreadable: every request of every attached HTTP/1 server is observed from now on. */
  watchRequests(): void {
    if (this.#watching) return;
    this.#watching = true;
    for (const record of this.#servers.values()) if (!record.http2) this.#watchRequestsOf(record);
  }

  /** Some server has connections nobody could list (and so no one else can close when idle). */
  get hasHidden(): boolean {
    for (const record of this.#servers.values()) if (record.hidden) return true;
    return false;
  }

  /** Whether a server with unlisted connections is still open: Node emits its 'close' after the last one. */
  get hiddenOpen(): boolean {
    for (const record of this.#servers.values()) if (record.hidden && !record.closeEmitted) return true;
    return false;
  }

  /** Node's own `closeIdleConnections()` on every HTTP/1 server: it knows the connections Lifespan cannot see. */
  closeIdleConnections(): void {
    for (const { server, http2 } of this.#servers.values()) if (!http2) callCloseIdleConnections(server);
  }

  /** Node's own `closeAllConnections()` on the servers with unlisted connections (the drain timed out). */
  destroyHidden(): void {
    for (const { server, hidden } of this.#servers.values()) {
      const closeAll = (server as { closeAllConnections?: () => void }).closeAllConnections;
      if (hidden && typeof closeAll === 'function') closeAll.call(server);
    }
  }

  /** Closes every listener (connections stay open); returns how many were listening. `failed` hears of a server that threw. */
  closeListeners(failed: (step: string, error: unknown) => void): number {
    let closed = 0;
    for (const record of this.#servers.values()) {
      try {
        if (this.#closeListener(record)) closed++;
      } catch (error) {
        failed('closing the listener of a server', error);
      }
    }
    return closed;
  }

  /**
   * Whether the connections of `record` are left to Node's list until shutdown: only where that list
   * was read, once Node's record of responses was found readable too (else requests may have to be
   * watched publicly from a connection's first byte), and never during shutdown.
   */
  #lists(record: ServerRecord): boolean {
    return record.listed && !this.#shuttingDown && capabilities().currentResponse === true;
  }

  #checkOnFirstRequest(record: ServerRecord): void {
    record.check = (req, res) => {
      const verdict = checkRequest(req, res);
      if (verdict === undefined) return;
      // Once per process: the listener goes, and the server's request path is what it was.
      for (const other of this.#servers.values()) {
        if (other.check !== undefined) other.server.removeListener('request', other.check);
        other.check = undefined;
      }
      if (!verdict) this.#events.internalsMissing(req, res);
    };
    this.#on(record, 'request', record.check, true);
  }

  #watchRequestsOf(record: ServerRecord): void {
    const events = this.#events;
    this.#on(record, 'request', (req: IncomingMessage, res: ServerResponse) => events.observe(req, res), true);
  }

  #trackRequestsOf(record: ServerRecord): void {
    const events = this.#events;
    // Prepended so that a response is tracked before the app's own listener can write to it.
    this.#on(record, 'request', (req: IncomingMessage, res: ServerResponse) => events.request(req, res), true);
  }

  /** Adds a listener that release() removes again. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- EventEmitter's own listener type
  #on(record: ServerRecord, event: string, listener: (...args: any[]) => void, prepend = false): void {
    const { server } = record;
    if (prepend) server.prependListener(event, listener);
    else server.on(event, listener);
    record.undo.push(() => server.removeListener(event, listener));
  }

  /** Gives the server back: its own close(), none of Lifespan's listeners. */
  #forget(record: ServerRecord, drained = false): void {
    const { server } = record;
    if (this.#servers.get(server) !== record) return;
    this.#servers.delete(server);
    for (const undo of record.undo.splice(0)) undo();
    if (record.ownClose !== undefined) Object.defineProperty(server, 'close', record.ownClose);
    else if (drained && !server.listening) closedAlready(server);
    else delete (server as { close?: unknown }).close;
  }

  #closeListener(record: ServerRecord): boolean {
    if (record.listenerClosed) return false;
    record.listenerClosed = true;
    const { server } = record;
    const listening = server.listening;
    // A server that never listened (Fastify before listen(), apps tested with inject()) still
    // emits 'close', as Node's close() would, or whoever waits for it (Fastify's close) waits forever.
    if (!listening && record.closeEmitted) return false;
    try {
      closeListenerOnly(server, record.originalClose);
    } catch (error) {
      // A close() that throws (an override, a runtime without Node's http.Server) must not leave
      // the listener accepting connections for the whole drain.
      if (server.listening) NetServer.prototype.close.call(server);
      throw error;
    }
    return listening;
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
    // cluster's worker.disconnect() closes every server of the worker: the process is going away,
    // and a server that only a request attached must be drained like the others.
    if (!record.explicit && isDisconnecting()) record.explicit = true;
    if (!record.explicit) {
      // A server attached only because a request arrived on it (supertest's ephemeral servers)
      // is not the app's lifetime: forget it, and close it the way Node would.
      this.#forget(record);
      record.originalClose.call(server);
      return;
    }
    if (!this.#shuttingDown) this.#events.closeCalled(server);
    // Node's close() closes the idle connections (Node 19+; an HTTP/2 server's HTTP/1.1 ones with
    // allowHTTP1), and callers count on it: Fastify waits for the server's 'close'. Once drained,
    // none is left to protect.
    else if (this.#drainOver) callCloseIdleConnections(server);
  }
}

function callCloseIdleConnections(server: DrainableServer): void {
  const closeIdle = (server as { closeIdleConnections?: () => void }).closeIdleConnections;
  if (typeof closeIdle === 'function') closeIdle.call(server);
}

/**
 * The drain closed the listener, not the app: a close() called now (a test's teardown, a
 * framework's own close) succeeds, as it did while attached, rather than failing with Node's
 * ERR_SERVER_NOT_RUNNING. The next listen() gives the server Node's own close() back.
 */
function closedAlready(server: DrainableServer): void {
  const close = function close(this: DrainableServer, callback?: (error?: Error) => void): DrainableServer {
    if (typeof callback === 'function') process.nextTick(callback);
    return this;
  };
  Object.defineProperty(server, 'close', { configurable: true, writable: true, value: close });
  server.once('listening', () => {
    if (server.close === close) delete (server as { close?: unknown }).close;
  });
}

/**
 * Listens to `event` only while the app does: node:http behaves differently depending on whether a
 * server has any 'upgrade' (or 'connect') listener, so Lifespan's must never be the only one.
 * Returns the function that stops it.
 */
function mirrorListeners(server: DrainableServer, event: string, listener: (req: IncomingMessage) => void): () => void {
  let installed = false;
  let stopped = false;
  const sync = (): void => {
    if (stopped) return;
    const others = server.listeners(event).filter((candidate) => candidate !== listener).length;
    if (others > 0 && !installed) {
      installed = true;
      server.prependListener(event, listener);
    } else if (others === 0 && installed) {
      installed = false;
      server.removeListener(event, listener);
    }
  };
  // 'newListener' comes before the listener is added: look once it is there (no I/O runs between).
  const added = (name: string | symbol): void => void (name === event && queueMicrotask(sync));
  const removed = (name: string | symbol): void => void (name === event && sync());
  server.on('newListener', added);
  server.on('removeListener', removed);
  sync();
  return () => {
    stopped = true;
    server.removeListener('newListener', added);
    server.removeListener('removeListener', removed);
    if (installed) server.removeListener(event, listener);
    installed = false;
  };
}
