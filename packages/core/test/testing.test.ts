import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createTestLifecycle, createTestProcess, shutdownApp, TestProcess } from '@lifespan/core/testing';

// @lifespan/core/testing: a user's test sends a signal to a process stand-in and reads the exit
// code, without signalling the test runner; shutdownApp() returns the report.
describe('createTestProcess()', () => {
  it('takes the lifecycle\'s signals: SIGTERM runs the hooks and "exits" 0, the test runner untouched', async () => {
    const proc = createTestProcess();
    const lifecycle = createTestLifecycle({ signals: ['SIGTERM'] }, proc);
    const ran: string[] = [];
    lifecycle.registerShutdown(() => void ran.push('pool'), { name: 'pool' });
    await lifecycle.start();
    expect(proc.listenerCount('SIGTERM')).toBe(1);
    proc.signal('SIGTERM');
    expect(await proc.exited).toBe(0);
    expect(proc.exitCode).toBe(0);
    // Set as process.exitCode, the process left to end by itself: not forced.
    expect(proc.forcedExitCode).toBeUndefined();
    expect(ran).toEqual(['pool']);
    expect(lifecycle.state).toBe('closed');
    expect(process.listenerCount('SIGTERM')).toBe(0);
  });

  it('records the exit code and the stderr line of a failed shutdown', async () => {
    const proc = createTestProcess();
    const lifecycle = createTestLifecycle({ signals: ['SIGTERM'] }, proc);
    lifecycle.registerShutdown(
      () => {
        throw new Error('pool already closed');
      },
      { name: 'pool' },
    );
    await lifecycle.start();
    proc.signal('SIGTERM');
    expect(await proc.exited).toBe(1);
    expect(proc.stderrText).toMatch(/ERR_LIFESPAN_HOOK_FAILED.*pool already closed/);
  });

  it('records warnings, and IPC messages when it has a channel', async () => {
    const proc = createTestProcess({ ipc: true, env: { pm_id: '0' } });
    const lifecycle = createTestLifecycle({ signals: false, maxHooks: 1 }, proc);
    lifecycle.registerShutdown(() => undefined, { key: 'a' });
    lifecycle.registerShutdown(() => undefined, { key: 'b' });
    expect(proc.warnings.map((warning) => warning.code)).toEqual(['ERR_LIFESPAN_MAX_HOOKS']);
    await lifecycle.start();
    expect(proc.sent).toContain('ready');
    await lifecycle.shutdown();
  });

  it('counts only the first exit()', () => {
    const proc = new TestProcess();
    proc.exit(3);
    proc.exit(0);
    expect(proc.exitCode).toBe(3);
    expect(proc.forcedExitCode).toBe(3);
  });

  it('records a forced exit after the exit code was set, without changing the code', () => {
    const proc = new TestProcess();
    proc.exitCode = 0;
    proc.exit(0);
    expect(proc.exitCode).toBe(0);
    expect(proc.forcedExitCode).toBe(0);
  });
});

describe('shutdownApp()', () => {
  it('shuts a lifecycle down with a request in flight and returns the report', async () => {
    const lifecycle = createTestLifecycle({ signals: false });
    const server = http.createServer((_req, res) => void setTimeout(() => res.end('ok'), 100));
    lifecycle.attach(server.listen(0, '127.0.0.1'));
    await once(server, 'listening');
    const answered = new Promise<number>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: (server.address() as AddressInfo).port }, (res) => resolve(res.resume().statusCode!)).on('error', reject);
    });
    await new Promise((resolve) => setTimeout(resolve, 30));
    const report = await shutdownApp(lifecycle);
    expect(await answered).toBe(200);
    expect(report).toMatchObject({ ok: true, reason: 'test', http: { inFlightAtStart: 1, abortedRequests: 0 } });
    expect(server.listening).toBe(false);
  });

  it('takes anything that carries a lifecycle (a Fastify instance, an adapter middleware)', async () => {
    const lifecycle = createTestLifecycle({ signals: false });
    const report = await shutdownApp({ lifecycle }, 'end of test');
    expect(report.reason).toBe('end of test');
    expect(lifecycle.state).toBe('closed');
  });

  it('rejects what has no lifecycle with a coded error, at the call', () => {
    expect(() => shutdownApp({} as never)).toThrow(expect.objectContaining({ code: 'ERR_LIFESPAN_INVALID_ARG', argument: 'target' }));
  });
});
