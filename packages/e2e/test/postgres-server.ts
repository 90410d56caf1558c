import { execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';

/** A PostgreSQL server of the test's own, on a Unix socket in a fresh data directory. */
export interface PostgresServer extends AsyncDisposable {
  /** The socket directory: node-postgres takes it as `host`. */
  readonly host: string;
  readonly user: string;
}

/** Debian's postgresql (installed by scripts/install-proxies.mjs) keeps its binaries by major version. */
function binDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  const found = versions.map((version) => path.join(root, version, 'bin')).find((dir) => existsSync(path.join(dir, 'postgres')));
  if (found === undefined) throw new Error('PostgreSQL not found under /usr/lib/postgresql: run scripts/install-proxies.mjs (Debian package postgresql)');
  return found;
}

/** PostgreSQL refuses to run as root: as root, the server runs as Debian's postgres user. */
function runAs(): { uid: number; gid: number; user: string } | undefined {
  if (userInfo().uid !== 0) return undefined;
  const [uid, gid] = ['-u', '-g'].map((flag) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim())) as [number, number];
  return { uid, gid, user: 'postgres' };
}

/** initdb, then postgres without TCP; resolves once it accepts connections. Dispose stops it (SIGTERM, by its pid). */
export async function startPostgres(): Promise<PostgresServer> {
  const bin = binDir();
  const owner = runAs();
  const dir = mkdtempSync(path.join(tmpdir(), 'lifespan-pg-'));
  if (owner !== undefined) chownSync(dir, owner.uid, owner.gid);
  const data = path.join(dir, 'data');
  const ids = owner === undefined ? {} : { uid: owner.uid, gid: owner.gid };
  execFileSync(path.join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'lifespan', '--no-sync'], { ...ids, stdio: 'ignore' });
  const child = spawn(path.join(bin, 'postgres'), ['-D', data, '-k', dir, '-c', 'listen_addresses=', '-c', 'fsync=off'], { ...ids, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (output.includes('ready to accept connections')) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`postgres exited with code ${code} before it was ready:\n${output}`)));
  });
  return {
    host: dir,
    user: 'lifespan',
    async [Symbol.asyncDispose]() {
      // SIGINT: "fast" shutdown (SIGTERM would wait for clients; the recipe's pool has ended by then anyway).
      child.kill('SIGINT');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
