import { get } from './clients';
import type { ClientResponse } from './clients';
import { disposableAgent } from './disposable-agent';
import { startFixture } from './start-fixture';

const describePosix = process.platform === 'win32' ? describe.skip : describe;

jest.setTimeout(30_000);

// Issue 13, Tests: every way a shutdown can begin, mixed in random order and timing. Each mix is
// one cluster worker (fixtures/trigger-mix.mjs) with two requests in flight; its triggers are sent
// within 200 ms, while those requests keep the drain going for 800 ms, so all of them meet the one
// shutdown. LIFESPAN_MIX_SEED replays a run; the seed is in the describe's title.
type Trigger = 'SIGTERM' | 'server-close' | 'lifecycle-shutdown' | 'fastify-close' | 'disconnect' | 'pm2';
type Framework = 'fastify' | 'express';

interface Step {
  readonly trigger: Trigger;
  /** Wait after the previous step. */
  readonly delayMs: number;
}

interface Mix {
  readonly framework: Framework;
  readonly steps: readonly Step[];
}

const mixCount = 24;
const seed = Number(process.env['LIFESPAN_MIX_SEED'] ?? Math.floor(Math.random() * 2 ** 32));
const processTriggers: ReadonlySet<Trigger> = new Set(['SIGTERM', 'disconnect', 'pm2']);

/** mulberry32: small, seedable, good enough to pick mixes. */
function random(state: number): () => number {
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

function mixes(count: number): Mix[] {
  const next = random(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
  return Array.from({ length: count }, () => {
    const framework = pick<Framework>(['fastify', 'express']);
    const triggers: Trigger[] = ['SIGTERM', 'SIGTERM', 'server-close', 'lifecycle-shutdown', 'disconnect', 'pm2', ...(framework === 'fastify' ? (['fastify-close'] as const) : [])];
    const length = 1 + Math.floor(next() * 3);
    const steps: Step[] = [];
    for (let i = 0; i < length; i++) {
      const trigger = pick(triggers);
      // worker.disconnect() twice while a request is in flight crashes the worker in Node itself,
      // without Lifespan (cluster's child calls process.disconnect() twice: ERR_IPC_DISCONNECTED).
      if (trigger === 'disconnect') triggers.splice(triggers.indexOf('disconnect'), 1);
      steps.push({ trigger, delayMs: i === 0 ? 0 : Math.floor(next() * 100) });
    }
    return { framework, steps };
  });
}

function describeMix(mix: Mix): string {
  return `${mix.framework}: ${mix.steps.map((step, i) => (i === 0 ? step.trigger : `+${step.delayMs} ms ${step.trigger}`)).join(', ')}`;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describePosix(`a random mix of shutdown triggers in a real process (seed ${seed})`, () => {
  it.each(mixes(mixCount).map((mix, i) => [`#${i + 1} ${describeMix(mix)}`, mix] as const))(
    '%s: each hook runs once, the exit code is the expected one, no request in flight is lost',
    async (_name, mix) => {
      const primary = await startFixture('trigger-mix.mjs', { FRAMEWORK: mix.framework });
      const workerPid = primary.events('spawned')[0]!['pid'] as number;
      using agent = disposableAgent();
      const requests = [0, 1].map(() => get(`${primary.url}/slow`, agent).then((response): ClientResponse | string => response, (error: { code?: string }) => error.code ?? String(error)));
      await primary.until(() => primary.events('arrived').length === 2, 'both requests to arrive');

      let signals = 0;
      for (const step of mix.steps) {
        await sleep(step.delayMs);
        if (step.trigger !== 'SIGTERM') {
          // A forced exit may have ended the worker, and so the primary, already: nothing left to tell.
          if (primary.child.connected) primary.child.send(step.trigger, () => undefined);
        } else {
          try {
            process.kill(workerPid, 'SIGTERM');
            signals++;
          } catch {
            // Gone already: it never got this signal.
          }
        }
      }
      // Only a signal that follows another one forces the exit (a disconnect or PM2's message first
      // makes the SIGTERM after it a first signal).
      const forced = signals >= 2;
      const exits = mix.steps.some((step) => processTriggers.has(step.trigger));
      const hooks = ['drain:request', 'close:server', ...(mix.framework === 'fastify' ? ['onClose:user'] : [])];

      if (!exits) {
        // A shutdown the app's own code began never ends the process: it lives on until its primary disconnects it.
        await primary.until(() => primary.lines().includes('close:server'), 'the close hooks to run');
        await sleep(300);
        expect(primary.lines().filter((line) => line.startsWith('worker-exit:'))).toEqual([]);
        primary.child.send('disconnect');
      }
      expect(await primary.exited).toEqual({ code: 0, signal: null });
      const lines = primary.lines().filter((line) => line !== 'exit:natural');
      expect(lines.filter((line) => line.startsWith('worker-exit:'))).toEqual([`worker-exit:${forced ? 1 : 0}:null`]);
      for (const hook of hooks) {
        const runs = lines.filter((line) => line === hook).length;
        if (forced) expect(runs).toBeLessThanOrEqual(1);
        else expect({ hook, runs }).toEqual({ hook, runs: 1 });
      }
      const answered = await Promise.all(requests);
      for (const response of answered) {
        if (forced && typeof response === 'string') continue;
        expect(response).toMatchObject({ status: 200, body: 'slow' });
      }
    },
  );
});
