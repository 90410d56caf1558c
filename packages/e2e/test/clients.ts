import http from 'node:http';
import type { Agent, IncomingHttpHeaders, IncomingMessage } from 'node:http';
import net from 'node:net';
import type { AddressInfo, Socket } from 'node:net';

/** A complete response as a client saw it. */
export interface ClientResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** GETs `url` through `agent` and reads the whole body; rejects with the client's error (its `code`). */
export function get(url: string, agent: Agent): Promise<ClientResponse> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('error', reject);
        res.on('end', () => {
          if (res.complete) resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
          else reject(Object.assign(new Error('response ended incomplete'), { code: 'INCOMPLETE' }));
        });
      })
      .on('error', reject);
  });
}

/** Starts a GET and resolves with the response as soon as its headers arrived (for streams). */
export function open(url: string, agent: Agent): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    http.get(url, { agent }, resolve).on('error', reject);
  });
}

/** A keep-alive agent holding `count` idle connections to `url`, each of which served one request. */
export async function idleKeepAlive(url: string, count: number): Promise<Agent> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: count });
  await Promise.all(Array.from({ length: count }, () => get(url, agent)));
  return agent;
}

/** Number of idle sockets an agent holds. */
export function freeSocketCount(agent: Agent): number {
  return Object.values(agent.freeSockets).reduce((sum, sockets) => sum + (sockets?.length ?? 0), 0);
}

/** `count` raw TCP connections that never send a byte, with any error each one saw. */
export async function unusedConnections(port: number, count: number): Promise<{ sockets: Socket[]; errors: string[] }> {
  const errors: string[] = [];
  const sockets = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Socket>((resolve, reject) => {
          const socket = net.connect(port, '127.0.0.1', () => {
            socket.off('error', reject);
            socket.on('error', (error: NodeJS.ErrnoException) => errors.push(error.code ?? error.message));
            resolve(socket);
          });
          socket.once('error', reject);
        }),
    ),
  );
  return { sockets, errors };
}

/** The `code` of a client error (ECONNRESET, ECONNREFUSED...), or its message. */
export function errorCode(error: unknown): string {
  const { code, message } = error as NodeJS.ErrnoException;
  return code ?? message;
}

/** Milliseconds since the epoch, comparable with the `at` of a fixture's drain events. */
export function epochNow(): number {
  return performance.timeOrigin + performance.now();
}

/** A port on 127.0.0.1 that was free a moment ago (for a process that must bind a known port). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Whether something accepts connections on 127.0.0.1:`port`. */
export function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Resolves once `predicate` holds (checked every 10 ms); rejects after `timeoutMs`, so that no wait is unbounded. */
export async function waitFor(predicate: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
