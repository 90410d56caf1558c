import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

// What `npm publish` would ship, checked on the built packages: only the builds, the README, the
// licence and the manifest; both module systems resolving to the right files with the right
// types; and what the registry's page shows (metadata, links that work there).
const root = join(__dirname, '..', '..', '..');
const published = ['core', 'express', 'koa', 'fastify'] as const;

interface Manifest {
  license?: string;
  repository?: { type?: string; url?: string; directory?: string };
  homepage?: string;
  bugs?: { url?: string };
  keywords?: string[];
  files?: string[];
}

const manifestOf = (dir: string): Manifest => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;
const rootManifest = manifestOf(root);
/** `https://github.com/owner/name`, from the root manifest's repository. */
const repositoryUrl = (rootManifest.repository?.url ?? '').replace(/^git\+/, '').replace(/\.git$/, '');

interface PackFile {
  path: string;
}

const packed = new Map<string, string[]>();

/** What `npm pack` would put in the tarball (asked once per package). */
function packedFiles(name: string): string[] {
  let files = packed.get(name);
  if (files === undefined) {
    const output = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: join(root, 'packages', name), encoding: 'utf8' });
    const [pack] = JSON.parse(output) as [{ files: PackFile[] }];
    files = pack.files.map((file) => file.path).sort();
    packed.set(name, files);
  }
  return files;
}

describe.each(published)('npm pack of @lifespan/%s', (name) => {
  it('contains only the ESM and CommonJS builds, the README, the LICENSE and the manifest', () => {
    const files = packedFiles(name);
    expect(files).toEqual(expect.arrayContaining(['README.md', 'LICENSE', 'package.json', 'dist/esm/index.js', 'dist/esm/index.d.ts', 'dist/cjs/index.js', 'dist/cjs/index.d.ts', 'dist/cjs/package.json']));
    const extra = ['README.md', 'package.json', 'LICENSE', 'CHANGELOG.md', 'dist/cjs/package.json', ...(name === 'core' ? ['http/package.json', 'testing/package.json'] : [])];
    const unexpected = files.filter((file) => !extra.includes(file) && !/^dist\/(esm|cjs)\/[\w.-]+\.(js|d\.ts)$/.test(file));
    expect(unexpected).toEqual([]);
  });

  it('passes publint and are-the-types-wrong', () => {
    const cwd = join(root, 'packages', name);
    const bin = (tool: string): string => join(root, 'node_modules', '.bin', tool);
    expect(() => execFileSync(bin('publint'), ['--strict'], { cwd, encoding: 'utf8', stdio: 'pipe' })).not.toThrow();
    expect(() => execFileSync(bin('attw'), ['--pack', '.', '--profile', 'node16', '--format', 'ascii'], { cwd, encoding: 'utf8', stdio: 'pipe' })).not.toThrow();
  });

  it("ships the repository's MIT licence text, listed in files", () => {
    const manifest = manifestOf(join(root, 'packages', name));
    expect(manifest.license).toBe('MIT');
    expect(manifest.files).toContain('LICENSE');
    expect(readFileSync(join(root, 'packages', name, 'LICENSE'), 'utf8')).toBe(readFileSync(join(root, 'LICENSE'), 'utf8'));
  });

  it('names its repository, directory, homepage, issue tracker and keywords', () => {
    const manifest = manifestOf(join(root, 'packages', name));
    expect(repositoryUrl).toMatch(/^https:\/\/github\.com\/[\w.-]+\/[\w.-]+$/);
    expect(manifest.repository).toEqual({ type: 'git', url: rootManifest.repository?.url, directory: `packages/${name}` });
    expect(manifest.homepage).toBe(`${repositoryUrl}/tree/main/packages/${name}#readme`);
    expect(manifest.bugs).toEqual({ url: `${repositoryUrl}/issues` });
    expect(manifest.keywords).toEqual(expect.arrayContaining(['graceful-shutdown', ...(name === 'core' ? [] : [name])]));
  });

  it('links only to absolute URLs from its README (relative ones break on the registry page)', () => {
    const readme = readFileSync(join(root, 'packages', name, 'README.md'), 'utf8');
    const targets = [...readme.matchAll(/\]\(([^)\s]+)\)/g)].map((match) => match[1]!);
    expect(targets.filter((target) => !/^https:\/\//.test(target) && !target.startsWith('#'))).toEqual([]);
    const intoRepository = targets.filter((target) => target.includes('github.com'));
    expect(intoRepository.filter((target) => !target.startsWith(`${repositoryUrl}/`))).toEqual([]);
  });
});

describe('engines of every package.json', () => {
  // CI runs the suite on each Node that scripts/runtimes.json pins (the machine's 20 with npm test,
  // the others from the registry): engines claims those lines from those releases on, and no more.
  const pins = JSON.parse(readFileSync(join(root, 'scripts', 'runtimes.json'), 'utf8')) as Record<string, { kind: string; version: string }>;
  const tested = Object.values(pins)
    .filter((pin) => pin.kind === 'node')
    .map((pin) => `^${pin.version.replace(/\.\d+$/, '.0')}`)
    .join(' || ');

  it.each(['.', ...published.map((name) => join('packages', name))])('names exactly the Node lines CI tests (%s)', (dir) => {
    const manifest = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')) as { engines?: { node?: string } };
    expect(manifest.engines?.node).toBe(tested);
  });
});

describe('the published packages without their exports field (Jest before 28, other Node10-style resolvers)', () => {
  let dir: string;
  beforeAll(() => {
    // What such a resolver sees: the packed files, `main`, and no `exports`. Node's own require
    // resolves a package without `exports` the same legacy way, so a child process shows it.
    dir = mkdtempSync(join(tmpdir(), 'lifespan-no-exports-'));
    for (const name of published) {
      const target = join(dir, 'node_modules', '@lifespan', name);
      for (const file of packedFiles(name)) {
        mkdirSync(dirname(join(target, file)), { recursive: true });
        cpSync(join(root, 'packages', name, file), join(target, file));
      }
      const manifest = JSON.parse(readFileSync(join(target, 'package.json'), 'utf8')) as { exports?: unknown };
      delete manifest.exports;
      writeFileSync(join(target, 'package.json'), JSON.stringify(manifest));
    }
    for (const framework of ['express', 'koa', 'fastify', 'fastify-plugin']) {
      symlinkSync(realpathSync(join(root, 'node_modules', framework)), join(dir, 'node_modules', framework), 'dir');
    }
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('finds @lifespan/core/http and @lifespan/core/testing through their fallback files, and every adapter loads', () => {
    const script = `
      const http = require('@lifespan/core/http');
      const loaded = { http: typeof http.adapterLifecycle, at: require.resolve('@lifespan/core/http') };
      loaded.testing = typeof require('@lifespan/core/testing').createTestLifecycle;
      loaded.express = typeof require('@lifespan/express').shutdownHooks;
      loaded.koa = typeof require('@lifespan/koa').shutdownHooks;
      loaded.fastify = typeof require('@lifespan/fastify').lifecycle;
      process.stdout.write(JSON.stringify(loaded));`;
    const output = execFileSync(process.execPath, ['-e', script], { cwd: dir, encoding: 'utf8', stdio: 'pipe' });
    expect(JSON.parse(output)).toEqual({
      http: 'function',
      at: join(realpathSync(dir), 'node_modules', '@lifespan', 'core', 'dist', 'cjs', 'http.js'),
      testing: 'function',
      express: 'function',
      koa: 'function',
      fastify: 'function',
    });
  });
});


// Issue 16: users see createLifecycle() and a narrow Lifecycle; what only adapters need is in
// @lifespan/core/http, the test seams in @lifespan/core/testing, and @internal members are gone
// from the published types. A consumer compiled against the packed files proves it: each
// expect-error directive fails the compile if that member or export comes back.
describe('the published types of @lifespan/core', () => {
  it('show users a narrow Lifecycle, adapters their functions in /http, tests their seams in /testing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lifespan-types-'));
    try {
      const target = join(dir, 'node_modules', '@lifespan', 'core');
      for (const file of packedFiles('core')) {
        mkdirSync(dirname(join(target, file)), { recursive: true });
        cpSync(join(root, 'packages', 'core', file), join(target, file));
      }
      symlinkSync(join(root, 'node_modules', '@types'), join(dir, 'node_modules', '@types'), 'dir');
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
      const consumer = `
import http from 'node:http';
import { createLifecycle } from '@lifespan/core';
import type { Lifecycle } from '@lifespan/core';
import { Lifecycle as LifecycleValue } from '@lifespan/core';
// @ts-expect-error the environment and ProcessLike are test seams, not the main entry's API
import type { LifecycleEnvironment, ProcessLike } from '@lifespan/core';
import { bridgeHost, excludeFromDrain, isAttached, requestScope, trackRequest } from '@lifespan/core/http';
import { createTestLifecycle, createTestProcess, shutdownApp } from '@lifespan/core/testing';
import type { ProcessLike as TestProcessLike } from '@lifespan/core/testing';

const lifecycle: Lifecycle = createLifecycle({ signals: false });
declare const req: http.IncomingMessage;
declare const res: http.ServerResponse;
// @ts-expect-error adapter-only: trackRequest(lifecycle, req, res) from @lifespan/core/http
lifecycle.trackRequest(req, res);
// @ts-expect-error adapter-only
lifecycle.requestScope(req);
// @ts-expect-error adapter-only
lifecycle.excludeFromDrain(['/readyz']);
// @ts-expect-error adapter-only
lifecycle.bridgeHost(async () => undefined);
// @ts-expect-error adapter-only
lifecycle.isAttached(null);
trackRequest(lifecycle, req, res);
const scope = requestScope(lifecycle, req);
scope.shutdownSignal.aborted satisfies boolean;
// @ts-expect-error internal: the drainer fires a scope, not its users
scope.fire();
excludeFromDrain(lifecycle, ['/readyz']);
bridgeHost(lifecycle, async () => undefined, 'close').closed satisfies () => unknown;
isAttached(lifecycle, null) satisfies boolean;
const proc = createTestProcess();
proc satisfies TestProcessLike;
proc.signal('SIGTERM');
proc.exited satisfies Promise<number>;
shutdownApp(createTestLifecycle({ signals: ['SIGTERM'] }, proc)) satisfies Promise<{ ok: boolean }>;
shutdownApp({ lifecycle }) satisfies Promise<unknown>;
// @ts-expect-error the class is a type: users call createLifecycle()
LifecycleValue satisfies unknown;
export type { LifecycleEnvironment, ProcessLike };
`;
      writeFileSync(join(dir, 'consumer.ts'), consumer);
      const tsc = join(root, 'node_modules', '.bin', 'tsc');
      const args = ['--strict', '--noEmit', '--module', 'node16', '--moduleResolution', 'node16', '--target', 'es2022', '--types', 'node', '--skipLibCheck', 'false', 'consumer.ts'];
      const run = (): string => {
        try {
          return execFileSync(tsc, args, { cwd: dir, encoding: 'utf8', stdio: 'pipe' });
        } catch (error) {
          return String((error as { stdout?: string }).stdout ?? error);
        }
      };
      expect(run()).toBe('');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
