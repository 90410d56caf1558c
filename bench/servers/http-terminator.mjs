// http-terminator with its README defaults (gracefulTerminationTimeout 5000 ms); SIGTERM -> terminate() -> exit 0.
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
