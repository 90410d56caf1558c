import http from 'node:http';
import type { AgentOptions } from 'node:http';

/**
 * An `http.Agent` that is destroyed, sockets and all, when the block that holds it ends.
 * @example
 * using agent = disposableAgent({ keepAlive: true });
 */
export function disposableAgent(options?: AgentOptions): http.Agent & Disposable {
  const agent = new http.Agent(options);
  return Object.assign(agent, { [Symbol.dispose]: () => agent.destroy() });
}
