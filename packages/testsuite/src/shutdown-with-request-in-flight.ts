import http from 'node:http';
import type { Lifecycle, ShutdownReport } from '@lifespan/core';
import { get } from './get.js';
import type { Reply } from './get.js';

/** What the clients saw, and the lifecycle's report. */
export interface InFlightAtShutdown {
  /** The replies to the requests sent before the slow one, in order. */
  readonly earlier: readonly Reply[];
  /** The reply to the request that was in flight when shutdown began. */
  readonly inFlight: Reply;
  readonly report: ShutdownReport;
}

/** What the scenario drives: `GET <url>/` answers at once, `GET <url>/slow` waits for `release()`. */
export interface InFlightApp {
  readonly url: string;
  readonly lifecycle: Lifecycle;
  release(): void;
}

/**
 * Sends `earlier` requests to `<url>/` on one keep-alive connection, then `<url>/slow` on the same
 * one; once that is in flight, shuts the lifecycle down and releases it after the listener closed.
 * Expects what a client must see: every earlier request answered, the one in flight answered with
 * `Connection: close`, and the report counting it. After the first request an adapter may do
 * nothing per request (Express leaves the router, Koa only calls next()): it must still be found.
 */
export async function shutdownWithRequestInFlight(app: InFlightApp, earlier: number): Promise<InFlightAtShutdown> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const replies: Reply[] = [];
    for (let i = 0; i < earlier; i++) replies.push(await get(`${app.url}/`, agent));
    const slow = get(`${app.url}/slow`, agent);
    for (let i = 0; i < 500 && app.lifecycle.inFlight === 0; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    if (app.lifecycle.inFlight === 0) throw new Error('GET /slow was not in flight within 2.5 s');
    const listenerClosed = new Promise((resolve) => app.lifecycle.once('drain', resolve));
    const shutdown = app.lifecycle.shutdown();
    await listenerClosed;
    app.release();
    const result = { earlier: replies, inFlight: await slow, report: await shutdown };
    expect(replies.map((reply) => reply.status)).toEqual(replies.map(() => 200));
    expect({ status: result.inFlight.status, body: result.inFlight.body, connection: result.inFlight.headers.connection }).toEqual({ status: 200, body: 'slow', connection: 'close' });
    expect(result.report.http).toMatchObject({ inFlightAtStart: 1, completedDuringDrain: 1 });
    return result;
  } finally {
    agent.destroy();
  }
}
