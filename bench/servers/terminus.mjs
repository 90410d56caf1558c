// @godaddy/terminus with its README defaults (signal SIGTERM, timeout 1000 ms); it re-raises the signal to exit.
import http from 'node:http';
import terminus from '@godaddy/terminus';
import { announce, handler, recordConnections } from './common.mjs';

const server = http.createServer(handler);
terminus.createTerminus(server, { signal: 'SIGTERM', onSignal: async () => undefined });
recordConnections(server);
server.listen(0, '127.0.0.1', () => announce(server.address().port));
