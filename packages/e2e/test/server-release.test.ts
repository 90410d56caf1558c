import { fork } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { runtime } from './start-fixture';

// Only Node takes --expose-gc; Deno and Bun have their own collectors and flags.
const describeNode = process.platform === 'win32' || runtime.kind !== 'node' ? describe.skip : describe;

describeNode('a server after lifecycle.shutdown()', () => {
  it('is freed: 50 attach/shutdown cycles leave no server reachable after GC', async () => {
    const child = fork(path.resolve(__dirname, '../fixtures/attach-cycles.mjs'), [], {
      execPath: runtime.bin,
      execArgv: ['--expose-gc'],
      env: { ...process.env, CYCLES: '50' },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = once(child, 'exit');
    try {
      const [message] = (await once(child, 'message')) as [{ cycles: number; retained: number }];
      expect({ ...message, stderr }).toEqual({ cycles: 50, retained: 0, stderr: '' });
      expect(await exited).toEqual([0, null]);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
});
