'use strict';
// The server's side of the load harness: what a server process saw, as facts with a timestamp
// comparable across processes on one machine (`performance.timeOrigin + performance.now()`):
// - `accept`: a connection was accepted (`port` is the client's port, which the client knows too);
// - `fin`: the server closed that connection (`end()`, `destroy()`, an HTTP/2 GOAWAY), how long it
//   had been idle then (no request read, no response written) and whether a response was pending;
// - `request` / `response`: a request the app's handler saw (its `x-harness-id`) and whether its
//   response reached the socket (`finish`), or the response closed without it (`close`).
// The fates themselves are decided by harness/fates.cjs, from these facts and the client's records.
const tls = require('node:tls');

function epochNow() {
  return performance.timeOrigin + performance.now();
}

const finMethods = ['end', 'destroy', 'resetAndDestroy'];

/**
 * Records the connections (and, unless `requests` is false, the requests) of `server` into `sink`,
 * called with one fact at a time. Works for node:http, node:https and node:http2 servers.
 */
function recordServer(server, sink, { requests = true } = {}) {
  const connections = new WeakMap();

  const open = (socket, port) => {
    const connection = { port, lastActivityAt: epochNow(), pending: 0, fin: false };
    sink({ type: 'accept', port, at: connection.lastActivityAt });
    return connection;
  };
  const fin = (connection, by) => {
    if (connection.fin) return;
    connection.fin = true;
    const at = epochNow();
    sink({ type: 'fin', port: connection.port, at, by, idleMs: at - connection.lastActivityAt, pending: connection.pending });
  };
  // Every way Node, a library or Lifespan closes the server's side of a connection goes through
  // one of these methods (destroySoon() calls end()); an own property is seen by every caller.
  const watch = (target, connection, methods, label = '') => {
    for (const method of methods) {
      const original = target[method];
      if (typeof original !== 'function') continue;
      target[method] = function (...args) {
        fin(connection, `${label}${method}`);
        return original.apply(this, args);
      };
    }
  };

  const http2 = typeof server.updateSettings === 'function';
  if (http2) {
    // node:http2: one connection is one session; its close begins with a GOAWAY.
    server.on('session', (session) => {
      const connection = open(session, session.socket.remotePort);
      connections.set(session, connection);
      watch(session, connection, ['close', 'goaway', 'destroy'], 'session.');
    });
  }
  const secure = server instanceof tls.Server;
  server.on(secure ? 'secureConnection' : 'connection', (socket) => {
    // An HTTP/2 server's socket belongs to its session (recorded above), unless it speaks HTTP/1.1
    // (`allowHTTP1` on a TLS server).
    if (http2 && (!secure || socket.alpnProtocol === 'h2')) return;
    const connection = open(socket, socket.remotePort);
    connections.set(socket, connection);
    watch(socket, connection, finMethods);
  });

  server.prependListener('request', (req, res) => {
    const connection = connections.get(req.stream?.session ?? req.socket);
    const at = epochNow();
    if (connection !== undefined) {
      connection.lastActivityAt = at;
      connection.pending++;
    }
    const id = req.headers['x-harness-id'];
    const fact = { id: typeof id === 'string' ? id : undefined, port: connection?.port, stream: req.stream?.id, method: req.method, url: req.url };
    if (requests) sink({ type: 'request', at, ...fact });
    let settled = false;
    const settle = (outcome) => {
      if (settled) return;
      settled = true;
      const endedAt = epochNow();
      if (connection !== undefined) {
        connection.pending--;
        connection.lastActivityAt = endedAt;
      }
      const close = String(res.getHeader?.('connection') ?? '').toLowerCase() === 'close';
      if (requests) sink({ type: 'response', at: endedAt, ...fact, outcome, status: res.statusCode, close });
    };
    res.once('finish', () => settle('finish'));
    res.once('close', () => settle('close'));
  });
}

/**
 * Records `servers` and sends the facts to the parent process over IPC as `{ event: 'ledger', facts }`,
 * batched per turn of the event loop, and what is left when the process exits.
 */
function reportLedger(servers, send) {
  let batch = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (batch.length === 0) return;
    const facts = batch;
    batch = [];
    send({ event: 'ledger', facts });
  };
  const sink = (fact) => {
    batch.push(fact);
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  };
  // A pipe write of this size completes at once, so the last facts reach the parent even on process.exit().
  process.once('exit', flush);
  for (const server of servers) recordServer(server, sink);
}

exports.recordServer = recordServer;
exports.reportLedger = reportLedger;
exports.epochNow = epochNow;
