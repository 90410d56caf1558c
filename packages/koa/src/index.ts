import './augment.js';

export { shutdownHooks } from './shutdown-hooks.js';
export type { ShutdownHooksMiddleware, ShutdownHooksOptions } from './shutdown-hooks.js';
