import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { createLifecycle } from '@lifespan/core';
import type { Lifecycle } from '@lifespan/core';

async function startWebSocketServer(lifecycle: Lifecycle, onConnection: (socket: WebSocket) => void): Promise<{ server: http.Server; url: string }> {
  const server = http.createServer((_req, res) => res.end('ok'));
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, onConnection));
  lifecycle.attach(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}

describe('lifecycle.shutdown() with upgraded connections', () => {
  it('leaves a WebSocket open until the drain timeout, then destroys it and reports it (not ok)', async () => {
    const lifecycle = createLifecycle({ signals: false, drainTimeoutMs: 200, idleGraceMs: 5 });
    const { url } = await startWebSocketServer(lifecycle, () => undefined);
    const client = new WebSocket(url);
    await once(client, 'open');
    const closed = once(client, 'close');
    const report = await lifecycle.shutdown('test');
    await closed;
    // Not idle-closed after the grace (the parser is gone: the socket belongs to the app), but
    // never allowed to hold the process either.
    expect(report.http.connectionsDestroyed).toBe(1);
    expect(report.http.idleConnectionsClosed).toBe(0);
    expect(report.http.abortedRequests).toBe(0);
    // The client lost its WebSocket: the report says so.
    expect(report.ok).toBe(false);
    expect(report.errors.map((error) => error.code)).toEqual(['ERR_LIFESPAN_CONNECTIONS_DESTROYED']);
  });

  it('lets the app close its WebSockets on lifecycle.signal, so nothing is destroyed', async () => {
    const lifecycle = createLifecycle({ signals: false, drainTimeoutMs: 5000 });
    const { url } = await startWebSocketServer(lifecycle, (socket) => {
      lifecycle.signal.addEventListener('abort', () => socket.close(1001, 'server shutting down'));
    });
    const client = new WebSocket(url);
    await once(client, 'open');
    const closed = once(client, 'close') as Promise<[number, Buffer]>;
    const report = await lifecycle.shutdown('test');
    const [code, reason] = await closed;
    expect(code).toBe(1001);
    expect(reason.toString()).toBe('server shutting down');
    expect(report.ok).toBe(true);
    expect(report.http.connectionsDestroyed).toBe(0);
  });
});

describe('lifecycle.webSockets(server)', () => {
  async function startHandedOver(lifecycle: Lifecycle): Promise<{ url: string; wss: WebSocketServer }> {
    const server = http.createServer((_req, res) => res.end('ok'));
    const wss = new WebSocketServer({ server });
    lifecycle.attach(server).webSockets(wss);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return { url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`, wss };
  }

  async function connect(url: string): Promise<{ client: WebSocket; closed: Promise<[number, string]> }> {
    const client = new WebSocket(url);
    const closed = new Promise<[number, string]>((resolve) => client.once('close', (code, reason) => resolve([code, reason.toString()])));
    await once(client, 'open');
    return { client, closed };
  }

  it('sends each client 1001 with a reason and waits for it to close: nothing destroyed, report ok', async () => {
    const lifecycle = createLifecycle({ signals: false, drainTimeoutMs: 400 });
    const { url } = await startHandedOver(lifecycle);
    const clients = await Promise.all([connect(url), connect(url), connect(url)]);
    const report = await lifecycle.shutdown('test');
    expect(await Promise.all(clients.map(({ closed }) => closed))).toEqual([
      [1001, 'server shutting down'],
      [1001, 'server shutting down'],
      [1001, 'server shutting down'],
    ]);
    expect(report.ok).toBe(true);
    expect(report.http).toMatchObject({ webSocketsClosed: 3, webSocketsTerminated: 0, connectionsDestroyed: 0 });
  });

  it('closes the clients of a standalone WebSocketServer (its own port, no attached server) too', async () => {
    const lifecycle = createLifecycle({ signals: false, drainTimeoutMs: 400 });
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await once(wss, 'listening');
    lifecycle.webSockets(wss);
    const { closed } = await connect(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`);
    const report = await lifecycle.shutdown('test');
    expect(await closed).toEqual([1001, 'server shutting down']);
    expect(report.http).toMatchObject({ webSocketsClosed: 1, webSocketsTerminated: 0 });
    wss.close();
  });

  it('terminates a client that does not answer its close frame at drainTimeoutMs: ERR_LIFESPAN_WEBSOCKETS_TERMINATED', async () => {
    const lifecycle = createLifecycle({ signals: false, drainTimeoutMs: 300 });
    const { url } = await startHandedOver(lifecycle);
    const { client } = await connect(url);
    client.pause();
    const report = await lifecycle.shutdown('test');
    expect(report.ok).toBe(false);
    expect(report.errors.map((error) => error.code)).toEqual(['ERR_LIFESPAN_WEBSOCKETS_TERMINATED']);
    expect(report.http).toMatchObject({ webSocketsClosed: 1, webSocketsTerminated: 1, connectionsDestroyed: 0 });
    client.terminate();
  });

  it.each([
    ['a WebSocketServer without client tracking', new WebSocketServer({ noServer: true, clientTracking: false }), 'clientTracking: true'],
    ['a Socket.IO server', { engine: {}, sockets: {} }, 'pass io.engine'],
    ['undefined', undefined, 'undefined'],
  ])('throws ERR_LIFESPAN_INVALID_ARG for %s, naming what to pass', (_name, value, hint) => {
    const lifecycle = createLifecycle({ signals: false });
    let thrown: unknown;
    try {
      lifecycle.webSockets(value as never);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({ code: 'ERR_LIFESPAN_INVALID_ARG' });
    expect((thrown as Error).message).toContain(hint);
  });
});
