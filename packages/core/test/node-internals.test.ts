import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo, Server as NetServer, Socket } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import type { Lifecycle } from '@lifespan/core';
import { createTestLifecycle } from '@lifespan/core/testing';
import type { LifecycleOptions } from '@lifespan/core';
import { get } from '@lifespan/testsuite';
import { capabilities, closeListenerOnly, connectionsOf, overrideInternals, readingRequest } from '../src/node-internals';
import { FakeProcess } from './fake-process';

// Each internal the drainer reads, first as a canary on this Node, then made absent (as if Node had
// renamed it) so that the public fallback runs against real sockets, and loses nothing.

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

const opened: { lifecycles: Lifecycle[]; servers: NetServer[] } = { lifecycles: [], servers: [] };

function lifecycleFor(options: LifecycleOptions = {}): Lifecycle {
  const lifecycle = createTestLifecycle({ signals: false, exitFallback: false, exit: false, ...options }, new FakeProcess());
  opened.lifecycles.push(lifecycle);
  return lifecycle;
}

async function listen(server: NetServer): Promise<string> {
  opened.servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Answers `/slow` after `slowMs`, anything else at once. */
function handler(slowMs = 150): Handler {
  return (req, res) => void setTimeout(() => res.end(`done ${req.url}`), req.url === '/slow' ? slowMs : 0);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Keep-alive clients sending back to back until the server stops accepting. Every request ends
 * answered, refused before it was written (ECONNREFUSED: a real client goes elsewhere), or lost.
 */
function load(url: string, clients: number): { stop: () => Promise<{ answered: number; refused: number; lost: string[] }>; answered: () => number } {
  let answered = 0;
  let refused = 0;
  const lost: string[] = [];
  let stopping = false;
  const loops = Array.from({ length: clients }, async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let i = 0; i < 100_000 && !stopping; i++) {
        const outcome = await new Promise<string>((resolve) => {
          const req = http.get(`${url}/work`, { agent }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode === 200 ? 'answered' : `status ${res.statusCode}`));
            res.on('error', (error) => resolve(`response ${(error as NodeJS.ErrnoException).code}`));
          });
          req.on('error', (error) => resolve((error as NodeJS.ErrnoException).code === 'ECONNREFUSED' ? 'refused' : `request ${(error as NodeJS.ErrnoException).code} reused=${req.reusedSocket}`));
        });
        if (outcome === 'answered') answered++;
        else if (outcome === 'refused') {
          refused++;
          break;
        } else lost.push(outcome);
      }
    } finally {
      agent.destroy();
    }
  });
  return {
    answered: () => answered,
    stop: async () => {
      await Promise.race([Promise.all(loops), sleep(5_000)]);
      stopping = true;
      await Promise.all(loops);
      return { answered, refused, lost };
    },
  };
}

/** Shuts down in the middle of a load; what the clients saw, and the report. */
async function shutdownUnderLoad(lifecycle: Lifecycle, url: string) {
  const traffic = load(url, 8);
  while (traffic.answered() < 200) await sleep(5);
  const report = await lifecycle.shutdown('test');
  return { report, seen: await traffic.stop() };
}

let restore: (() => void) | undefined;

// A failed test must not leave a server, a connection or a shutdown behind.
afterEach(async () => {
  restore?.();
  restore = undefined;
  const shutdowns = opened.lifecycles.splice(0).map((lifecycle) => lifecycle.shutdown());
  for (const server of opened.servers.splice(0)) (server as http.Server).closeAllConnections?.();
  await Promise.all(shutdowns);
});

describe('node internals (canary: each one present on this Node)', () => {
  it('detects every internal the drainer reads', async () => {
    const lifecycle = lifecycleFor();
    const server = http.createServer(handler());
    lifecycle.attach(server);
    const url = await listen(server);
    expect((await get(`${url}/`)).status).toBe(200);
    expect(capabilities()).toEqual({ currentResponse: true, connectionsList: true, activityStamps: true, bytesRead: true });
    await lifecycle.shutdown();
  });

  it('checks once, on the first request, then leaves the server with the request listeners it had', async () => {
    restore = overrideInternals({}); // Node's own readers, detected afresh
    const lifecycle = lifecycleFor();
    const server = http.createServer(handler());
    const before = server.listenerCount('request');
    lifecycle.attach(server);
    const url = await listen(server);
    expect(server.listenerCount('request')).toBe(before + 1);
    await get(`${url}/`);
    expect(server.listenerCount('request')).toBe(before);
    await lifecycle.shutdown();
  });
});

describe.each([
  ['socket._httpMessage', { httpMessage: () => undefined }],
  ["the server's connections list", { connectionsList: () => undefined }],
  ["the socket's timer", { socketTimer: () => undefined }],
  ["the parser's last request (socket.parser.incoming)", { parserIncoming: () => undefined }],
])('without %s (public fallback)', (_name, replacement) => {
  beforeEach(() => {
    restore = overrideInternals(replacement);
  });

  it('answers an in-flight request with Connection: close and counts it', async () => {
    const lifecycle = lifecycleFor();
    const server = http.createServer(handler());
    lifecycle.attach(server);
    const url = await listen(server);
    const agent = new http.Agent({ keepAlive: true });
    try {
      await get(`${url}/`, agent);
      const slow = get(`${url}/slow`, agent);
      while (lifecycle.inFlight === 0) await sleep(5);
      const report = await lifecycle.shutdown('test');
      expect(await slow).toMatchObject({ status: 200, body: 'done /slow', headers: { connection: 'close' } });
      expect(report.ok).toBe(true);
      expect(report.http).toMatchObject({ inFlightAtStart: 1, abortedRequests: 0, connectionsDestroyed: 0 });
    } finally {
      agent.destroy();
    }
  });

  it('tells an in-flight request that asked (onShutdown)', async () => {
    const lifecycle = lifecycleFor();
    const reasons: string[] = [];
    const server = http.createServer((req, res) => {
      lifecycle.requestScope(req).onShutdown((reason) => {
        reasons.push(reason);
        res.end('stopped');
      });
    });
    lifecycle.attach(server);
    const url = await listen(server);
    const reply = get(`${url}/`);
    while (lifecycle.inFlight === 0) await sleep(5);
    const report = await lifecycle.shutdown('deploy');
    expect(await reply).toMatchObject({ status: 200, body: 'stopped' });
    expect(reasons).toEqual(['deploy']);
    expect(report.ok).toBe(true);
  });

  it('drains connections accepted before attach(): the busy one answered, the idle one closed', async () => {
    const lifecycle = lifecycleFor({ drainTimeoutMs: 20_000 });
    const server = http.createServer(handler(300));
    // Node would close the idle connection itself after 5 s: only Lifespan may close it here.
    server.keepAliveTimeout = 60_000;
    const url = await listen(server);
    const idle = new http.Agent({ keepAlive: true });
    const busy = new http.Agent({ keepAlive: true });
    try {
      await get(`${url}/`, idle);
      const [idleSocket] = Object.values(idle.freeSockets).flat();
      const idleClosed = once(idleSocket!, 'close');
      await get(`${url}/`, busy);
      const slow = get(`${url}/slow`, busy);
      await sleep(50);
      lifecycle.attach(server);
      const report = await lifecycle.shutdown('test');
      expect((await slow).status).toBe(200);
      await idleClosed;
      expect(report.ok).toBe(true);
      expect(report.http.connectionsDestroyed).toBe(0);
      // Closed when idle, not left to the drain timeout.
      expect(report.durationMs).toBeLessThan(10_000);
    } finally {
      idle.destroy();
      busy.destroy();
    }
  });

  it('loses no request of keep-alive clients sending through the shutdown', async () => {
    const lifecycle = lifecycleFor({ idleGraceMs: 100 });
    const server = http.createServer(handler());
    lifecycle.attach(server);
    const url = await listen(server);
    const { report, seen } = await shutdownUnderLoad(lifecycle, url);
    expect(seen.lost).toEqual([]);
    expect(seen.answered).toBeGreaterThanOrEqual(200);
    expect(report.ok).toBe(true);
    expect(report.http.connectionsDestroyed).toBe(0);
  });

  it('leaves an upgraded connection (WebSocket) to the app, destroying it only at the drain timeout', async () => {
    const lifecycle = lifecycleFor({ drainTimeoutMs: 400, idleGraceMs: 5 });
    const server = http.createServer(handler());
    lifecycle.attach(server);
    // Added after attach(), as an app adding WebSockets later would.
    const wss = new WebSocketServer({ noServer: true });
    server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, () => undefined));
    const url = await listen(server);
    const client = new WebSocket(url.replace('http', 'ws'));
    await once(client, 'open');
    const closed = once(client, 'close');
    const report = await lifecycle.shutdown('test');
    await closed;
    expect(report.http).toMatchObject({ connectionsDestroyed: 1, idleConnectionsClosed: 0 });
  });
});

describe("Deno's connections list (_all, _active)", () => {
  it('reads every connection, and a request head in progress on one, as from Node\'s list', async () => {
    const server = http.createServer();
    const idle = { bytesRead: 100, destroyed: false } as unknown as Socket;
    const arriving = { bytesRead: 120, destroyed: false, server } as unknown as Socket;
    const fresh = { bytesRead: 0, destroyed: false, server } as unknown as Socket;
    (idle as { server?: unknown }).server = server;
    // As Deno's ConnectionsList keeps them: every socket, and those with a request begun (or none yet).
    Object.defineProperty(server, Symbol('http.server.connections'), { value: { _all: new Set([idle, arriving, fresh]), _active: new Map([[arriving, {}], [fresh, {}]]) } });
    expect(connectionsOf(server)).toEqual([idle, arriving, fresh]);
    expect([readingRequest(idle), readingRequest(arriving), readingRequest(fresh)]).toEqual([false, true, false]);
    // The list is read once per turn of the loop.
    await new Promise((resolve) => setImmediate(resolve));
  });
});

describe('closeListenerOnly(server, close)', () => {
  it("holds back the idle sweep of the server's own close() for that one call, on the server and on the Bun.serve() server a Bun http.Server wraps", () => {
    const server = http.createServer();
    const swept: string[] = [];
    const own = { closeIdleConnections: (): void => void swept.push('server') };
    const wrapped = { closeIdleConnections: (): void => void swept.push('wrapped') };
    Object.defineProperty(server, 'closeIdleConnections', { configurable: true, writable: true, value: own.closeIdleConnections });
    Object.defineProperty(server, Symbol('::bunternal::'), { value: wrapped });
    // As Bun's close() does: sweep through the wrapped server, then stop listening.
    const close = function (this: http.Server): http.Server {
      this.closeIdleConnections();
      wrapped.closeIdleConnections();
      swept.push('closed');
      return this;
    };
    closeListenerOnly(server, close as never);
    expect(swept).toEqual(['closed']);
    // Both are themselves again afterwards.
    server.closeIdleConnections();
    wrapped.closeIdleConnections();
    expect(swept).toEqual(['closed', 'server', 'wrapped']);
  });
});

describe("upgrades, seen through the public 'upgrade' and 'connect' events", () => {
  it("never gives a server an 'upgrade' or 'connect' listener of its own: Node's behaviour without one is kept", async () => {
    const lifecycle = lifecycleFor();
    const server = http.createServer((req, res) => res.end(`upgrade=${req.headers.upgrade}`));
    lifecycle.attach(server);
    const url = await listen(server);
    expect([server.listenerCount('upgrade'), server.listenerCount('connect')]).toEqual([0, 0]);
    const onUpgrade = (): void => undefined;
    server.on('upgrade', onUpgrade);
    await Promise.resolve();
    expect(server.listenerCount('upgrade')).toBe(2);
    server.off('upgrade', onUpgrade);
    expect(server.listenerCount('upgrade')).toBe(0);
    // Without an 'upgrade' listener, Node answers an Upgrade request as a plain one.
    const reply = await new Promise<string>((resolve, reject) => {
      http.get(`${url}/`, { headers: { connection: 'upgrade', upgrade: 'websocket' } }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve(body));
      }).on('error', reject);
    });
    expect(reply).toBe('upgrade=websocket');
    await lifecycle.shutdown();
  });
});
