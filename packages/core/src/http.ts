import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import { InvalidArgumentError } from './errors.js';
import { Lifecycle } from './lifecycle.js';
import { serverOf } from './node-internals.js';
import { checkOptionsObject, defaultOptions, show } from './options.js';
import { createHealthProbe as probeFor } from './health-probe.js';
import type { HealthProbe, HealthRoutesOptions } from './health-probe.js';
import type { HostBridge, HostCloseOptions } from './host-bridge.js';
import type { RequestScope, RequestShutdownHook } from './request-scope.js';
import { kRequestMembers } from './symbols.js';
import type { LifecycleOptions, RegisterShutdownOptions, ShutdownHook, Unregister } from './types.js';

export { pathOf } from './url-path.js';
export type { HealthProbe, HealthRoutesOptions, ProbeResponse } from './health-probe.js';
export type { DrainableServer } from './http-drain.js';
export type { HostBridge, HostCloseOptions } from './host-bridge.js';
export type { RequestScope, RequestShutdownHook } from './request-scope.js';

// The adapter API: what an adapter needs of a lifecycle and its users do not. Lifecycle's methods of
// the same names are stripped from the published types; these functions are the contract. They call
// the methods, so a lifecycle made by another copy of core works too.

/**
 * Tracks one request (idempotent): its connection and response are drained at shutdown. Call it
 * from the framework's request path; the first request attaches its server if none was attached.
 */
export function trackRequest(lifecycle: Lifecycle, req: IncomingMessage, res: ServerResponse): void {
  lifecycle.trackRequest(req, res);
}

/** The request-scoped shutdown handle (`onShutdown`, `shutdownSignal`) of a request, made on first use. */
export function requestScope(lifecycle: Lifecycle, req: IncomingMessage | Http2ServerRequest): RequestScope {
  return lifecycle.requestScope(req);
}

/** Paths (probe routes) whose requests are answered but never tracked as in-flight work. */
export function excludeFromDrain(lifecycle: Lifecycle, paths: readonly string[]): void {
  lifecycle.excludeFromDrain(paths);
}

/**
 * Bridges a framework's own close (Fastify's) with the lifecycle: a signal or `shutdown()` drains
 * HTTP and then calls `close`; `close` called directly starts the shutdown through the returned
 * bridge. Every bridged close runs, so apps may share one lifecycle.
 */
export function bridgeHost(lifecycle: Lifecycle, close: () => PromiseLike<unknown>, reason?: string, options?: HostCloseOptions): HostBridge {
  return lifecycle.bridgeHost(close, reason, options);
}

/** The probe handler for `health` options (undefined when none is set); its paths are not drained. */
export function createHealthProbe(lifecycle: Lifecycle, options: HealthRoutesOptions | undefined): HealthProbe | undefined {
  return probeFor(lifecycle, options);
}

/** Whether `server` was attached to the lifecycle (its requests are then tracked by the server itself). */
export function isAttached(lifecycle: Lifecycle, server: unknown): boolean {
  return lifecycle.isAttached(server);
}

/** `req.registerShutdown`: registers an application-scope hook, once per key or function. */
export type RegisterShutdown = (hook: ShutdownHook, options?: RegisterShutdownOptions) => Unregister;

/** `req.onShutdown`: runs `fn` if shutdown begins while this request is in flight. */
export type OnShutdown = (fn: RequestShutdownHook) => Unregister;

/** The members every adapter adds to its request object. */
export interface ShutdownRequestMembers {
  /** Registers an application-scope shutdown hook, kept once per `key` (or per function). */
  readonly registerShutdown: RegisterShutdown;
  /** Runs `fn` if shutdown begins while this request is still in flight; forgotten when it finishes. */
  readonly onShutdown: OnShutdown;
  /** Aborts when shutdown begins while this request is in flight (end SSE and long polls on it). */
  readonly shutdownSignal: AbortSignal;
  /** The application's lifecycle. */
  readonly lifecycle: Lifecycle;
}

/** Options every adapter accepts: the lifecycle's own, or `{ lifecycle }` to share one, plus probe routes. */
export interface AdapterOptions extends LifecycleOptions {
  /** Use this lifecycle instead of creating one (then no other lifecycle option may be given). */
  lifecycle?: Lifecycle;
  /** Mount readiness and liveness probes, e.g. `{ readyPath: '/readyz', livePath: '/livez' }`. @default off */
  health?: HealthRoutesOptions;
}

/**
 * The lifecycle an adapter should use: the one passed as `{ lifecycle }`, or a new one built from
 * the other options. `extraKeys` are options the adapter handles itself.
 */
export function adapterLifecycle(options: AdapterOptions | undefined, adapter: string, extraKeys: readonly string[] = []): Lifecycle {
  return engaged(chooseLifecycle(options, adapter, extraKeys));
}

/**
 * Engages the lifecycle with the process, which does not hold it: from now on a signal, a cluster
 * disconnect or PM2's message shuts it down, before any request and without `attach()`.
 * `adapterLifecycle()` calls it as the middleware is created.
 */
export function engage(lifecycle: Lifecycle): void {
  // A lifecycle from an older copy of core has no engage(): it engages at its first request.
  (lifecycle as Partial<Lifecycle>).engage?.();
}

function engaged(lifecycle: Lifecycle): Lifecycle {
  engage(lifecycle);
  return lifecycle;
}

function chooseLifecycle(options: AdapterOptions | undefined, adapter: string, extraKeys: readonly string[]): Lifecycle {
  if (options === undefined) return new Lifecycle(undefined, { process });
  const allowed = new Set(['lifecycle', 'health', ...Object.keys(defaultOptions), ...extraKeys]);
  checkOptionsObject('options', options, allowed, adapter);
  const { lifecycle, health: _health, ...rest } = options;
  if (lifecycle !== undefined) {
    if (!(lifecycle instanceof Lifecycle) && !isLifecycleLike(lifecycle)) {
      throw new InvalidArgumentError('options.lifecycle', `expected a lifecycle from createLifecycle() for ${adapter}, got ${show(lifecycle)}`);
    }
    const conflicting = Object.keys(rest).filter((key) => !extraKeys.includes(key) && rest[key as keyof typeof rest] !== undefined);
    if (conflicting.length > 0) {
      throw new InvalidArgumentError(`options.${conflicting[0]!}`, `cannot be combined with { lifecycle } in ${adapter}: set it on createLifecycle() instead`);
    }
    return lifecycle;
  }
  return new Lifecycle(rest, { process, extraOptionKeys: extraKeys });
}

/**
 * An adapter registered again where its lifecycle is already in place (a Fastify plugin
 * registered twice, or again in a child context): true when it may reuse `existing`, i.e. no
 * option or the same `{ lifecycle }` was given. Any other option is an error, as it would be
 * silently ignored otherwise.
 */
export function reuseLifecycle(existing: Lifecycle, options: AdapterOptions | undefined, adapter: string, extraKeys: readonly string[] = []): boolean {
  if (options === undefined) return true;
  const given = Object.keys(options).filter((key) => !extraKeys.includes(key) && options[key as keyof AdapterOptions] !== undefined);
  if (given.length === 0 || (given.length === 1 && given[0] === 'lifecycle' && options.lifecycle === existing)) return true;
  throw new InvalidArgumentError(
    `${adapter} options`,
    `${adapter} is already registered on this app (or a parent context) with its own lifecycle; register it once, or pass { lifecycle: app.lifecycle } again`,
  );
}

/** The request members' implementations, reading the node request from `this` or `this[rawKey]`. */
export interface RequestMemberFunctions {
  /** `registerShutdown(hook, options)`: the lifecycle's, bound. */
  readonly registerShutdown: RegisterShutdown;
  /** `onShutdown(fn)` as a method. */
  readonly onShutdown: (this: object, fn: RequestShutdownHook) => Unregister;
  /** The `shutdownSignal` getter. */
  readonly shutdownSignal: (this: object) => AbortSignal;
  /** The `shutdownSignal` setter: an assignment gives that one request its own value, as for a plain property. */
  readonly setShutdownSignal: (this: object, value: unknown) => void;
}

/**
 * The request members as functions, built once per app, for adapters that install them their own
 * way (Fastify's decorateRequest); `defineRequestMembers` installs the same ones on a prototype.
 */
export function requestMembers(lifecycle: Lifecycle, rawKey?: 'req' | 'raw'): RequestMemberFunctions {
  const raw = rawKey === undefined ? (self: object) => self as IncomingMessage : (self: object) => (self as Record<string, IncomingMessage>)[rawKey]!;
  return {
    registerShutdown: (hook, options) => lifecycle.registerShutdown(hook, options),
    onShutdown: function onShutdown(this: object, fn: RequestShutdownHook): Unregister {
      return requestScope(lifecycle, raw(this)).onShutdown(fn);
    },
    shutdownSignal: function shutdownSignal(this: object): AbortSignal {
      return requestScope(lifecycle, raw(this)).shutdownSignal;
    },
    setShutdownSignal: function setShutdownSignal(this: object, value: unknown): void {
      Object.defineProperty(this, 'shutdownSignal', { configurable: true, enumerable: true, writable: true, value });
    },
  };
}

/**
 * Puts `registerShutdown`, `onShutdown`, `shutdownSignal` and `lifecycle` on a request prototype
 * (once per prototype), reading the node request from `this` or `this[rawKey]`, so that no
 * closure is made per request. Like any property a framework puts there, each can be assigned:
 * the request then has its own value (a middleware's `req.lifecycle = ...` must not throw).
 */
export function defineRequestMembers(prototype: object, lifecycle: Lifecycle, rawKey?: 'req' | 'raw'): void {
  const holder = prototype as { [kRequestMembers]?: Lifecycle };
  if (Object.prototype.hasOwnProperty.call(holder, kRequestMembers)) return;
  const members = requestMembers(lifecycle, rawKey);
  Object.defineProperties(prototype, {
    [kRequestMembers]: { value: lifecycle },
    registerShutdown: { configurable: true, writable: true, value: members.registerShutdown },
    onShutdown: { configurable: true, writable: true, value: members.onShutdown },
    shutdownSignal: { configurable: true, get: members.shutdownSignal, set: members.setShutdownSignal },
    lifecycle: { configurable: true, writable: true, value: lifecycle },
  });
}

/**
 * Whether an adapter's middleware has nothing left to do for the requests of `req`'s server, once
 * it has put the members on its prototypes: that server was attached explicitly (it adopts its
 * connections and finds its requests in flight by itself) and there are no probe routes to answer.
 */
export function middlewareDone(lifecycle: Lifecycle, req: IncomingMessage, probe: HealthProbe | undefined): boolean {
  return probe === undefined && isAttached(lifecycle, serverOf(req));
}

function isLifecycleLike(value: unknown): value is Lifecycle {
  // A lifecycle from another copy of core (two versions installed) still works through its methods.
  const candidate = value as Partial<Lifecycle> | null;
  return candidate !== null && typeof candidate === 'object' && typeof candidate.registerShutdown === 'function' && typeof candidate.trackRequest === 'function';
}
