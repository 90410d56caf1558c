// Fastify's own test suites, as the framework suite runner (scripts/test-frameworks.mjs) runs them.
import { readFileSync } from 'node:fs';

const installed = (alias) => JSON.parse(readFileSync(new URL(`../../node_modules/${alias}/package.json`, import.meta.url), 'utf8')).version;

// The subset CI runs: the parts of Fastify the plugin touches (its close, hooks, server creation,
// listen, HTTP/2 and custom servers), on both majors.
const subset = /^test\/(close.*|hooks.*|server|listen\..*|custom-http-server|keep-alive-timeout|keepAliveTimeout|async-dispose|http2\/.*|internals\/server)\.test\.m?js$/;

// Lifespan's close contract, chosen over Fastify's (docs/fastify.md): fastify.close() drains
// before Fastify's own close begins. A response in flight carries `Connection: close`, a request
// arriving on an open connection (HTTP/1.1 keep-alive or pipelined, HTTP/2 stream) during the
// drain is served, and a new connection is refused once the listener is closed. Fastify instead
// answers those requests 503 (return503OnClosing, its default) and drops pipelined ones. Behind
// HAProxy or nginx a refused connect is retried on another backend by default; a 503 reaches the
// client. These tests assert Fastify's 503, keep-alive or dropped outcome for exactly that case.
const closeContract = 'asserts the 503, keep-alive or dropped answer Fastify gives a request that arrives while fastify.close() runs; Lifespan drains first and serves it (docs/fastify.md)';

/**
 * Tests whose outcome may differ between the do-nothing plugin and @lifespan/fastify, each with
 * the reason. Anything else that differs fails the run.
 * @type {{ test: RegExp, reason: string }[]}
 */
const allowed = [
  { test: /^test\/close\.test\.js > Current opened connection should (NOT continue to work after closing and return "connection: close" header - return503OnClosing: false|not accept new incoming connections)/, reason: closeContract },
  { test: /^test\/close\.test\.js > rejected incoming connections should be logged/, reason: closeContract },
  { test: /^test\/close-pipelining\.test\.js > Should (return 503 while closing - pipelining|close the socket abruptly - pipelining)/, reason: closeContract },
  { test: /^test\/http2\/closing\.test\.js > http\/2 request while fastify closing( Node <24)?( > return 200)?( > should be equal)?$/, reason: closeContract },
  // The file's exit code follows from the tests above.
  { test: /^test\/(close|close-pipelining|http2\/closing)\.test\.js > \(process exit\)$/, reason: 'fails because one of the tests allowed above fails' },
  {
    test: /^test\/hooks\.on-ready\.test\.js > (onReady does not call done|\(process exit\))/,
    reason: "Fastify's onReady timeout error names the last onReady hook of the context, not the one that hung (lib/hooks.js `hooks[i - 1]`); with the plugin's hook registered at boot, after the app's, it names the plugin's",
  },
];

/**
 * Tests that never end under Lifespan's close contract: run in neither mode, each with its reason
 * (the runner reports them as not run).
 */
const notRunOn5 = [
  {
    file: 'test/http2/closing.test.js',
    name: 'http/2 request while fastify closing Node <24',
    reason: `${closeContract}; on the 200 its assertion throws before the test destroys its HTTP/2 session, which then keeps the file's process alive until the runner's timeout`,
  },
];
const notRunOn4 = [
  {
    file: 'test/close.test.js',
    name: 'Current opened connection should not accept new incoming connections',
    reason: `${closeContract}; its second request is refused and the test leaves that rejection unhandled: tap catches it, and Node 20 then aborts on an internal assertion (execution_async_id) in the next test, which cuts off the rest of the file`,
  },
  {
    file: 'test/close.test.js',
    name: 'rejected incoming connections should be logged',
    reason: `${closeContract}; its second request is refused, and the test waits for it forever (t.plan), which cuts off the rest of the file`,
  },
];

/** @type {import('./runner.mjs').SuiteSpec[]} */
export const fastifySuites = [
  {
    label: 'fastify 5',
    name: 'fastify',
    // The versions the repository's own tests run against (package-lock.json).
    version: installed('fastify'),
    nodeArgs: ['--test-reporter=tap'],
    runner: 'node:test',
    subset,
    allowed,
    notRun: notRunOn5,
  },
  {
    label: 'fastify 4',
    name: 'fastify',
    version: installed('fastify4'),
    // tap 16 runs Fastify 4's files with this flag (its .taprc); a file run alone prints TAP itself.
    nodeArgs: ['--allow-natives-syntax', '--test-reporter=tap'],
    runner: 'tap',
    subset,
    allowed,
    notRun: notRunOn4,
  },
];

// Not Fastify's runtime tests: type tests (tsd, tstyche) and bundler builds (webpack, esbuild).
export const skipFolders = ['types', 'bundler'];
