import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** A Redis server of the test's own, on a Unix socket (no port to race for), without persistence. */
export interface RedisServer extends AsyncDisposable {
  /** The socket path: ioredis and BullMQ take it as `{ path }`. */
  readonly socket: string;
}

// Debian's redis-server, installed by scripts/install-proxies.mjs (as haproxy and nginx are).
const binary = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find((file) => existsSync(file)) ?? 'redis-server';

/** Starts redis-server and resolves once it accepts connections; dispose stops it (SIGTERM, by its pid). */
export async function startRedis(): Promise<RedisServer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'lifespan-redis-'));
  const socket = path.join(dir, 'redis.sock');
  const child = spawn(binary, ['--port', '0', '--unixsocket', socket, '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (/ready to accept connections/i.test(output)) resolve();
    };
    child.stdout!.on('data', onData);
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`redis-server exited with code ${code} before it was ready:\n${output}`)));
  });
  return {
    socket,
    async [Symbol.asyncDispose]() {
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
