// shared/engine/native/build.mjs run by hand (not by npm), on a copy of the native directory with
// its built addon: a failed rebuild leaves the working binding byte for byte, and a rebuild without
// npm's environment finds Node's headers itself instead of downloading them. Run on both Nodes
// (projects `all` and `node22`): on the pinned Node 22, whose package has no npm of its own, that
// rebuild uses the package's headers and node-gyp from the npm on PATH, and the addon it makes
// computes what the installed one (built at `npm ci`) does.
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
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

  it("the running Node's own headers are where build.mjs looks for them (<prefix>/include/node), for this very version", () => {
    const h = readFileSync(path.join(path.dirname(path.dirname(process.execPath)), 'include/node/node_version.h'), 'utf8');
    const part = (name: string) => new RegExp(`#define ${name} (\\d+)`).exec(h)?.[1];
    expect(`v${part('NODE_MAJOR_VERSION')}.${part('NODE_MINOR_VERSION')}.${part('NODE_PATCH_VERSION')}`).toBe(process.version);
  });

  it('without npm, offline (every download would fail), builds with the headers of the running Node and swaps the addon in', async () => {
    const dead = 'http://127.0.0.1:9';
    const out = await buildByHand({ HTTPS_PROXY: dead, HTTP_PROXY: dead, https_proxy: dead, http_proxy: dead });
    expect(out.trim().split('\n')).toEqual([expect.stringMatching(/^charrnn: built the OpenBLAS binding \(kernels this CPU runs: [a-z0-9, ]*baseline\)/)]);
    expect((await variantsOf(addon)).split(',').at(-1)).toBe('baseline');
    expect(readdirSync(path.join(dir, 'build'))).toEqual(['Release']);
    expect(readdirSync(path.join(dir, 'build', 'Release'))).toEqual([path.basename(addon)]);
  });

  it('the rebuilt addon loads here and computes what the installed one does', () => {
    // Runs after the rebuild above: the copy's addon is this Node's build now.
    const load = createRequire(import.meta.url);
    const [rebuilt, installed] = [load(addon), load(findBlasAddon()!)] as Addon[];
    expect(rebuilt).not.toBe(installed);
    const rnd = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 1000 + i * 12.9898));
    const [m, n, k] = [7, 33, 19];
    const a = rnd(m * k, 1);
    const b = rnd(k * n, 2);
    // sgemm against a float64 product; both builds' rowGemm and lstmCell against each other, variant by variant.
    const c = new Float32Array(m * n);
    rebuilt.sgemm(false, false, m, n, k, a, b, c, 0);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let want = 0;
        for (let p = 0; p < k; p++) want += a[i * k + p] * b[p * n + j];
        expect(Math.abs(c[i * n + j] - want)).toBeLessThan(1e-4);
      }
    }
    expect(rebuilt.variants.map((v) => v.name)).toEqual(installed.variants.map((v) => v.name));
    const H = 8;
    const [xp, hw, cell] = [rnd(m * 4 * H, 3), rnd(m * 4 * H, 4), rnd(m * H, 5)];
    rebuilt.variants.forEach((v, i) => {
      const outs = [v, installed.variants[i]].map((w) => {
        const rows = new Float32Array(m * n);
        w.rowGemm(m, n, k, a, b, rows, false);
        const [h, cNext] = [new Float32Array(m * H), new Float32Array(m * H)];
        w.lstmCell(m, H, xp, hw, cell, h, cNext);
        return [rows, h, cNext];
      });
      for (let t = 0; t < 3; t++) expect(outs[0][t], `${v.name} output ${t}`).toEqual(outs[1][t]);
    });
  });
});

/** What blas.c exports (the part used here). */
interface Addon {
  sgemm(transA: boolean, transB: boolean, m: number, n: number, k: number, a: Float32Array, b: Float32Array, c: Float32Array, beta: number): void;
  variants: {
    name: string;
    rowGemm(m: number, n: number, k: number, a: Float32Array, b: Float32Array, c: Float32Array, accumulate: boolean): void;
    lstmCell(n: number, H: number, xp: Float32Array, hw: Float32Array, c: Float32Array, h: Float32Array, cNext: Float32Array): void;
  }[];
}
