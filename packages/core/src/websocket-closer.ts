import { InvalidArgumentError } from './errors.js';
import { show } from './options.js';
import { now } from './run-hook.js';

/** The part of a WebSocket (`ws`'s `WebSocket`) the lifecycle uses. */
export interface WebSocketLike {
  /** 1 is OPEN, as in the WebSocket standard. */
  readonly readyState: number | string;
  close(code?: number, reason?: string): void;
  terminate(): void;
  once(event: 'close', listener: () => void): unknown;
}

/** The part of an engine.io socket (Socket.IO's `io.engine.clients`) the lifecycle uses. */
export interface EngineSocketLike {
  readonly readyState: string;
  readonly transport?: { readonly name?: string; readonly socket?: WebSocketLike };
  close(discard?: boolean): void;
  once(event: 'close', listener: () => void): unknown;
}

/** `ws`'s `WebSocketServer` (with its default `clientTracking`): its `clients` Set. */
export interface WsServerLike {
  readonly clients: Iterable<WebSocketLike>;
}

/**
 * Socket.IO's `io.engine` (engine.io's `Server`): its sockets by id are in its `clients` property,
 * documented in engine.io's README but typed `protected` in its declarations, so not named here.
 */
export interface EngineServerLike {
  readonly clientsCount: number;
}

/** A WebSocket server handed to `lifecycle.webSockets()`: `ws`'s `WebSocketServer`, or Socket.IO's `io.engine`. */
export type WebSocketServerLike = WsServerLike | EngineServerLike;

type ClientsOf = { readonly clients: Iterable<WebSocketLike> | Readonly<Record<string, EngineSocketLike>> };

/** WebSocket close codes (RFC 6455 §7.4.1 and the IANA registry). */
export const closeCodes = { goingAway: 1001, serviceRestart: 1012 } as const;

/**
 * The share of the drain's time over which the close frames are spread: the rest is left for the
 * clients to answer them (the closing handshake) before what is still open is terminated.
 */
export const closeWindowShare = 0.5;

/** How long terminated clients' connections are awaited before what is left is counted as destroyed connections. */
const terminatedCloseMs = 100;

/** How often, at most, a batch of close frames goes out while they are spread. */
const batchEveryMs = 10;

/** One client, whatever its server: closed with a frame, terminated, and its end awaited. */
interface Client {
  readonly key: object;
  isOpen(): boolean;
  close(code: number, reason: string): void;
  terminate(): void;
  once(listener: () => void): void;
}

/**
 * The WebSocket servers handed over: at the drain, every client gets a close frame (1001, or 1012
 * during a rolling restart), spread over a window so that thousands of clients do not all
 * reconnect in the same instant; what is open at the drain timeout is terminated and counted.
 */
export class WebSocketCloser {
  readonly #servers = new Set<WebSocketServerLike>();
  /** Clients sent a close frame whose connection has not closed yet. */
  readonly #closing = new Set<object>();
  readonly #onClosed: () => void;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #code: number = closeCodes.goingAway;
  #reason = '';
  closed = 0;
  terminated = 0;

  /** `onClosed`: a client the closer closed has gone (the drain may be over). */
  constructor(onClosed: () => void) {
    this.#onClosed = onClosed;
  }

  /** Number of servers handed over. */
  get size(): number {
    return this.#servers.size;
  }

  /** Whether a client is still open or closing. */
  get open(): boolean {
    if (this.#closing.size > 0) return true;
    for (const client of this.#clients()) if (client.isOpen()) return true;
    return false;
  }

  /** Clients open and not yet sent a close frame. */
  get openClients(): number {
    let count = 0;
    for (const client of this.#clients()) if (client.isOpen() && !this.#closing.has(client.key)) count++;
    return count;
  }

  add(server: WebSocketServerLike): void {
    checkWebSocketServer(server);
    this.#servers.add(server);
  }

  /** Sends every client a close frame, spread evenly over `windowMs`; the clients that connect meanwhile are closed too. */
  start(windowMs: number, code: number, reason: string): void {
    this.#code = code;
    this.#reason = reason;
    const started = now();
    let sent = 0;
    const tick = (): void => {
      this.#timer = undefined;
      const waiting = [...this.#clients()].filter((client) => client.isOpen() && !this.#closing.has(client.key));
      const elapsed = now() - started;
      // Client i of n is due at i/n of the window (the first at once), whenever the timers fire;
      // one that connected meanwhile joins the count.
      const total = sent + waiting.length;
      const due = windowMs > 0 ? Math.min(total, Math.floor((total * elapsed) / windowMs) + 1) : total;
      for (const client of waiting.slice(0, Math.max(0, due - sent))) this.#close(client);
      sent = Math.max(sent, due);
      if (sent < total || elapsed < windowMs) this.#timer = setTimeout(tick, Math.min(batchEveryMs, Math.max(1, windowMs - elapsed)));
    };
    tick();
  }

  /** Stops sending close frames (the drain is over). */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Terminates every client still open; resolves with their number once their connections closed (briefly awaited). */
  async terminate(): Promise<number> {
    const open = [...this.#clients()].filter((client) => client.isOpen() || this.#closing.has(client.key));
    const gone = open.map((client) => new Promise<void>((resolve) => client.once(resolve)));
    this.terminateNow();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([Promise.all(gone), new Promise((resolve) => (timer = setTimeout(resolve, terminatedCloseMs)))]);
    clearTimeout(timer);
    return open.length;
  }

  /** Terminates every client still open, now (the process must go); counts them. */
  terminateNow(): void {
    this.stop();
    for (const client of this.#clients()) {
      if (!client.isOpen() && !this.#closing.has(client.key)) continue;
      this.terminated++;
      client.terminate();
    }
  }

  #close(client: Client): void {
    this.#closing.add(client.key);
    client.once(() => {
      this.#closing.delete(client.key);
      this.#onClosed();
    });
    this.closed++;
    client.close(this.#code, this.#reason);
  }

  *#clients(): Iterable<Client> {
    for (const server of this.#servers) {
      const { clients } = server as unknown as ClientsOf;
      if (isIterable(clients)) for (const socket of clients) yield wsClient(socket);
      else for (const socket of Object.values(clients)) yield engineClient(socket);
    }
  }
}

function wsClient(socket: WebSocketLike): Client {
  return {
    key: socket,
    isOpen: () => socket.readyState === 1 || socket.readyState === 0,
    close: (code, reason) => socket.close(code, reason),
    terminate: () => socket.terminate(),
    once: (listener) => void socket.once('close', listener),
  };
}

/**
 * An engine.io socket on the websocket transport is closed through its WebSocket, so that the
 * client sees the close code and Socket.IO's client reconnects ("transport close"); one on long
 * polling gets engine.io's own close (its requests are HTTP requests, drained as such).
 */
function engineClient(socket: EngineSocketLike): Client {
  const ws = socket.transport?.name === 'websocket' ? socket.transport.socket : undefined;
  return {
    key: socket,
    isOpen: () => socket.readyState === 'open' || socket.readyState === 'opening',
    close: (code, reason) => (ws !== undefined ? ws.close(code, reason) : socket.close()),
    terminate: () => (ws !== undefined ? ws.terminate() : socket.close(true)),
    once: (listener) => void socket.once('close', listener),
  };
}

function isIterable(value: unknown): value is Iterable<WebSocketLike> {
  return typeof (value as Iterable<unknown>)[Symbol.iterator] === 'function';
}

function checkWebSocketServer(value: unknown): void {
  const clients = (value as { clients?: unknown } | null)?.clients;
  if (clients !== null && typeof clients === 'object') return;
  const hint =
    value !== null && typeof value === 'object' && 'engine' in value
      ? 'a Socket.IO server: pass io.engine'
      : value !== null && typeof value === 'object' && 'handleUpgrade' in value
        ? 'a WebSocketServer without client tracking: create it with clientTracking: true (the default)'
        : show(value);
  throw new InvalidArgumentError('webSockets', `expected a ws WebSocketServer or Socket.IO's io.engine (an object with clients), got ${hint}`);
}
