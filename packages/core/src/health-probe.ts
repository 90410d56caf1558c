import { InvalidArgumentError } from './errors.js';
import type { HealthOptions } from './health-checks.js';
import { checkOptionsObject, show } from './options.js';
import type { HealthStatus } from './types.js';
import { pathOf } from './url-path.js';

/** What a probe reads from: a lifecycle, as far as its probes are concerned. */
export interface HealthSource {
  /** Liveness and readiness from the state alone. */
  health(): HealthStatus;
  /** Liveness and readiness with the health checks run. */
  checkHealth(options: HealthOptions): Promise<HealthStatus>;
  /** Paths whose requests are answered but never tracked as in-flight work. */
  excludeFromDrain(paths: readonly string[]): void;
}

/** Probe routes an adapter mounts (off unless given). */
export interface HealthRoutesOptions {
  /** Path answering readiness: 200 when ready, 503 otherwise. */
  readyPath?: string;
  /** Path answering liveness, at once from the state (no health check runs): 200 when live, 503 otherwise. */
  livePath?: string;
  /** Put failing health checks' messages in the body (probes are often reachable from outside). @default false */
  details?: boolean;
}

/** What a probe answers; adapters write it as they write any response. */
export interface ProbeResponse {
  readonly status: 200 | 503;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** Answers probe requests; `undefined` for any other request. */
export type HealthProbe = (method: string | undefined, url: string | undefined) => Promise<ProbeResponse> | undefined;

const routeKeys = new Set(['readyPath', 'livePath', 'details']);
const jsonHeaders = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' } as const;

/**
 * Builds the probe handler for `health` options, and tells the lifecycle that these paths are not
 * application work: they are answered during the drain and never counted as in flight.
 */
export function createHealthProbe(lifecycle: HealthSource, options: HealthRoutesOptions | undefined): HealthProbe | undefined {
  if (options === undefined) return undefined;
  checkOptionsObject('options.health', options, routeKeys);
  const readyPath = checkPath('options.health.readyPath', options.readyPath);
  const livePath = checkPath('options.health.livePath', options.livePath);
  if (readyPath === undefined && livePath === undefined) return undefined;
  const details = options.details === true;
  lifecycle.excludeFromDrain([readyPath, livePath].filter((path): path is string => path !== undefined));
  return (method, url) => {
    if (method !== 'GET' && method !== 'HEAD') return undefined;
    const path = pathOf(url);
    if (path === readyPath) {
      return lifecycle.checkHealth({ details }).then((health) => ({ status: health.ready ? 200 : 503, headers: jsonHeaders, body: JSON.stringify(health) }));
    }
    if (path !== livePath) return undefined;
    // Whether the process should be restarted, not whether it should get traffic: a dependency
    // that hangs must not make the kubelet's probe (1 s by default) time out and restart a
    // healthy pod, so no check runs, and readiness is left out of the answer.
    const { live, state } = lifecycle.health();
    return Promise.resolve({ status: live ? 200 : 503, headers: jsonHeaders, body: JSON.stringify({ live, state }) });
  };
}

function checkPath(name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !value.startsWith('/')) throw new InvalidArgumentError(name, `expected a path starting with "/", got ${show(value)}`);
  return value;
}
