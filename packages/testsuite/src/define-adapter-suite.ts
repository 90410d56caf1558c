import { EventEmitter } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import type { Lifecycle, LifecycleOptions, ShutdownReport } from '@lifespan/core';
import { createTestLifecycle } from '@lifespan/core/testing';
import type { ProcessLike } from '@lifespan/core/testing';
import type { HealthRoutesOptions } from '@lifespan/core/http';
import { get } from './get.js';
import { shutdownWithRequestInFlight } from './shutdown-with-request-in-flight.js';

/** What the suite hands an adapter's factory: the app must use exactly these. */
export interface SuiteContext {
  /** The lifecycle to pass to the adapter as `{ lifecycle }` (it runs on a fake process). */
  readonly lifecycle: Lifecycle;
  /** The probe routes to pass to the adapter as `{ health }`. */
  readonly health: HealthRoutesOptions;
  /** Routes call it to tell the suite what ran. */
  record(event: string): void;
  /** `GET /slow` awaits it before it answers. */
  released(): Promise<void>;
}

/**
 * A running app built by an adapter's factory. Its routes:
 * - `GET /`: 200 `ok`.
 * - `GET /register`: `registerShutdown(() => record('hook'), { key: 'register', name: 'register' })`,
 *   `onShutdown(() => record('scope'))`, then 200.
 * - `GET /slow`: `onShutdown(() => record('slow:scope'))`, awaits `released()`, then 200 `slow`.
 * - `GET /sse`: 200 `text/event-stream`, writes `data: open\n\n`, and on `shutdownSignal` abort ends
 *   with `data: bye\n\n`.
 * - `GET /assign`: reads `typeof shutdownSignal`, assigns the string `'assigned'` to every member the
 *   adapter puts on its request objects that a middleware might set (`shutdownSignal`, and
 *   `lifecycle` where the request has it), and answers `<typeof before>:assigned` if each reads back
 *   as assigned (`<typeof before>:kept` otherwise).
 */
export interface AdapterServer {
  /** The node server, listening on 127.0.0.1 and attached to the lifecycle. */
  readonly server: http.Server;
  /** The framework's own close: `server.close()` for Express and Koa, `fastify.close()` for Fastify. */
  close(): Promise<void>;
}

/** Builds one app on the given lifecycle and health options, listening on 127.0.0.1, port 0. */
export type CreateAdapterServer = (context: SuiteContext) => Promise<AdapterServer>;

interface FakeProcess extends ProcessLike {
  readonly exited: Promise<number | undefined>;
  emit(event: string, ...args: unknown[]): boolean;
}

interface Harness {
  readonly lifecycle: Lifecycle;
  readonly server: http.Server;
  readonly url: string;
  readonly calls: string[];
  readonly process: FakeProcess;
  close(): Promise<void>;
  release(): void;
  count(event: string): number;
}

const health = { readyPath: '/readyz', livePath: '/livez' } as const;

function fakeProcess(): FakeProcess {
  const emitter = new EventEmitter();
  let exit!: (code: number | undefined) => void;
  const exited = new Promise<number | undefined>((resolve) => (exit = resolve));
  // Set when the shutdown is over, as on the real process (which then ends once its loop empties).
  Object.defineProperty(emitter, 'exitCode', { set: (code: number | string | undefined) => exit(Number(code)) });
  return Object.assign(emitter, {
    exited,
    env: {},
    exit: (code?: number) => exit(code),
    emitWarning: () => undefined,
    stderr: { write: () => true },
  });
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  if (!condition()) throw new Error('condition not met within 2.5 s');
}

/**
 * Defines the behaviour every adapter must share, run against an app built by `createServer`.
 * @example
 * defineAdapterSuite('express 5', async ({ lifecycle, health, record, released }) => { ... });
 */
export function defineAdapterSuite(name: string, createServer: CreateAdapterServer): void {
  describe(`${name} adapter (conformance)`, () => {
    const harnesses: Harness[] = [];

    async function start(options: LifecycleOptions = {}): Promise<Harness> {
      const fake = fakeProcess();
      const lifecycle = createTestLifecycle({ signals: ['SIGTERM'], idleGraceMs: 10, timeoutMs: 5000, drainTimeoutMs: 3000, ...options }, fake);
      const calls: string[] = [];
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      const app = await createServer({ lifecycle, health, record: (event) => void calls.push(event), released: () => released });
      await lifecycle.start();
      const { port } = app.server.address() as AddressInfo;
      const harness: Harness = {
        lifecycle,
        server: app.server,
        url: `http://127.0.0.1:${port}`,
        calls,
        process: fake,
        close: () => app.close(),
        release,
        count: (event) => calls.filter((call) => call === event).length,
      };
      harnesses.push(harness);
      return harness;
    }

    afterEach(async () => {
      for (const harness of harnesses.splice(0)) {
        harness.release();
        await harness.lifecycle.shutdown();
        if (harness.server.listening) await harness.close();
      }
    });

    describe('req.registerShutdown(hook, { key })', () => {
      // 500 requests prove the adapter's path (a new closure, one key, many requests); the million-call
      // property of the registry itself is core's test (registry.test.ts).
      it('keeps one hook across 500 requests', async () => {
        const app = await start();
        const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
        let next = 0;
        const worker = async (): Promise<void> => {
          while (next < 500) {
            next++;
            const reply = await get(`${app.url}/register`, agent);
            if (reply.status !== 200) throw new Error(`status ${reply.status}`);
          }
        };
        await Promise.all(Array.from({ length: 16 }, worker));
        agent.destroy();
        expect(app.lifecycle.hookCount).toBe(1);
        await app.lifecycle.shutdown();
        expect(app.count('hook')).toBe(1);
      });
    });

    describe('req.onShutdown(fn)', () => {
      it('forgets the request scope once the response is sent', async () => {
        const app = await start();
        await request(app.server).get('/register').expect(200);
        const slow = get(`${app.url}/slow`);
        await until(() => app.lifecycle.inFlight === 1);
        const shutdown = app.lifecycle.shutdown();
        await until(() => app.count('slow:scope') === 1);
        app.release();
        expect((await slow).status).toBe(200);
        await shutdown;
        expect(app.count('scope')).toBe(0);
        expect(app.count('slow:scope')).toBe(1);
      });
    });

    describe('req.shutdownSignal', () => {
      it('aborts when shutdown begins, ending an open SSE response', async () => {
        const app = await start();
        const body = await new Promise<string>((resolve, reject) => {
          http
            .get(`${app.url}/sse`, { agent: false }, (res) => {
              let text = '';
              res.setEncoding('utf8');
              res.on('data', (chunk: string) => {
                text += chunk;
                if (text === 'data: open\n\n') void app.lifecycle.shutdown();
              });
              res.on('end', () => resolve(text));
              res.on('error', reject);
            })
            .on('error', reject);
        });
        expect(body).toBe('data: open\n\ndata: bye\n\n');
        const report = await app.lifecycle.shutdown();
        expect(report.http.abortedRequests).toBe(0);
        expect(report.ok).toBe(true);
      });
    });

    describe('request members', () => {
      it('can be assigned by a middleware: that request gets its own value, the next one the member', async () => {
        const app = await start();
        await request(app.server).get('/assign').expect(200, 'object:assigned');
        await request(app.server).get('/assign').expect(200, 'object:assigned');
        await request(app.server).get('/register').expect(200);
        expect(app.lifecycle.hookCount).toBe(1);
      });
    });

    describe('draining', () => {
      // After the first request an adapter may do nothing more per request (Express leaves the
      // router, Koa only calls next()): the requests in flight must still be found at shutdown.
      it.each([0, 3])('answers an in-flight request with Connection: close, and counts it, after %i earlier requests', async (earlier) => {
        const app = await start();
        const { earlier: replies } = await shutdownWithRequestInFlight(app, earlier);
        expect(replies.map((reply) => reply.body)).toEqual(replies.map(() => 'ok'));
        expect(app.count('slow:scope')).toBe(1);
      });
    });

    describe('one shutdown, each hook once', () => {
      async function withHooks(): Promise<Harness> {
        const app = await start();
        for (let i = 0; i < 3; i++) await request(app.server).get('/register').expect(200);
        app.lifecycle.registerShutdown(() => void app.calls.push('drain'), { phase: 'drain', key: 'drain' });
        app.lifecycle.registerShutdown(() => void app.calls.push('close'), { key: 'close' });
        return app;
      }

      function expectOnce(app: Harness, report: ShutdownReport): void {
        expect(report.ok).toBe(true);
        expect(app.calls).toEqual(['drain', 'close', 'hook']);
        expect(app.lifecycle.state).toBe('closed');
        expect(app.server.listening).toBe(false);
      }

      it('when lifecycle.shutdown() starts it', async () => {
        const app = await withHooks();
        const report = await app.lifecycle.shutdown('test');
        await app.close();
        expectOnce(app, report);
      });

      it("when the framework's own close starts it", async () => {
        const app = await withHooks();
        await app.close();
        const report = await app.lifecycle.shutdown();
        expect(report.reason).not.toBe('test');
        expectOnce(app, report);
      });

      it('when a signal starts it', async () => {
        const app = await withHooks();
        app.process.emit('SIGTERM', 'SIGTERM');
        expect(await app.process.exited).toBe(0);
        const report = await app.lifecycle.shutdown();
        expect(report.reason).toBe('SIGTERM');
        expectOnce(app, report);
      });
    });

    describe('health probes', () => {
      it('reports not ready during the drain while the app still serves', async () => {
        const app = await start({ drainDelayMs: 300 });
        const ready = await request(app.server).get('/readyz').expect(200);
        expect(ready.body).toMatchObject({ ready: true, live: true, state: 'ready' });
        await request(app.server).get('/livez').expect(200);
        const shutdown = app.lifecycle.shutdown();
        const draining = await request(app.server).get('/readyz').expect(503).expect('content-type', /json/);
        expect(draining.body).toMatchObject({ ready: false, live: true, state: 'draining' });
        await request(app.server).get('/livez').expect(200);
        await request(app.server).get('/').expect(200, 'ok');
        await shutdown;
      });

      it('never counts probe requests as in-flight work', async () => {
        const app = await start({ drainDelayMs: 200 });
        const shutdown = app.lifecycle.shutdown();
        for (let i = 0; i < 3; i++) {
          await request(app.server).get('/readyz').expect(503);
          expect(app.lifecycle.inFlight).toBe(0);
        }
        const report = await shutdown;
        expect(report.http.inFlightAtStart).toBe(0);
        expect(report.http.completedDuringDrain).toBe(0);
      });
    });
  });
}
