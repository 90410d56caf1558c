import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as core from '@lifespan/core';
import { errorCodes, LifecycleError } from '@lifespan/core';
import type { LifecycleErrorCode } from '@lifespan/core';

const docs = readFileSync(join(__dirname, '../../../docs/errors.md'), 'utf8');

/** Codes in the first column of the docs table. */
const documented = docs
  .split('\n')
  .map((line) => /^\|\s*`(ERR_LIFESPAN_[A-Z0-9_]+)`\s*\|/.exec(line)?.[1])
  .filter((code): code is string => code !== undefined);

// A missing member of the union is a type error here, so the union, this list and `errorCodes` cannot drift apart.
const union: Record<LifecycleErrorCode, true> = {
  ERR_LIFESPAN_INVALID_ARG: true,
  ERR_LIFESPAN_HOOK_TIMEOUT: true,
  ERR_LIFESPAN_HOOK_FAILED: true,
  ERR_LIFESPAN_DEADLINE_EXCEEDED: true,
  ERR_LIFESPAN_STARTUP_FAILED: true,
  ERR_LIFESPAN_STARTUP_ABORTED: true,
  ERR_LIFESPAN_REGISTER_TOO_LATE: true,
  ERR_LIFESPAN_ALREADY_SHUT_DOWN: true,
  ERR_LIFESPAN_MAX_HOOKS: true,
  ERR_LIFESPAN_ASYNC_HOOK_AT_EXIT: true,
  ERR_LIFESPAN_UNCAUGHT: true,
  ERR_LIFESPAN_REQUESTS_ABORTED: true,
  ERR_LIFESPAN_HEALTH_CHECK_FAILED: true,
  ERR_LIFESPAN_FORCED_EXIT: true,
  ERR_LIFESPAN_WORKER_RESTART: true,
  ERR_LIFESPAN_SIGNALS_NOT_FORWARDED: true,
  ERR_LIFESPAN_CONNECTIONS_DESTROYED: true,
  ERR_LIFESPAN_DRAIN_FAILED: true,
  ERR_LIFESPAN_CALLBACK_FAILED: true,
  ERR_LIFESPAN_REQUESTS_UNANSWERED: true,
  ERR_LIFESPAN_DEADLINE_SPLIT: true,
  ERR_LIFESPAN_WEBSOCKETS_TERMINATED: true,
  ERR_LIFESPAN_WORK_CUT: true,
  ERR_LIFESPAN_WORK_FAILED: true,
};

type ErrorClass = new (...args: unknown[]) => LifecycleError;

/** Every error class that core exports. */
const errorClasses = (Object.entries(core) as [string, unknown][]).filter(
  (entry): entry is [string, ErrorClass] => typeof entry[1] === 'function' && entry[1].prototype instanceof LifecycleError,
);

describe('errorCodes', () => {
  it('lists every code of the LifecycleErrorCode union, once', () => {
    expect([...errorCodes].sort()).toEqual(Object.keys(union).sort());
    expect(new Set(errorCodes).size).toBe(errorCodes.length);
  });

  it('are all ERR_LIFESPAN_* codes', () => {
    for (const code of errorCodes) expect(code).toMatch(/^ERR_LIFESPAN_[A-Z0-9_]+$/);
  });
});

describe('docs/errors.md', () => {
  it('has a | Code | Meaning | Usual fix | table', () => {
    expect(docs).toMatch(/^\| Code \| Meaning \| Usual fix \|$/m);
  });

  it.each([...errorCodes])('has a row for %s with a meaning and a fix', (code) => {
    const row = docs.split('\n').find((line) => line.startsWith(`| \`${code}\` |`));
    expect(row).toBeDefined();
    const cells = row!.split(' | ').map((cell) => cell.replace(/^\|\s*|\s*\|$/g, '').trim());
    expect(cells).toHaveLength(3);
    expect(cells[1]!.length).toBeGreaterThan(20);
    expect(cells[2]!.length).toBeGreaterThan(20);
  });

  it('documents no unknown code, and each code once', () => {
    expect(documented.filter((code) => !(errorCodes as readonly string[]).includes(code))).toEqual([]);
    expect(new Set(documented).size).toBe(documented.length);
  });

  it('mentions no unknown ERR_LIFESPAN_* code anywhere in its text', () => {
    const mentioned = new Set(docs.match(/ERR_LIFESPAN_[A-Z0-9_]*[A-Z0-9]/g) ?? []);
    expect([...mentioned].filter((code) => !(errorCodes as readonly string[]).includes(code))).toEqual([]);
  });
});

describe('error classes', () => {
  it('are exported from @lifespan/core', () => {
    expect(errorClasses.length).toBeGreaterThanOrEqual(12);
  });

  it.each(errorClasses)('%s carries a code from the union, a name and a message', (name, ErrorClass) => {
    const error = new ErrorClass('subject', 1);
    expect(errorCodes).toContain(error.code);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe(name);
    expect(error.message.length).toBeGreaterThan(0);
  });

  it('keep the underlying failure as the cause', () => {
    const failure = new Error('underlying');
    expect(new core.HookFailedError('db', 'close', failure).cause).toBe(failure);
    expect(new core.StartupFailedError('db', failure).cause).toBe(failure);
    expect(new core.UncaughtError('uncaughtException', failure).cause).toBe(failure);
    expect(new core.HealthCheckFailedError('db', failure).cause).toBe(failure);
  });

  it('describe any thrown value without throwing: a null-prototype object, a revoked Proxy', () => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    for (const value of [Object.create(null) as unknown, proxy]) {
      expect(new core.HookFailedError('db', 'close', value).message).toBe('Shutdown hook "db" failed: a thrown object that cannot be shown as text');
    }
    expect(new core.HookFailedError('db', 'close', 'text').message).toBe('Shutdown hook "db" failed: text');
  });

  it('name the hook or argument involved in the message', () => {
    expect(new core.InvalidArgumentError('options.timeoutMs', 'bad').message).toContain('options.timeoutMs');
    expect(new core.HookTimeoutError('pg pool', 5000).message).toContain('"pg pool"');
    expect(new core.DeadlineExceededError('pg pool', 30_000).message).toContain('"pg pool"');
    expect(new core.RegisterTooLateError('pg pool', 'closing').message).toContain('"pg pool"');
  });
});
