import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { createLifecycle } from '@lifespan/core';
import type { Lifecycle } from '@lifespan/core';
import { overrideInternals } from '../src/node-internals';

// Requests pipelined on one keep-alive connection: Node runs the handler of each as it is read and
// queues its response behind the one being written; a response that ends the connection drops
// every response queued behind it.

const pipeline = ['/1', '/2', '/3'].map((path) => `GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`).join('');

interface Pipelined {
  lifecycle: Lifecycle;
  port: number;
  /** The paths whose handler ran, in order. */
  seen: string[];
  server: http.Server;
}

/** A server whose handler answers each request once `answer(req)` resolves. */
async function pipelinedServer(answer: (req: http.IncomingMessage, lifecycle: Lifecycle) => Promise<void>, drainTimeoutMs = 10_000): Promise<Pipelined> {
  const lifecycle = createLifecycle({ signals: false, exitFallback: false, drainTimeoutMs });
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(req.url!);
    void answer(req, lifecycle).then(() => res.end(req.url));
  });
  lifecycle.attach(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { lifecycle, port: (server.address() as AddressInfo).port, seen, server };
}

/** Writes the three requests in one write; resolves with the socket and, once it closes, every response it received. */
async function writePipeline(port: number): Promise<{ socket: net.Socket; responses: Promise<string[]> }> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  let received = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (received += chunk));
  socket.on('error', () => undefined);
  socket.write(pipeline);
  const responses = once(socket, 'close').then(() => received.split(/(?=HTTP\/1\.1 )/).filter((response) => response.length > 0));
  return { socket, responses };
}

const afterShutdown = (lifecycle: Lifecycle): Promise<void> =>
  new Promise((resolve) => {
    if (lifecycle.signal.aborted) resolve();
    else lifecycle.signal.addEventListener('abort', () => void setTimeout(resolve, 20), { once: true });
  });

async function until(predicate: () => boolean): Promise<void> {
  while (!predicate()) await new Promise((resolve) => setTimeout(resolve, 5));
}

describe('lifecycle.attach(server) with pipelined requests', () => {
  it('answers every request of a pipeline in flight at shutdown, with Connection: close on the last one only', async () => {
    const { lifecycle, port, seen } = await pipelinedServer((_req, lifecycle) => afterShutdown(lifecycle));
    const { responses } = await writePipeline(port);
    await until(() => seen.length === 3);
    const report = await lifecycle.shutdown('test');
    const answered = await responses;
    expect(answered.map((response) => [response.endsWith(response.match(/\/\d$/)![0]), /\r\nConnection: close\r\n/i.test(response)])).toEqual([
      [true, false],
      [true, false],
      [true, true],
    ]);
    expect(answered.map((response) => response.slice(-2))).toEqual(['/1', '/2', '/3']);
    expect(report).toMatchObject({ ok: true, http: { inFlightAtStart: 3, completedDuringDrain: 3, unansweredRequests: 0, abortedRequests: 0 } });
  });

  it("answers every request of a pipeline whose first request's handler starts the shutdown", async () => {
    let report: ReturnType<Lifecycle['shutdown']> | undefined;
    const { port, seen } = await pipelinedServer(async (req, lifecycle) => {
      if (req.url === '/1') report = lifecycle.shutdown('from /1');
      await afterShutdown(lifecycle);
    });
    const { responses } = await writePipeline(port);
    const answered = await responses;
    expect(seen).toEqual(['/1', '/2', '/3']);
    expect(answered.map((response) => response.slice(-2))).toEqual(['/1', '/2', '/3']);
    expect(answered.map((response) => /\r\nConnection: close\r\n/i.test(response))).toEqual([false, false, true]);
    expect(await report).toMatchObject({ ok: true, http: { unansweredRequests: 0, abortedRequests: 0 } });
  });

  it('does not wait for a connection that is gone: the pipelined requests it still held are counted as unanswered', async () => {
    const { lifecycle, port, seen } = await pipelinedServer(() => new Promise(() => undefined));
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    socket.on('error', () => undefined);
    socket.write(pipeline.slice(0, pipeline.indexOf('GET /2')));
    await until(() => seen.length === 1);
    const began = performance.now();
    const report = lifecycle.shutdown('test');
    // Pipelined behind /1 once shutdown began: Node queues them, their handlers run.
    socket.write(pipeline.slice(pipeline.indexOf('GET /2')));
    await until(() => seen.length === 3);
    socket.destroy();
    const result = await report;
    // Well before drainTimeoutMs (10 s): nothing is left to wait for once the connection is gone.
    expect(performance.now() - began).toBeLessThan(5_000);
    expect(result.ok).toBe(false);
    expect(result.http).toMatchObject({ inFlightAtStart: 1, unansweredRequests: 2, abortedRequests: 0 });
    expect(result.errors.map((error) => error.code)).toEqual(['ERR_LIFESPAN_REQUESTS_UNANSWERED']);
  });

  it('does not wait for a gone connection whose pipeline was read before shutdown began, and reports the loss', async () => {
    const { lifecycle, port, seen } = await pipelinedServer(() => new Promise(() => undefined));
    const { socket, responses } = await writePipeline(port);
    await until(() => seen.length === 3);
    const began = performance.now();
    const report = lifecycle.shutdown('test');
    await new Promise((resolve) => setTimeout(resolve, 50));
    socket.destroy();
    await responses;
    const result = await report;
    expect(performance.now() - began).toBeLessThan(5_000);
    // attach() alone reads nothing per request before shutdown: of the requests queued out of
    // sight, the last one read is known (Node's parser keeps it), those between it and the first are not.
    expect(result.ok).toBe(false);
    expect(result.http.unansweredRequests).toBeGreaterThanOrEqual(1);
    expect(result.errors.map((error) => error.code)).toEqual(['ERR_LIFESPAN_REQUESTS_UNANSWERED']);
  });
});

describe("lifecycle.attach(server) with pipelined requests, without Node's record of the parser's last request (public fallback)", () => {
  let restore: (() => void) | undefined;
  beforeEach(() => void (restore = overrideInternals({ parserIncoming: () => undefined })));
  afterEach(() => restore?.());

  it('answers every request of a pipeline in flight at shutdown, with Connection: close on the last one only', async () => {
    const { lifecycle, port, seen } = await pipelinedServer((_req, lifecycle) => afterShutdown(lifecycle));
    // The first request's self-check finds the internal missing: every request is watched from then on.
    const { responses: first } = await writePipeline(port);
    await until(() => seen.length === 3);
    const { responses } = await writePipeline(port);
    await until(() => seen.length === 6);
    const report = await lifecycle.shutdown('test');
    for (const answered of [await first, await responses]) {
      expect(answered.map((response) => response.slice(-2))).toEqual(['/1', '/2', '/3']);
      expect(answered.map((response) => /\r\nConnection: close\r\n/i.test(response))).toEqual([false, false, true]);
    }
    expect(report).toMatchObject({ ok: true, http: { unansweredRequests: 0, abortedRequests: 0 } });
  });
});

