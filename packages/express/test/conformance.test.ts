import { once } from 'node:events';
import type { Server } from 'node:http';
import express from 'express';
import express4 from 'express4';
import { defineAdapterSuite } from '@lifespan/testsuite';
import type { CreateAdapterServer } from '@lifespan/testsuite';
import { shutdownHooks } from '@lifespan/express';

function factory(createApp: typeof express): CreateAdapterServer {
  return async ({ lifecycle, health, record, released }) => {
    const app = createApp();
    app.use(shutdownHooks({ lifecycle, health }));
    app.get('/', (_req, res) => void res.send('ok'));
    app.get('/register', (req, res) => {
      req.registerShutdown(() => record('hook'), { key: 'register', name: 'register' });
      req.onShutdown(() => record('scope'));
      res.send('registered');
    });
    app.get('/slow', (req, res) => {
      req.onShutdown(() => record('slow:scope'));
      void released().then(() => res.send('slow'));
    });
    app.get('/sse', (req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: open\n\n');
      req.shutdownSignal.addEventListener('abort', () => res.end('data: bye\n\n'), { once: true });
    });
    app.get('/assign', (req, res) => {
      const before = typeof req.shutdownSignal;
      const members = req as unknown as Record<'shutdownSignal' | 'lifecycle', unknown>;
      members.shutdownSignal = 'assigned';
      members.lifecycle = 'assigned';
      res.send(`${before}:${members.shutdownSignal === 'assigned' && members.lifecycle === 'assigned' ? 'assigned' : 'kept'}`);
    });
    const server: Server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    lifecycle.attach(server);
    return { server, close: () => new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))) };
  };
}

defineAdapterSuite('express 5', factory(express));
defineAdapterSuite('express 4', factory(express4));
