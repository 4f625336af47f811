// shared/engine/native/build.mjs run by hand (not by npm), on a copy of the native directory with
// its built addon: a failed rebuild leaves the working binding byte for byte, and a rebuild without
// npm's environment finds Node's headers itself instead of downloading them.
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findBlasAddon } from '../../shared/engine/native/blas.ts';
import { BUILT_ADDON } from '../../shared/engine/native/env.mjs';

const run = promisify(execFile);
const NATIVE = fileURLToPath(new URL('../../shared/engine/native', import.meta.url));

let dir: string;
let addon: string;
beforeAll(() => {
  const built = findBlasAddon();
  expect(built, 'the binding is built (npm run postinstall)').not.toBeNull();
  dir = mkdtempSync(path.join(tmpdir(), 'charrnn-native-'));
  for (const f of readdirSync(NATIVE)) if (f !== 'build') cpSync(path.join(NATIVE, f), path.join(dir, f));
  addon = path.join(dir, BUILT_ADDON);
  mkdirSync(path.dirname(addon), { recursive: true });
  cpSync(built!, addon);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `node build.mjs` in the copy with exactly this environment (no npm_* variables unless given). */
async function buildByHand(env: Record<string, string>): Promise<string> {
  const { stdout } = await run(process.execPath, [path.join(dir, 'build.mjs')], {
    cwd: dir,
    // HOME in the temp dir: no node-gyp header cache to fall back on.
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, ...env },
    timeout: 180_000,
  });
  return stdout;
}

/** Loads the copy's addon in a fresh process; the kernel variants it lists. */
async function variantsOf(file: string): Promise<string> {
  const { stdout } = await run(process.execPath, ['-e', 'console.log(require(process.argv[1]).variants.map((v) => v.name).join(","))', file]);
  return stdout.trim();
}

describe('build.mjs by hand', () => {
  it('a rebuild that fails (no compiler, or no Node headers) leaves the working binding byte-identical and loadable', async () => {
    const before = readFileSync(addon);
    const variants = await variantsOf(addon);
    const broken: Record<string, string>[] = [{ CC: 'false', CXX: 'false' }, { npm_config_nodedir: path.join(dir, 'no-such-node') }];
    for (const env of broken) {
      const out = await buildByHand(env);
      expect(out.trim().split('\n'), JSON.stringify(env)).toEqual([expect.stringMatching(/^charrnn: could not build the OpenBLAS binding \(see .*build\.log\); the existing binding is unchanged$/)]);
      expect(readFileSync(addon).equals(before)).toBe(true);
      expect(await variantsOf(addon)).toBe(variants);
    }
    // Nothing left behind but the log.
    expect(readdirSync(path.join(dir, 'build')).sort()).toEqual(['Release', 'build.log']);
  });

  it('without npm, offline (every download would fail), builds with the headers of the running Node and swaps the addon in', async () => {
    const dead = 'http://127.0.0.1:9';
    const out = await buildByHand({ HTTPS_PROXY: dead, HTTP_PROXY: dead, https_proxy: dead, http_proxy: dead });
    expect(out.trim().split('\n')).toEqual([expect.stringMatching(/^charrnn: built the OpenBLAS binding \(kernels this CPU runs: [a-z0-9, ]*baseline\)/)]);
    expect((await variantsOf(addon)).split(',').at(-1)).toBe('baseline');
    expect(readdirSync(path.join(dir, 'build'))).toEqual(['Release']);
    expect(readdirSync(path.join(dir, 'build', 'Release'))).toEqual([path.basename(addon)]);
  });
});
