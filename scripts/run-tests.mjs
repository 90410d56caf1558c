// Runs jest over every project and fails when no test ran (jest alone exits 0 on an empty filter
// in some modes), so that CI cannot go green on nothing.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'lifespan-jest-'));
const resultFile = join(dir, 'results.json');
const args = ['--ci', '--json', `--outputFile=${resultFile}`, ...process.argv.slice(2)];
const jest = spawnSync(process.execPath, ['node_modules/jest/bin/jest.js', ...args], { stdio: 'inherit' });
let summary;
try {
  summary = JSON.parse(readFileSync(resultFile, 'utf8'));
} catch {
  summary = undefined;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
if (summary === undefined) {
  process.stderr.write('run-tests: jest wrote no results\n');
  process.exit(jest.status || 1);
}
const { numPassedTests: passed, numFailedTests: failed, numPendingTests: skipped, numTotalTests: total } = summary;
process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped} skipped\n`);
if (total === 0 || passed === 0) {
  process.stderr.write('run-tests: no test ran\n');
  process.exit(1);
}
process.exit(jest.status === 0 && failed === 0 && summary.success ? 0 : 1);
