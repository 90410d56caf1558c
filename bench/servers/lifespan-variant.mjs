// Experiment only (not a contender): the Lifespan server importing core from BENCH_LIFESPAN_CORE
// (a directory holding a modified copy of dist/esm), to compare drain strategies side by side.
import http from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { announce, handler, keepAlive, recordConnections } from './common.mjs';

const { createLifecycle } = await import(pathToFileURL(join(process.env.BENCH_LIFESPAN_CORE, 'index.js')).href);
const server = http.createServer(handler);
createLifecycle(process.env.BENCH_LIFESPAN_OPTIONS ? JSON.parse(process.env.BENCH_LIFESPAN_OPTIONS) : undefined).attach(server);
keepAlive(server);
recordConnections(server);
server.listen(0, '127.0.0.1', () => announce(server.address().port));
