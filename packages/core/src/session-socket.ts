import type { Socket } from 'node:net';
import type { Http2SessionLike } from './connection-tracker.js';

// The socket under each HTTP/2 session, from the server's public 'connection' / 'secureConnection'
// event: node:http2's `session.socket` is a proxy that refuses destroy().
const socketOf = new WeakMap<Http2SessionLike, Socket>();

/** Remembers the socket `session` runs on, once its port shows it is that session's. */
export function bindSessionSocket(session: Http2SessionLike, socket: Socket): void {
  if (session.socket?.remotePort === socket.remotePort) socketOf.set(session, socket);
}

/**
 * Destroys a session and its socket. A session that had been closed (GOAWAY sent) only ends its
 * socket when destroyed, then waits for the client's FIN: a client that never sends it (a stalled
 * process, a half-open proxy connection) would keep the socket, and the server, open for good.
 * @see https://github.com/nodejs/node/blob/v24.22.3/lib/internal/http2/core.js (finishSessionClose(): once closed, the socket is only ended)
 */
export function destroySession(session: Http2SessionLike): void {
  session.destroy();
  socketOf.get(session)?.destroy();
}
