// node:http (or node:https) with a keep-alive Agent, one connection per loop: what most Node
// services use to call each other. `req.reusedSocket` says whether the connection was reused.
import http from 'node:http';
import https from 'node:https';
import { codeOf, epochNow, pause } from '../client-record.mjs';

const kWriteAt = Symbol('writeAt');
const kRequests = Symbol('requests');

/** Runs one client loop: a request at a time, until stopped, refused, or `maxRequests` were sent. */
export async function runAgentLoop(spec, { target, records, requestTimeoutMs, running }) {
  const lib = target.secure ? https : http;
  const agent = new lib.Agent({ keepAlive: true, maxSockets: 1, ...(target.secure ? { ca: target.ca, servername: 'localhost' } : {}) });
  // The moment a request's bytes are handed to its socket: every request goes through socket.write.
  const createConnection = agent.createConnection.bind(agent);
  agent.createConnection = (options, callback) => {
    const socket = createConnection(options, callback);
    const write = socket.write;
    socket[kRequests] = 0;
    socket.write = function (...args) {
      socket[kWriteAt] ??= epochNow();
      return write.apply(this, args);
    };
    return socket;
  };
  const path = spec.path ?? '/';
  try {
    for (let sent = 0; running() && sent < (spec.maxRequests ?? Infinity); sent++) {
      await pause(spec.pauseMs);
      const record = records.begin(spec.name, path);
      await new Promise((resolve) => {
        const req = lib.request({ host: target.host, port: target.port, path, agent, headers: { 'x-harness-id': record.id } }, (res) => {
          res.resume();
          res.on('end', () => {
            if (res.complete) records.answered(record, res.statusCode, res.headers.connection === 'close');
            else records.failed(record, 'EOF');
            resolve();
          });
          res.on('error', (error) => {
            records.failed(record, codeOf(error));
            resolve();
          });
        });
        req.on('socket', (socket) => {
          socket[kWriteAt] = undefined;
        });
        req.on('finish', () => {
          const socket = req.socket;
          record.flushedAt = epochNow();
          record.conn = socket.localPort;
          record.connSeq = socket[kRequests]++;
          record.reused = req.reusedSocket;
          records.written(record, socket[kWriteAt] ?? record.flushedAt);
        });
        req.on('error', (error) => {
          records.failed(record, codeOf(error));
          resolve();
        });
        req.setTimeout(requestTimeoutMs, () => req.destroy(Object.assign(new Error('no answer in time'), { code: 'TIMEOUT' })));
        req.end();
      });
      if (record.failedAt !== undefined && record.writtenAt === undefined && record.error === 'ECONNREFUSED') break;
    }
  } finally {
    agent.destroy();
  }
}
