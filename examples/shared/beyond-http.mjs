// What an app runs besides HTTP requests, in every example: a WebSocket endpoint (ws), handed to the
// lifecycle so that each client gets a close frame at shutdown, and a background job loop that
// stops taking jobs when shutdown begins and finishes the one it holds inside the drain.
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocketServer } from 'ws';
import { emitEvent } from './report-events.mjs';

/** WebSockets on `server` at /ws: each client is greeted, and closed with 1001 at shutdown. */
export function serveWebSockets(lifecycle, server) {
  const wss = new WebSocketServer({ server, path: '/ws' });
  wss.on('connection', (socket) => socket.send('hello'));
  lifecycle.webSockets(wss);
}

/** A job loop: one job of JOB_MS (default 400 ms) after the other, until shutdown begins. */
export function runJobs(lifecycle, app) {
  const jobMs = Number(process.env.JOB_MS ?? 400);
  void lifecycle.run('report job', async (signal) => {
    for (let job = 1; !signal.aborted; job++) {
      emitEvent(app, { type: 'job', job, phase: 'start' });
      await sleep(jobMs);
      emitEvent(app, { type: 'job', job, phase: 'done' });
    }
  });
}
