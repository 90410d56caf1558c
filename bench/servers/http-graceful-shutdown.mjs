// http-graceful-shutdown with its README defaults (SIGINT SIGTERM, timeout 30000 ms, forceExit).
import http from 'node:http';
import gracefulShutdown from 'http-graceful-shutdown';
import { announce, handler, recordConnections } from './common.mjs';

const server = http.createServer(handler);
gracefulShutdown(server);
recordConnections(server);
server.listen(0, '127.0.0.1', () => announce(server.address().port));
