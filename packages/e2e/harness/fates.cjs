'use strict';
// The fate of every request a client meant to send, from the client's records
// (harness/client-record.mjs) and the server's facts (harness/server-ledger.cjs):
// - `answered`: a complete response (its status and `Connection: close` are kept);
// - `refused`: the client learnt the server was gone before it wrote anything (ECONNREFUSED, a
//   GOAWAY before the stream was opened): a real client goes elsewhere;
// - `crossing-fin`: written after the server had sent its FIN on a connection that had been idle
//   for at least the grace and had no response pending. The request and the FIN crossed on the
//   wire; HTTP/1.1 gives a server no way to prevent that (only a client retry can);
// - `lost`: everything else that was written, or attempted, and not answered.
// Used by the process tests (test/load-harness.ts) and the shutdown benchmark (bench/shutdown.mjs).

/** Errors a client gets before it wrote anything (it knows the server is gone). */
const refusedCodes = new Set(['ECONNREFUSED', 'ERR_HTTP2_GOAWAY_SESSION', 'ERR_HTTP2_INVALID_SESSION']);

/** The server's connections by client port: `{ acceptedAt, fin }`, oldest first. */
function connectionsByPort(facts) {
  const byPort = new Map();
  for (const fact of facts) {
    if (fact.type === 'accept') {
      const list = byPort.get(fact.port) ?? [];
      list.push({ acceptedAt: fact.at, fin: undefined });
      byPort.set(fact.port, list);
    } else if (fact.type === 'fin') {
      const open = byPort.get(fact.port)?.findLast((connection) => connection.fin === undefined);
      if (open !== undefined) open.fin = fact;
    }
  }
  return byPort;
}

/** The server's view of each request id: when its handler saw it and how its response ended. */
function serverRequests(facts) {
  const byId = new Map();
  const all = [];
  for (const fact of facts) {
    if (fact.type === 'request') {
      const entry = { ...fact, seenAt: fact.at, outcome: undefined, endedAt: undefined };
      all.push(entry);
      if (fact.id !== undefined) byId.set(fact.id, entry);
    } else if (fact.type === 'response') {
      const entry = (fact.id === undefined ? undefined : byId.get(fact.id)) ?? all.findLast((candidate) => candidate.outcome === undefined && candidate.port === fact.port && candidate.url === fact.url);
      if (entry !== undefined && entry.outcome === undefined) Object.assign(entry, { outcome: fact.outcome, endedAt: fact.at, status: fact.status, close: fact.close });
    }
  }
  return { byId, all };
}

function fateOf(record, connection, seen, graceMs) {
  if (record.answeredAt !== undefined) return 'answered';
  if (record.writtenAt === undefined && refusedCodes.has(record.error)) return 'refused';
  const fin = connection?.fin;
  if (record.writtenAt !== undefined && seen === undefined && fin !== undefined && fin.at <= record.writtenAt && fin.idleMs >= graceMs && fin.pending === 0) {
    return 'crossing-fin';
  }
  return 'lost';
}

const ordinals = ['1st', '2nd', '3rd'];

function describe(entry, marks) {
  const { record, connection, seen } = entry;
  const at = (time) => {
    if (time === undefined) return 'never';
    const parts = [];
    if (marks.signalAt !== undefined) parts.push(`${signed(time - marks.signalAt)} ms after SIGTERM`);
    if (marks.listenerClosedAt !== undefined) parts.push(`${signed(time - marks.listenerClosedAt)} ms after the listener closed`);
    return parts.length === 0 ? `at ${time.toFixed(1)}` : parts.join(', ');
  };
  const where = record.conn === undefined
    ? 'no connection'
    : `${ordinals[record.connSeq] ?? `${record.connSeq + 1}th`} request on connection :${record.conn}${record.reused ? ' (reused)' : ''}${record.stream === undefined ? '' : `, stream ${record.stream}`}`;
  const server = seen === undefined
    ? 'the handler never saw it'
    : `the handler saw it ${at(seen.seenAt)}, its response ${seen.outcome === 'finish' ? 'finished' : seen.outcome === 'close' ? 'closed without finishing' : 'never ended'}`;
  const fin = connection?.fin;
  const finText = fin === undefined ? 'no FIN from the server' : `server FIN (${fin.by}) ${at(fin.at)}, connection idle ${fin.idleMs.toFixed(1)} ms then, ${fin.pending} response(s) pending`;
  return `#${record.id} ${record.client} GET ${record.path}, ${where}: written ${at(record.writtenAt)}, ${record.error ?? `status ${record.status}`} ${at(record.failedAt ?? record.answeredAt)}; ${server}; ${finText}`;
}

function signed(ms) {
  return `${ms >= 0 ? '+' : ''}${ms.toFixed(1)}`;
}

/**
 * Classifies every request. `graceMs` is the idle grace the server promises (not what it runs
 * with: a server that closes sooner must show up as losing requests). `marks` (`signalAt`,
 * `listenerClosedAt`, epoch ms) only place the descriptions in time.
 */
function classify(requests, facts, { graceMs, marks = {} }) {
  const byPort = connectionsByPort(facts);
  const server = serverRequests(facts);
  const entries = requests.map((record) => {
    const candidates = record.conn === undefined ? [] : (byPort.get(record.conn) ?? []);
    const connection = candidates.findLast((candidate) => candidate.acceptedAt <= (record.writtenAt ?? record.queuedAt)) ?? candidates[0];
    const seen = server.byId.get(record.id);
    return { record, connection, seen, fate: fateOf(record, connection, seen, graceMs) };
  });
  const pick = (fate) => entries.filter((entry) => entry.fate === fate);
  const statuses = {};
  for (const { record } of pick('answered')) statuses[record.status] = (statuses[record.status] ?? 0) + 1;
  const unanswered = server.all.filter((entry) => entry.outcome !== 'finish');
  return {
    counts: {
      requests: entries.length,
      answered: pick('answered').length,
      refused: pick('refused').length,
      crossingFin: pick('crossing-fin').length,
      lost: pick('lost').length,
      serverSaw: server.all.length,
      serverUnanswered: unanswered.length,
    },
    statuses,
    entries,
    /** One line per lost request: what the client saw, when, and what the server did. */
    lost: pick('lost').map((entry) => describe(entry, marks)),
    crossingFin: pick('crossing-fin').map((entry) => describe(entry, marks)),
    /** Requests the handler saw whose response never reached the socket. */
    serverUnanswered: unanswered.map((entry) => `${entry.id === undefined ? 'a request' : `#${entry.id}`} ${entry.method} ${entry.url} on :${entry.port}, seen ${signed(entry.seenAt - (marks.signalAt ?? 0))} ms${marks.signalAt === undefined ? '' : ' after SIGTERM'}: response ${entry.outcome === 'close' ? 'closed without finishing' : 'never ended'}`),
  };
}

exports.classify = classify;
exports.refusedCodes = refusedCodes;
