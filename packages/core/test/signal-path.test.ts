import { findSignalBlocker, warnIfSignalsBlocked } from '../src/signal-path';
import type { ProcReader } from '../src/signal-path';

/** A fake /proc: pid -> [argv, ppid]. */
function proc(table: Record<number, [argv: string[], ppid: number]>): ProcReader {
  return (file) => {
    const match = /^\/proc\/(\d+)\/(cmdline|stat)$/.exec(file);
    const entry = match === null ? undefined : table[Number(match[1])];
    if (entry === undefined) return undefined;
    const [argv, ppid] = entry;
    // comm may contain spaces and parentheses: the parser must read after the last ')'.
    return match![2] === 'cmdline' ? `${argv.join('\0')}\0` : `${match![1]} (a (b) c) S ${ppid} 1 1 0 -1`;
  };
}

describe('findSignalBlocker(ppid)', () => {
  it('names npm → sh when npm is PID 1 (CMD ["npm", "start"])', () => {
    // npm sets its process.title: argv becomes one string with spaces.
    const read = proc({ 1: [['npm run --silent start'], 0], 12: [['sh', '-c', 'node server.js'], 1] });
    expect(findSignalBlocker(12, read)).toEqual({ chain: ['npm', 'sh'] });
  });

  it('recognises npm run as node running npm-cli.js, and a shell as PID 1 (CMD in shell form)', () => {
    const npm = proc({ 1: [['/usr/local/bin/node', '/usr/local/lib/node_modules/npm/bin/npm-cli.js', 'run', 'start'], 0], 7: [['/bin/sh', '-c', 'node app'], 1] });
    expect(findSignalBlocker(7, npm)).toEqual({ chain: ['npm', 'sh'] });
    expect(findSignalBlocker(1, proc({ 1: [['/bin/sh', '-c', 'node server.js; echo done'], 0] }))).toEqual({ chain: ['sh'] });
  });

  it('finds nothing when something that forwards signals is in the chain (tini, a terminal, systemd)', () => {
    expect(findSignalBlocker(1, proc({ 1: [['/sbin/tini', '--', 'node', 'server.js'], 0] }))).toBeUndefined();
    // npm started from an interactive shell in a terminal: the terminal's session is not PID 1's.
    const terminal = proc({ 1: [['/sbin/init'], 0], 300: [['sshd: dev'], 1], 400: [['-bash'], 300], 500: [['npm', 'start'], 400], 501: [['sh', '-c', 'node app'], 500] });
    expect(findSignalBlocker(501, terminal)).toBeUndefined();
  });

  it('finds nothing when /proc cannot tell (not Linux, a process gone)', () => {
    expect(findSignalBlocker(12, () => undefined)).toBeUndefined();
  });
});

describe('warnIfSignalsBlocked(process)', () => {
  const blocked = proc({ 1: [['npm', 'start'], 0], 12: [['sh', '-c', 'node server.js'], 1] });

  it('emits one LifespanSignalWarning with ERR_LIFESPAN_SIGNALS_NOT_FORWARDED naming the chain and the fix', () => {
    const warnings: [string, { type?: string; code?: string }][] = [];
    const fake = { ppid: 12, emitWarning: (message: string, options: { type?: string; code?: string }) => void warnings.push([message, options]) };
    expect(warnIfSignalsBlocked(fake, blocked)).toBe(true);
    expect(warnings).toEqual([[expect.stringContaining('PID 1 is npm → sh'), expect.objectContaining({ type: 'LifespanSignalWarning', code: 'ERR_LIFESPAN_SIGNALS_NOT_FORWARDED' })]]);
    expect(warnings[0]![0]).toContain('CMD ["node", "server.js"]');
  });

  it('says nothing when this process is PID 1 itself, or its parent is unknown', () => {
    const emitWarning = jest.fn();
    expect(warnIfSignalsBlocked({ ppid: 0, emitWarning }, blocked)).toBe(false);
    expect(warnIfSignalsBlocked({ emitWarning }, blocked)).toBe(false);
    expect(emitWarning).not.toHaveBeenCalled();
  });
});
