// tsc writes the CommonJS build into a "type": "module" package; this marker makes Node
// (and attw) read dist/cjs as CommonJS.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = join(process.cwd(), 'dist', 'cjs');
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, 'package.json'), '{\n  "type": "commonjs"\n}\n');
