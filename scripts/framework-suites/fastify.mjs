// Fastify's own test suites, as the framework suite runner (scripts/test-frameworks.mjs) runs them.
import { readFileSync } from 'node:fs';

const installed = (alias) => JSON.parse(readFileSync(new URL(`../../node_modules/${alias}/package.json`, import.meta.url), 'utf8')).version;

// The subset CI runs: the parts of Fastify the plugin touches (its close, hooks, server creation,
// listen, HTTP/2 and custom servers), on both majors.
const subset = /^test\/(close.*|hooks.*|server|listen\..*|custom-http-server|keep-alive-timeout|keepAliveTimeout|async-dispose|http2\/.*|internals\/server)\.test\.m?js$/;

/**
 * Tests whose outcome may differ between the do-nothing plugin and @lifespan/fastify, each with
 * the reason. Anything else that differs fails the run.
 * @type {{ test: RegExp, reason: string }[]}
 */
const allowed = [];

/** @type {import('./runner.mjs').SuiteSpec[]} */
export const fastifySuites = [
  {
    label: 'fastify 5',
    name: 'fastify',
    // The versions the repository's own tests run against (package-lock.json).
    version: installed('fastify'),
    nodeArgs: ['--test-reporter=tap'],
    subset,
    allowed,
  },
  {
    label: 'fastify 4',
    name: 'fastify',
    version: installed('fastify4'),
    // tap 16 runs Fastify 4's files with this flag (its .taprc); a file run alone prints TAP itself.
    nodeArgs: ['--allow-natives-syntax', '--test-reporter=tap'],
    subset,
    allowed,
  },
];

// Not Fastify's runtime tests: type tests (tsd, tstyche) and bundler builds (webpack, esbuild).
export const skipFolders = ['types', 'bundler'];
