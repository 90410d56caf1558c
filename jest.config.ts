import type { Config } from 'jest';

// One project per package. Unit and integration tests run the TypeScript sources (so a test
// sees a change without a build); the e2e project forks fixtures that import the built packages.
const packages = ['core', 'express', 'koa', 'fastify', 'testsuite'] as const;

const sourceMap: Record<string, string> = {
  '^@lifespan/core$': '<rootDir>/../core/src/index.ts',
  '^@lifespan/core/http$': '<rootDir>/../core/src/http.ts',
  '^@lifespan/core/testing$': '<rootDir>/../core/src/testing.ts',
  '^@lifespan/express$': '<rootDir>/../express/src/index.ts',
  '^@lifespan/koa$': '<rootDir>/../koa/src/index.ts',
  '^@lifespan/fastify$': '<rootDir>/../fastify/src/index.ts',
  '^@lifespan/testsuite$': '<rootDir>/../testsuite/src/index.ts',
  // Sources import siblings as './x.js' (Node ESM rules); jest resolves the .ts file.
  '^(\\.{1,2}/.*)\\.js$': '$1',
};

const project = (name: string, extra: Partial<Config> = {}): Config => ({
  displayName: name,
  rootDir: `<rootDir>/packages/${name}`,
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/test/tsconfig.json', diagnostics: false }] },
  moduleNameMapper: sourceMap,
  setupFilesAfterEnv: ['<rootDir>/../../scripts/jest-setup.ts'],
  ...extra,
});

const config: Config = {
  rootDir: '.',
  // Jest reads testTimeout only here, not per project: process tests fork real servers on a shared
  // 2-core machine and need the headroom; a unit test that takes seconds is a bug anyway.
  testTimeout: 30_000,
  projects: [...packages.map((name) => project(name)), project('e2e', { moduleNameMapper: {} })],
};

export default config;
