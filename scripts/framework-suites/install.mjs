// Installs a framework's published package (which ships its own test/ folder) into an ignored
// folder, with the dev dependencies its tests import, so that the suite runs exactly as released.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/**
 * Installs `name@version` into `<parent>/<name>-<version>` once (a stamp file records it) and
 * returns that folder.
 * @param {{ name: string, version: string, parent: string, skipFolders: readonly string[], log: (line: string) => void }} spec
 */
export function installSuite({ name, version, parent, skipFolders, log }) {
  const dir = join(parent, `${name}-${version}`);
  const stamp = join(dir, '.lifespan-installed');
  if (existsSync(stamp)) return dir;
  log(`installing ${name}@${version} and the dev dependencies its tests import into ${relative(process.cwd(), dir)}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const tarball = execFileSync(npm, ['pack', `${name}@${version}`, '--silent', '--pack-destination', dir], { encoding: 'utf8' }).trim().split('\n').pop();
  execFileSync('tar', ['xzf', join(dir, tarball), '-C', dir, '--strip-components=1']);
  rmSync(join(dir, tarball));

  const manifestPath = join(dir, 'package.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  const imported = importedPackages(join(dir, 'test'), skipFolders);
  const devDependencies = Object.fromEntries(Object.entries(manifest.devDependencies ?? {}).filter(([dependency]) => imported.has(dependency)));
  // The test runner of releases that use tap: the tests import it, so it is among them already.
  manifest.devDependencies = devDependencies;
  // No lifecycle scripts of the framework's own (prepare, husky): only its code and tests are wanted.
  delete manifest.scripts;
  writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  execFileSync(npm, ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
  writeFileSync(stamp, `${JSON.stringify({ name, version, devDependencies }, null, 2)}\n`);
  return dir;
}

/** The bare package names that files under `dir` import or require (`node:` built-ins excluded). */
function importedPackages(dir, skipFolders) {
  const found = new Set();
  const specifier = /(?:require\(|from\s|import\()\s*['"]([^'"./][^'"]*)['"]/g;
  for (const file of walk(dir, skipFolders.map((folder) => join(dir, folder)))) {
    if (!/\.(c|m)?js$/.test(file)) continue;
    for (const [, spec] of readFileSync(file, 'utf8').matchAll(specifier)) {
      if (spec.startsWith('node:')) continue;
      const parts = spec.split('/');
      found.add(spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]);
    }
  }
  return found;
}

function* walk(dir, skip) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules' && !skip.includes(path)) yield* walk(path, skip);
    } else yield path;
  }
}

/** Test files under `dir` matching `*.test.js` / `*.test.mjs`, relative to `root`, sorted. */
export function testFiles(root, dir, skipFolders) {
  const files = [];
  for (const file of walk(join(root, dir), skipFolders.map((folder) => join(root, dir, folder)))) {
    if (/\.test\.m?js$/.test(file)) files.push(relative(root, file));
  }
  return files.sort();
}
