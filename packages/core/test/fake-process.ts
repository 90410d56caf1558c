import { EventEmitter } from 'node:events';
import type { ProcessLike } from '@lifespan/core/testing';

/** A stand-in for `process`: real events, spied side effects, so no test touches the jest worker. */
export class FakeProcess extends EventEmitter implements ProcessLike {
  /** A forced exit (a second signal, an event loop that did not empty in time). */
  readonly exit = jest.fn<void, [number?]>();
  /** What the lifecycle set once its shutdown was over: the process then ends when its loop empties. */
  exitCode: number | string | undefined;
  readonly emitWarning = jest.fn<void, [string, { type?: string; code?: string; detail?: string }]>();
  readonly env: Record<string, string | undefined>;
  readonly send: jest.Mock<boolean, [unknown]> | undefined;
  readonly stderr: { write: jest.Mock<boolean, [string]>; isTTY: boolean };

  constructor(options: { env?: Record<string, string | undefined>; ipc?: boolean; tty?: boolean } = {}) {
    super();
    this.env = options.env ?? {};
    this.stderr = { write: jest.fn<boolean, [string]>(() => true), isTTY: options.tty === true };
    this.send = options.ipc === true ? jest.fn<boolean, [unknown]>(() => true) : undefined;
  }

  /** Everything written to the fake stderr. */
  written(): string {
    return this.stderr.write.mock.calls.map(([text]) => text).join('');
  }

  /** Events the coordinator listens to now. */
  listened(): string[] {
    return this.eventNames().map(String).sort();
  }
}

/** A logger whose calls the test can read. */
export function createLogger(): { info: jest.Mock; warn: jest.Mock; error: jest.Mock } {
  return { info: jest.fn(), warn: jest.fn(), error: jest.fn() };
}

/** A promise that never settles: a hung hook. */
export function never(): Promise<never> {
  return new Promise<never>(() => undefined);
}
