import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import type { Socket } from 'node:net';
import { debuglog } from 'node:util';
import { ConnectionTracker } from './connection-tracker.js';
import { ConnectionsDestroyedError, DrainFailedError, RequestsUnansweredError, WebSocketsTerminatedError } from './errors.js';
import type { LifecycleError } from './errors.js';
import type { Connection } from './connection-tracker.js';
import { IdleCloser } from './idle-closer.js';
import { InflightTracker } from './inflight-tracker.js';
import { checkSockets, closeIfIdle, currentResponse, lastActivity, loopTime, neverRead, serverOf } from './node-internals.js';
import type { InflightOwner } from './inflight-tracker.js';
import type { RequestScope } from './request-scope.js';
import { now } from './run-hook.js';
import { ServerRegistry } from './server-registry.js';
import type { DrainableServer } from './server-registry.js';
import type { DrainEvent, DrainStats } from './types.js';
import { closeCodes, closeWindowShare, WebSocketCloser } from './websocket-closer.js';
import type { WebSocketServerLike } from './websocket-closer.js';

export type { DrainableServer } from './server-registry.js';

const debug = debuglog('lifespan');

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
  /** A rolling restart (cluster disconnect, PM2): WebSocket clients get 1012 (Service Restart), not 1001 (Going Away). */
  readonly restarting: boolean;
}

/**
 * Drains the attached servers without losing a request: close the listeners only,
 * `Connection: close` on every response that can still carry it, close connections once they have
 * been idle for a grace period, destroy what is left at the timeout. The policies live in their
 * own modules (servers, connections, in-flight requests, idle closing, Node internals); this class
 * runs them in order.
 */
export class HttpDrainer implements InflightOwner {
  readonly watchers = new Set<RequestScope>();
  shutdownReason: string | undefined;
  readonly #host: DrainerHost;
  readonly #servers: ServerRegistry;
  readonly #connections: ConnectionTracker;
  readonly #closer: IdleCloser;
  readonly #inFlight: InflightTracker;
  readonly #errors: LifecycleError[] = [];
  readonly #webSockets = new WebSocketCloser(() => this.checkSettled());
  #closing = false;
  #onSettled: (() => void) | undefined;
  #sweep: ReturnType<typeof setInterval> | undefined;

  constructor(host: DrainerHost) {
    this.#host = host;
    const connections = new ConnectionTracker({
      adopted: (connection) => {
        if (this.#closing) this.#closer.schedule(connection);
      },
      closed: (connection) => {
        // A response watched publicly may have been what kept its connection busy.
        if (connection !== undefined && this.#closing) this.#closer.schedule(connection);
        this.checkSettled();
      },
      gone: (connection) => {
        if (this.shutdownReason !== undefined) this.#inFlight.connectionClosed(connection);
      },
    });
    this.#connections = connections;
    const signals = {
      busy: (connection: Connection) => connections.busy(connection),
      upgraded: (connection: Connection) => connections.upgraded(connection),
      receiving: (connection: Connection) => connections.receiving(connection),
      neverRead: (connection: Connection) => neverRead(connection.socket),
      closeIfIdle: (connection: Connection) => closeIfIdle(connection.socket),
      lastActivity: (connection: Connection) => lastActivity(connection.socket),
      loopTime,
      destroy: (connection: Connection) => connections.destroy(connection),
    };
    this.#closer = new IdleCloser(signals, (count) => {
      this.#inFlight.stats.idleConnectionsClosed += count;
      this.#emit({ type: 'idleClosed', connections: count });
    });
    this.#inFlight = new InflightTracker(this, this.#connections, this.#closer);
    this.#servers = new ServerRegistry({
      connection: (socket, fromStart, openedAt) => void connections.adopt(socket, fromStart, openedAt),
      session: (session) => connections.trackSession(session, this.#closing, this.#closer.graceMs),
      request: (req, res) => this.track(req, res),
      closeCalled: (server) => this.#host.onServerClose(server),
      closed: () => this.checkSettled(),
      internalsMissing: (req, res) => {
        this.#watchRequests();
        connections.observe(req, res);
      },
      observe: (req, res) => connections.observe(req, res),
      upgraded: (socket) => connections.observeUpgrade(socket),
    });
  }

  /** True once the listeners are closed: responses get `Connection: close`, idle connections are closed. */
  get closing(): boolean {
    return this.#closing;
  }

  /** Number of requests in flight now. */
  get inFlight(): number {
    if (this.shutdownReason !== undefined) return this.#inFlight.responses.size;
    let busy = 0;
    for (const connection of this.#connections.connections) if (this.#connections.current(connection) != null) busy++;
    for (const socket of this.#untracked()) if (currentResponse(socket) != null) busy++;
    return busy;
  }

  /** Number of open connections (and HTTP/2 sessions) now. */
  get connections(): number {
    let untracked = 0;
    for (const _socket of this.#untracked()) untracked++;
    return this.#connections.size + untracked;
  }

  /** Servers attached, explicitly or lazily. */
  get servers(): number {
    return this.#servers.size;
  }

  /** WebSocket servers handed over (`lifecycle.webSockets()`). */
  get webSocketServers(): number {
    return this.#webSockets.size;
  }

  /** Figures for the report. */
  get stats(): DrainStats {
    return { ...this.#inFlight.stats, webSocketsClosed: this.#webSockets.closed, webSocketsTerminated: this.#webSockets.terminated };
  }

  /** What went wrong, for the report: connections destroyed at the timeout, steps that threw. */
  get errors(): readonly LifecycleError[] {
    return this.#errors;
  }

  /** Starts tracking `server`; a second call for the same server does nothing. */
  attach(server: DrainableServer, explicit: boolean): boolean {
    return this.#servers.attach(server, explicit);
  }

  /** Closes the clients of `server` (a `ws` WebSocketServer, Socket.IO's engine) with a close frame at the drain. */
  addWebSockets(server: WebSocketServerLike): void {
    this.#webSockets.add(server);
  }

  /** Whether `server` was attached explicitly (not only because a request arrived on it). */
  isAttached(server: DrainableServer): boolean {
    return this.#servers.isAttached(server);
  }

  /** Requests to these paths (health probes) are not application work: never tracked. */
  exclude(paths: readonly string[]): void {
    this.#inFlight.exclude(paths);
  }

  /**
   * Tracks one request; idempotent, so both the server listener and an adapter may call it.
   * Before shutdown a request costs next to nothing here: when shutdown begins, the connections are
   * read from Node's list and the requests in flight found on them, instead of being counted one by
   * one all day long.
   */
  track(req: IncomingMessage, res: ServerResponse): void {
    if (this.shutdownReason === undefined) {
      const socket = req.socket as Socket | null;
      if (socket === null || typeof socket.end !== 'function') return;
      let connection = this.#connections.of(socket);
      if (connection === undefined) {
        // Node lists the connection (adopted when shutdown begins): it needs a record now only if
        // this request was pipelined behind another, for the queue that Node keeps out of sight.
        if (this.#servers.listsConnectionsOf(serverOf(req))) {
          const current = currentResponse(socket);
          if (current == null || current === res) return;
        }
        // Else a connection opened before its server was attached is adopted at its first request.
        connection = this.#connections.adopt(socket);
      }
      this.#connections.requestRead(connection, res);
      if (this.#connections.watchesRequests) this.#connections.observe(req, res);
      return;
    }
    this.#inFlight.track(req, res);
  }

  /** The scope of a tracked request, created on first use. */
  scope(req: IncomingMessage | Http2ServerRequest): RequestScope {
    return this.#inFlight.scope(req);
  }

  /** Shutdown began: notify every in-flight request that asked to be told. Never throws. */
  begin(reason: string): void {
    this.shutdownReason = reason;
    this.#guard('finding the open connections', () => this.#servers.adoptListed());
    // No request since attach() ran the self-check: the connections must tell, or be watched publicly.
    this.#guard('checking Node internals', () => {
      if (checkSockets(this.#sockets()) === false) this.#watchRequests();
    });
    this.#guard('tracking requests', () => this.#servers.trackRequests());
    this.#guard('finding the requests in flight', () => this.#inFlight.begin());
    const watchers = [...this.watchers];
    this.watchers.clear();
    for (const scope of watchers) this.#guard('notifying a request scope', () => scope.fire(reason));
  }

  /**
   * Runs the drain: delay, close listeners, `Connection: close`, idle closing, destroy at timeout.
   * Never rejects: a step that throws is reported (`errors`) and the others still run.
   */
  async drain(plan: DrainPlan): Promise<void> {
    try {
      await this.#drain(plan);
    } catch (error) {
      this.#failed('draining', error);
      this.#guard('destroying the connections left', () => this.destroyAll());
    }
  }

  async #drain(plan: DrainPlan): Promise<void> {
    this.#closer.graceMs = plan.idleGraceMs;
    const delay = Math.min(plan.delayMs, plan.deadline - now());
    if (delay > 0) await sleep(delay);
    this.#closing = true;
    const servers = this.#servers.closeListeners((step, error) => this.#failed(step, error));
    this.#emit({ type: 'listenerClosed', servers });
    this.#guard("setting 'Connection: close' on the responses in flight", () => this.#inFlight.closeConnections());
    this.#guard('sending GOAWAY to the HTTP/2 sessions', () => this.#connections.closeSessions(plan.idleGraceMs));
    this.#guard('closing idle connections', () => this.#closer.start(this.#connections.connections));
    if (this.#servers.hasHidden || this.#connections.hasUnknown) this.#sweepWhileDraining(plan.idleGraceMs);
    const budget = Math.max(0, Math.min(plan.timeoutMs, plan.deadline - now()));
    if (this.#webSockets.size > 0) this.#guard('sending the WebSockets their close frames', () => this.#closeWebSockets(plan, budget));
    const settled = await this.#settledWithin(budget);
    clearInterval(this.#sweep);
    this.#webSockets.stop();
    this.#servers.drainOver();
    const stats = this.#inFlight.stats;
    if (stats.unansweredRequests > 0) this.#errors.push(new RequestsUnansweredError(stats.unansweredRequests));
    if (settled) {
      this.#emit({ type: 'drained', completed: stats.completedDuringDrain });
      return;
    }
    // Terminated first, and their connections awaited: what is counted next is what was not a WebSocket.
    const webSockets = this.#webSockets.size > 0 ? await this.#terminateWebSockets() : 0;
    if (webSockets > 0) this.#errors.push(new WebSocketsTerminatedError(webSockets, Math.round(budget)));
    const requests = this.#inFlight.responses.size;
    const connections = this.#connections.size;
    const unlisted = this.#servers.hiddenOpen;
    stats.abortedRequests += requests;
    stats.connectionsDestroyed += connections;
    this.#guard('destroying the connections left', () => this.destroyAll());
    // Whatever held them (a WebSocket, an HTTP/2 stream, a hung request), the clients lost them.
    if (connections > 0 || unlisted) this.#errors.push(new ConnectionsDestroyedError(connections, Math.round(budget)));
    this.#emit({ type: 'destroyed', connections, requests, webSockets });
  }

  /**
   * Close frames spread over a share of the drain's time (`closeWindowShare`): the rest is left
   * for the closing handshakes, so that no client is terminated while it could still answer.
   */
  #closeWebSockets(plan: DrainPlan, budget: number): void {
    const code = plan.restarting ? closeCodes.serviceRestart : closeCodes.goingAway;
    const windowMs = budget * closeWindowShare;
    this.#emit({ type: 'webSocketsClosing', clients: this.#webSockets.openClients, code, windowMs });
    this.#webSockets.start(windowMs, code, plan.restarting ? 'server restarting' : 'server shutting down');
  }

  async #terminateWebSockets(): Promise<number> {
    try {
      return await this.#webSockets.terminate();
    } catch (error) {
      this.#failed('terminating the WebSockets left', error);
      return 0;
    }
  }

  /** The lifecycle is closed: the servers get their own `close()` back and lose Lifespan's listeners. */
  release(): void {
    this.#guard('giving the servers back', () => this.#servers.release());
  }

  /** Destroys everything still open; used when the process must go now. */
  destroyAll(): void {
    this.#servers.adoptListed();
    this.#webSockets.terminateNow();
    this.#connections.destroyAll();
    this.#servers.destroyHidden();
  }

  reportScopeError(error: unknown): void {
    this.#host.reportScopeError(error);
  }

  /** For the drainer's modules only. A response or connection ended: resolve the drain if nothing is left. */
  checkSettled(): void {
    if (this.#onSettled !== undefined && this.#isSettled()) this.#onSettled();
  }

  /** Tells the lifecycle; a listener that throws is reported, and the drain goes on. */
  #emit(event: DrainEvent): void {
    this.#guard(`telling the '${event.type}' drain event`, () => this.#host.onDrainEvent(event));
  }

  /** Runs one step of the drain; an exception is reported and the drain goes on. */
  #guard(step: string, fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.#failed(step, error);
    }
  }

  #failed(step: string, error: unknown): void {
    debug('drain step failed (%s): %o', step, error);
    this.#errors.push(new DrainFailedError(step, error));
  }

  #watchRequests(): void {
    this.#connections.watchRequests();
    this.#servers.watchRequests();
  }

  /** Connections Node lists that nobody tracks yet (none once shutdown began). */
  *#untracked(): Iterable<Socket> {
    if (this.shutdownReason !== undefined) return;
    for (const socket of this.#servers.listedSockets()) if (this.#connections.of(socket) === undefined) yield socket;
  }

  *#sockets(): Iterable<Socket> {
    for (const { socket, upgraded } of this.#connections.connections) if (!upgraded) yield socket;
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
    return this.#inFlight.responses.size === 0 && this.#connections.size === 0 && !this.#servers.hiddenOpen && !this.#webSockets.open;
  }

  /**
   * Some connections cannot be seen or read (Node internals missing): Node's own
   * `closeIdleConnections()` closes them once idle, each grace, while no known connection is
   * within its own grace (which the sweep would cut short).
   */
  #sweepWhileDraining(graceMs: number): void {
    this.#sweep = setInterval(() => {
      for (const connection of this.#connections.connections) if (connection.timer !== undefined) return;
      try {
        this.#servers.closeIdleConnections();
      } catch (error) {
        clearInterval(this.#sweep);
        this.#failed('closing the connections Node lists as idle', error);
      }
    }, Math.max(1, graceMs));
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
