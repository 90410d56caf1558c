// Builds start from an empty dist/, so a renamed or deleted module never ships stale.
import { rmSync } from 'node:fs';

rmSync('dist', { recursive: true, force: true });
