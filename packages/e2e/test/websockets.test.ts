import { once } from 'node:events';
import { WebSocket } from 'ws';
import { io as connectSocketIo } from 'socket.io-client';
import type { Socket as SocketIoClient } from 'socket.io-client';
import { startFixture } from './start-fixture';
import type { Fixture } from './start-fixture';

/** How a client's connection ended, as the client saw it; `at` in this process's `performance.now()`. */
interface Closed {
  readonly code: number;
  readonly reason: string;
  readonly at: number;
}

async function openWebSocket(url: string): Promise<{ client: WebSocket; closed: Promise<Closed> }> {
  const client = new WebSocket(url.replace('http:', 'ws:'));
  const closed = new Promise<Closed>((resolve) => client.once('close', (code, reason) => resolve({ code, reason: reason.toString(), at: performance.now() })));
  await once(client, 'open');
  return { client, closed };
}

/** A Socket.IO client on the websocket transport, without reconnection: its one connection's end. */
async function openSocketIo(url: string): Promise<{ client: SocketIoClient; closed: Promise<Closed> }> {
  const client = connectSocketIo(url, { transports: ['websocket'], reconnection: false });
  const closed = new Promise<Closed>((resolve) =>
    client.once('disconnect', (reason, details) => {
      // engine.io-client passes the WebSocket's CloseEvent as the context of a "transport close".
      const context = (details as { context?: { code?: number } } | undefined)?.context;
      resolve({ code: context?.code ?? -1, reason, at: performance.now() });
    }),
  );
  await new Promise<void>((resolve) => client.once('connect', resolve));
  return { client, closed };
}

function reportOf(app: Fixture): Record<string, unknown> {
  const [report] = app.events('report');
  return report!;
}

const describePosix = process.platform === 'win32' ? describe.skip : describe;

describePosix('lifecycle.webSockets(server) in a real process', () => {
  it('ws: on SIGTERM every client gets 1001 (Going Away) with a reason, spread over half the drain timeout, and the process exits 0', async () => {
    const drainTimeoutMs = 2000;
    const app = await startFixture('websockets.mjs', { WS: 'ws', DRAIN_TIMEOUT_MS: String(drainTimeoutMs) });
    const clients = await Promise.all(Array.from({ length: 40 }, () => openWebSocket(app.url)));
    const killedAt = app.kill('SIGTERM');
    const closes = await Promise.all(clients.map(({ closed }) => closed));
    expect(await app.exited).toEqual({ code: 0, signal: null });

    expect(new Set(closes.map(({ code, reason }) => `${code} ${reason}`))).toEqual(new Set(['1001 server shutting down']));
    const times = closes.map(({ at }) => at - killedAt).sort((a, b) => a - b);
    // Spread over a window of drainTimeoutMs / 2 (1000 ms): not all in one instant, and every one
    // before the drain timeout. Generous bounds: the machine is shared.
    expect(times.at(-1)! - times[0]!).toBeGreaterThan(drainTimeoutMs / 2 / 2);
    expect(times.at(-1)!).toBeLessThan(drainTimeoutMs);
    expect(reportOf(app)).toMatchObject({ ok: true, codes: [], http: { webSocketsClosed: 40, webSocketsTerminated: 0, connectionsDestroyed: 0 } });
    expect(app.lines()).toEqual(['drain:request', 'close:server', 'exit:natural']);
  });

  it('Socket.IO (io.engine): every client sees its WebSocket closed with 1001 ("transport close", so it would reconnect elsewhere)', async () => {
    const app = await startFixture('websockets.mjs', { WS: 'socket.io' });
    const clients = await Promise.all(Array.from({ length: 20 }, () => openSocketIo(app.url)));
    await app.until(() => app.events('connected').length === clients.length, 'every Socket.IO connection');
    app.kill('SIGTERM');
    const closes = await Promise.all(clients.map(({ closed }) => closed));
    expect(await app.exited).toEqual({ code: 0, signal: null });
    expect(new Set(closes.map(({ code, reason }) => `${code} ${reason}`))).toEqual(new Set(['1001 transport close']));
    expect(reportOf(app)).toMatchObject({ ok: true, http: { webSocketsClosed: 20, webSocketsTerminated: 0 } });
  });

  it('a client that never answers its close frame is terminated at drainTimeoutMs, counted and reported (exit 1); the others got 1001', async () => {
    const drainTimeoutMs = 1000;
    const app = await startFixture('websockets.mjs', { WS: 'ws', DRAIN_TIMEOUT_MS: String(drainTimeoutMs) });
    const answering = await Promise.all(Array.from({ length: 5 }, () => openWebSocket(app.url)));
    const silent = await openWebSocket(app.url);
    // Reads nothing more: the close frame waits in its socket, unanswered.
    silent.client.pause();
    const killedAt = app.kill('SIGTERM');
    const closes = await Promise.all(answering.map(({ closed }) => closed));
    expect(await app.exited).toEqual({ code: 1, signal: null });
    expect(closes.map(({ code }) => code)).toEqual([1001, 1001, 1001, 1001, 1001]);
    for (const { at } of closes) expect(at - killedAt).toBeLessThan(drainTimeoutMs);
    expect(reportOf(app)).toMatchObject({
      ok: false,
      codes: ['ERR_LIFESPAN_WEBSOCKETS_TERMINATED'],
      http: { webSocketsClosed: 6, webSocketsTerminated: 1, connectionsDestroyed: 0 },
    });
    const terminated = app.events('drain').find((event) => event['type'] === 'destroyed');
    expect(terminated).toMatchObject({ webSockets: 1, connections: 0 });
    silent.client.terminate();
  });

  it('a rolling restart (cluster worker.disconnect()): every client gets 1012 (Service Restart)', async () => {
    const primary = await startFixture('cluster-primary.mjs', { WEBSOCKETS: '1' });
    const clients = await Promise.all(Array.from({ length: 10 }, () => openWebSocket(primary.url)));
    primary.child.send('stop');
    const closes = await Promise.all(clients.map(({ closed }) => closed));
    expect(await primary.exited).toEqual({ code: 0, signal: null });
    expect(new Set(closes.map(({ code, reason }) => `${code} ${reason}`))).toEqual(new Set(['1012 server restarting']));
  });
});
