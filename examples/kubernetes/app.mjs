// The app the Deployment runs: Express with Lifespan, probes on /readyz and /livez.
import express from 'express';
import { shutdownHooks } from '@lifespan/express';

const hooks = shutdownHooks({
  drainDelayMs: Number(process.env.DRAIN_DELAY_MS ?? 5000),
  drainTimeoutMs: 10_000,
  hookTimeoutMs: 5_000,
  timeoutMs: 25_000,
  health: { readyPath: '/readyz', livePath: '/livez' },
});
const app = express();
app.use(hooks);
app.get('/', (req, res) => {
  req.registerShutdown(() => new Promise((resolve) => setTimeout(resolve, 100)), { key: 'db-pool', name: 'db pool' });
  res.json({ ok: true, pid: process.pid });
});
hooks.lifecycle.attach(app.listen(Number(process.env.PORT ?? 8080)));
