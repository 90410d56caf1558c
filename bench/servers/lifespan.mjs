// Lifespan: built @lifespan/core on plain node:http, attach() with default options (SIGTERM/SIGINT, exit code from the report).
import http from 'node:http';
import { createLifecycle } from '@lifespan/core';
import { announce, handler, keepAlive, recordConnections } from './common.mjs';

const server = http.createServer(handler);
createLifecycle().attach(server);
keepAlive(server);
recordConnections(server);
server.listen(0, '127.0.0.1', () => announce(server.address().port));
