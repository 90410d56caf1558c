// Run after `changeset version` (npm run release:version). Changesets leaves a peer range alone
// while the new core is inside it (onlyUpdatePeerDependentsWhenOutOfRange, which keeps a minor of
// core from making every adapter major), so nothing would ever raise its lower bound: here each
// adapter asks for at least the core it is released with, and any later minor or patch of it.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const packages = join(process.cwd(), 'packages');
const read = (dir) => JSON.parse(readFileSync(join(packages, dir, 'package.json'), 'utf8'));
const { version } = read('core');
const major = Number(version.split('.')[0]);
const range = `>=${version} <${major + 1}.0.0`;

for (const dir of readdirSync(packages)) {
  let manifest;
  try {
    manifest = read(dir);
  } catch {
    continue;
  }
  if (manifest.peerDependencies?.['@lifespan/core'] === undefined || manifest.peerDependencies['@lifespan/core'] === range) continue;
  manifest.peerDependencies['@lifespan/core'] = range;
  writeFileSync(join(packages, dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
}
