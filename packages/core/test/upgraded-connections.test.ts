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
