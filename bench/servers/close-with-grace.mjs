// close-with-grace with its README defaults (delay 10000 ms); the callback closes the server, the library exits.
import http from 'node:http';
import closeWithGrace from 'close-with-grace';
import { announce, handler, recordConnections } from './common.mjs';

const server = http.createServer(handler);
closeWithGrace(async () => {
  await new Promise((resolve) => server.close(resolve));
});
recordConnections(server);
server.listen(0, '127.0.0.1', () => announce(server.address().port));
