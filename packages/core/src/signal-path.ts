import { readFileSync } from 'node:fs';

/** Reads a file under /proc; undefined when it cannot (not Linux, gone, not allowed). */
export type ProcReader = (file: string) => string | undefined;

/** What stands between a container's stop signal and this process. */
export interface SignalBlocker {
  /** The wrappers from PID 1 down to this process's parent, e.g. `['npm', 'sh']`. */
  readonly chain: readonly string[];
}

// Processes that do not pass SIGTERM on: a shell running a command does not forward signals (and
// as PID 1 the kernel drops SIGTERM for it, since it has no handler); npm and its peers pass it to
// the shell they started, which then dies without passing it on.
const shells = new Set(['sh', 'bash', 'dash', 'ash', 'zsh', 'ksh', 'mksh', 'busybox']);
const packageManagers = new Set(['npm', 'npx', 'yarn', 'pnpm', 'pnpx']);
const packageManagerScript = /(?:^|\/)(?:npm-cli|npx-cli|yarn|pnpm)\.(?:js|cjs|mjs)$/;
const maxDepth = 8;

export const readProc: ProcReader = (file) => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
};

/** The wrapper name of a process's argv (`sh`, `npm`), or undefined for anything else. */
function wrapperName(argv: readonly string[]): string | undefined {
  // npm sets process.title ('npm run start'), which rewrites argv as one string with spaces.
  const base = (argv[0] ?? '').split(' ')[0]!.split('/').pop() ?? '';
  if (shells.has(base) || packageManagers.has(base)) return base;
  // npm started as `node /usr/lib/node_modules/npm/bin/npm-cli.js run start`.
  if ((base === 'node' || base === 'nodejs') && argv[1] !== undefined && packageManagerScript.test(argv[1])) {
    return argv[1].split('/').pop()!.replace(/(?:-cli)?\.[cm]?js$/, '');
  }
  return undefined;
}

function parentOf(stat: string): number | undefined {
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ppid = Number(fields[1]);
  return Number.isInteger(ppid) ? ppid : undefined;
}

/**
 * Finds out whether a stop signal sent to PID 1 (what `docker stop` and the kubelet do) can reach
 * this process: it cannot when PID 1 is a shell or a package manager and every process between it
 * and this one is too (`CMD npm start`, `CMD node server.js` in shell form with a second command).
 * Returns the chain of wrappers then, undefined otherwise, or when /proc cannot tell.
 */
export function findSignalBlocker(ppid: number, read: ProcReader = readProc): SignalBlocker | undefined {
  const chain: string[] = [];
  let pid = ppid;
  for (let depth = 0; depth < maxDepth && pid > 0; depth++) {
    const cmdline = read(`/proc/${pid}/cmdline`);
    const stat = read(`/proc/${pid}/stat`);
    if (cmdline === undefined || stat === undefined) return undefined;
    const name = wrapperName(cmdline.split('\0').filter((arg) => arg !== ''));
    // Anything else (tini, dumb-init, systemd, PM2, a terminal) is assumed to deliver signals.
    if (name === undefined) return undefined;
    chain.unshift(name);
    if (pid === 1) return { chain };
    const parent = parentOf(stat);
    if (parent === undefined) return undefined;
    pid = parent;
  }
  return undefined;
}

/** The parts of `process` the check uses. */
export interface SignalPathProcess {
  readonly ppid?: number;
  emitWarning(warning: string, options: { type?: string; code?: string; detail?: string }): void;
}

/** Emits one `LifespanSignalWarning` if a stop signal sent to PID 1 cannot reach this process; true if it warned. */
export function warnIfSignalsBlocked(proc: SignalPathProcess, read: ProcReader = readProc): boolean {
  // 0: this process is PID 1 itself and gets the signal directly.
  if (typeof proc.ppid !== 'number' || proc.ppid <= 0) return false;
  const blocker = findSignalBlocker(proc.ppid, read);
  if (blocker === undefined) return false;
  proc.emitWarning(
    `SIGTERM sent to PID 1 (docker stop, the kubelet) will not reach this process: PID 1 is ${blocker.chain.join(' → ')}, which does not pass it on, ` +
      'so no shutdown hook will run and the process will be killed after the grace period. ' +
      'Start node as PID 1 (CMD ["node", "server.js"], or `exec node …` in a script) or under an init that forwards signals (docker run --init, tini).',
    { type: 'LifespanSignalWarning', code: 'ERR_LIFESPAN_SIGNALS_NOT_FORWARDED', detail: `process chain from PID 1: ${blocker.chain.join(' → ')} → node` },
  );
  return true;
}
