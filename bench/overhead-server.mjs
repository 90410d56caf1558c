// One server of the overhead benchmark: `node overhead-server.mjs <framework> <bare|adapter>`.
// The route answers "ok"; with the adapter it first calls registerShutdown(fn, { key }), as a
// request handler that lazily creates a pool would. The parent asks for process.cpuUsage() deltas
// over IPC around each measured batch of requests.
import http from 'node:http';

const [framework, variant] = process.argv.slice(2);
const adapter = variant === 'adapter';
const pool = { end: () => undefined };
const closePool = () => pool.end();
const hookOptions = { key: 'pg-pool' };

// `imported` (bench/instructions.mjs): the bare app with the adapter's module loaded but not used.
// Both modules load before the app is built, as an app's own imports do: loading the adapter after
// the Fastify app was built made every request ~2% dearer in instructions by itself.
const adapterModules = { node: '@lifespan/core', express: '@lifespan/express', koa: '@lifespan/koa', fastify: '@lifespan/fastify' };
const frameworkModules = { node: 'node:http', express: 'express', koa: 'koa', fastify: 'fastify' };
// BENCH_CONTEXT (bench/instructions.mjs): modules an app might load too, imported first. Which code
// is loaded changes V8's optimization decisions in node:http's own hot functions, and with them the
// instructions per request by a percent or two either way; several contexts average that out.
for (const name of process.env.BENCH_CONTEXT?.split(',').filter(Boolean) ?? []) await import(name).catch(() => undefined);
const framework_ = await import(frameworkModules[framework]).catch(() => undefined);
const lifespan = adapter || variant === 'imported' ? await import(adapterModules[framework]).catch(() => undefined) : undefined;

async function node() {
  if (!adapter) return http.createServer((req, res) => res.end('ok'));
  const { createLifecycle } = lifespan;
  const lifecycle = createLifecycle({ signals: false });
  const server = http.createServer((req, res) => {
    lifecycle.registerShutdown(closePool, hookOptions);
    res.end('ok');
  });
  lifecycle.attach(server);
  return server;
}

async function express() {
  const { default: createApp } = framework_;
  const app = createApp();
  if (adapter) {
    const { shutdownHooks } = lifespan;
    const hooks = shutdownHooks({ signals: false });
    app.use(hooks);
    app.get('/', (req, res) => {
      req.registerShutdown(closePool, hookOptions);
      res.send('ok');
    });
    // As the README shows: with its server attached, the middleware leaves the router after the
    // first request. BENCH_LAZY=1 measures the lazily attached form, which keeps it.
    const server = http.createServer(app);
    if (process.env.BENCH_LAZY === undefined) hooks.lifecycle.attach(server);
    return server;
  } else {
    // `empty` (bench/instructions.mjs): what Express charges for any app.use() layer, for reference.
    if (variant === 'empty') app.use((_req, _res, next) => next());
    app.get('/', (req, res) => res.send('ok'));
  }
  return http.createServer(app);
}

async function koa() {
  const { default: Koa } = framework_;
  const app = new Koa();
  if (adapter) {
    const { shutdownHooks } = lifespan;
    const hooks = shutdownHooks({ signals: false });
    app.use(hooks);
    app.use((ctx) => {
      ctx.registerShutdown(closePool, hookOptions);
      ctx.body = 'ok';
    });
    const server = http.createServer(app.callback());
    if (process.env.BENCH_LAZY === undefined) hooks.lifecycle.attach(server);
    return server;
  } else {
    // `empty` (bench/instructions.mjs): what Koa charges for any extra middleware, for reference.
    if (variant === 'empty') app.use((_ctx, next) => next());
    app.use((ctx) => {
      ctx.body = 'ok';
    });
  }
  return http.createServer(app.callback());
}

async function fastify() {
  const { default: Fastify } = framework_;
  const app = Fastify();
  if (adapter) {
    const { lifecycle } = lifespan;
    await app.register(lifecycle, { signals: false });
    // BENCH_PLUGIN_ONLY (diagnosis): the plugin without the call, to split the cost in two. Read
    // once: a process.env lookup per request cost ~3,000 instructions, more than the adapter itself.
    const call = process.env.BENCH_PLUGIN_ONLY === undefined;
    app.get('/', async (request) => {
      if (call) request.registerShutdown(closePool, hookOptions);
      return 'ok';
    });
  } else {
    app.get('/', async () => 'ok');
  }
  await app.listen({ port: 0, host: '127.0.0.1' });
  return app.server;
}

const factories = { node, express, koa, fastify };

let server;
try {
  server = await factories[framework]();
} catch (error) {
  process.send({ error: `${error.code ?? ''} ${error.message}`.trim() });
  process.exit(2);
}
if (!server.listening) await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));

// bench/instructions.mjs runs this server under valgrind and needs it to stop by itself after
// SERVE_COUNT responses (bare and adapter alike pay for this one listener).
const serveCount = Number(process.env.SERVE_COUNT ?? 0);
if (serveCount > 0) {
  let served = 0;
  const countFinish = () => {
    if (++served === serveCount) setImmediate(() => process.exit(0));
  };
  server.on('request', (_req, res) => res.on('finish', countFinish));
}

let begun;
process.on('message', (message) => {
  if (message === 'begin') {
    begun = process.cpuUsage();
    process.send({ begun: true });
  } else if (message === 'end') {
    const used = process.cpuUsage(begun);
    process.send({ cpuMicros: used.user + used.system });
  }
});
process.send({ port: server.address().port });
