import { turnsPerPoll } from './node-internals.js';
import { now } from './run-hook.js';

/** The clock and the loop turn `FreshRead` runs on; tests pass a lagging one. */
export interface LoopTurns {
  /** Milliseconds, in `now()` time. */
  now(): number;
  /** Runs `fn` in the event loop's check phase (`setImmediate`). */
  next(fn: () => void): void;
  /** How many turns in a row may run without a poll of the sockets (1 if omitted: Node). */
  readonly turnsPerPoll?: number;
}

const eventLoop: LoopTurns = { now, next: (fn) => void setImmediate(fn), turnsPerPoll: turnsPerPoll() };

/** The bound of a turn at first: an idle event loop turns in a few microseconds. */
const quickTurnMs = 0.05;
/** The same for Deno's run of 63 turns (each a microsecond or so when idle: 45-80 µs in all). */
const quickTurnsMs = 0.1;
/** The share of the time waited so far that a turn may take: the bound grows as the wait does. */
const patience = 0.05;

/**
 * Runs decisions about idle connections right after the event loop has polled every socket, while
 * what it read is still true: a request whose bytes reached the kernel before the decision has been
 * read by then, and makes its connection busy. A decision taken on older reads (the poll before a
 * stall of the process) closes connections whose next request sits unread in the kernel's buffer.
 *
 * Two check phases in a row have a poll phase between them: when the second comes at most `limit`
 * ms after the first, that poll is at most `limit` ms old. The bound starts at 50 µs (an idle loop
 * turns in a few; a request written within it of the decision still meets the close, like one
 * crossing it on the wire). A slower turn (a process starved of CPU, a poll phase busy with other
 * connections) decides nothing, and the next one is tried; the bound grows with the wait (5% of the
 * time waited so far) up to `maxMs()`, and never beyond it: a read older than the grace is what the
 * grace exists to exclude. The drain timeout bounds the wait. Decisions run in the order they were
 * asked for, and only while the turn is within its bound: the rest wait for the next quick turn.
 * On Deno the sockets are polled only every 61 turns (`turnsPerPoll()`): there the measured span
 * is 63 turns, so that a poll lies inside it, and its bound starts at 100 µs.
 */
export class FreshRead {
  readonly #turns: LoopTurns;
  readonly #maxMs: () => number;
  #queue: (() => void)[] = [];
  #waiting = false;
  #waitStart = 0;
  #turnStart = 0;
  #turnsLeft = 0;

  /** `maxMs()`: the longest a read may be old (the idle grace); at least 1 ms. */
  constructor(maxMs: () => number, turns: LoopTurns = eventLoop) {
    this.#maxMs = maxMs;
    this.#turns = turns;
  }

  /** Runs `decide` just after a poll phase at most the bound old. */
  run(decide: () => void): void {
    this.#queue.push(decide);
    if (this.#waiting) return;
    this.#waiting = true;
    this.#waitStart = this.#turns.now();
    // Asked from an I/O callback, the next check phase follows this poll, not a new one: the turn
    // to measure starts in that check phase.
    this.#turns.next(this.#begin);
  }

  readonly #begin = (): void => {
    this.#turnStart = this.#turns.now();
    this.#turnsLeft = this.#turns.turnsPerPoll ?? 1;
    this.#turns.next(this.#turn);
  };

  readonly #turn = (): void => {
    // Where the runtime polls the sockets only every so many turns (Deno), the poll is behind us
    // only after that many: until then, what was read may predate the decision's start.
    if (--this.#turnsLeft > 0) {
      this.#turns.next(this.#turn);
      return;
    }
    const now = this.#turns.now();
    const quickMs = (this.#turns.turnsPerPoll ?? 1) > 1 ? quickTurnsMs : quickTurnMs;
    const limit = Math.min(Math.max(quickMs, (this.#turnStart - this.#waitStart) * patience), Math.max(1, this.#maxMs()));
    if (now - this.#turnStart > limit) {
      this.#begin();
      return;
    }
    const queue = this.#queue;
    let done = 0;
    try {
      while (done < queue.length && this.#turns.now() - this.#turnStart <= limit) queue[done++]!();
    } finally {
      queue.splice(0, done);
      this.#waitStart = this.#turns.now();
      if (queue.length > 0) this.#begin();
      else this.#waiting = false;
    }
  };
}
