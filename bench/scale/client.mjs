// The load of the scale benchmark, in its own process (forked by bench/scale.mjs): raw TCP
// clients, so that 19,000 connections cost this process little. Every request written is counted:
// answered (a whole 200 response) or lost (the connection ended first).
//
//   idle N       N keep-alive connections, each answered one request, then idle
//   inflight N   N keep-alive connections, each answered one request, then sent `GET /slow`
//   churn N      N short connections, C at a time: connect, one request with `Connection: close`, read it, gone
//
// Talks to the parent over IPC: { ready } once the load is in place, then { done } with the counts
// (churn: the parent starts a warm-up and then the measured phase, each answered by <phase>-done).
import net from 'node:net';

const [mode, portText, countText] = process.argv.slice(2);
const port = Number(portText);
const count = Number(countText);
const CONNECT_AT_ONCE = 200;
const CHURN_AT_ONCE = Number(process.env.BENCH_CHURN_CONCURRENCY ?? 50);
const HEAD = 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
const SLOW = 'GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
const CLOSE = 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n';

const stats = { written: 0, answered: 0, lost: 0, errors: {}, closedByServer: 0, answeredAfterSignal: 0, answeredBeforeSignal: 0 };
let signalAt;

/**
 * One client connection: `send(text)` writes a request and resolves once its response is whole
 * (status 200 and Content-Length bytes of body), or false if the connection ended first.
 */
function connect() {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    let buffer = '';
    let waiting;
    let ended = false;
    const settle = (ok) => {
      const pending = waiting;
      waiting = undefined;
      if (pending !== undefined) pending(ok);
    };
    socket.setEncoding('latin1');
    socket.on('data', (chunk) => {
      buffer += chunk;
      const headEnd = buffer.indexOf('\r\n\r\n');
      if (headEnd < 0) return;
      const head = buffer.slice(0, headEnd);
      const length = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      if (buffer.length < headEnd + 4 + length) return;
      buffer = buffer.slice(headEnd + 4 + length);
      settle(head.startsWith('HTTP/1.1 200'));
    });
    const onEnd = (error) => {
      if (ended) return;
      ended = true;
      if (error) stats.errors[error.code ?? error.message] = (stats.errors[error.code ?? error.message] ?? 0) + 1;
      settle(false);
    };
    socket.on('error', onEnd);
    socket.on('end', () => onEnd());
    socket.on('close', () => {
      stats.closedByServer++;
      onEnd();
    });
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve({
        socket,
        send(text) {
          stats.written++;
          return new Promise((done) => {
            if (ended) return done(false);
            waiting = (ok) => {
              if (ok) {
                stats.answered++;
                if (signalAt !== undefined) stats.answeredAfterSignal++;
                else stats.answeredBeforeSignal++;
              } else stats.lost++;
              done(ok);
            };
            socket.write(text);
          });
        },
      });
    });
    socket.once('error', reject);
  });
}

/** Opens `n` connections, CONNECT_AT_ONCE at a time, each answered one request. */
async function openWarm(n) {
  const clients = [];
  for (let i = 0; i < n; i += CONNECT_AT_ONCE) {
    const batch = await Promise.all(Array.from({ length: Math.min(CONNECT_AT_ONCE, n - i) }, () => connect()));
    await Promise.all(batch.map((client) => client.send(HEAD)));
    clients.push(...batch);
  }
  return clients;
}

function nextMessage(type) {
  return new Promise((resolve) => {
    const onMessage = (message) => {
      if (message?.type !== type) return;
      process.off('message', onMessage);
      resolve(message);
    };
    process.on('message', onMessage);
  });
}

async function main() {
  if (mode === 'idle' || mode === 'inflight') {
    const clients = await openWarm(count);
    const answers = mode === 'inflight' ? clients.map((client) => client.send(SLOW)) : [];
    process.send({ type: 'ready', open: clients.length, written: stats.written });
    await nextMessage('signal');
    signalAt = performance.now();
    stats.openAtSignal = clients.filter(({ socket }) => !socket.closed).length;
    await Promise.all(answers);
    // Every connection ends when the server goes: wait for the last one (bounded by the parent).
    await Promise.all(clients.map(({ socket }) => (socket.closed ? undefined : new Promise((resolve) => socket.once('close', resolve)))));
  } else if (mode === 'churn') {
    // Two phases, each started by the parent: a warm-up (JIT), then the measured one.
    process.send({ type: 'ready', open: 0, written: 0 });
    for (const phase of ['warm', 'measured']) {
      const { total } = await nextMessage(phase);
      let next = 0;
      const loop = async () => {
        while (next < total) {
          next++;
          const client = await connect().catch((error) => {
            stats.connectFailed = (stats.connectFailed ?? 0) + 1;
            stats.errors[error.code] = (stats.errors[error.code] ?? 0) + 1;
          });
          if (client === undefined) continue;
          await client.send(CLOSE);
          if (!client.socket.closed) await new Promise((resolve) => client.socket.once('close', resolve));
        }
      };
      await Promise.all(Array.from({ length: CHURN_AT_ONCE }, loop));
      process.send({ type: `${phase}-done` });
    }
  } else throw new Error(`unknown mode ${mode}`);
  process.send({ type: 'done', stats }, () => process.exit(0));
}

main().catch((error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exit(1);
});
