import { debuglog } from 'node:util';

const debug = debuglog('lifespan');

/**
 * What node:http adds to `keepAliveTimeout` before it destroys an idle socket: a fixed second
 * since Node 20, `server.keepAliveTimeoutBuffer` from 24.6 (nodejs/node#59243).
 * @see https://github.com/nodejs/node/blob/v20.20.0/lib/_http_server.js (resOnFinish)
 */
const defaultKeepAliveBufferMs = 1000;

/**
 * node:http's own `keepAliveTimeout` (Node 20 to 26): a server still at it made no choice.
 * @see https://github.com/nodejs/node/blob/v20.20.0/lib/_http_server.js (storeHTTPOptions)
 */
export const nodeDefaultKeepAliveTimeoutMs = 5000;

/** The timeouts of a node:http(s) server that decide when it closes a connection without traffic. */
interface HttpServerTimeouts {
  keepAliveTimeout?: unknown;
  headersTimeout?: unknown;
  requestTimeout?: unknown;
  keepAliveTimeoutBuffer?: unknown;
}

/** What `applyKeepAliveTimeout()` set, for debugging and tests. */
export interface KeepAliveTimeouts {
  readonly keepAliveTimeout: number;
  readonly headersTimeout: number;
  readonly requestTimeout: number;
}

/**
 * Makes `server` keep a connection without traffic open for at least `minimumMs`, so that a load
 * balancer with a shorter idle timeout always closes first: otherwise it may send a request on a
 * connection just as Node closes it, and its client gets a 502. Only raises, never lowers (Fastify
 * already keeps 72 s; a value the app chose for a longer-idling balancer stays); with
 * `onlyNodeDefault`, touches nothing unless the server is at Node's own 5 s. Returns undefined for
 * a server left alone or without these timeouts (node:http2).
 *
 * Three timeouts close a quiet connection, and they must agree:
 * - `keepAliveTimeout` (+ Node's buffer) after the last response;
 * - `headersTimeout`, from the moment a connection opens, for one that has not sent a request yet
 *   (a balancer's pre-opened connection): raised to the same bound, or it would close those first;
 * - `requestTimeout`, which Node requires to be >= `headersTimeout` (checked only in
 *   http.createServer(), so kept here by hand).
 * Node reads all three on every response and every connections check, so this works at any time,
 * also after listen().
 */
export function applyKeepAliveTimeout(server: object, minimumMs: number, onlyNodeDefault = false): KeepAliveTimeouts | undefined {
  const timeouts = server as HttpServerTimeouts;
  const { keepAliveTimeoutBuffer: buffer, headersTimeout, requestTimeout } = timeouts;
  if (typeof timeouts.keepAliveTimeout !== 'number') return undefined;
  // By default only node:http's own value is raised: one the app or its framework set (Fastify's
  // `keepAliveTimeout` option) is its choice, and a framework must behave as without Lifespan.
  if (onlyNodeDefault && timeouts.keepAliveTimeout !== nodeDefaultKeepAliveTimeoutMs) return undefined;
  let keepAlive: number = timeouts.keepAliveTimeout;
  // 0 disables Node's keep-alive timeout: an idle connection then stays open for good.
  if (keepAlive !== 0 && keepAlive < minimumMs) {
    keepAlive = minimumMs;
    timeouts.keepAliveTimeout = keepAlive;
  }
  const idleBound = (keepAlive === 0 ? minimumMs : keepAlive) + (typeof buffer === 'number' ? buffer : defaultKeepAliveBufferMs);
  // 0 disables each of these too.
  const headers = typeof headersTimeout === 'number' && headersTimeout !== 0 && headersTimeout < idleBound ? idleBound : Number(headersTimeout);
  const request = typeof requestTimeout === 'number' && requestTimeout !== 0 && requestTimeout < headers ? headers : Number(requestTimeout);
  if (headers !== headersTimeout) timeouts.headersTimeout = headers;
  if (request !== requestTimeout) timeouts.requestTimeout = request;
  const applied = { keepAliveTimeout: keepAlive, headersTimeout: headers, requestTimeout: request };
  debug('keep-alive timeouts: %o', applied);
  return applied;
}
