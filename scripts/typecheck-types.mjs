// Type-checks every package (sources and tests) against another @types/node than the lockfile's
// (which is the oldest supported, 20): `node scripts/typecheck-types.mjs types-node26`.
// The pinned @types/node comes from scripts/runtimes.mjs and goes first in --typeRoots, so it is the
// "node" that every `/// <reference types="node" />` (ours, @types/express's...) resolves to.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { ensureRuntime } from './runtimes.mjs';

const name = process.argv[2] ?? 'types-node26';
const { typeRoot, version } = ensureRuntime(name);
if (typeRoot === undefined) throw new Error(`${name} is not a types entry of scripts/runtimes.json`);
const root = join(import.meta.dirname, '..');
const typeRoots = `${typeRoot},${join(root, 'node_modules', '@types')}`;
const configs = readdirSync(join(root, 'packages')).flatMap((pkg) =>
  [join('packages', pkg, 'tsconfig.json'), join('packages', pkg, 'test', 'tsconfig.json')].filter((config) => existsSync(join(root, config))),
);
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const check = (config) =>
  new Promise((resolve) => {
    const child = spawn(process.execPath, [tsc, '-p', config, '--noEmit', '--typeRoots', typeRoots], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('exit', (code) => resolve(code === 0));
  });
const queue = [...configs];
let failed = 0;
// One tsc per core: each is single-threaded.
await Promise.all(
  Array.from({ length: Math.min(availableParallelism(), queue.length) }, async () => {
    for (let config = queue.shift(); config !== undefined; config = queue.shift()) if (!(await check(config))) failed++;
  }),
);
process.stdout.write(`typecheck against @types/node ${version}: ${configs.length - failed} of ${configs.length} configs clean\n`);
process.exit(failed === 0 ? 0 : 1);
