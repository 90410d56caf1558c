import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';
import { startPostgres } from './postgres-server';
import { startRedis } from './redis-server';
import { startFixture } from './start-fixture';

// The recipes of docs/recipes.md that need a server, each against a real one the test starts.
const describePosix = process.platform === 'win32' ? describe.skip : describe;

/**
 * `prisma generate` of fixtures/prisma/schema.prisma into a fresh directory under node_modules/.cache
 * (the generated runtime requires @prisma/client-runtime-utils, found from there; never committed);
 * returns the client's path.
 * Generating runs no engine (Prisma 7's client compiles queries in WebAssembly), but the CLI insists on
 * finding a schema engine binary and would download one from binaries.prisma.sh: pointing
 * PRISMA_SCHEMA_ENGINE_BINARY at a file that is never executed skips the download. CHECKPOINT_DISABLE:
 * no update check leaves the machine.
 */
function generatePrismaClient(dir: string): string {
  const output = path.join(dir, 'client');
  const cli = require.resolve('prisma/build/index.js');
  execFileSync(process.execPath, [cli, 'generate', '--schema', path.resolve(__dirname, '../fixtures/prisma/schema.prisma')], {
    cwd: dir,
    env: { ...process.env, PRISMA_CLIENT_OUTPUT: output, PRISMA_SCHEMA_ENGINE_BINARY: '/bin/false', CHECKPOINT_DISABLE: '1', PRISMA_HIDE_UPDATE_MESSAGE: '1' },
    stdio: 'pipe',
  });
  return output;
}

async function recipeConnections(postgres: { host: string; user: string }): Promise<number> {
  const client = new pg.Client({ host: postgres.host, user: postgres.user, database: 'postgres' });
  await client.connect();
  const { rows } = await client.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'lifespan-recipe'");
  await client.end();
  return rows[0]!.n;
}

describePosix('docs/recipes.md, run', () => {
  it('pg Pool: a query in flight at SIGTERM is answered, then pool.end() runs in the close phase and leaves no connection behind', async () => {
    await using postgres = await startPostgres();
    const app = await startFixture('recipe-pg.mjs', { PGHOST: postgres.host, PGUSER: postgres.user });
    const answer = fetch(`${app.url}/`).then((response) => response.text());
    await app.until(() => app.events('request').length === 1, 'the request');
    app.kill('SIGTERM');
    expect(await answer).toBe('answered');
    expect(await app.exited).toEqual({ code: 0, signal: null });
    expect(app.lines().slice(0, 2)).toEqual(['close:pg-pool', 'pg-pool:ended']);
    const client = new pg.Client({ host: postgres.host, user: postgres.user, database: 'postgres' });
    await client.connect();
    const { rows } = await client.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'lifespan-recipe'");
    await client.end();
    expect(rows[0].n).toBe(0);
  });

  it('Prisma 7 with @prisma/adapter-pg: a query in flight at SIGTERM is answered, then $disconnect() runs in the close phase and leaves no connection behind', async () => {
    const cache = path.resolve(__dirname, '../../../node_modules/.cache');
    mkdirSync(cache, { recursive: true });
    const dir = mkdtempSync(path.join(cache, 'lifespan-prisma-'));
    try {
      const prismaClient = generatePrismaClient(dir);
      await using postgres = await startPostgres();
      const app = await startFixture('recipe-prisma.mjs', { PGHOST: postgres.host, PGUSER: postgres.user, PRISMA_CLIENT: prismaClient });
      const answer = fetch(`${app.url}/`).then((response) => response.text());
      await app.until(() => app.events('request').length === 1, 'the request');
      app.kill('SIGTERM');
      expect(await answer).toBe('answered');
      expect(await app.exited).toEqual({ code: 0, signal: null });
      // The close phase: after the drain, so after the query in flight was answered.
      expect(app.lines().slice(0, 3)).toEqual(['query:answered', 'close:prisma', 'prisma:disconnected']);
      expect(await recipeConnections(postgres)).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('ioredis: a command due after SIGTERM is sent and answered, then quit() closes the client in the close phase', async () => {
    await using redis = await startRedis();
    const app = await startFixture('recipe-ioredis.mjs', { REDIS_SOCKET: redis.socket });
    const answer = fetch(`${app.url}/`).then((response) => response.text());
    await app.until(() => app.events('request').length === 1, 'the request');
    app.kill('SIGTERM');
    expect(await answer).toBe('1');
    expect(await app.exited).toEqual({ code: 0, signal: null });
    expect(app.lines().slice(0, 2)).toEqual(['close:redis', 'redis:quit']);
    const check = new Redis({ path: redis.socket });
    const clients = (await check.client('LIST')) as string;
    check.disconnect();
    expect(clients).not.toContain('name=lifespan-recipe');
  });

  it("pino: through the adapter, Lifespan's lines reach an asynchronous destination up to the last one, and an error keeps its object", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'lifespan-pino-'));
    try {
      const file = path.join(dir, 'app.log');
      const app = await startFixture('recipe-pino.mjs', { LOG_FILE: file });
      app.kill('SIGTERM');
      expect(await app.exited).toEqual({ code: 1, signal: null });
      const lines = readFileSync(file, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { msg: string; err?: { code?: string; message?: string } });
      expect(lines[0]!.msg).toBe('lifespan: ready');
      expect(lines.find((line) => line.err?.code === 'ERR_LIFESPAN_HOOK_FAILED')?.err?.message).toContain('cache already gone');
      // The last line, written just before the exit, is not lost.
      expect(lines.at(-1)!.msg).toMatch(/^lifespan: closed in \d+ ms \(with errors\)$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('OpenTelemetry SDK: shut down by a close hook registered first, it exports the span of the request the drain finished, after the other close hooks', async () => {
    const app = await startFixture('recipe-opentelemetry.mjs');
    const answer = fetch(`${app.url}/`).then((response) => response.text());
    await app.until(() => app.events('request').length === 1, 'the request');
    app.kill('SIGTERM');
    expect(await answer).toBe('done');
    expect(await app.exited).toEqual({ code: 0, signal: null });
    expect(app.lines().filter((line) => line !== 'exit:natural')).toEqual(['close:db', 'span:GET /slow']);
  });

  it("OpenTelemetry SDK, the trap: the getting-started guide's own SIGTERM listener exits during the drain, the request in flight is lost and its span never exported", async () => {
    const app = await startFixture('recipe-opentelemetry.mjs', { TRAP: '1' });
    const answer = fetch(`${app.url}/`).then(
      (response) => response.text(),
      (error: Error) => `lost: ${error.message}`,
    );
    await app.until(() => app.events('request').length === 1, 'the request');
    app.kill('SIGTERM');
    expect(await app.exited).toEqual({ code: 0, signal: null });
    expect(await answer).toMatch(/^lost: /);
    expect(app.lines()).not.toContain('span:GET /slow');
  });
});
