import { debuglog } from 'node:util';
import { Server as NetServer } from 'node:net';
import { Server as TlsServer } from 'node:tls';
import type { Socket } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2SessionLike } from './connection-tracker.js';
import { connectionsOf, isHttp2Server } from './node-internals.js';

const debug = debuglog('lifespan');

/** Any server Lifespan can drain: `node:http`, `node:https` or a `node:http2` server. */
export type DrainableServer = NetServer;

interface ServerRecord {
  readonly server: DrainableServer;
  explicit: boolean;
  readonly originalClose: DrainableServer['close'];
  closeEmitted: boolean;
  listenerClosed: boolean;
}

/** What the registry tells its owner. */
export interface ServerEvents {
  /** A connection of an attached server (accepted now, or before the server was attached). */
  connection(socket: Socket): void;
  /** An HTTP/2 session of an attached server. */
  session(session: Http2SessionLike): void;
  /** A request, once requests are tracked one by one (`trackRequests()`). */
  request(req: IncomingMessage, res: ServerResponse): void;
  /** An explicitly attached server's `close()` was called before shutdown (the app, a framework, cluster). */
  closeCalled(server: DrainableServer): void;
}

/**
 * The attached servers: their connection events, the interception of their `close()`, and
 * closing their listeners.
 */
export class ServerRegistry {
  readonly #servers = new Map<DrainableServer, ServerRecord>();
  readonly #events: ServerEvents;
  #shuttingDown = false;

  constructor(events: ServerEvents) {
    this.#events = events;
  }

  /** Servers attached, explicitly or lazily. */
  get size(): number {
    return this.#servers.size;
  }

  /** Starts tracking `server`; false if it was attached already. */
  attach(server: DrainableServer, explicit: boolean): boolean {
    const known = this.#servers.get(server);
    if (known !== undefined) {
      // Lazily attached by a request first, then attached by the app: from now on its close is the app's.
      if (explicit && !known.explicit) known.explicit = true;
      return false;
    }
    const http2 = isHttp2Server(server);
    const record: ServerRecord = { server, explicit, originalClose: server.close, closeEmitted: false, listenerClosed: false };
    this.#servers.set(server, record);
    server.once('close', () => {
      record.closeEmitted = true;
      if (!record.explicit) this.#servers.delete(server);
    });
    const events = this.#events;
    if (http2) {
      server.on('session', (session: Http2SessionLike) => events.session(session));
    } else {
      server.on(server instanceof TlsServer ? 'secureConnection' : 'connection', (socket: Socket) => events.connection(socket));
    }
    // Connections accepted before attach (a lazy attach at the first request, or an attach after
    // listen() under load) would otherwise be found only when they carry their next request.
    for (const socket of connectionsOf(server)) events.connection(socket);
    if (this.#shuttingDown) this.#trackRequestsOf(server);
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

  /** Shutdown began: from now on every request of every attached server is reported. */
  trackRequests(): void {
    this.#shuttingDown = true;
    for (const server of this.#servers.keys()) this.#trackRequestsOf(server);
  }

  /** Closes every listener (connections stay open); returns how many were listening. */
  closeListeners(): number {
    let closed = 0;
    for (const record of this.#servers.values()) if (this.#closeListener(record)) closed++;
    return closed;
  }

  #trackRequestsOf(server: DrainableServer): void {
    const events = this.#events;
    // Prepended so that a response is tracked before the app's own listener can write to it.
    server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => events.request(req, res));
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
    if (!this.#shuttingDown) this.#events.closeCalled(server);
  }
}
