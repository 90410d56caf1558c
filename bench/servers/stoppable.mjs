// stoppable with its README defaults (grace Infinity); SIGTERM -> server.stop() -> exit 0.
import http from 'node:http';
import stoppable from 'stoppable';
import { announce, handler, keepAlive, recordConnections } from './common.mjs';

const server = stoppable(http.createServer(handler));
process.on('SIGTERM', () => server.stop(() => process.exit(0)));
keepAlive(server);
recordConnections(server);
server.listen(0, '127.0.0.1', () => announce(server.address().port));
