// What a natural exit costs after N connections are destroyed, on plain node:http with no library:
// the server destroys its N idle keep-alive connections in one loop and closes its listener, then
// either calls process.exit(0) at once (what http-terminator, stoppable and plain `server.close()`
// do in scale.mjs) or lets the event loop empty (what Lifespan does after the report, so that a
// piped stdout or a transport is not cut). The loop runs the 'close' callback of every destroyed
// socket before it empties; process.exit() skips them. Diagnosis for bench/README.md, not a contender.
//
//   node bench/scale/natural-exit.mjs [N=10000] [rounds=3]
import http from 'node:http';
import net from 'node:net';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const [role, ...rest] = process.argv.slice(2);

if (role === 'client') {
  // N keep-alive connections, each answered one request, then idle.
  const [portText, countText] = rest;
  const port = Number(portText);
  const count = Number(countText);
  let answered = 0;
  const open = (i) => {
    if (i >= count) return;
    const socket = net.connect(port, '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'));
    socket.on('error', () => {});
    socket.once('data', () => {
      if (++answered === count) process.send('ready');
      open(i + 200);
    });
  };
  for (let i = 0; i < 200; i++) open(i);
} else if (role === 'server') {
  const [mode, countText] = rest;
  const server = http.createServer((req, res) => res.end('ok'));
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => {
    const client = fork(fileURLToPath(import.meta.url), ['client', String(server.address().port), countText]);
    client.once('message', () => {
      setTimeout(() => {
        client.kill();
        client.disconnect();
        const cpu = process.cpuUsage();
        const start = performance.now();
        process.on('exit', () => {
          const used = process.cpuUsage(cpu);
          process.send({ mode, userMs: used.user / 1000, systemMs: used.system / 1000, wallMs: performance.now() - start });
        });
        // Node's own one-loop destroy of every connection (public since Node 18.2).
        server.closeAllConnections();
        server.close();
        if (mode === 'exit') process.exit(0);
      }, 300);
    });
  });
} else {
  // Only here: lib.mjs installs the parent's signal and exit handlers, which the children must not have.
  const { median, ownChild } = await import('../lib.mjs');
  const count = Number(role ?? 10_000);
  const rounds = Number(rest[0] ?? 3);
  const results = { exit: [], natural: [] };
  for (let round = 0; round < rounds; round++) {
    for (const mode of round % 2 === 0 ? ['exit', 'natural'] : ['natural', 'exit']) {
      const child = ownChild(fork(fileURLToPath(import.meta.url), ['server', mode, String(count)]));
      const sample = await new Promise((resolve) => child.once('message', resolve));
      await new Promise((resolve) => child.once('exit', resolve));
      results[mode].push(sample.userMs + sample.systemMs);
      console.log(JSON.stringify({ round: round + 1, ...sample }));
    }
  }
  console.log(`N=${count}: CPU from the destroy loop to exit, median of ${rounds}: process.exit() ${median(results.exit).toFixed(1)} ms, natural exit ${median(results.natural).toFixed(1)} ms`);
}
