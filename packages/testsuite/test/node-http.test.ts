import { once } from 'node:events';
import http from 'node:http';
import { PassThrough } from 'node:stream';
import { createHealthProbe, defineRequestMembers } from '@lifespan/core/http';
import type { ShutdownRequestMembers } from '@lifespan/core/http';
import { defineAdapterSuite } from '@lifespan/testsuite';

// The suite against a bare node:http app wired to core directly: proves the suite asks nothing a
// framework adds, so a failure in an adapter's run points at that adapter.
type Req = http.IncomingMessage & ShutdownRequestMembers;

defineAdapterSuite('node:http', async ({ lifecycle, health, record, released }) => {
  // One request class per app, as a framework has one request prototype per app.
  class SuiteRequest extends http.IncomingMessage {}
  defineRequestMembers(SuiteRequest.prototype, lifecycle);
  const probe = createHealthProbe(lifecycle, health);
  const routes: Record<string, (req: Req, res: http.ServerResponse) => void> = {
    '/': (_req, res) => void res.end('ok'),
    '/register': (req, res) => {
      req.registerShutdown(() => record('hook'), { key: 'register', name: 'register' });
      req.onShutdown(() => record('scope'));
      res.end('registered');
    },
    '/slow': (req, res) => {
      req.onShutdown(() => record('slow:scope'));
      void released().then(() => res.end('slow'));
    },
    '/assign': (req, res) => {
      const before = typeof req.shutdownSignal;
      const members = req as unknown as Record<'shutdownSignal' | 'lifecycle', unknown>;
      members.shutdownSignal = 'assigned';
      members.lifecycle = 'assigned';
      res.end(`${before}:${members.shutdownSignal === 'assigned' && members.lifecycle === 'assigned' ? 'assigned' : 'kept'}`);
    },
    '/sse': (req, res) => {
      const stream = new PassThrough();
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      stream.pipe(res);
      stream.write('data: open\n\n');
      req.shutdownSignal.addEventListener('abort', () => stream.end('data: bye\n\n'), { once: true });
    },
  };
  const server = http.createServer({ IncomingMessage: SuiteRequest }, (req, res) => {
    const answer = probe?.(req.method, req.url);
    if (answer !== undefined) return void answer.then((probed) => res.writeHead(probed.status, probed.headers).end(probed.body));
    lifecycle.trackRequest(req, res);
    const route = routes[req.url ?? '/'];
    if (route === undefined) return void res.writeHead(404).end();
    route(req as Req, res);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  lifecycle.attach(server);
  return { server, close: () => new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))) };
});
