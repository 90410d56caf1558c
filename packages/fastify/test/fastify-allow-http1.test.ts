import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import Fastify from 'fastify';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import Fastify4 from 'fastify4';
import { lifecycle as lifecyclePlugin } from '@lifespan/fastify';

const tls = {
  key: readFileSync(join(__dirname, '..', '..', 'core', 'test', 'fixtures', 'localhost-key.pem')),
  cert: readFileSync(join(__dirname, '..', '..', 'core', 'test', 'fixtures', 'localhost-cert.pem')),
};

const majors: [string, (options: FastifyServerOptions) => FastifyInstance][] = [
  ['fastify 5', (options) => Fastify(options)],
  ['fastify 4', (options) => Fastify4(options as never) as unknown as FastifyInstance],
];

function get(agent: https.Agent, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    https
      .get({ host: '127.0.0.1', port, path: '/', agent, ca: tls.cert, servername: 'localhost' }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      })
      .on('error', reject);
  });
}

describe.each(majors)('the lifecycle plugin on %s with http2 and https.allowHTTP1', (_name, createApp) => {
  // Issue 18 item 2: Fastify's close waits for the server's 'close', which Node emits once every
  // connection is gone; the drain closed the listener without Node's closeIdleConnections(), so an
  // idle HTTP/1.1 keep-alive client held fastify.close() until it left by itself (Fastify's
  // keepAliveTimeout, 72 s).
  it('closes at once with an idle HTTP/1.1 keep-alive client, as Fastify does', async () => {
    const app = createApp({ http2: true, https: { allowHTTP1: true, ...tls } } as FastifyServerOptions);
    await app.register(lifecyclePlugin, { signals: false });
    app.get('/', async () => 'ok');
    await app.listen({ port: 0, host: '127.0.0.1' });
    const agent = new https.Agent({ keepAlive: true });
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      expect(await get(agent, (app.server.address() as AddressInfo).port)).toBe(200);
      // Generous: the point is "not the client's keep-alive", not a speed target.
      const outcome = await Promise.race([
        app.close().then(() => 'closed'),
        new Promise((resolve) => (timer = setTimeout(resolve, 5000, 'still waiting for the keep-alive client'))),
      ]);
      expect(outcome).toBe('closed');
    } finally {
      clearTimeout(timer);
      agent.destroy();
      await app.close();
    }
  }, 15_000);
});
