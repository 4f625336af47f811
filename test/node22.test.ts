// The `node22` and `wasm-only` projects run on the pinned Node (test/node22.mjs), and so does what
// they start: a child process by process.execPath and a script's `node` (Node 22 is first on PATH).
import { execFileSync } from 'node:child_process';
import { expect, it } from 'vitest';
import { NODE22_BIN, NODE22_VERSION } from './node22.mjs';

it('runs on the pinned Node 22, and so do its child processes', () => {
  expect(process.version).toBe(`v${NODE22_VERSION}`);
  expect(process.execPath).toBe(NODE22_BIN);
  expect(execFileSync('node', ['-p', 'process.execPath'], { encoding: 'utf8' }).trim()).toBe(NODE22_BIN);
  expect(execFileSync('/bin/sh', ['-c', 'node --version'], { encoding: 'utf8' }).trim()).toBe(`v${NODE22_VERSION}`);
});
