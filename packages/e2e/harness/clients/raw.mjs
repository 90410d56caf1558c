// Raw TCP clients that write HTTP/1.1 by hand, to control what reaches the server when:
// `batch` requests pipelined in one write; `byteDelayMs` between the bytes of a request head (a
// slow link); `stallMs` between a response and the next request on the same connection without
// reading the socket (a client too busy to see the FIN the server may have sent meanwhile). A response with
// `Connection: close` ends the connection's use; what was written after it on that connection is lost.
import net from 'node:net';
import { codeOf, epochNow, pause, sleep } from '../client-record.mjs';
import { responseReader } from './http1-responses.mjs';

/**
 * Connects, and resolves with the connection once it is up (or with the error). The socket reads
 * into its own buffer (`onread`), so that `pause()` really stops reading: a paused client does
 * not see a FIN either.
 */
function connect(target, records, requestTimeoutMs) {
  return new Promise((resolve) => {
    const connection = { socket: undefined, port: undefined, written: 0, queue: [], usable: true, waiter: undefined };
    const settled = () => {
      if (connection.queue.length === 0 && connection.waiter !== undefined) {
        const waiter = connection.waiter;
        connection.waiter = undefined;
        waiter();
      }
    };
    const reader = responseReader(({ status, close }) => {
      const record = connection.queue.shift();
      if (record !== undefined) records.answered(record, status, close);
      if (close) connection.usable = false;
      settled();
    });
    const socket = net.connect({
      port: target.port,
      host: target.host,
      onread: { buffer: Buffer.alloc(16 * 1024), callback: (bytes, buffer) => reader.push(Buffer.from(buffer.subarray(0, bytes))) },
    });
    connection.socket = socket;
    let failure = 'EOF';
    socket.once('connect', () => {
      connection.port = socket.localPort;
      resolve({ connection });
    });
    socket.on('end', () => {
      connection.usable = false;
      reader.end();
    });
    socket.on('error', (error) => {
      failure = codeOf(error);
      if (connection.port === undefined) resolve({ error: failure });
    });
    socket.on('close', () => {
      connection.usable = false;
      for (const record of connection.queue.splice(0)) records.failed(record, failure);
      settled();
    });
    socket.setTimeout(requestTimeoutMs, () => {
      if (connection.queue.length === 0) return;
      failure = 'TIMEOUT';
      socket.destroy();
    });
  });
}

function headOf(record, target) {
  return `GET ${record.path} HTTP/1.1\r\nHost: ${target.host}:${target.port}\r\nx-harness-id: ${record.id}\r\n\r\n`;
}

/** Writes `batch` on `connection` (one write, or byte by byte) and resolves once each is answered or failed. */
async function send(connection, batch, target, records, byteDelayMs) {
  const done = new Promise((resolve) => {
    connection.waiter = resolve;
  });
  for (const record of batch) {
    record.conn = connection.port;
    record.connSeq = connection.written++;
    record.reused = record.connSeq > 0;
    connection.queue.push(record);
  }
  if (byteDelayMs === undefined) {
    const at = epochNow();
    for (const record of batch) records.written(record, at);
    connection.socket.write(batch.map((record) => headOf(record, target)).join(''), () => {
      const flushedAt = epochNow();
      for (const record of batch) record.flushedAt = flushedAt;
    });
  } else {
    for (const record of batch) {
      const head = Buffer.from(headOf(record, target), 'latin1');
      for (let i = 0; i < head.length && !connection.socket.destroyed; i++) {
        if (i === 0) records.written(record);
        connection.socket.write(head.subarray(i, i + 1));
        if (i < head.length - 1) await sleep(byteDelayMs);
      }
      record.flushedAt = epochNow();
    }
  }
  return done;
}

/** Runs one client loop: a batch at a time on one connection (a new one once it is closed), until stopped or refused. */
export async function runRawLoop(spec, { target, records, requestTimeoutMs, running }) {
  const path = spec.path ?? '/';
  const batchSize = spec.batch ?? 1;
  let connection;
  try {
    for (let sent = 0; running() && sent < (spec.maxRequests ?? Infinity); sent += batchSize) {
      if (spec.stallMs !== undefined && connection?.usable) {
        // Not reading meanwhile, the client cannot see a FIN that arrives before it writes again.
        connection.socket.pause();
        await sleep(spec.stallMs);
        connection.socket.resume();
      } else await pause(spec.pauseMs);
      const batch = Array.from({ length: batchSize }, () => records.begin(spec.name, path));
      if (connection === undefined || !connection.usable) {
        connection?.socket.destroy();
        const opened = await connect(target, records, requestTimeoutMs);
        if (opened.connection === undefined) {
          for (const record of batch) records.failed(record, opened.error);
          if (opened.error === 'ECONNREFUSED') break;
          continue;
        }
        connection = opened.connection;
      }
      await send(connection, batch, target, records, spec.byteDelayMs);
    }
  } finally {
    connection?.socket.destroy();
  }
}
