// Koa with Lifespan: a pool registered once from inside requests, a slow route, an SSE stream
// that ends on shutdown, probes, and a clean exit on SIGTERM.   node examples/koa/server.mjs
import Koa from 'koa';
import { PassThrough } from 'node:stream';
import { shutdownHooks } from '@lifespan/koa';
import { createPool } from '../shared/pool.mjs';
import { runJobs, serveWebSockets } from '../shared/beyond-http.mjs';
import { exitWithReport, reportEvents } from '../shared/report-events.mjs';

const pool = createPool();
const hooks = shutdownHooks({
  drainDelayMs: Number(process.env.DRAIN_DELAY_MS ?? 0),
  health: { readyPath: '/readyz', livePath: '/livez' },
  exit: exitWithReport('koa'),
});
hooks.lifecycle.registerStartup(() => pool.connect(), { name: 'db connect' });
reportEvents(hooks.lifecycle, 'koa');

const app = new Koa();
app.use(hooks);
app.use(async (ctx) => {
  if (ctx.path === '/') {
    // Runs on every request, registers once: the key makes it the same hook.
    ctx.registerShutdown(() => pool.end(), { key: 'db-pool', name: 'db pool' });
    ctx.body = (await pool.query('select 42')).rows[0];
  } else if (ctx.path === '/slow') {
    await new Promise((resolve) => setTimeout(resolve, Number(ctx.query.ms ?? 1000)));
    ctx.body = { slow: true };
  } else if (ctx.path === '/events') {
    const stream = new PassThrough();
    ctx.type = 'text/event-stream';
    ctx.set('cache-control', 'no-store');
    ctx.body = stream;
    const tick = setInterval(() => stream.write(`data: ${Date.now()}\n\n`), 200);
    ctx.shutdownSignal.addEventListener('abort', () => {
      clearInterval(tick);
      stream.end('event: bye\ndata: shutting down\n\n');
    });
    ctx.req.on('close', () => clearInterval(tick));
  }
});

const server = app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  process.send?.({ port: server.address().port });
});
hooks.lifecycle.attach(server);
serveWebSockets(hooks.lifecycle, server);
runJobs(hooks.lifecycle, 'koa');
