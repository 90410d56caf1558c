// Types of harness/fates.cjs for the TypeScript tests.
import type { ClientRecord, ServerFact } from '../test/load-harness';

export type Fate = 'answered' | 'refused' | 'crossing-fin' | 'lost';

export interface FateEntry {
  readonly record: ClientRecord;
  readonly fate: Fate;
}

export interface Fates {
  readonly counts: {
    readonly requests: number;
    readonly answered: number;
    readonly refused: number;
    readonly crossingFin: number;
    readonly lost: number;
    readonly serverSaw: number;
    readonly serverUnanswered: number;
  };
  /** Answered requests by status. */
  readonly statuses: Readonly<Record<string, number>>;
  readonly entries: readonly FateEntry[];
  readonly lost: readonly string[];
  readonly crossingFin: readonly string[];
  readonly serverUnanswered: readonly string[];
}

export declare const refusedCodes: ReadonlySet<string>;

export declare function classify(
  requests: readonly ClientRecord[],
  facts: readonly ServerFact[],
  options: { graceMs: number; marks?: { signalAt?: number; listenerClosedAt?: number } },
): Fates;
