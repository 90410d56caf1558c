'use strict';
// Loaded with `--require` into every process of a framework's own test suite: every `fastify()`
// the suite creates gets a plugin registered first, `@lifespan/fastify` (mode `plugin`) or a
// do-nothing plugin of the same name and shape (mode `control`), so that comparing the two runs
// shows exactly what Lifespan changes in Fastify.
const { join } = require('node:path');

const root = process.env.LIFESPAN_SUITE_ROOT;
const mode = process.env.LIFESPAN_SUITE_MODE;
// Another build of the plugin (a copy of an older commit's packages, to compare before and after).
const pluginPath = process.env.LIFESPAN_SUITE_PLUGIN || '@lifespan/fastify';

if (root !== undefined && (mode === 'plugin' || mode === 'control')) {
  const entry = require.resolve(join(root, 'fastify.js'));
  const original = require(entry);
  const fp = require('fastify-plugin');
  const plugin =
    mode === 'plugin'
      ? require(pluginPath).lifecycle
      : fp(async function lifecyclePlugin() {}, { name: '@lifespan/fastify', fastify: '4.x || 5.x' });
  const options = mode === 'plugin' ? { signals: false } : {};
  // Named like Fastify's own factory: some tests print or compare it.
  const fastify = function fastify(...args) {
    const app = original(...args);
    app.register(plugin, options);
    return app;
  };
  Object.assign(fastify, original);
  fastify.fastify = fastify;
  fastify.default = fastify;
  require.cache[entry].exports = fastify;
}

// Top-level node:test tests the runner leaves out in both modes (named with their reason in
// fastify.mjs): skipped, as Node 20's --test-name-pattern cannot exclude a test by name.
if (process.env.LIFESPAN_SUITE_NOT_RUN !== undefined) {
  const notRun = new Set(JSON.parse(process.env.LIFESPAN_SUITE_NOT_RUN));
  const nodeTest = require('node:test');
  const original = nodeTest.test;
  const test = function test(name, options, fn) {
    if (typeof name !== 'string' || !notRun.has(name)) return original.apply(this, arguments);
    if (typeof options === 'function') return original(name, { skip: 'not run by the framework suite runner' }, options);
    return original(name, { ...options, skip: 'not run by the framework suite runner' }, fn);
  };
  // test.before, test.only, test.skip, ... as they were.
  nodeTest.test = Object.assign(test, original);
}
