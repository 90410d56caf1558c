// Fastify 5 built-in close with defaults (forceCloseConnections 'idle', return503OnClosing): SIGTERM -> fastify.close() -> exit 0.
import Fastify from 'fastify';
import { SLOW_MS, announce, recordConnections } from './common.mjs';

const app = Fastify();
app.get('/', async () => 'ok');
app.get('/slow', async () => {
  await new Promise((resolve) => setTimeout(resolve, SLOW_MS));
  return 'slow';
});
process.on('SIGTERM', async () => {
  await app.close();
  process.exit(0);
});
recordConnections(app.server);
await app.listen({ port: 0, host: '127.0.0.1' });
announce(app.server.address().port);
