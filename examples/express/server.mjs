// Express with Lifespan: a pool registered once from inside requests, a slow route, an SSE stream
// that ends on shutdown, probes, and a clean exit on SIGTERM.   node examples/express/server.mjs
import express from 'express';
import { shutdownHooks } from '@lifespan/express';
import { createPool } from '../shared/pool.mjs';
import { runJobs, serveWebSockets } from '../shared/beyond-http.mjs';
import { exitWithReport, reportEvents } from '../shared/report-events.mjs';

const pool = createPool();
const hooks = shutdownHooks({
  drainDelayMs: Number(process.env.DRAIN_DELAY_MS ?? 0),
  health: { readyPath: '/readyz', livePath: '/livez' },
  exit: exitWithReport('express'),
});
hooks.lifecycle.registerStartup(() => pool.connect(), { name: 'db connect' });
reportEvents(hooks.lifecycle, 'express');

const app = express();
app.use(hooks);
app.get('/', async (req, res) => {
  // Runs on every request, registers once: the key makes it the same hook.
  req.registerShutdown(() => pool.end(), { key: 'db-pool', name: 'db pool' });
  res.json((await pool.query('select 42')).rows[0]);
});
app.get('/slow', (req, res) => {
  setTimeout(() => res.json({ slow: true }), Number(req.query.ms ?? 1000));
});
app.get('/events', (req, res) => {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
  const tick = setInterval(() => res.write(`data: ${Date.now()}\n\n`), 200);
  req.shutdownSignal.addEventListener('abort', () => {
    clearInterval(tick);
    res.end('event: bye\ndata: shutting down\n\n');
  });
  req.on('close', () => clearInterval(tick));
});

const server = app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  process.send?.({ port: server.address().port });
});
hooks.lifecycle.attach(server);
serveWebSockets(hooks.lifecycle, server);
runJobs(hooks.lifecycle, 'express');
