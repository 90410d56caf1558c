// The load generator of the harness, in a process of its own (forked by test/load-harness.ts), so
// that no client shares an event loop with jest or with the server. It receives a plan over IPC
// (`{ type: 'start', tag, target, clients, maxDurationMs, requestTimeoutMs }`), runs every client loop
// against 127.0.0.1 until it is told to stop, its bound is reached or the server refuses it, and
// sends back one record per request (harness/client-record.mjs) with `{ type: 'result' }`.
// While running it sends `{ type: 'progress', ... }` counts, so the test knows when to signal.
import { runAgentLoop } from './clients/agent.mjs';
import { runH2Loop } from './clients/h2.mjs';
import { runRawLoop } from './clients/raw.mjs';
import { runUndiciLoop } from './clients/undici.mjs';
import { createRecords } from './client-record.mjs';

const loops = { agent: runAgentLoop, undici: runUndiciLoop, raw: runRawLoop, h2: runH2Loop };

function send(message) {
  return new Promise((resolve) => {
    if (!process.connected) return resolve();
    process.send(message, () => resolve());
  });
}

async function run(plan) {
  const records = createRecords(plan.tag);
  const deadline = performance.now() + plan.maxDurationMs;
  let stopped = false;
  process.on('message', (message) => {
    if (message?.type === 'stop') stopped = true;
  });
  const context = {
    target: plan.target,
    records,
    requestTimeoutMs: plan.requestTimeoutMs,
    running: () => !stopped && performance.now() < deadline,
  };
  let last = '';
  const progress = setInterval(() => {
    const counts = JSON.stringify(records.counts());
    if (counts === last) return;
    last = counts;
    void send({ type: 'progress', ...records.counts() });
  }, 10);
  const runs = [];
  for (const spec of plan.clients) {
    const loop = loops[spec.kind];
    if (loop === undefined) throw new Error(`unknown client kind ${spec.kind}`);
    for (let i = 0; i < (spec.count ?? 1); i++) runs.push(loop({ ...spec, name: `${spec.name ?? spec.kind}#${i + 1}` }, context));
  }
  await Promise.all(runs);
  clearInterval(progress);
  await send({ type: 'progress', ...records.counts() });
  await send({ type: 'result', requests: records.all() });
}

// Whatever happens, this process never outlives its test: gone with the IPC channel, and bounded.
process.on('disconnect', () => process.exit(0));
process.once('message', (message) => {
  if (message?.type !== 'start') return;
  setTimeout(() => process.exit(2), message.maxDurationMs + message.requestTimeoutMs + 5_000).unref();
  run(message).then(
    () => process.exit(0),
    (error) => {
      void send({ type: 'error', message: String(error?.stack ?? error) }).then(() => process.exit(1));
    },
  );
});
void send({ type: 'ready' });
