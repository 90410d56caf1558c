// What every contender serves, and how it tells the benchmark its port.
// `/slow` answers after 1 s, anything else at once; responses are small and 200.
export const SLOW_MS = 1000;

/** The plain node:http request handler shared by the contenders built on node:http. */
export function handler(req, res) {
  if (req.url === '/slow') {
    setTimeout(() => res.end('slow'), SLOW_MS);
    return;
  }
  res.end('ok');
}

/** Sends the port over IPC, then drops the channel so that it cannot keep the process alive. */
export function announce(port) {
  process.send({ port }, () => process.disconnect());
}
