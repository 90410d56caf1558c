// undici's Client, one connection per loop, with `pipelining` requests outstanding on it (1: one
// at a time; 10: ten written before the first answer). undici says when it writes a request's
// head (`undici:client:sendHeaders`); a pipelined request it re-sends on a new connection after
// the old one closed counts as written from its first write.
import diagnostics from 'node:diagnostics_channel';
import { Client } from 'undici';
import { codeOf, epochNow, pause } from '../client-record.mjs';

const pending = new Map();
const requestsOn = new WeakMap();

diagnostics.subscribe('undici:client:sendHeaders', ({ headers, socket }) => {
  const at = epochNow();
  const id = /x-harness-id: ([^\r]+)\r\n/i.exec(headers)?.[1];
  const entry = id === undefined ? undefined : pending.get(id);
  if (entry === undefined) return;
  const { record, records } = entry;
  const count = requestsOn.get(socket) ?? 0;
  requestsOn.set(socket, count + 1);
  record.attempts = (record.attempts ?? 0) + 1;
  if (record.writtenAt === undefined) {
    record.conn = socket.localPort;
    record.connSeq = count;
    record.reused = count > 0;
    records.written(record, at);
  } else record.resentOn = socket.localPort;
});

const codes = { UND_ERR_HEADERS_TIMEOUT: 'TIMEOUT', UND_ERR_BODY_TIMEOUT: 'TIMEOUT', UND_ERR_SOCKET: 'EOF' };

/** Runs one client loop: `pipelining` request chains on one undici Client, until stopped or refused. */
export async function runUndiciLoop(spec, { target, records, requestTimeoutMs, running }) {
  const depth = spec.pipelining ?? 1;
  const origin = `${target.secure ? 'https' : 'http'}://${target.host}:${target.port}`;
  const client = new Client(origin, { pipelining: depth, connect: target.secure ? { ca: target.ca, servername: 'localhost' } : undefined });
  const path = spec.path ?? '/';
  let refused = false;
  let sent = 0;
  const chain = async () => {
    while (running() && !refused && sent < (spec.maxRequests ?? Infinity)) {
      sent++;
      await pause(spec.pauseMs);
      const record = records.begin(spec.name, path);
      pending.set(record.id, { record, records });
      try {
        const { statusCode, headers, body } = await client.request({
          path,
          method: 'GET',
          headers: { 'x-harness-id': record.id },
          // undici holds the pipeline back until a response's headers arrived, unless told it need not.
          blocking: depth === 1,
          headersTimeout: requestTimeoutMs,
          bodyTimeout: requestTimeoutMs,
        });
        await body.text();
        records.answered(record, statusCode, headers.connection === 'close');
      } catch (error) {
        const code = codeOf(error);
        records.failed(record, codes[code] ?? code);
        if (code === 'ECONNREFUSED') refused = true;
      } finally {
        pending.delete(record.id);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: depth }, chain));
  } finally {
    await client.destroy();
  }
}
