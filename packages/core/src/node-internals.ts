import type { Server as NetServer, Socket } from 'node:net';
import type { ServerResponse } from 'node:http';

// Every read of a Node.js internal, behind one named function each. Links point at the line of
// Node's source each read relies on; the same code is in 20.20.2, 22.23.5, 24.22.3 and 26.12.1.
// A Node upgrade needs this file, and only this file, read against Node's changelog.

interface NodeTimer {
  _idleStart?: unknown;
}

type InternalSocket = Socket & { parser?: unknown; _httpMessage?: ServerResponse | null };

/**
 * The response node:http is writing on `socket` (pipelined ones queue behind it), or null.
 * @see https://github.com/nodejs/node/blob/v24.22.3/lib/_http_server.js#L300 (assignSocket)
 * @see https://github.com/nodejs/node/blob/v24.22.3/lib/_http_server.js#L310 (detachSocket)
 */
export function currentResponse(socket: Socket): ServerResponse | null | undefined {
  return (socket as InternalSocket)._httpMessage;
}

/**
 * Whether node:http handed `socket` over after an upgrade (WebSocket): its parser is gone.
 * @see https://github.com/nodejs/node/blob/v24.22.3/lib/_http_server.js#L801 (set per connection)
 * @see https://github.com/nodejs/node/blob/v24.22.3/lib/_http_common.js#L208 (freeParser clears it)
 */
export function isUpgraded(socket: Socket): boolean {
  return (socket as InternalSocket).parser === null;
}

/**
 * The open connections of a node:http(s) server, from the list Node keeps for closeAllConnections().
 * @see https://github.com/nodejs/node/blob/v24.22.3/lib/_http_server.js#L192 (the symbol)
 * @see https://github.com/nodejs/node/blob/v24.22.3/lib/_http_server.js#L614 (created on 'listening')
 */
export function connectionsOf(server: NetServer): Socket[] {
  const symbol = Object.getOwnPropertySymbols(server).find((candidate) => candidate.description === 'http.server.connections');
  const list = symbol === undefined ? undefined : (server as unknown as Record<symbol, { all?: () => { socket?: Socket | null }[] }>)[symbol];
  if (typeof list?.all !== 'function') return [];
  const sockets: Socket[] = [];
  for (const parser of list.all()) if (parser.socket != null && !parser.socket.destroyed) sockets.push(parser.socket);
  return sockets;
}

let timeoutSymbol: symbol | null | undefined;

/**
 * When `socket` last carried a byte, in `loopTime()`: node:http arms the socket's timeout timer
 * with `keepAliveTimeout` once it is idle, and net re-arms it on every read and write.
 * @see https://github.com/nodejs/node/blob/v24.22.3/lib/net.js#L651 (socket[kTimeout])
 * @see https://github.com/nodejs/node/blob/v24.22.3/lib/internal/timers.js#L793 (kTimeout is Symbol('timeout'))
 * @see https://github.com/nodejs/node/blob/v24.22.3/lib/internal/timers.js#L429 (_idleStart)
 */
export function lastActivity(socket: Socket): number | undefined {
  timeoutSymbol ??= Object.getOwnPropertySymbols(socket).find((symbol) => symbol.description === 'timeout') ?? null;
  if (timeoutSymbol === null) return undefined;
  const timer = (socket as unknown as Record<symbol, NodeTimer | null | undefined>)[timeoutSymbol];
  const start = timer?._idleStart;
  return typeof start === 'number' ? start : undefined;
}

/**
 * The event loop's clock, in which timers record `_idleStart`.
 * @see https://github.com/nodejs/node/blob/v24.22.3/lib/internal/timers.js#L429
 */
export function loopTime(): number | undefined {
  const timer = setTimeout(noop, 0) as unknown as NodeTimer;
  clearTimeout(timer as unknown as ReturnType<typeof setTimeout>);
  return typeof timer._idleStart === 'number' ? timer._idleStart : undefined;
}

/** Whether `server` is a node:http2 server (sessions, not sockets, carry its requests). */
export function isHttp2Server(server: NetServer): boolean {
  const name = server.constructor.name;
  return name === 'Http2SecureServer' || name === 'Http2Server';
}

function noop(): void {}
