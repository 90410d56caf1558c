import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { runtime } from './start-fixture';

// `script` (util-linux) gives the app a pseudo-terminal, as a shell does: stdout and stderr are a
// TTY, and a Ctrl+C typed into it reaches the app as SIGINT from the terminal's line discipline.
const describeLinux = process.platform === 'linux' ? describe : describe.skip;

jest.setTimeout(20_000);

interface Terminal {
  /** What the terminal shows, without carriage returns and the `^C` echo. */
  screen(): string[];
  /** Types Ctrl+C. */
  interrupt(): void;
  until(predicate: (lines: string[]) => boolean, what: string): Promise<void>;
  readonly exited: Promise<number | null>;
  readonly child: ChildProcess;
  appPid(): number | undefined;
}

const running = new Set<Terminal>();

function atTerminal(fixture: string, env: Record<string, string>): Terminal {
  // The runtime every fixture of this run uses (LIFESPAN_E2E_RUNTIME), as startFixture() does.
  const args = [runtime.bin, ...(runtime.kind === 'deno' ? ['run', '--allow-all', '--quiet'] : []), path.resolve(__dirname, '../fixtures', fixture)];
  const command = `exec ${args.map((arg) => JSON.stringify(arg)).join(' ')}`;
  // -e: exit with the app's code; -f: flush at once; -q: no banner.
  const child = spawn('script', ['-qfec', command, '/dev/null'], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  const waiters = new Set<() => void>();
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
    for (const waiter of [...waiters]) waiter();
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const screen = (): string[] => output.replace(/\r/g, '').replace(/\^C/g, '').split('\n').filter((line) => line !== '');
  const terminal: Terminal = {
    child,
    exited,
    screen,
    interrupt: () => void child.stdin!.write('\x03'),
    appPid: () => {
      const line = screen().find((entry) => entry.startsWith('listening '));
      return line === undefined ? undefined : Number(line.slice('listening '.length));
    },
    until: (predicate, what) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => done(new Error(`timed out waiting for ${what}; the terminal shows ${JSON.stringify(screen())}`)), 10_000);
        const done = (error?: Error): void => {
          clearTimeout(timer);
          waiters.delete(check);
          if (error) reject(error);
          else resolve();
        };
        const check = (): void => {
          if (predicate(screen())) done();
        };
        waiters.add(check);
        check();
      }),
  };
  running.add(terminal);
  void exited.then(() => running.delete(terminal));
  return terminal;
}

afterEach(async () => {
  for (const terminal of running) {
    const pid = terminal.appPid();
    if (pid !== undefined) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    terminal.child.kill('SIGKILL');
    await terminal.exited;
  }
});

const hint = 'lifespan: SIGINT received: finishing the requests in flight and running the shutdown hooks (at most 20 s); press Ctrl+C again to force an exit';

describeLinux('Ctrl+C at a terminal', () => {
  it('says in one line what the first Ctrl+C does while the drain delay runs, then exits 0', async () => {
    const terminal = atTerminal('terminal.mjs', { DRAIN_DELAY_MS: '300' });
    await terminal.until((lines) => lines.length > 0, 'the app to listen');
    terminal.interrupt();
    expect(await terminal.exited).toBe(0);
    expect(terminal.screen()).toEqual([`listening ${terminal.appPid()}`, hint]);
  });

  it('forces the exit on a second Ctrl+C, with one line and no stack', async () => {
    const terminal = atTerminal('terminal.mjs', { DRAIN_DELAY_MS: '5000' });
    await terminal.until((lines) => lines.length > 0, 'the app to listen');
    terminal.interrupt();
    // Within the 5 s drain delay: the line comes at once.
    await terminal.until((lines) => lines.includes(hint), 'the line about the first Ctrl+C');
    terminal.interrupt();
    expect(await terminal.exited).toBe(1);
    expect(terminal.screen()).toEqual([
      `listening ${terminal.appPid()}`,
      hint,
      'lifespan: ERR_LIFESPAN_FORCED_EXIT: Received SIGINT again during shutdown; exiting immediately with code 1',
    ]);
  });
});
