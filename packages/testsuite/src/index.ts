export { defineAdapterSuite } from './define-adapter-suite.js';
export type { AdapterServer, CreateAdapterServer, SuiteContext } from './define-adapter-suite.js';
