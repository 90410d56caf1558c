import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { createLifecycle } from '@lifespan/core';
import { get } from '@lifespan/testsuite';
import { overrideInternals } from '../src/node-internals';

/** Keeps the event loop from turning, the way a busy process does. */
function busyFor(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // spin
  }
}

describe('lifecycle.attach(server) idle closing', () => {
  it('serves a request that reached an idle connection while the process was busy, instead of closing it unread', async () => {
    const { lifecycle, url } = await attachedServer(200);
    const socket = net.connect(Number(new URL(url).port), '127.0.0.1');
    await once(socket, 'connect');
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (received += chunk));
    const request = 'GET / HTTP/1.1\r\nHost: localhost\r\n\r\n';
    socket.write(request);
    while (!received.endsWith('ok')) await once(socket, 'data');
    received = '';
    const closed = once(socket, 'close');

    const shutdown = lifecycle.shutdown('test');
    // The next request is in the kernel's buffer before the idle grace ends, but the process only
    // gets to it after: timers run before I/O, so the grace timer fires first in that loop turn.
    socket.write(request);
    busyFor(300);

    await closed;
    expect(received).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(received).toMatch(/\r\nConnection: close\r\n/);
    expect(received.endsWith('ok')).toBe(true);
    expect((await shutdown).ok).toBe(true);
  });

  it('closes idle keep-alive connections at once when no connection has seen traffic for a whole grace', async () => {
    const { lifecycle, url } = await attachedServer(400);
    const agent = new http.Agent({ keepAlive: true });
    try {
      await Promise.all([get(url, agent), get(url, agent)]);
      await sleep(500);
      const closed = Promise.all(sockets(agent).map((socket) => once(socket, 'close')));
      expect(sockets(agent)).toHaveLength(2);
      const began = performance.now();
      await lifecycle.shutdown('test');
      await closed;
      // The grace alone would take 400 ms; closing at once takes a few.
      expect(performance.now() - began).toBeLessThan(300);
    } finally {
      agent.destroy();
    }
  });

  it('gives an idle connection its grace while another connection carried traffic within it', async () => {
    const { lifecycle, url } = await attachedServer(400);
    const idle = new http.Agent({ keepAlive: true });
    const active = new http.Agent({ keepAlive: true });
    try {
      await get(url, idle);
      await sleep(500);
      await get(url, active);
      const [socket] = sockets(idle);
      let closedAt = Infinity;
      socket!.once('close', () => (closedAt = performance.now()));
      const began = performance.now();
      await lifecycle.shutdown('test');
      expect(closedAt - began).toBeGreaterThanOrEqual(350);
    } finally {
      idle.destroy();
      active.destroy();
    }
  });
});

describe('lifecycle.shutdown() with many idle connections', () => {
  it("closes them all reading Node's list of idle connections a bounded number of times, not once per loop turn", async () => {
    // Each fresh decision closes a few connections a turn: reading the whole list every turn made
    // a drain of N connections cost N² (10,000 idle connections outlasted the 10 s drain timeout).
    let listReads = 0;
    const restore = overrideInternals({
      connectionsList(server) {
        const symbol = Object.getOwnPropertySymbols(server).find((candidate) => candidate.description === 'http.server.connections');
        const list = symbol === undefined ? undefined : (server as unknown as Record<symbol, { all(): unknown[]; idle(): unknown[] }>)[symbol];
        if (list === undefined) return undefined;
        return {
          all: () => list.all() as never,
          idle: () => {
            listReads++;
            return list.idle() as never;
          },
        };
      },
    });
    const sockets: net.Socket[] = [];
    try {
      const { lifecycle, url } = await attachedServer(25);
      const port = Number(new URL(url).port);
      for (let i = 0; i < 300; i++) {
        const socket = net.connect(port, '127.0.0.1');
        sockets.push(socket);
        socket.on('error', () => undefined);
        socket.setEncoding('utf8');
        let received = '';
        socket.on('data', (chunk: string) => (received += chunk));
        await once(socket, 'connect');
        socket.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n');
        while (!received.endsWith('ok')) await once(socket, 'data');
      }
      await sleep(100);
      const closed = Promise.all(sockets.map((socket) => once(socket, 'close')));
      const report = await lifecycle.shutdown('test');
      await closed;
      expect(report.ok).toBe(true);
      expect(report.http.idleConnectionsClosed).toBe(300);
      expect(listReads).toBeLessThanOrEqual(5);
    } finally {
      restore();
      for (const socket of sockets) socket.destroy();
    }
  });
});

describe('lifecycle.shutdown() closing idle connections', () => {
  it("counts a destroyed connection gone at once: the drain settles without waiting for its socket's 'close' event", async () => {
    const { lifecycle, url, server } = await attachedServer(25);
    const serverSockets: net.Socket[] = [];
    let closeEvents = 0;
    server.on('connection', (socket: net.Socket) => {
      serverSockets.push(socket);
      socket.on('close', () => closeEvents++);
    });
    const agent = new http.Agent({ keepAlive: true });
    try {
      await Promise.all(Array.from({ length: 20 }, () => get(url, agent)));
      await sleep(100);
      let closedAtDrained = -1;
      lifecycle.on('drain', (event) => {
        if (event.type === 'drained') closedAtDrained = closeEvents;
      });
      const report = await lifecycle.shutdown('test');
      expect(report.http.idleConnectionsClosed).toBe(20);
      // Node emits 'close' a loop turn after destroy(): the last ones destroyed have not yet.
      expect(closedAtDrained).toBeGreaterThanOrEqual(0);
      expect(closedAtDrained).toBeLessThan(20);
      expect(serverSockets.every((socket) => socket.destroyed)).toBe(true);
    } finally {
      agent.destroy();
    }
  });
});

describe('lifecycle.shutdown() with requests in flight', () => {
  it('arms no idle-grace timer for a connection whose last response carried Connection: close (Node ends it)', async () => {
    const graceMs = 777;
    const lifecycle = createLifecycle({ signals: false, exit: false, idleGraceMs: graceMs });
    const server = http.createServer((req, res) => void setTimeout(() => res.end('ok'), req.url === '/slow' ? 200 : 0));
    lifecycle.attach(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const agent = new http.Agent({ keepAlive: true });
    const graceTimers = jest.spyOn(globalThis, 'setTimeout');
    try {
      await Promise.all(Array.from({ length: 20 }, () => get(`${url}/`, agent)));
      const inFlight = Array.from({ length: 20 }, () => get(`${url}/slow`, agent));
      await sleep(100);
      graceTimers.mockClear();
      const report = await lifecycle.shutdown('test');
      const responses = await Promise.all(inFlight);
      expect(responses.map((response) => response.status)).toEqual(Array.from({ length: 20 }, () => 200));
      expect(responses.every((response) => response.headers.connection === 'close')).toBe(true);
      expect(report.http.completedDuringDrain).toBe(20);
      expect(graceTimers.mock.calls.map(([, ms]) => ms).filter((ms) => typeof ms === 'number' && ms > 0 && ms <= graceMs)).toEqual([]);
    } finally {
      graceTimers.mockRestore();
      agent.destroy();
    }
  });
});

/** A node:http server answering "ok", attached to a lifecycle with this grace, listening. */
async function attachedServer(idleGraceMs: number): Promise<{ lifecycle: ReturnType<typeof createLifecycle>; url: string; server: http.Server }> {
  const lifecycle = createLifecycle({ signals: false, exit: false, idleGraceMs });
  const server = http.createServer((_req, res) => res.end('ok'));
  lifecycle.attach(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { lifecycle, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, server };
}

function sockets(agent: http.Agent): net.Socket[] {
  return Object.values(agent.freeSockets).flatMap((list) => list ?? []);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('lifecycle.shutdown() with a request head still arriving', () => {
  it('answers a request whose head arrives byte by byte through the drain (a slow link), with Connection: close', async () => {
    const { lifecycle, url } = await attachedServer(25);
    const socket = net.connect(Number(new URL(url).port), '127.0.0.1');
    await once(socket, 'connect');
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (received += chunk));
    const closed = once(socket, 'close');
    const head = 'GET /slow-link HTTP/1.1\r\nHost: localhost\r\nX-Padding: ' + 'x'.repeat(40) + '\r\n\r\n';
    socket.write(head.slice(0, 5));
    const shutdown = lifecycle.shutdown('test');
    // Far longer than the grace in all, 5 ms between bytes.
    for (const byte of head.slice(5)) {
      if (socket.destroyed) break;
      socket.write(byte);
      await sleep(5);
    }
    await closed;
    expect(received).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(received).toMatch(/\r\nConnection: close\r\n/);
    const report = await shutdown;
    expect(report.ok).toBe(true);
  });

  it('closes a connection whose head stopped arriving, at the drain timeout at the latest', async () => {
    const lifecycle = createLifecycle({ signals: false, exit: false, drainTimeoutMs: 300 });
    const server = http.createServer((_req, res) => res.end('ok'));
    lifecycle.attach(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const socket = net.connect((server.address() as AddressInfo).port, '127.0.0.1');
    await once(socket, 'connect');
    socket.on('error', () => undefined);
    socket.write('GET / HTTP/1.1\r\nHost: loc');
    await sleep(50);
    const report = await lifecycle.shutdown('test');
    expect(socket.destroyed || (await Promise.race([once(socket, 'close').then(() => true), sleep(1_000).then(() => false)]))).toBe(true);
    expect(report.http.connectionsDestroyed).toBe(1);
    expect(report.errors.map((error) => error.code)).toEqual(['ERR_LIFESPAN_CONNECTIONS_DESTROYED']);
  });
});
