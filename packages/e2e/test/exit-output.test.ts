import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startFixture } from './start-fixture';

const describePosix = process.platform === 'win32' ? describe.skip : describe;

jest.setTimeout(30_000);

// Issue 13 item 9: after the report the process ends by itself (process.exitCode, the loop
// empties), so what the app's close hooks handed to a transport or a pipe still arrives.
describePosix("the app's own output at exit", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'lifespan-exit-output-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  // pino also flushes a transport synchronously from its own 'exit' listener: in our runs even an
  // immediate process.exit() kept these lines; what this test adds is that the process ended by itself.
  it('lets a pino transport (a worker thread writing a file) write every line logged by a close hook', async () => {
    const file = path.join(dir, 'app.log');
    const lines = 20_000;
    const app = await startFixture('exit-output.mjs', { SCENARIO: 'pino', LOG_FILE: file, LOG_LINES: String(lines) });
    app.kill('SIGTERM');
    expect(await app.exited).toEqual({ code: 0, signal: null });
    const logged = readFileSync(file, 'utf8').split('\n').filter((line) => line !== '');
    expect(logged).toHaveLength(lines);
    expect(JSON.parse(logged.at(-1)!)).toMatchObject({ i: lines - 1, msg: 'pool closed' });
    expect(app.lines()).toEqual(['close:server', 'exit:natural']);
  });

  it('lets an 8 MiB write to piped stdout reach the reader in full', async () => {
    const app = await startFixture('exit-output.mjs', { SCENARIO: 'stdout' });
    app.kill('SIGTERM');
    expect(await app.exited).toEqual({ code: 0, signal: null });
    const lines = app.lines();
    expect(lines.map((line) => (line.startsWith('x') ? `x * ${line.length}` : line))).toEqual(['close:server', `x * ${8 * 1024 * 1024}`, 'exit:natural']);
  });

  it('forces the exit exitTimeoutMs after the shutdown when the app leaves a timer running', async () => {
    const app = await startFixture('exit-output.mjs', { SCENARIO: 'open-timer', EXIT_TIMEOUT_MS: '300' });
    const sentAt = app.kill('SIGTERM');
    expect(await app.exited).toEqual({ code: 0, signal: null });
    const tookMs = app.exitedAt()! - sentAt;
    // Not before the bound (the loop never empties), and far sooner than the 60 s interval.
    expect(tookMs).toBeGreaterThanOrEqual(300);
    expect(tookMs).toBeLessThan(10_000);
    // No 'exit:natural': the process did not end by itself, the bounded wait ended it.
    expect(app.lines()).toEqual(['close:server']);
  });
});
