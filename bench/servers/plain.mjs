// Plain node:http: SIGTERM -> server.close() -> exit 0 (Node 19+ closes idle keep-alive connections in close()).
import http from 'node:http';
import { announce, handler, keepAlive, recordConnections } from './common.mjs';

const server = http.createServer(handler);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
keepAlive(server);
recordConnections(server);
server.listen(0, '127.0.0.1', () => announce(server.address().port));
