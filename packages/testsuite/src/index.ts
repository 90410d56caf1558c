export { defineAdapterSuite } from './define-adapter-suite.js';
export type { AdapterServer, CreateAdapterServer, SuiteContext } from './define-adapter-suite.js';
export { get } from './get.js';
export type { Reply } from './get.js';
export { shutdownWithRequestInFlight } from './shutdown-with-request-in-flight.js';
export type { InFlightApp, InFlightAtShutdown } from './shutdown-with-request-in-flight.js';
