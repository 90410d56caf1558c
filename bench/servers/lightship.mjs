// lightship with its README setup (outside Kubernetes: shutdownDelay 0, probe server on a random port):
// registerShutdownHandler(() => server.close()), signalReady() once listening.
import http from 'node:http';
import { createLightship } from 'lightship';
import { announce, handler, recordConnections } from './common.mjs';

const lightship = await createLightship();
const server = http.createServer(handler);
lightship.registerShutdownHandler(() => {
  server.close();
});
recordConnections(server);
server.listen(0, '127.0.0.1', () => {
  lightship.signalReady();
  announce(server.address().port);
});
