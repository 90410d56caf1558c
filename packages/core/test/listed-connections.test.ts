import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo, Server as NetServer, Socket } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import type { Lifecycle, LifecycleOptions } from '@lifespan/core';
import { trackRequest } from '@lifespan/core/http';
import { createTestLifecycle } from '@lifespan/core/testing';
import { get } from '@lifespan/testsuite';
import { HttpDrainer } from '../src/http-drain';
import { overrideInternals } from '../src/node-internals';
import { FakeProcess } from './fake-process';

// Once Node's record of responses is known readable (the first request's self-check), a connection
// costs nothing until shutdown: Node's own list of the server's connections is read when shutdown
// begins (issue 12, churn). Where that list cannot be read, each connection is tracked from its
// 'connection' event as before. Both drain the same.

const opened: { lifecycles: Lifecycle[]; servers: NetServer[]; sockets: Socket[] } = { lifecycles: [], servers: [], sockets: [] };

function lifecycleFor(options: LifecycleOptions = {}): Lifecycle {
  const lifecycle = createTestLifecycle({ signals: false, exitFallback: false, exit: false, ...options }, new FakeProcess());
  opened.lifecycles.push(lifecycle);
  return lifecycle;
}

/** A listening server that answers `/slow` after 300 ms, anything else at once; `seen` counts the handlers run. */
async function serve(lifecycle: Lifecycle | undefined, handle?: (req: http.IncomingMessage, res: http.ServerResponse) => void) {
  const accepted: Socket[] = [];
  const seen: string[] = [];
  const server = http.createServer(
    handle ??
      ((req, res) => {
        seen.push(req.url!);
        setTimeout(() => res.end(`done ${req.url}`), req.url === '/slow' ? 300 : 0);
      }),
  );
  // Node would close an idle connection itself after 5 s: only the drain may close one here.
  server.keepAliveTimeout = 60_000;
  server.on('connection', (socket: Socket) => accepted.push(socket));
  lifecycle?.attach(server);
  opened.servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return { server, port, url: `http://127.0.0.1:${port}`, accepted, seen };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function until(predicate: () => boolean): Promise<void> {
  for (let i = 0; i < 2_000 && !predicate(); i++) await sleep(5);
  expect(predicate()).toBe(true);
}

/** `count` keep-alive connections, each having carried one request, idle now. */
async function idleConnections(url: string, count: number): Promise<http.Agent[]> {
  const agents = Array.from({ length: count }, () => new http.Agent({ keepAlive: true, maxSockets: 1 }));
  for (const agent of agents) expect((await get(`${url}/`, agent)).status).toBe(200);
  return agents;
}

/** The drainer behind a lifecycle, caught on a requestScope() call for a request with no socket. */
function drainerOf(lifecycle: Lifecycle): HttpDrainer {
  const spy = jest.spyOn(HttpDrainer.prototype, 'scope');
  try {
    lifecycle.requestScope({ socket: null } as unknown as http.IncomingMessage);
    return spy.mock.contexts[0] as HttpDrainer;
  } finally {
    spy.mockRestore();
  }
}

let restore: (() => void) | undefined;
const agents: http.Agent[] = [];

afterEach(async () => {
  for (const agent of agents.splice(0)) agent.destroy();
  for (const socket of opened.sockets.splice(0)) socket.destroy();
  const shutdowns = opened.lifecycles.splice(0).map((lifecycle) => lifecycle.shutdown());
  const servers = opened.servers.splice(0);
  for (const server of servers) (server as http.Server).closeAllConnections?.();
  await Promise.all(shutdowns);
  // The plain server of the first test has no lifecycle to close it.
  for (const server of servers) if (server.listening) server.close();
  restore?.();
  restore = undefined;
});

describe.each([
  ["Node's list of the connections read at shutdown", {}, 0],
  ['without that list (each connection tracked from its accept)', { connectionsList: () => undefined }, 1],
])('%s', (_name, replacement, listenersPerConnection) => {
  beforeEach(() => {
    restore = overrideInternals(replacement);
  });

  it(`adds ${listenersPerConnection} listener to a connection before shutdown, counts them, and drains them: the busy one answered, the idle ones closed`, async () => {
    // The 'close' listeners node:http itself puts on a socket of a plain server.
    const plain = await serve(undefined);
    agents.push(...(await idleConnections(plain.url, 1)));
    const ownListeners = plain.accepted[0]!.listenerCount('close');

    const lifecycle = lifecycleFor({ drainTimeoutMs: 20_000 });
    const { url, accepted, seen } = await serve(lifecycle);
    agents.push(...(await idleConnections(url, 1))); // the self-check runs on this first request
    agents.push(...(await idleConnections(url, 5)));
    expect(accepted.slice(1).map((socket) => socket.listenerCount('close') - ownListeners)).toEqual(Array(5).fill(listenersPerConnection));
    const busy = new http.Agent({ keepAlive: true });
    agents.push(busy);
    const slow = get(`${url}/slow`, busy);
    slow.catch(() => undefined); // awaited below; a failed expectation must not leave it unhandled
    await until(() => seen.includes('/slow'));
    expect(drainerOf(lifecycle).connections).toBe(7);
    expect(lifecycle.inFlight).toBe(1);

    const idleClosed = accepted.slice(0, 6).map((socket) => once(socket, 'close'));
    const report = await lifecycle.shutdown('test');
    expect(await slow).toMatchObject({ status: 200, body: 'done /slow', headers: { connection: 'close' } });
    await Promise.all(idleClosed);
    expect(report).toMatchObject({ ok: true, http: { inFlightAtStart: 1, completedDuringDrain: 1, idleConnectionsClosed: 6, connectionsDestroyed: 0 } });
  });

  it('closes at once a preconnect opened longer than the grace ago on a quiet server, not after a grace of its own', async () => {
    const lifecycle = lifecycleFor({ idleGraceMs: 2_000, drainTimeoutMs: 20_000 });
    const { port, url, accepted } = await serve(lifecycle);
    agents.push(...(await idleConnections(url, 1)));
    const preconnect = net.connect(port, '127.0.0.1');
    opened.sockets.push(preconnect);
    preconnect.on('error', () => undefined);
    await until(() => accepted.length === 2);
    await sleep(2_200);
    const report = await lifecycle.shutdown('test');
    // Taken for opened when the drain found it, it would get the whole grace (2 s) first.
    expect(report.durationMs).toBeLessThan(1_500);
    expect(report).toMatchObject({ ok: true, http: { idleConnectionsClosed: 2, connectionsDestroyed: 0 } });
  });

  it('leaves a WebSocket opened after the first request to the app, destroying it only at the drain timeout', async () => {
    const lifecycle = lifecycleFor({ drainTimeoutMs: 400, idleGraceMs: 5 });
    const { server, url } = await serve(lifecycle);
    const wss = new WebSocketServer({ noServer: true });
    server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, () => undefined));
    agents.push(...(await idleConnections(url, 1)));
    const client = new WebSocket(url.replace('http', 'ws'));
    await once(client, 'open');
    const closed = once(client, 'close');
    const report = await lifecycle.shutdown('test');
    await closed;
    expect(report.http).toMatchObject({ connectionsDestroyed: 1, idleConnectionsClosed: 1 });
    expect(report.errors.map((error) => error.code)).toEqual(['ERR_LIFESPAN_CONNECTIONS_DESTROYED']);
  });

  it("counts each request of a pipeline read before shutdown (an adapter's middleware) that a gone connection can no longer answer", async () => {
    const lifecycle = lifecycleFor({ drainTimeoutMs: 10_000 });
    const seen: string[] = [];
    const { port, url } = await serve(lifecycle, (req, res) => {
      trackRequest(lifecycle, req, res);
      seen.push(req.url!);
      if (req.url === '/') res.end('ok'); // the self-check's request; the pipeline is never answered
    });
    agents.push(...(await idleConnections(url, 1)));
    const socket = net.connect(port, '127.0.0.1');
    opened.sockets.push(socket);
    socket.on('error', () => undefined);
    await once(socket, 'connect');
    socket.write(['/1', '/2', '/3'].map((path) => `GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`).join(''));
    await until(() => seen.length === 4);
    const began = performance.now();
    const report = lifecycle.shutdown('test');
    await sleep(50);
    socket.destroy();
    const result = await report;
    expect(performance.now() - began).toBeLessThan(5_000);
    // /2 and /3 were read behind /1 and never given the socket: both known, not only the last.
    expect(result.http).toMatchObject({ inFlightAtStart: 3, unansweredRequests: 2 });
    expect(result.errors.map((error) => error.code)).toEqual(['ERR_LIFESPAN_REQUESTS_UNANSWERED']);
  });
});
