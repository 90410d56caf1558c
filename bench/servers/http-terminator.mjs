// http-terminator with its README defaults (gracefulTerminationTimeout 1000 ms: its code's default; its README once said 5000); SIGTERM -> terminate() -> exit 0.
import http from 'node:http';
import { createHttpTerminator } from 'http-terminator';
import { announce, handler, keepAlive, recordConnections } from './common.mjs';

const server = http.createServer(handler);
const terminator = createHttpTerminator({ server });
process.on('SIGTERM', async () => {
  await terminator.terminate();
  process.exit(0);
});
keepAlive(server);
recordConnections(server);
server.listen(0, '127.0.0.1', () => announce(server.address().port));
