import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

// The release step itself (`npm run release:version`: changesets, then the peer-range sync), run on
// a copy of the manifests and changesets: what it would publish is what the changesets declare.
const root = join(__dirname, '..', '..', '..');
const published = ['core', 'express', 'koa', 'fastify'] as const;
const bumps = ['patch', 'minor', 'major'] as const;
type Bump = (typeof bumps)[number];

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  peerDependencies?: Record<string, string>;
}

const readManifest = (dir: string, name: string): Manifest => JSON.parse(readFileSync(join(dir, 'packages', name, 'package.json'), 'utf8')) as Manifest;
const workspaces = readdirSync(join(root, 'packages')).filter((name) => !name.startsWith('.'));

/** The highest bump any changeset in `dir` declares for a published package. */
function declaredBump(dir: string): Bump | undefined {
  let highest = -1;
  for (const file of readdirSync(dir).filter((name) => name.endsWith('.md') && name !== 'README.md')) {
    const frontMatter = /^---\n([\s\S]*?)\n---/.exec(readFileSync(join(dir, file), 'utf8'))?.[1] ?? '';
    for (const [, name, bump] of frontMatter.matchAll(/^"(@lifespan\/[\w-]+)":\s*(patch|minor|major)\s*$/gm)) {
      if (published.some((pkg) => `@lifespan/${pkg}` === name)) highest = Math.max(highest, bumps.indexOf(bump as Bump));
    }
  }
  return highest < 0 ? undefined : bumps[highest];
}

function bumped(version: string, bump: Bump): string {
  const [major, minor, patch] = version.split('.').map(Number) as [number, number, number];
  if (bump === 'major') return `${major + 1}.0.0`;
  if (bump === 'minor') return `${major}.${minor + 1}.0`;
  return `${major}.${minor}.${patch + 1}`;
}

/** Copies what a release reads into a temporary directory, runs `npm run release:version` there, and returns the directory. */
function releaseCopy(extraChangeset?: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'lifespan-release-'));
  cpSync(join(root, 'package.json'), join(dir, 'package.json'));
  mkdirSync(join(dir, 'scripts'));
  cpSync(join(root, 'scripts', 'sync-peer-ranges.mjs'), join(dir, 'scripts', 'sync-peer-ranges.mjs'));
  cpSync(join(root, '.changeset'), join(dir, '.changeset'), { recursive: true });
  for (const name of workspaces) {
    mkdirSync(join(dir, 'packages', name), { recursive: true });
    cpSync(join(root, 'packages', name, 'package.json'), join(dir, 'packages', name, 'package.json'));
  }
  if (extraChangeset !== undefined) writeFileSync(join(dir, '.changeset', 'extra.md'), extraChangeset);
  const PATH = [join(root, 'node_modules', '.bin'), process.env['PATH'] ?? ''].join(delimiter);
  execFileSync('npm', ['run', '--silent', 'release:version'], { cwd: dir, env: { ...process.env, PATH }, encoding: 'utf8', stdio: 'pipe' });
  return dir;
}

describe('npm run release:version', () => {
  const dirs: string[] = [];
  let released: string;
  beforeAll(() => {
    released = releaseCopy();
    dirs.push(released);
  });
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('gives every published package the version its changesets declare, and no other', () => {
    const current = readManifest(root, 'core').version;
    const bump = declaredBump(join(root, '.changeset'));
    const expected = bump === undefined ? current : bumped(current, bump);
    const dir = released;
    expect(Object.fromEntries(published.map((name) => [name, readManifest(dir, name).version]))).toEqual(Object.fromEntries(published.map((name) => [name, expected])));
    for (const name of workspaces.filter((name) => readManifest(root, name).private === true)) {
      expect(readManifest(dir, name).version).toBe(readManifest(root, name).version);
    }
  });

  it("asks, in each adapter, for the core it is released with up to core's next major", () => {
    const dir = released;
    const { version } = readManifest(dir, 'core');
    const major = Number(version.split('.')[0]);
    for (const name of published.filter((name) => name !== 'core')) {
      expect(readManifest(dir, name).peerDependencies?.['@lifespan/core']).toBe(`>=${version} <${major + 1}.0.0`);
    }
  });

  it('is a no-op on the declared peer ranges: the repository already holds what a release writes', () => {
    const { version } = readManifest(root, 'core');
    const major = Number(version.split('.')[0]);
    for (const name of published.filter((name) => name !== 'core')) {
      expect(readManifest(root, name).peerDependencies?.['@lifespan/core']).toBe(`>=${version} <${major + 1}.0.0`);
    }
  });

  it('moves every package and peer range to the next major only when a changeset says major', () => {
    const dir = releaseCopy('---\n"@lifespan/core": major\n---\n\nA breaking change.\n');
    dirs.push(dir);
    const next = bumped(readManifest(root, 'core').version, 'major');
    const major = Number(next.split('.')[0]);
    for (const name of published) expect(readManifest(dir, name).version).toBe(next);
    for (const name of published.filter((name) => name !== 'core')) {
      expect(readManifest(dir, name).peerDependencies?.['@lifespan/core']).toBe(`>=${next} <${major + 1}.0.0`);
    }
  });
});
