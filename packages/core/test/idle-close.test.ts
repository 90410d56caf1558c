import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { createLifecycle } from '@lifespan/core';

/** Keeps the event loop from turning, the way a busy process does. */
function busyFor(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // spin
  }
}

describe('lifecycle.attach(server) idle closing', () => {
  it('serves a request that reached an idle connection while the process was busy, instead of closing it unread', async () => {
    const lifecycle = createLifecycle({ signals: false, exit: false, idleGraceMs: 200 });
    const server = http.createServer((_req, res) => res.end('ok'));
    lifecycle.attach(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const socket = net.connect((server.address() as AddressInfo).port, '127.0.0.1');
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
});
