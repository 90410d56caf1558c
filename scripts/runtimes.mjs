// The other runtimes CI tests on (Node 22, 24, 26, Deno, Bun), and the newest @types/node, installed
// from the npm registry at the versions pinned in runtimes.json, so that no one installs one by hand.
//
//   node scripts/runtimes.mjs install [name...]   install (if missing) and print "name bin version" lines
//   node scripts/runtimes.mjs info <name>         install if missing, print {"name","kind","bin","version"}
//   node scripts/runtimes.mjs list                the names
//
// Where: $LIFESPAN_RUNTIMES_DIR, else $XDG_CACHE_HOME/lifespan/runtimes (~/.cache/lifespan/runtimes).
// Not in the clone and not under node_modules: `npm ci` deletes node_modules, and CI runs in a fresh
// clone every time, so only a folder outside the clone is still there at the next run (and every
// worktree shares one copy). Each runtime sits in a folder named after its exact version: bumping a
// pin installs next to the old one, and a folder is only ever complete (installed aside, then renamed).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pins = JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'runtimes.json'), 'utf8'));

/** The folder that holds every installed runtime. */
export function runtimesDir(env = process.env) {
  if (env.LIFESPAN_RUNTIMES_DIR) return env.LIFESPAN_RUNTIMES_DIR;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'lifespan', 'runtimes');
}

/** The names runtimes.json pins. */
export function runtimeNames() {
  return Object.keys(pins);
}

/**
 * Installs `name` if it is not there yet; returns `{ name, kind, bin, version }` (a `types` entry
 * also gives `typeRoot`, the folder to put first in tsc's `--typeRoots`).
 */
export function ensureRuntime(name) {
  const pin = pins[name];
  if (pin === undefined) throw new Error(`unknown runtime "${name}" (known: ${runtimeNames().join(', ')})`);
  const root = runtimesDir();
  const folder = join(root, `${pin.package.replace('/', '+')}@${pin.version}`);
  const bin = join(folder, 'node_modules', pin.package, pin.bin);
  if (!existsSync(bin)) {
    mkdirSync(root, { recursive: true });
    const staging = mkdtempSync(join(root, '.staging-'));
    try {
      // --ignore-scripts: a runtime package is a binary in a tarball; nothing of it needs to run to install.
      execFileSync('npm', ['install', '--prefix', staging, '--no-save', '--no-package-lock', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error', `${pin.package}@${pin.version}`], {
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      rmSync(folder, { recursive: true, force: true });
      renameSync(staging, folder);
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
  }
  if (pin.kind === 'types') return { name, kind: pin.kind, bin, version: pin.version, typeRoot: dirname(dirname(bin)) };
  const version = execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim();
  // `deno --version` prints several lines ("deno 2.9.6 (stable, ...)"); node prints "v22.23.5", bun "1.4.5".
  if (!version.includes(pin.version)) throw new Error(`${bin} reports ${JSON.stringify(version)}, runtimes.json pins ${pin.version}`);
  return { name, kind: pin.kind, bin, version: pin.version };
}

function main(argv) {
  const [command = 'install', ...names] = argv;
  if (command === 'list') {
    process.stdout.write(`${runtimeNames().join('\n')}\n`);
  } else if (command === 'info' && names.length === 1) {
    process.stdout.write(`${JSON.stringify(ensureRuntime(names[0]))}\n`);
  } else if (command === 'install') {
    for (const name of names.length > 0 ? names : runtimeNames()) {
      const { bin, version } = ensureRuntime(name);
      process.stdout.write(`${name} ${bin} ${version}\n`);
    }
  } else {
    process.stderr.write('usage: node scripts/runtimes.mjs install [name...] | info <name> | list\n');
    process.exit(2);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main(process.argv.slice(2));
