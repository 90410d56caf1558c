import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { startRedis } from './redis-server';
import { startFixture } from './start-fixture';

const describePosix = process.platform === 'win32' ? describe.skip : describe;

describePosix('lifecycle.run() with a BullMQ worker on a real Redis server', () => {
  it('on SIGTERM the worker takes no new job, the job in progress completes inside the drain, the rest stays queued; exit 0', async () => {
    await using redis = await startRedis();
    const connection = new Redis({ path: redis.socket, maxRetriesPerRequest: null });
    const queue = new Queue('jobs', { connection });
    try {
      await queue.addBulk(Array.from({ length: 20 }, (_, n) => ({ name: 'job', data: { n } })));
      const app = await startFixture('bullmq-worker.mjs', { REDIS_SOCKET: redis.socket });
      await app.until(() => app.events('job').length >= 2, 'two jobs started');
      app.kill('SIGTERM');
      expect(await app.exited).toEqual({ code: 0, signal: null });

      const started = app.lines().filter((line) => line.startsWith('job:start:'));
      const done = app.lines().filter((line) => line.startsWith('job:done:'));
      // Every job it took, it finished, and before the close hooks ran.
      expect(done.map((line) => line.replace('done', 'start'))).toEqual(started);
      // The process may exit by itself just before Lifespan's exit (nothing left to run): not a hook.
      expect(app.lines().filter((line) => line !== 'exit:natural').at(-1)).toBe('close:redis');
      const counts = await queue.getJobCounts('completed', 'waiting', 'active', 'failed');
      expect(counts).toEqual({ completed: started.length, waiting: 20 - started.length, active: 0, failed: 0 });
      expect(started.length).toBeLessThan(20);
    } finally {
      await queue.close();
      connection.disconnect();
    }
  });
});
