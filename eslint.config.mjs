import js from '@eslint/js';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

// Adapters translate framework objects into core calls; every decision (timers, process
// handling, errors, state) lives in core. These rules make the build fail when one slips in.
const adapterRules = {
  'no-restricted-globals': ['error',
    { name: 'setTimeout', message: 'Adapters have no timers: add the decision to @lifespan/core.' },
    { name: 'setInterval', message: 'Adapters have no timers: add the decision to @lifespan/core.' },
    { name: 'setImmediate', message: 'Adapters have no timers: add the decision to @lifespan/core.' },
    { name: 'process', message: 'Adapters never touch process: add the decision to @lifespan/core.' },
    { name: 'console', message: 'Use the injected logger.' },
  ],
  'no-restricted-syntax': ['error',
    { selector: 'ClassDeclaration[superClass]', message: 'Adapters define no error classes: throw core errors.' },
    { selector: 'NewExpression[callee.name=/Error$/]', message: 'Adapters throw core errors only.' },
    { selector: 'Program > VariableDeclaration[kind="let"]', message: 'Adapters keep no module-level state.' },
  ],
  'no-restricted-imports': ['error', { patterns: [{ regex: '^(?!@lifespan/core(/http)?$|\\.|node:|fastify|fastify-plugin|express|koa)', message: 'Adapters import only @lifespan/core and their framework.' }] }],
};

export default tseslint.config(
  // .framework-suites/: Fastify's own test suites, installed by scripts/test-frameworks.mjs.
  { ignores: ['**/dist/**', '**/node_modules/**', 'coverage/**', '**/*.d.ts', '.framework-suites/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', queueMicrotask: 'readonly', performance: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly', fetch: 'readonly', URL: 'readonly', Buffer: 'readonly', structuredClone: 'readonly', __dirname: 'readonly', globalThis: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  { files: ['packages/core/src/**/*.ts'], rules: { 'no-console': 'error' } },
  {
    // A module cycle makes load order decide which imports are still undefined; sources import
    // siblings as './x.js' (Node ESM rules), which are the .ts files here. Type-only imports have
    // no run-time effect and are not followed.
    files: ['packages/*/src/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createNodeResolver({ extensionAlias: { '.js': ['.ts', '.js'] } })],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/extensions': ['.ts', '.js'],
    },
    rules: { 'import-x/no-cycle': 'error' },
  },
  { files: ['packages/{express,koa,fastify}/src/**/*.ts'], rules: adapterRules },
  { files: ['**/*.cjs'], languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', module: 'writable' } }, rules: { '@typescript-eslint/no-require-imports': 'off' } },
);
