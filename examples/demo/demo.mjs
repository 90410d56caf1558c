// npm run demo: an Express, a Koa and a Fastify app, each under real keep-alive load (fast
// requests, slow requests, an SSE stream, a WebSocket client) and running a background job loop,
// get SIGTERM. The timeline shows what Lifespan does, the table what the clients saw. Exits 0 only
// if no request was lost, the WebSocket got its close frame and the job in progress finished.
import { fork } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { WebSocket } from 'ws';

const apps = ['express', 'koa', 'fastify'];
const LOAD_MS = 1500;
const EXIT_LIMIT_MS = 15_000;
const color = process.stdout.isTTY ? (code, text) => `\x1b[${code}m${text}\x1b[0m` : (_code, text) => text;

const results = [];
for (const app of apps) results.push(await runApp(app));

console.log(`\n${color(1, 'Result')}`);
console.table(
  Object.fromEntries(
    results.map((r) => [
      r.app,
      {
        'requests served': r.served,
        'requests lost': r.lost,
        'refused after listener closed': r.refused,
        'SSE ended cleanly': r.sseClean ? 'yes' : 'no',
        'WebSocket close frame': r.webSocket,
        'job finished in drain': r.jobFinished ? 'yes' : 'no',
        'hooks run': r.hooks,
        'SIGTERM → exit (ms)': r.exitMs,
        'exit code': r.exitCode,
      },
    ]),
  ),
);
const failed = results.filter((r) => r.lost > 0 || r.exitCode !== 0 || !r.sseClean || !r.webSocket.startsWith('1001') || !r.jobFinished);
if (failed.length > 0) {
  console.log(color(31, `FAILED: ${failed.map((r) => r.app).join(', ')} lost requests or work, or did not exit cleanly`));
  process.exit(1);
}
console.log(color(32, 'OK: every accepted request was answered, every WebSocket got its close frame, every job in progress finished, every app exited 0.'));
console.log('Refused requests came after the listener closed: a load balancer sends those to another instance.');

async function runApp(app) {
  console.log(`\n${color(1, `── ${app} ──`)}`);
  const file = fileURLToPath(new URL(`../${app}/server.mjs`, import.meta.url));
  const child = fork(file, [], {
    env: { ...process.env, PORT: '0', LIFESPAN_EVENTS: '1', DRAIN_DELAY_MS: '300' },
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  let sigtermAt = 0;
  let report;
  // The job running when SIGTERM arrived: it must be done before the process exits.
  let jobAtSigterm;
  let jobFinished = false;
  const since = (t) => (sigtermAt === 0 ? '     ' : `${String(Math.max(0, t - sigtermAt)).padStart(4)}ms`);
  const line = (t, text) => console.log(`  ${color(2, since(t))}  ${text}`);
  createInterface({ input: child.stdout }).on('line', (text) => {
    if (!text.startsWith('@lifespan ')) return;
    const event = JSON.parse(text.slice('@lifespan '.length));
    if (event.type === 'report') report = event.report;
    else if (event.type === 'job') {
      if (sigtermAt === 0) {
        jobAtSigterm = event.phase === 'start' ? event.job : undefined;
        return;
      }
      if (event.phase === 'done' && event.job === jobAtSigterm) {
        jobFinished = true;
        line(event.t, `job    #${event.job} finished inside the drain (lifecycle.run: its signal aborted, the drain waited)`);
      }
    } else line(event.t, describe(event));
  });
  // Never leave an app behind, whatever happens to the demo itself.
  process.once('exit', () => child.kill('SIGKILL'));
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })));
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${app} did not start within 10 s`)), 10_000);
    child.once('message', (message) => {
      clearTimeout(timer);
      resolve(message.port);
    });
    child.once('exit', () => reject(new Error(`${app} exited before listening`)));
  });
  // Like a load balancer: no traffic until the readiness probe says the startup hooks are done.
  for (let i = 0; i < 100 && (await status(port, '/readyz')) !== 200; i++) await sleep(50);
  line(Date.now(), `probe  /readyz → 200 (startup hooks done)`);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const stats = { served: 0, lost: 0, refused: 0, errors: [] };
  let stopping = false;

  const send = (path) =>
    new Promise((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path, agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode === 200 ? 'ok' : `status ${res.statusCode}`));
        res.on('error', (error) => resolve(error.code ?? error.message));
      });
      req.on('error', (error) => resolve(error.code ?? error.message));
    });
  const count = (outcome) => {
    if (outcome === 'ok') stats.served++;
    else if (outcome === 'ECONNREFUSED') stats.refused++;
    else {
      stats.lost++;
      stats.errors.push(outcome);
    }
  };
  const startedAt = Date.now();
  // Keep-alive clients in a loop until the listener is gone (then a load balancer would go elsewhere).
  const loops = Array.from({ length: 8 }, async () => {
    for (let i = 0; i < 100_000 && Date.now() - startedAt < LOAD_MS + EXIT_LIMIT_MS; i++) {
      const outcome = await send('/');
      count(outcome);
      if (outcome === 'ECONNREFUSED' || (stopping && outcome !== 'ok')) return;
    }
  });
  const sse = openSse(port, (t, text) => line(t, text));
  const webSocket = openWebSocket(port, (t, text) => line(t, text));
  line(Date.now(), `${app} listening on 127.0.0.1:${port}; 8 keep-alive clients, 1 SSE stream, 1 WebSocket, a job loop`);
  let ready = true;
  const probe = setInterval(() => {
    http.get({ host: '127.0.0.1', port, path: '/readyz', agent: false }, (res) => {
      res.resume();
      if (ready && res.statusCode === 503) {
        ready = false;
        line(Date.now(), `probe  /readyz → 503 (load balancer stops routing here)`);
      }
    }).on('error', () => undefined);
  }, 100);
  await sleep(LOAD_MS - 200);
  const slow = Array.from({ length: 3 }, () => send('/slow?ms=800').then(count));
  line(Date.now(), '3 slow requests (800 ms) in flight');
  await sleep(200);
  sigtermAt = Date.now();
  line(sigtermAt, color(33, `SIGTERM → ${app} (pid ${child.pid})${jobAtSigterm === undefined ? '' : `; job #${jobAtSigterm} in progress`}`));
  child.kill('SIGTERM');
  const waiting = setInterval(() => line(Date.now(), color(2, `… waiting for ${app} to exit`)), 1000);
  const limit = setTimeout(() => child.kill('SIGKILL'), EXIT_LIMIT_MS);
  const exit = await exited;
  clearTimeout(limit);
  clearInterval(waiting);
  clearInterval(probe);
  stopping = true;
  await Promise.all([...loops, ...slow]);
  const sseResult = await sse;
  const webSocketResult = await webSocket;
  agent.destroy();
  line(exit.at, `${app} exited with code ${exit.code ?? exit.signal}`);
  if (stats.errors.length > 0) line(Date.now(), color(31, `lost: ${[...new Set(stats.errors)].join(', ')}`));
  return {
    app,
    served: stats.served + (sseResult.clean ? 1 : 0),
    lost: stats.lost + (sseResult.clean ? 0 : 1),
    refused: stats.refused,
    sseClean: sseResult.clean,
    webSocket: webSocketResult,
    jobFinished,
    hooks: report ? report.hooks.filter((hook) => hook.status === 'ok').length : 'no report',
    exitMs: exit.at - sigtermAt,
    exitCode: exit.code,
  };
}

function openSse(port, line) {
  return new Promise((resolve) => {
    let events = 0;
    let bye = false;
    const req = http.get({ host: '127.0.0.1', port, path: '/events', agent: false }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        events += (chunk.match(/^data:/gm) ?? []).length;
        if (chunk.includes('event: bye')) {
          bye = true;
          line(Date.now(), `SSE stream got "bye" after ${events} events (req.shutdownSignal aborted)`);
        }
      });
      res.on('end', () => resolve({ clean: bye, events }));
      res.on('error', () => resolve({ clean: false, events }));
    });
    req.on('error', () => resolve({ clean: false, events }));
  });
}

/** A WebSocket client on /ws: resolves with the close code and reason it received. */
function openWebSocket(port, line) {
  return new Promise((resolve) => {
    const client = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    client.on('error', () => undefined);
    client.once('close', (code, reason) => {
      line(Date.now(), `WebSocket got its close frame: ${code} "${reason}"`);
      resolve(`${code} ${reason}`);
    });
  });
}

function describe(event) {
  switch (event.type) {
    case 'state':
      return `state  ${event.previous} → ${color(36, event.state)}`;
    case 'hookStart':
      return `hook   ${event.phase} "${event.name}" started`;
    case 'hookEnd':
      return `hook   ${event.phase} "${event.name}" ${event.status} in ${event.durationMs} ms`;
    case 'drain': {
      const drain = event.drain;
      if (drain.type === 'listenerClosed') return `drain  listener closed on ${drain.servers} server(s); responses now carry Connection: close`;
      if (drain.type === 'idleClosed') return `drain  closed ${drain.connections} idle keep-alive connection(s) (no request within idleGraceMs)`;
      if (drain.type === 'drained') return `drain  all connections closed (${drain.completed} requests completed during the drain)`;
      if (drain.type === 'webSocketsClosing') return `drain  sending ${drain.clients} WebSocket client(s) a close frame (${drain.code}), spread over ${Math.round(drain.windowMs)} ms`;
      if (drain.type === 'destroyed') return `drain  destroyed ${drain.connections} connections (${drain.requests} requests) at the drain timeout`;
      return `drain  ${JSON.stringify(drain)}`;
    }
    default:
      return JSON.stringify(event);
  }
}

function status(port, path) {
  return new Promise((resolve) => {
    http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode);
    }).on('error', () => resolve(0));
  });
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
