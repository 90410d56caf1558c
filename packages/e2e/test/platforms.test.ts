import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { accepts, freePort } from './clients';

// How platforms start and stop a Node process (issue 15, item 3), with the real programs:
// `unshare --pid` makes a PID namespace whose PID 1 is the command, as a container's is; `sh -c`
// and `npm run` as that PID 1 never pass SIGTERM on; `node --watch` restarts on a file change.
const app = path.resolve(__dirname, '../fixtures/signal-app.mjs');
const root = typeof process.getuid === 'function' && process.getuid() === 0;
const hasUnshare = spawnSync('unshare', ['--version'], { stdio: 'ignore' }).status === 0;
const describeLinux = process.platform === 'linux' ? describe : describe.skip;

interface Started {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves once stdout holds `count` lines matching `pattern`. */
  lines(pattern: RegExp, count?: number, timeoutMs?: number): Promise<string[]>;
}

const running = new Set<ChildProcess>();

function start(command: string, args: readonly string[], env: Record<string, string> = {}, cwd?: string): Started {
  // Its own process group: a test ends the whole tree, also what a killed shell left behind.
  const child = spawn(command, args, { env: { ...process.env, ...env }, cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  running.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    }),
  );
  const lines = async (pattern: RegExp, count = 1, timeoutMs = 20_000): Promise<string[]> => {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const found = stdout.split('\n').filter((line) => pattern.test(line));
      if (found.length >= count) return found;
      if (performance.now() > deadline || child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`no ${count} lines matching ${pattern} from ${command} ${args.join(' ')}\nstdout: ${stdout}\nstderr: ${stderr}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  return { child, stdout: () => stdout, stderr: () => stderr, exited, lines };
}

afterEach(async () => {
  await Promise.all(
    [...running].map((child) => {
      const closed = new Promise((resolve) => child.once('close', resolve));
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // The group is gone already.
      }
      return closed;
    }),
  );
});

/** The host pid of the process unshare forked: PID 1 of its namespace. */
function pid1Of(unshare: ChildProcess): number {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === unshare.pid) return Number(entry);
    } catch {
      // Exited meanwhile.
    }
  }
  throw new Error(`no child of unshare (${unshare.pid})`);
}


/** Runs `command` as PID 1 of a new PID namespace; if unshare dies, that PID 1 (and so the namespace) is killed. */
function asPid1(command: readonly string[], env: Record<string, string> = {}, cwd?: string): Started {
  return start('unshare', ['--pid', '--fork', '--mount-proc', '--kill-child', ...command], env, cwd);
}

const warning = /LifespanSignalWarning: SIGTERM sent to PID 1 .* PID 1 is ([^,]+), which does not pass it on/;

const describePid1 = root && hasUnshare ? describeLinux : describe.skip;

describePid1('a stop signal sent to PID 1 (docker stop, the kubelet)', () => {
  it('warns once when PID 1 is a shell (CMD in shell form): the signal never reaches Node', async () => {
    const started = asPid1(['sh', '-c', `node ${app}; echo exited`]);
    const [listening] = await started.lines(/^listening:/);
    expect(warning.exec(started.stderr())?.[1]).toBe('sh');
    expect(started.stderr().match(/LifespanSignalWarning/g)).toHaveLength(1);
    // What the warning says: docker stop's SIGTERM to PID 1 is dropped, Node keeps serving, no hook runs.
    process.kill(pid1Of(started.child), 'SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(await accepts(Number(listening!.split(':')[1]))).toBe(true);
    expect(started.stdout()).not.toContain('close:app');
  });

  it('warns when PID 1 is npm (CMD ["npm", "start"]), naming npm → sh', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'lifespan-npm-'));
    try {
      writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'pid1', version: '1.0.0', private: true, scripts: { start: `node ${app}` } }));
      const started = asPid1(['npm', 'run', '--silent', 'start'], { npm_config_update_notifier: 'false' }, dir);
      await started.lines(/^listening:/, 1, 30_000);
      expect(warning.exec(started.stderr())?.[1]).toBe('npm → sh');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 40_000);

  it('says nothing when Node is PID 1 (exec form), and SIGTERM to it runs the hooks', async () => {
    const started = asPid1(['node', app]);
    await started.lines(/^listening:/);
    process.kill(pid1Of(started.child), 'SIGTERM');
    // unshare exits with its PID 1's code.
    expect(await started.exited).toEqual({ code: 0, signal: null });
    expect(started.stderr()).not.toMatch(/LifespanSignalWarning/);
    expect(started.stdout()).toContain('close:app');
  });
});

describeLinux('a shell that is not PID 1', () => {
  it('gets no warning (a supervisor or a terminal delivers signals to the process group)', async () => {
    const started = start('sh', ['-c', `node ${app}; echo exited`]);
    await started.lines(/^listening:/);
    expect(started.stderr()).not.toMatch(/LifespanSignalWarning/);
  });
});


describeLinux('node --watch', () => {
  it('restarts on a file change: SIGTERM runs the hooks and closes the listener, the new process listens on the same port', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'lifespan-watch-'));
    const watched = path.join(dir, 'config.mjs');
    writeFileSync(watched, 'export default 1;\n');
    try {
      const port = await freePort();
      const started = start(process.execPath, ['--watch', app], { PORT: String(port), WATCHED: watched });
      expect(await started.lines(/^listening:/)).toEqual([`listening:${port}`]);
      writeFileSync(watched, 'export default 2;\n');
      expect(await started.lines(/^listening:/, 2)).toEqual([`listening:${port}`, `listening:${port}`]);
      expect(started.stdout().match(/^close:app$/gm)).toHaveLength(1);
      expect(started.stderr()).not.toMatch(/EADDRINUSE/);
      // The watcher passes SIGTERM on to the app it runs.
      started.child.kill('SIGTERM');
      await started.exited;
      expect(started.stdout().match(/^close:app$/gm)).toHaveLength(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// nodemon restarts by signalling its child with SIGUSR2 (its default) or the signal it is told;
// docs/platforms.md gives both recipes. Without either, the old process dies without its hooks.
const nodemon = require.resolve('nodemon/bin/nodemon.js');

describeLinux('nodemon', () => {
  const cases: { name: string; args: string[]; env: Record<string, string>; hooks: boolean }[] = [
    { name: '--signal SIGTERM', args: ['--signal', 'SIGTERM'], env: {}, hooks: true },
    { name: 'its default SIGUSR2, with SIGUSR2 in signals', args: [], env: { SIGNALS: 'SIGTERM,SIGINT,SIGUSR2' }, hooks: true },
    { name: 'its default SIGUSR2, with the default signals (the trap the docs warn of)', args: [], env: {}, hooks: false },
  ];
  it.each(cases)('restarts on a file change with $name', async ({ args, env, hooks }) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'lifespan-nodemon-'));
    const watched = path.join(dir, 'config.mjs');
    writeFileSync(watched, 'export default 1;\n');
    try {
      const port = await freePort();
      const started = start(
        process.execPath,
        [nodemon, '--no-stdin', '--watch', dir, '--ext', 'mjs', '--delay', '0', ...args, app],
        { PORT: String(port), WATCHED: watched, ...env },
        dir,
      );
      expect(await started.lines(/^listening:/, 1, 30_000)).toEqual([`listening:${port}`]);
      writeFileSync(watched, 'export default 2;\n');
      expect(await started.lines(/^listening:/, 2, 30_000)).toEqual([`listening:${port}`, `listening:${port}`]);
      expect(started.stdout().match(/^close:app$/gm) ?? []).toHaveLength(hooks ? 1 : 0);
      expect(started.stderr()).not.toMatch(/EADDRINUSE/);
      expect(await accepts(port)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
