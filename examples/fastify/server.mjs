// Fastify with Lifespan: a pool registered once, a slow route, an SSE stream that ends on
// shutdown, probes, and one shutdown whether SIGTERM or fastify.close() comes first.
// node examples/fastify/server.mjs
import Fastify from 'fastify';
import { lifecycle } from '@lifespan/fastify';
import { createPool } from '../shared/pool.mjs';
import { runJobs, serveWebSockets } from '../shared/beyond-http.mjs';
import { exitWithReport, reportEvents } from '../shared/report-events.mjs';

const pool = createPool();
const app = Fastify();
await app.register(lifecycle, {
  drainDelayMs: Number(process.env.DRAIN_DELAY_MS ?? 0),
  health: { readyPath: '/readyz', livePath: '/livez' },
  exit: exitWithReport('fastify'),
});
app.registerStartup(() => pool.connect(), { name: 'db connect' });
app.registerShutdown(() => pool.end(), { key: 'db-pool', name: 'db pool' });
reportEvents(app.lifecycle, 'fastify');

app.get('/', async () => (await pool.query('select 42')).rows[0]);
app.get('/slow', async (request) => {
  await new Promise((resolve) => setTimeout(resolve, Number(request.query.ms ?? 1000)));
  return { slow: true };
});
app.get('/events', (request, reply) => {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
  const tick = setInterval(() => res.write(`data: ${Date.now()}\n\n`), 200);
  request.shutdownSignal.addEventListener('abort', () => {
    clearInterval(tick);
    res.end('event: bye\ndata: shutting down\n\n');
  });
  request.raw.on('close', () => clearInterval(tick));
});

serveWebSockets(app.lifecycle, app.server);
runJobs(app.lifecycle, 'fastify');
const address = await app.listen({ port: Number(process.env.PORT ?? 3000), host: '127.0.0.1' });
process.send?.({ port: Number(new URL(address).port) });
