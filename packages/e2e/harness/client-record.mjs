// One record per request a client of the load process meant to send, and what became of it as
// the client saw it. Times are epoch milliseconds (`performance.timeOrigin + performance.now()`),
// comparable with the server's facts (harness/server-ledger.cjs). Fields:
// - `id` (sent as `x-harness-id`), `client` (e.g. `raw#2`), `path`, `queuedAt`;
// - `conn` (the client's local port), `connSeq` (0 for the first request on that connection),
//   `reused` (the connection had carried a request before);
// - `writtenAt`: when its first bytes were handed to the socket (the earliest moment the server
//   could have them); `flushedAt`: when the write completed (`finish`, write callback);
// - `answeredAt`, `status`, `close` (the response said `Connection: close`); or `failedAt`, `error`
//   (`ECONNREFUSED`, `ECONNRESET`, `EOF` for a connection closed with the request unanswered,
//   `TIMEOUT`, `REFUSED_STREAM`...).
import fates from './fates.cjs';

const { refusedCodes } = fates;

export function epochNow() {
  return performance.timeOrigin + performance.now();
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A random pause within `[min, max]` ms, or none. */
export function pause(range) {
  if (range === undefined) return undefined;
  const [min, max] = range;
  return sleep(min + Math.random() * (max - min));
}

/** The `code` of a client error, or its message. */
export function codeOf(error) {
  return error?.code ?? error?.message ?? String(error);
}

/** The records of one load process; `tag` starts every id, so that the ids of several load processes differ. */
export function createRecords(tag = '') {
  const records = [];
  let answered = 0;
  let refused = 0;
  let failed = 0;
  let written = 0;
  return {
    /** A new request of `client` to `path`. */
    begin(client, path) {
      const record = { id: `${tag}${records.length + 1}`, client, path, queuedAt: epochNow() };
      records.push(record);
      return record;
    },
    written(record, at = epochNow()) {
      if (record.writtenAt === undefined) {
        record.writtenAt = at;
        written++;
      }
    },
    answered(record, status, close) {
      if (record.answeredAt !== undefined || record.failedAt !== undefined) return;
      record.answeredAt = epochNow();
      record.status = status;
      record.close = close;
      answered++;
    },
    failed(record, error) {
      if (record.answeredAt !== undefined || record.failedAt !== undefined) return;
      record.failedAt = epochNow();
      record.error = error;
      if (refusedCodes.has(error) && record.writtenAt === undefined) refused++;
      else failed++;
    },
    counts: () => ({ total: records.length, written, answered, refused, failed }),
    all: () => records,
  };
}
