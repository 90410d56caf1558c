import { createLifecycle } from '@lifespan/core';
import { createTestLifecycle, createTestProcess } from '@lifespan/core/testing';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** An in-memory queue and a consumer loop over it, as a queue worker pulls jobs one at a time. */
function consumer(jobs: number, jobMs: number) {
  const queue = Array.from({ length: jobs }, (_, i) => `job-${i}`);
  const started: string[] = [];
  const finished: string[] = [];
  const loop = async (signal: AbortSignal): Promise<number> => {
    while (!signal.aborted) {
      const job = queue.shift();
      if (job === undefined) {
        await sleep(1);
        continue;
      }
      started.push(job);
      await sleep(jobMs);
      finished.push(job);
    }
    return finished.length;
  };
  return { queue, started, finished, loop };
}

async function until(predicate: () => boolean): Promise<void> {
  while (!predicate()) await sleep(1);
}

describe('lifecycle.run(name, worker)', () => {
  it('aborts the worker signal when shutdown begins, and the drain waits for the job in progress', async () => {
    const lifecycle = createLifecycle({ signals: false, drainTimeoutMs: 5000 });
    const work = consumer(100, 50);
    const result = lifecycle.run('consumer', work.loop);
    await until(() => work.started.length === 2);
    const report = await lifecycle.shutdown('test');
    // The job running when shutdown began finished inside the drain; none was started after it.
    expect(work.finished).toEqual(work.started);
    expect(work.started).toHaveLength(2);
    expect(work.queue).toHaveLength(98);
    expect(await result).toBe(2);
    expect(report.ok).toBe(true);
    expect(report.work).toEqual([{ name: 'consumer', status: 'ok', durationMs: expect.any(Number) }]);
    expect(report.errors).toEqual([]);
  });

  it('names a worker that ignores its signal as cut at drainTimeoutMs: ERR_LIFESPAN_WORK_CUT, report not ok', async () => {
    const lifecycle = createLifecycle({ signals: false, drainTimeoutMs: 200 });
    const hung = new Promise<void>(() => undefined);
    void lifecycle.run('stuck-consumer', () => hung);
    const { loop } = consumer(10, 20);
    void lifecycle.run('good-consumer', loop);
    const started = performance.now();
    const report = await lifecycle.shutdown('test');
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
    expect(report.ok).toBe(false);
    expect(report.work.map(({ name, status }) => `${name} ${status}`)).toEqual(['stuck-consumer cut', 'good-consumer ok']);
    expect(report.errors).toMatchObject([{ code: 'ERR_LIFESPAN_WORK_CUT', names: ['stuck-consumer'], timeoutMs: 200 }]);
  });

  it('a worker that rejects with the abort it was given stopped as asked: ok', async () => {
    const lifecycle = createLifecycle({ signals: false });
    const result = lifecycle.run('waits-on-signal', (signal) => sleepUntilAborted(signal));
    const report = await lifecycle.shutdown('test');
    expect(report.ok).toBe(true);
    expect(report.work).toMatchObject([{ name: 'waits-on-signal', status: 'ok' }]);
    await expect(result).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('a worker that fails during the drain is reported: ERR_LIFESPAN_WORK_FAILED with its cause', async () => {
    const lifecycle = createLifecycle({ signals: false });
    const failure = new Error('broker gone');
    const result = lifecycle.run('consumer', async (signal) => {
      await sleepUntilAborted(signal).catch(() => undefined);
      throw failure;
    });
    const report = await lifecycle.shutdown('test');
    expect(report.ok).toBe(false);
    expect(report.work).toMatchObject([{ name: 'consumer', status: 'error', error: { code: 'ERR_LIFESPAN_WORK_FAILED', cause: failure } }]);
    expect(report.errors).toMatchObject([{ code: 'ERR_LIFESPAN_WORK_FAILED' }]);
    await expect(result).rejects.toBe(failure);
  });

  it('throws ERR_LIFESPAN_ALREADY_SHUT_DOWN once shutdown began (it would take work it cannot finish), ERR_LIFESPAN_INVALID_ARG on bad arguments', async () => {
    const lifecycle = createLifecycle({ signals: false });
    expect(() => lifecycle.run('', () => undefined)).toThrow(expect.objectContaining({ code: 'ERR_LIFESPAN_INVALID_ARG' }));
    expect(() => lifecycle.run('x', 'loop' as never)).toThrow(expect.objectContaining({ code: 'ERR_LIFESPAN_INVALID_ARG' }));
    void lifecycle.shutdown('test');
    expect(() => lifecycle.run('late', () => undefined)).toThrow(expect.objectContaining({ code: 'ERR_LIFESPAN_ALREADY_SHUT_DOWN' }));
    await lifecycle.shutdown();
  });
});

describe('lifecycle.track(promise, name?)', () => {
  it('returns the promise; the drain waits for it, and for work tracked during the drain', async () => {
    const lifecycle = createLifecycle({ signals: false, drainTimeoutMs: 5000 });
    const order: string[] = [];
    const upload = sleep(20).then(() => void order.push('upload'));
    expect(lifecycle.track(upload, 'upload')).toBe(upload);
    lifecycle.registerShutdown(() => void order.push('close:db'), { name: 'db' });
    // Work started during the drain, once the upload is done (a request's last job), is waited for too.
    lifecycle.registerShutdown(
      async () => {
        await sleep(60);
        lifecycle.track(sleep(100).then(() => void order.push('late-job')), 'late-job');
      },
      { name: 'request-finishing', phase: 'drain' },
    );
    const report = await lifecycle.shutdown('test');
    expect(order).toEqual(['upload', 'late-job', 'close:db']);
    expect(report.work.map(({ name, status }) => `${name} ${status}`)).toEqual(['upload ok', 'late-job ok']);
    expect(report.ok).toBe(true);
  });

  it('leaves out work that settled before shutdown, and names unnamed work "anonymous"', async () => {
    const lifecycle = createLifecycle({ signals: false, drainTimeoutMs: 100 });
    await lifecycle.track(Promise.resolve(), 'done-early');
    lifecycle.track(new Promise(() => undefined));
    const report = await lifecycle.shutdown('test');
    expect(report.work.map(({ name, status }) => `${name} ${status}`)).toEqual(['anonymous cut']);
    expect(report.errors).toMatchObject([{ code: 'ERR_LIFESPAN_WORK_CUT', names: ['anonymous'] }]);
  });

  it('logs a tracked promise that rejects before shutdown through the logger', async () => {
    const errors: unknown[][] = [];
    const logger = { info: () => undefined, warn: () => undefined, error: (...args: unknown[]) => void errors.push(args) };
    const lifecycle = createLifecycle({ signals: false, logger });
    const failure = new Error('boom');
    await expect(lifecycle.track(Promise.reject(failure), 'job')).rejects.toBe(failure);
    await sleep(0);
    expect(errors).toMatchObject([['lifespan: background work "job" failed', { code: 'ERR_LIFESPAN_WORK_FAILED', cause: failure }]]);
    await lifecycle.shutdown();
  });

  it('says on stderr that a tracked promise rejected before shutdown when there is no logger', async () => {
    const proc = createTestProcess();
    const lifecycle = createTestLifecycle({ signals: false }, proc);
    void lifecycle.track(Promise.reject(new Error('boom')), 'job');
    await sleep(0);
    expect(proc.stderrText).toContain('ERR_LIFESPAN_WORK_FAILED');
    expect(proc.stderrText).toContain('"job"');
    expect(proc.stderrText).toContain('boom');
    await lifecycle.shutdown();
  });

  it('throws ERR_LIFESPAN_INVALID_ARG for what is no promise, and ERR_LIFESPAN_ALREADY_SHUT_DOWN once the drain is over', async () => {
    const lifecycle = createLifecycle({ signals: false });
    expect(() => lifecycle.track(42 as never)).toThrow(expect.objectContaining({ code: 'ERR_LIFESPAN_INVALID_ARG' }));
    expect(() => lifecycle.track(Promise.resolve(), 7 as never)).toThrow(expect.objectContaining({ code: 'ERR_LIFESPAN_INVALID_ARG' }));
    await lifecycle.shutdown();
    expect(() => lifecycle.track(Promise.resolve(), 'late')).toThrow(expect.objectContaining({ code: 'ERR_LIFESPAN_ALREADY_SHUT_DOWN' }));
  });
});

/** Rejects with an AbortError once `signal` aborts, as `events.once(emitter, name, { signal })` does. */
function sleepUntilAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    const abort = (): void => reject(new DOMException('aborted', 'AbortError'));
    if (signal.aborted) abort();
    else signal.addEventListener('abort', abort, { once: true });
  });
}
