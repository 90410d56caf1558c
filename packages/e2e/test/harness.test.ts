import { classify } from '../harness/fates.cjs';
import { sigtermUnderLoad } from './load-harness';
import { runtime } from './start-fixture';
import type { ClientRecord, ServerFact } from './load-harness';

// The harness itself: it must see a loss where there is one, and tell the loss no server can
// prevent (a request crossing the FIN of a connection idle past the grace) from every other.
const describePosix = process.platform === 'win32' ? describe.skip : describe;
// The fixture shows what node:http's own server.close() loses (Node 19+ closes idle keep-alive
// connections at once): a check of the harness against a known loss, so its server runs on Node.
// (Bun's close() loses requests too; what it loses is Bun's behaviour, not the harness's.)
const describeNodeServer = describePosix === describe && runtime.kind === 'node' ? describe : describe.skip;

describe('classify(requests, facts) (harness/fates.cjs)', () => {
  const conn = 40_000;
  const accepted: ServerFact = { type: 'accept', port: conn, at: 0 };
  const written = (writtenAt: number, extra: Partial<ClientRecord> = {}): ClientRecord => ({ id: '1', client: 'raw#1', path: '/', queuedAt: writtenAt, conn, connSeq: 1, reused: true, writtenAt, failedAt: writtenAt + 1, error: 'ECONNRESET', ...extra });
  const fin = (at: number, idleMs: number, pending = 0): ServerFact => ({ type: 'fin', port: conn, at, by: 'destroy', idleMs, pending });
  const fateOf = (record: ClientRecord, facts: ServerFact[]): string => classify([record], facts, { graceMs: 25 }).entries[0]!.fate;

  it('counts an answer as answered and a refused connection as refused', () => {
    expect(fateOf({ id: '1', client: 'a', path: '/', queuedAt: 0, writtenAt: 1, answeredAt: 2, status: 200, close: false }, [])).toBe('answered');
    expect(fateOf({ id: '1', client: 'a', path: '/', queuedAt: 0, failedAt: 1, error: 'ECONNREFUSED' }, [])).toBe('refused');
  });

  it('calls a request written after the FIN of a connection idle for the grace crossing-fin', () => {
    expect(fateOf(written(100), [accepted, fin(99, 25)])).toBe('crossing-fin');
  });

  it('calls every other unanswered request lost', () => {
    // Written before the FIN: the server had it.
    expect(fateOf(written(98), [accepted, fin(99, 60)])).toBe('lost');
    // The connection had been idle for less than the grace: the server closed it too soon.
    expect(fateOf(written(100), [accepted, fin(99, 24.9)])).toBe('lost');
    // A response was pending on it: not idle at all.
    expect(fateOf(written(100), [accepted, fin(99, 60, 1)])).toBe('lost');
    // The server never closed it.
    expect(fateOf(written(100), [accepted])).toBe('lost');
    // Its handler saw it.
    expect(fateOf(written(100), [accepted, fin(99, 60), { type: 'request', id: '1', port: conn, at: 100.5 }])).toBe('lost');
    // ECONNREFUSED after it had been written (undici re-sends a pipelined request on a new connection).
    expect(fateOf(written(100, { error: 'ECONNREFUSED' }), [accepted])).toBe('lost');
  });

  it('lists the requests whose handler ran and whose response never reached the socket', () => {
    const facts: ServerFact[] = [
      accepted,
      { type: 'request', id: '1', port: conn, at: 1, method: 'GET', url: '/a' },
      { type: 'request', id: '2', port: conn, at: 2, method: 'GET', url: '/b' },
      { type: 'response', id: '1', port: conn, at: 3, outcome: 'finish', status: 200, close: false },
      { type: 'response', id: '2', port: conn, at: 4, outcome: 'close', status: 200, close: false },
    ];
    expect(classify([], facts, { graceMs: 25 }).serverUnanswered).toEqual([`#2 GET /b on :${conn}, seen +2.0 ms: response closed without finishing`]);
  });
});

describeNodeServer('the load harness against plain server.close() (fixtures/server-close.mjs)', () => {
  it('counts the requests that closing idle connections at once loses, as lost, every run', async () => {
    // The raw clients reuse their connection 10 ms after each response without reading the socket:
    // server.close() closes it as idle meanwhile, and the next request meets the FIN.
    const { fates, exit } = await sigtermUnderLoad('server-close.mjs', {}, [{ clients: [{ kind: 'raw', name: 'stalling', count: 4, stallMs: 10 }] }]);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(fates.counts.lost).toBeGreaterThan(0);
    expect(fates.counts.crossingFin).toBe(0);
    // None reached a handler: server.close() loses requests the server never saw.
    expect(fates.lost.filter((line) => !line.includes('the handler never saw it'))).toEqual([]);
    // Each one on a reused connection was written after the server's FIN, which the server ledger
    // recorded. (A client's new connection that close() destroys as it is accepted, before its
    // request, has no FIN in the ledger: seen in CI on Node and on Bun.)
    expect(fates.lost.filter((line) => line.includes('(reused)') && !line.includes('server FIN (destroy)'))).toEqual([]);
  });
});
