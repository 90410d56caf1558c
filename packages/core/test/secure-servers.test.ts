import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createLifecycle } from '@lifespan/core';

const tls = {
  key: readFileSync(join(__dirname, 'fixtures', 'localhost-key.pem')),
  cert: readFileSync(join(__dirname, 'fixtures', 'localhost-cert.pem')),
};

function get(agent: https.Agent, port: number, path: string): Promise<{ status: number; connection: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .get({ host: '127.0.0.1', port, path, agent, ca: tls.cert, servername: 'localhost' }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body }));
      })
      .on('error', reject);
  });
}

describe('lifecycle.attach(httpsServer)', () => {
  it('answers an in-flight request with Connection: close and closes idle TLS connections', async () => {
    const lifecycle = createLifecycle({ signals: false });
    const server = https.createServer(tls, (req, res) => {
      setTimeout(() => res.end(req.url), req.url === '/slow' ? 150 : 0);
    });
    lifecycle.attach(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const idleAgent = new https.Agent({ keepAlive: true });
    const busyAgent = new https.Agent({ keepAlive: true });
    try {
      expect((await get(idleAgent, port, '/')).connection).toBe('keep-alive');
      // The client can read a TLS response before the server has seen its write complete.
      while (lifecycle.inFlight !== 0) await new Promise((resolve) => setTimeout(resolve, 5));
      const slow = get(busyAgent, port, '/slow');
      while (lifecycle.inFlight === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      const report = lifecycle.shutdown('test');
      expect(await slow).toEqual({ status: 200, connection: 'close', body: '/slow' });
      const result = await report;
      expect(result.ok).toBe(true);
      expect(result.http).toMatchObject({ inFlightAtStart: 1, abortedRequests: 0, connectionsDestroyed: 0 });
      expect(result.http.idleConnectionsClosed).toBeGreaterThanOrEqual(1);
      expect(server.listening).toBe(false);
    } finally {
      idleAgent.destroy();
      busyAgent.destroy();
    }
  });
});

/** A subclass of node:http2's server: told apart by the documented updateSettings(), not by its class name. */
function createAppServer(options: http2.SecureServerOptions): http2.Http2SecureServer {
  const Base = Object.getPrototypeOf(http2.createSecureServer(options)).constructor as new (options: http2.SecureServerOptions) => http2.Http2SecureServer;
  class AppServer extends Base {}
  return new AppServer(options);
}

describe('lifecycle.attach(http2SecureServer)', () => {
  it.each([
    ['http2.createSecureServer()', http2.createSecureServer],
    ['a subclass of its server class', createAppServer],
  ])('lets an open stream finish, sends GOAWAY and ends the session: %s', async (_name, create) => {
    const lifecycle = createLifecycle({ signals: false, idleGraceMs: 5 });
    const server = create(tls);
    const arrived = once(server, 'stream');
    server.on('stream', (received) => {
      // @types/node 26 types a server's 'stream' as the base Http2Stream (it has no respond()); a
      // server only ever emits ServerHttp2Stream, as @types/node 20 says.
      const stream = received as http2.ServerHttp2Stream;
      setTimeout(() => {
        stream.respond({ ':status': 200 });
        stream.end('done');
      }, 150);
    });
    lifecycle.attach(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const client = http2.connect(`https://localhost:${port}`, { ca: tls.cert });
    try {
      const goaway = once(client, 'goaway');
      const stream = client.request({ ':path': '/' });
      stream.setEncoding('utf8');
      let body = '';
      stream.on('data', (chunk: string) => (body += chunk));
      const ended = once(stream, 'end');
      await arrived;
      const report = lifecycle.shutdown('test');
      await goaway;
      await ended;
      expect(body).toBe('done');
      const result = await report;
      expect(result.ok).toBe(true);
      expect(result.http.connectionsDestroyed).toBe(0);
    } finally {
      client.destroy();
    }
  });

  it('destroys a session whose stream is never answered at the drain timeout, and reports it: not ok', async () => {
    const lifecycle = createLifecycle({ signals: false, exit: false, drainTimeoutMs: 300 });
    const server = http2.createSecureServer(tls);
    const arrived = once(server, 'stream');
    lifecycle.attach(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const client = http2.connect(`https://localhost:${port}`, { ca: tls.cert });
    client.on('error', () => undefined);
    try {
      const stream = client.request({ ':path': '/' });
      stream.on('error', () => undefined);
      await arrived;
      const report = await lifecycle.shutdown('test');
      expect(report.ok).toBe(false);
      expect(report.http.connectionsDestroyed).toBe(1);
      expect(report.errors.map((error) => error.code)).toEqual(['ERR_LIFESPAN_CONNECTIONS_DESTROYED']);
    } finally {
      client.destroy();
    }
  });
});
