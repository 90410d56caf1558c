import { debuglog } from 'node:util';
import { Socket } from 'node:net';
import type { Server as NetServer } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';

// Every read of a Node.js internal, behind one named function each. The links point at the line of
// Node's source each read relies on (the same code is in 20.20.2, 22.23.5, 24.22.3 and 26.12.1), so
// a Node upgrade needs this file, and only this one, read against Node's changelog. Each internal
// is detected once into `capabilities()`; where one is missing, the drainer falls back to public
// APIs that cost speed, never a request (see each capability).

const debug = debuglog('lifespan');
const source = 'https://github.com/nodejs/node/blob/v24.22.3/lib';

/** node:http's list of a server's connections (a C++ ConnectionsList): every one, and those with no request in progress. */
interface ConnectionsList {
  all(): { socket?: Socket | null }[];
  idle(): { socket?: Socket | null }[];
}

/**
 * Deno's node:http keeps a JS list under the same symbol instead (Deno 2.9.6): `_all`, every
 * socket, and `_active`, each socket with a request in progress (from the first byte of its
 * head) or still waiting for its first one.
 */
interface DenoConnectionsList {
  readonly _all: ReadonlySet<Socket>;
  readonly _active: ReadonlyMap<Socket, unknown>;
}

/** The raw reads; each returns undefined when Node lacks the internal. Tests replace one to force its fallback. */
interface Readers {
  /** @see https://github.com/nodejs/node/blob/v24.22.3/lib/_http_server.js#L300 (assignSocket) and #L310 (detachSocket) */
  httpMessage(socket: Socket): unknown;
  /**
   * @see https://github.com/nodejs/node/blob/v24.22.3/lib/_http_server.js#L192 (Symbol('http.server.connections')), #L614 (made on 'listening')
   * @see https://github.com/denoland/deno/blob/v2.9.6/ext/node/polyfills/_http_server.ts (class ConnectionsList: _all, _active; pushActive on connection and on kOnMessageBegin)
   */
  connectionsList(server: NetServer): ConnectionsList | undefined;
  /** @see https://github.com/nodejs/node/blob/v24.22.3/lib/net.js#L651 (socket[kTimeout]); internal/timers.js#L793 (kTimeout is Symbol('timeout')) */
  socketTimer(socket: Socket): unknown;
  /** @see https://github.com/nodejs/node/blob/v24.22.3/lib/internal/timers.js#L429 (_idleStart: libuv's clock when a Timeout was armed) */
  timerStart(timer: unknown): unknown;
  /** @see https://github.com/nodejs/node/blob/v24.22.3/lib/_http_common.js#L82 (parserOnHeadersComplete: parser.incoming is the request whose head was read last) */
  parserIncoming(socket: Socket): unknown;
}

const nodeReaders: Readers = {
  httpMessage: (socket) => (socket as { _httpMessage?: unknown })._httpMessage,
  connectionsList(server) {
    const symbol = Object.getOwnPropertySymbols(server).find((candidate) => candidate.description === 'http.server.connections');
    const list = symbol === undefined ? undefined : (server as unknown as Record<symbol, { all?: unknown } | undefined>)[symbol];
    if (typeof list?.all === 'function' && typeof (list as { idle?: unknown }).idle === 'function') return list as ConnectionsList;
    return isDenoList(list) ? denoList(list) : undefined;
  },
  socketTimer(socket) {
    const symbol = timeoutSymbol(socket);
    return symbol === undefined ? undefined : (socket as unknown as Record<symbol, unknown>)[symbol];
  },
  timerStart: (timer) => (timer as { _idleStart?: unknown } | null | undefined)?._idleStart,
  parserIncoming: (socket) => (socket as { parser?: { incoming?: unknown } | null }).parser?.incoming,
};

let readers = nodeReaders;

function isDenoList(list: unknown): list is DenoConnectionsList {
  const candidate = list as Partial<Record<'_all' | '_active', { has?: unknown; [Symbol.iterator]?: unknown }>> | null | undefined;
  return typeof candidate?._all?.[Symbol.iterator] === 'function' && typeof candidate._active?.has === 'function';
}

/** Deno's list, read as Node's: idle is every socket without a request in progress. */
function denoList(list: DenoConnectionsList): ConnectionsList {
  return {
    all: () => Array.from(list._all, (socket) => ({ socket })),
    idle: () => Array.from(list._all, (socket) => ({ socket })).filter(({ socket }) => !list._active.has(socket)),
  };
}

/** Which internals this runtime has; each false names the public fallback in use. */
export interface NodeCapabilities {
  /**
   * `socket._httpMessage` is the response being written: it tells a busy connection from an idle
   * one and finds the requests in flight when shutdown begins, at no cost per request. Checked on
   * the first request of an attached server (`undefined` until then). Fallback: every request is
   * seen through the server's `'request'` event and its response's `'close'` (a listener per
   * request); connections open before they could be watched are closed by Node's own
   * `closeIdleConnections()`.
   */
  currentResponse: boolean | undefined;
  /**
   * A server lists its connections: none needs tracking before shutdown (once `currentResponse` is
   * known true), when the list is read, and those accepted before `attach()` are found too.
   * Fallback: each connection is tracked from its `'connection'` event (a record and a `'close'`
   * listener each, bench/README.md "churn"); those accepted before `attach()` are closed by Node's
   * `closeIdleConnections()` once idle, and the drain waits for the server's `'close'` (which Node
   * emits when its last connection is gone).
   */
  connectionsList: boolean;
  /**
   * Sockets' timeout timers carry their last activity in the loop's clock, so a quiet server closes
   * its idle connections at once. Fallback: each idle connection gets the whole grace (up to
   * `idleGraceMs` later exit).
   */
  activityStamps: boolean;
  /**
   * `socket.bytesRead` counts what a connection received, so a connection that never sent a byte
   * (a preconnect) is told from one a client may be about to reuse. Checked on the first request of
   * an attached server, which must have read bytes (`undefined` until then). Bun's sockets report 0
   * throughout (Bun 1.4.5). Fallback: no connection is taken for an unused one; each idle
   * connection gets the whole grace (up to `idleGraceMs` later exit with preconnects open).
   */
  bytesRead: boolean | undefined;
}

let detected: NodeCapabilities | undefined;
let symbolOfTimeout: symbol | null | undefined;
let symbolOfHandle: symbol | null | undefined;

/** The capabilities record, detected on first use (the first `attach()`). */
export function capabilities(): NodeCapabilities {
  if (detected !== undefined) return detected;
  // A socket that never connects carries every field net.Socket's constructor sets.
  const probe = new Socket();
  const stamps = typeof readers.timerStart(loopTimer()) === 'number' && readers.socketTimer(probe) === null;
  probe.destroy();
  detected = { currentResponse: undefined, connectionsList: true, activityStamps: stamps, bytesRead: undefined };
  if (!stamps) degraded('activityStamps', `socket[Symbol(timeout)]._idleStart (${source}/net.js#L651)`, 'every idle connection gets the whole grace');
  return detected;
}

/**
 * The self-check, on the first request of an attached server: does Node record `res` (or the
 * response it queues behind) on the socket? Returns the verdict, or
 * undefined if this request cannot tell (its socket is gone).
 */
export function checkRequest(req: IncomingMessage, res: ServerResponse): boolean | undefined {
  const found = capabilities();
  if (found.currentResponse !== undefined) return found.currentResponse;
  const socket = req.socket as Socket | null;
  if (socket === null || socket.destroyed) return undefined;
  // A request's head was read from this socket: a runtime that counts bytes counted it.
  found.bytesRead = socket.bytesRead > 0;
  if (!found.bytesRead) degraded('bytesRead', 'socket.bytesRead (0 after a request)', 'every idle connection gets the whole grace');
  const message = readers.httpMessage(socket) as { socket?: unknown } | null | undefined;
  // And the request just read is the parser's last (how a pipeline queued out of sight is told apart).
  found.currentResponse = (message === res || (message != null && message.socket === socket)) && readers.parserIncoming(socket) === req;
  if (!found.currentResponse) degraded('currentResponse', `socket._httpMessage, socket.parser.incoming (${source}/_http_server.js#L300)`, "requests tracked through the 'request' event");
  return found.currentResponse;
}

/**
 * The self-check when shutdown begins before any request was seen since `attach()`: a socket that
 * has carried a response keeps `_httpMessage` (null between responses). Returns the verdict, or
 * undefined when no socket can tell and none could hide a request (none carried a byte). Upgraded
 * sockets never had a response: leave them out.
 */
export function checkSockets(sockets: Iterable<Socket>): boolean | undefined {
  const found = capabilities();
  if (found.currentResponse !== undefined) return found.currentResponse;
  let used = false;
  for (const socket of sockets) {
    if (socket.bytesRead === 0) continue;
    used = true;
    if (readers.httpMessage(socket) !== undefined) {
      found.currentResponse = true;
      return true;
    }
  }
  if (!used) return undefined;
  // Sockets that carried bytes and show no trace of a response: either each is still reading its
  // first request, or Node keeps no such record. Assume the worse; it costs speed only.
  found.currentResponse = false;
  degraded('currentResponse', `socket._httpMessage (${source}/_http_server.js#L300)`, "requests tracked through the 'request' event");
  return false;
}

/** The response node:http is writing on `socket` (pipelined ones queue behind it), or null. Valid where `currentResponse`. */
export function currentResponse(socket: Socket): ServerResponse | null | undefined {
  return readers.httpMessage(socket) as ServerResponse | null | undefined;
}

/**
 * The request whose head node:http read last on `socket` (pipelined ones included: Node queues
 * their responses behind the one being written, out of sight). Valid where `currentResponse`.
 */
export function lastRequestRead(socket: Socket): unknown {
  return readers.parserIncoming(socket);
}

/**
 * The open connections of a listening node:http(s) server, from the list Node keeps for
 * closeAllConnections(); undefined (and `connectionsList` false, unless `quiet`: the server may
 * never have listened) if Node keeps none.
 */
export function connectionsOf(server: NetServer, quiet = false): Socket[] | undefined {
  const list = readers.connectionsList(server);
  if (list === undefined) {
    if (!quiet && capabilities().connectionsList) {
      capabilities().connectionsList = false;
      degraded('connectionsList', `server[Symbol(http.server.connections)] (${source}/_http_server.js#L192)`, "connections open before attach() are left to closeIdleConnections() and the server's 'close'");
    }
    return undefined;
  }
  const sockets: Socket[] = [];
  for (const parser of list.all()) if (parser.socket != null && !parser.socket.destroyed) sockets.push(parser.socket);
  return sockets;
}

let idleThisTurn: WeakMap<NetServer, ReadonlySet<Socket>> | undefined;

/**
 * Whether node:http is in the middle of reading a request on `socket` (its head, a slow link, a
 * large header): bytes of a request arrived, and Node does not list the connection as idle. It is
 * the list behind closeIdleConnections(), read once per callback of the event loop.
 * undefined if Node keeps no such list for the socket's server.
 * @see https://github.com/nodejs/node/blob/v24.22.3/lib/_http_server.js#L696 (closeIdleConnections reads idle())
 */
export function readingRequest(socket: Socket): boolean | undefined {
  const server = (socket as { server?: unknown }).server as NetServer | null | undefined;
  if (server == null) return undefined;
  if (idleThisTurn === undefined) {
    idleThisTurn = new WeakMap();
    // Nothing is read from a socket while this callback runs: the list holds until it returns.
    void Promise.resolve().then(() => (idleThisTurn = undefined));
  }
  let idle = idleThisTurn.get(server);
  if (idle === undefined) {
    const list = readers.connectionsList(server);
    if (list === undefined) return undefined;
    idle = new Set(list.idle().map((parser) => parser.socket).filter((candidate): candidate is Socket => candidate != null));
    idleThisTurn.set(server, idle);
  }
  return socket.bytesRead > 0 && !idle.has(socket);
}

/** A Bun socket's native handle: it can tell whether a request is in progress on it, a partial head included. */
interface BunSocketHandle {
  closeIfIdle(): boolean;
}

/**
 * Closes `socket` if the runtime itself knows it idle: true if it did, false if a request is in
 * progress on it (its head still arriving included), undefined where the runtime offers no such
 * call (Node and Deno: the drainer destroys the socket itself, and reads `readingRequest()`). Bun
 * keeps no bytesRead count and no connection list, so this is how a slow request head is seen there.
 * @see https://github.com/oven-sh/bun/blob/bun-v1.4.5/src/js/node/_http_server.ts (closeIdleConnections: socket[kHandle]?.closeIfIdle())
 */
export function closeIfIdle(socket: Socket): boolean | undefined {
  // Found once, by its description, on the first socket asked about (every socket of a runtime has it, or none).
  if (symbolOfHandle === undefined) symbolOfHandle = Object.getOwnPropertySymbols(socket).find((candidate) => candidate.description === 'handle') ?? null;
  if (symbolOfHandle === null) return undefined;
  const handle = (socket as unknown as Record<symbol, unknown>)[symbolOfHandle];
  if (handle === null || typeof handle !== 'object' || typeof (handle as Partial<BunSocketHandle>).closeIfIdle !== 'function') return undefined;
  return (handle as BunSocketHandle).closeIfIdle() === true;
}

/** Whether `socket` never received a byte (a preconnect); false wherever the runtime cannot tell. */
export function neverRead(socket: Socket): boolean {
  return capabilities().bytesRead !== false && socket.bytesRead === 0;
}

/** When `socket` last carried a byte (net re-arms its timeout timer on every read and write), in `loopTime()`. */
export function lastActivity(socket: Socket): number | undefined {
  if (!capabilities().activityStamps) return undefined;
  const start = readers.timerStart(readers.socketTimer(socket));
  return typeof start === 'number' ? start : undefined;
}

/**
 * How many turns of the event loop in a row may run without the runtime polling the sockets; 1 on
 * Node (libuv polls between every two check phases). Deno 2 runs its event loop as one tokio task
 * that re-wakes itself while immediates are pending, and tokio polls the sockets (epoll) only every
 * `event_interval` tasks (61, or DENO_TOKIO_EVENT_INTERVAL): requests that reached the kernel stay
 * unread through 61 quick turns. One turn more has that poll behind it, and the next turn's I/O
 * phase reads what it found.
 * @see https://github.com/denoland/deno/blob/v2.9.5/runtime/tokio_util.rs (tokio_configuration: event_interval 61)
 * @see https://github.com/denoland/deno/blob/v2.9.5/libs/core/uv_compat/tcp.rs (poll_tcp_handle: "never yields to its reactor (event_interval controls when the reactor is polled)")
 */
export function turnsPerPoll(): number {
  if (typeof (process.versions as { deno?: unknown }).deno !== 'string') return 1;
  const configured = Number(process.env['DENO_TOKIO_EVENT_INTERVAL']);
  return (Number.isInteger(configured) && configured > 0 ? configured : 61) + 2;
}

/** The event loop's clock, in which timers record when they were armed. */
export function loopTime(): number | undefined {
  if (!capabilities().activityStamps) return undefined;
  const start = readers.timerStart(loopTimer());
  return typeof start === 'number' ? start : undefined;
}

/**
 * Whether `server` is a node:http2 server (sessions, not sockets, carry its requests): both of
 * node:http2's server classes, and only they, have the documented `updateSettings()`.
 * @see https://nodejs.org/docs/latest-v24.x/api/http2.html#serverupdatesettingssettings
 */
export function isHttp2Server(server: NetServer): boolean {
  return typeof (server as { updateSettings?: unknown }).updateSettings === 'function';
}

/**
 * The server a request arrived on (`socket.server`, set by net for every accepted socket, and
 * long relied on by http-terminator and others).
 * @see https://github.com/nodejs/node/blob/v24.22.3/lib/net.js#L2822
 */
export function serverOf(req: IncomingMessage): unknown {
  return (req.socket as { server?: unknown } | null | undefined)?.server;
}

/** What a runtime's http.Server#close() calls to destroy idle keep-alive connections. */
interface IdleSweeper {
  closeIdleConnections?: unknown;
}

/**
 * Closes the listening socket only, through the server's own close(): only that clears Node's
 * connections-checking interval, which otherwise keeps the server in memory for good
 * (nodejs/node#48604). The idle sweep that close() starts with is held back for that one call: it
 * destroys idle keep-alive connections whose next request may already be on the wire (on Node 26
 * also connections that have not sent a request yet, nodejs/node#63470). Node and Deno sweep
 * through the server's own closeIdleConnections(); Bun through the Bun.serve() server that its
 * http.Server wraps (under the symbol `::bunternal::`), which is held back instead.
 * @see https://github.com/nodejs/node/blob/v24.22.3/lib/_http_server.js#L627 (httpServerPreClose)
 * @see https://github.com/nodejs/node/blob/v24.22.3/lib/https.js#L136 (https: the same)
 * @see https://github.com/nodejs/node/blob/v24.22.3/lib/internal/http2/core.js#L3545 (http2: closes sessions with GOAWAY)
 * @see https://github.com/oven-sh/bun/blob/bun-v1.4.5/src/js/node/_http_server.ts (Server.prototype.close: server.closeIdleConnections(), then server.stop())
 */
export function closeListenerOnly(server: NetServer, close: NetServer['close']): void {
  const sweepers: IdleSweeper[] = [server as IdleSweeper];
  const wrapped = bunServerOf(server);
  if (wrapped !== undefined) sweepers.push(wrapped);
  const own = sweepers.map((sweeper) => Object.getOwnPropertyDescriptor(sweeper, 'closeIdleConnections'));
  for (const sweeper of sweepers) Object.defineProperty(sweeper, 'closeIdleConnections', { configurable: true, writable: true, value: keepConnections });
  try {
    close.call(server);
  } finally {
    sweepers.forEach((sweeper, index) => {
      const descriptor = own[index];
      if (descriptor !== undefined) Object.defineProperty(sweeper, 'closeIdleConnections', descriptor);
      else delete sweeper.closeIdleConnections;
    });
  }
}

/** Bun's http.Server keeps the Bun.serve() server it runs on under `::bunternal::` while it listens. */
function bunServerOf(server: NetServer): IdleSweeper | undefined {
  const symbol = Object.getOwnPropertySymbols(server).find((candidate) => candidate.description === '::bunternal::');
  const wrapped = symbol === undefined ? undefined : (server as unknown as Record<symbol, unknown>)[symbol];
  return wrapped !== null && typeof wrapped === 'object' && typeof (wrapped as IdleSweeper).closeIdleConnections === 'function' ? (wrapped as IdleSweeper) : undefined;
}

function keepConnections(): number {
  return 0;
}

/**
 * @internal Tests only: replace some raw reads (e.g. with `() => undefined`, as if Node had
 * renamed the internal) and detect again; returns the function that restores Node's own.
 */
export function overrideInternals(replacement: Partial<Readers>): () => void {
  readers = { ...nodeReaders, ...replacement };
  detected = undefined;
  return () => {
    readers = nodeReaders;
    detected = undefined;
  };
}

function timeoutSymbol(socket: Socket): symbol | undefined {
  // net.Socket keeps its timer under an internal symbol, found once by its description.
  if (symbolOfTimeout === undefined) symbolOfTimeout = Object.getOwnPropertySymbols(socket).find((symbol) => symbol.description === 'timeout') ?? null;
  return symbolOfTimeout ?? undefined;
}

function loopTimer(): unknown {
  const timer = setTimeout(noop, 0);
  clearTimeout(timer);
  return timer;
}

function degraded(capability: keyof NodeCapabilities, internal: string, fallback: string): void {
  debug('degraded mode (%s): %s is unavailable on Node %s; %s', capability, internal, process.version, fallback);
}

function noop(): void {}
