// node:http2 sessions (h2c, or h2 over TLS), `streams` requests outstanding on each. The session
// runs over a tap that reads the frame headers going out and coming in: a request counts as
// written when its HEADERS frame was handed to the socket, and the tap sees the server's GOAWAY.
import http2 from 'node:http2';
import net from 'node:net';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import { codeOf, epochNow, pause } from '../client-record.mjs';

const HEADERS = 0x1;
const GOAWAY = 0x7;
const preface = 24; // "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", sent by the client only

/** Calls `onFrame(type, streamId, firstPayloadBytes)` for each frame in a byte stream. */
function frameScanner(skip, onFrame) {
  let header = Buffer.alloc(0);
  let remaining = 0; // payload bytes of the current frame still to pass
  let payload;
  let frame;
  return (chunk) => {
    let at = 0;
    if (skip > 0) {
      at = Math.min(skip, chunk.length);
      skip -= at;
    }
    while (at < chunk.length) {
      if (remaining > 0) {
        const take = Math.min(remaining, chunk.length - at);
        if (payload.length < 8) payload = Buffer.concat([payload, chunk.subarray(at, at + Math.min(take, 8 - payload.length))]);
        at += take;
        remaining -= take;
        if (remaining === 0) onFrame(frame.type, frame.streamId, payload);
        continue;
      }
      const take = Math.min(9 - header.length, chunk.length - at);
      header = Buffer.concat([header, chunk.subarray(at, at + take)]);
      at += take;
      if (header.length < 9) continue;
      frame = { type: header[3], streamId: header.readUInt32BE(5) & 0x7fffffff };
      remaining = header.readUIntBE(0, 3);
      header = Buffer.alloc(0);
      payload = Buffer.alloc(0);
      if (remaining === 0) onFrame(frame.type, frame.streamId, payload);
    }
  };
}

/** A duplex over `socket` that timestamps outgoing HEADERS frames and incoming GOAWAY frames. */
function tap(socket) {
  const headersAt = new Map();
  const goaways = [];
  const scanOut = frameScanner(preface, (type, streamId) => {
    if (type === HEADERS && !headersAt.has(streamId)) headersAt.set(streamId, epochNow());
  });
  const scanIn = frameScanner(0, (type, _streamId, payload) => {
    if (type === GOAWAY && payload.length >= 4) goaways.push({ at: epochNow(), lastStreamId: payload.readUInt32BE(0) & 0x7fffffff });
  });
  const duplex = new Duplex({
    write(chunk, _encoding, callback) {
      scanOut(chunk);
      socket.write(chunk, callback);
    },
    final(callback) {
      socket.end();
      callback();
    },
    read() {
      socket.resume();
    },
    destroy(error, callback) {
      socket.destroy();
      callback(error);
    },
  });
  socket.on('data', (chunk) => {
    scanIn(chunk);
    if (!duplex.push(chunk)) socket.pause();
  });
  socket.on('end', () => duplex.push(null));
  socket.on('error', (error) => duplex.destroy(error));
  socket.on('close', () => duplex.destroy());
  return { duplex, headersAt, goaways };
}

function connect(target) {
  return new Promise((resolve) => {
    const socket = target.secure
      ? tls.connect({ host: target.host, port: target.port, ca: target.ca, servername: 'localhost', ALPNProtocols: ['h2'] })
      : net.connect(target.port, target.host);
    socket.once(target.secure ? 'secureConnect' : 'connect', () => {
      const wire = tap(socket);
      const session = http2.connect(`http://${target.host}:${target.port}`, { createConnection: () => wire.duplex });
      session.on('error', () => undefined);
      resolve({ session, wire, port: socket.localPort, streams: 0 });
    });
    socket.once('error', (error) => resolve({ error: codeOf(error) }));
  });
}

/** One request on `connection`; resolves once it is answered or failed. */
function request(connection, record, records, requestTimeoutMs) {
  return new Promise((resolve) => {
    let stream;
    try {
      stream = connection.session.request({ ':path': record.path, 'x-harness-id': record.id }, { endStream: true });
    } catch (error) {
      records.failed(record, codeOf(error));
      return resolve();
    }
    record.conn = connection.port;
    record.connSeq = connection.streams++;
    record.reused = record.connSeq > 0;
    let status;
    const settle = (error) => {
      record.stream = stream.id;
      const writtenAt = connection.wire.headersAt.get(stream.id);
      if (writtenAt !== undefined) records.written(record, writtenAt);
      if (error === undefined) records.answered(record, status, false);
      else records.failed(record, error);
      resolve();
    };
    stream.setTimeout(requestTimeoutMs, () => stream.close(http2.constants.NGHTTP2_CANCEL));
    stream.on('response', (headers) => {
      status = headers[':status'];
    });
    stream.resume();
    stream.on('end', () => settle(status === undefined ? 'EOF' : undefined));
    stream.on('error', () => undefined);
    stream.on('close', () => {
      if (stream.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM) settle('REFUSED_STREAM');
      else if (stream.rstCode === http2.constants.NGHTTP2_CANCEL) settle('TIMEOUT');
      else settle(`RST_STREAM ${stream.rstCode}`);
    });
  });
}

/** Runs one client loop: `streams` request chains on one session (a new one once it closes), until stopped or refused. */
export async function runH2Loop(spec, { target, records, requestTimeoutMs, running }) {
  const path = spec.path ?? '/';
  let connection;
  let connecting;
  let refused = false;
  let sent = 0;
  const usable = () => connection !== undefined && !connection.session.closed && !connection.session.destroyed && connection.wire.goaways.length === 0;
  const session = () => {
    if (usable()) return connection;
    connecting ??= connect(target).then((opened) => {
      connecting = undefined;
      if (opened.error !== undefined) return opened;
      // The old session ends once its streams have (GOAWAY from us, as the server's said).
      connection?.session.close();
      connection = opened;
      return opened;
    });
    return connecting;
  };
  const chain = async () => {
    while (running() && !refused && sent < (spec.maxRequests ?? Infinity)) {
      sent++;
      await pause(spec.pauseMs);
      const record = records.begin(spec.name, path);
      const current = await session();
      if (current.error !== undefined) {
        records.failed(record, current.error);
        if (current.error === 'ECONNREFUSED') refused = true;
        continue;
      }
      await request(current, record, records, requestTimeoutMs);
    }
  };
  try {
    await Promise.all(Array.from({ length: spec.streams ?? 1 }, chain));
  } finally {
    connection?.session.destroy();
  }
}
