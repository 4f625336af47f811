// The OpenBLAS matmul path: built wherever OpenBLAS's headers are (CI installs them), taken for
// every matmul big enough, row by row where sampling needs it, and numerically the same as the cpu
// backend. Then each kernel variant this CPU runs (one portable build, chosen at load time).
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { hasLstmCellKernel, initBackend, LSTM_CELL, rowInvariantMatMuls } from '../../shared/engine/backend.ts';
import { blasStatus, blasVariants, findBlasAddon, loadBlas, type Blas, type BlasStatus } from '../../shared/engine/native/blas.ts';
import { BLAS_KERNELS_ENV } from '../../shared/engine/native/env.mjs';

const headers = ['/usr/include', '/usr/local/include', '/usr/include/x86_64-linux-gnu'].some((d) => existsSync(`${d}/cblas.h`));
const rnd = (shape: number[], seed: number) => tf.randomUniform(shape, -1, 1, 'float32', seed);

/** `f` on wasm (BLAS path) and on cpu; the largest difference relative to the largest value. */
function wasmVsCpu(f: () => tf.Tensor): { diff: number; shape: number[] } {
  const run = () => tf.tidy(() => {
    const t = f();
    return { vals: Float32Array.from(t.dataSync()), shape: t.shape };
  });
  const w = run();
  tf.setBackend('cpu');
  const c = run();
  tf.setBackend('wasm');
  expect(w.shape).toEqual(c.shape);
  let d = 0;
  let m = 0;
  for (let i = 0; i < c.vals.length; i++) {
    d = Math.max(d, Math.abs(w.vals[i] - c.vals[i]));
    m = Math.max(m, Math.abs(c.vals[i]));
  }
  return { diff: d / (m || 1), shape: w.shape };
}

describe('OpenBLAS matmuls', () => {
  let blas: Blas;
  beforeAll(async () => {
    expect(await initBackend('wasm')).toBe('wasm');
    // CI installs libopenblas-dev before `npm ci`, whose postinstall builds the binding.
    expect(headers, 'OpenBLAS headers (apt-get install libopenblas-dev)').toBe(true);
    expect(findBlasAddon(), 'shared/engine/native/build/Release/charrnn_blas.node (npm run postinstall)').not.toBeNull();
    blas = loadBlas()!;
    expect(blas).not.toBeNull();
  });
  afterEach(() => vi.restoreAllMocks());

  it('takes every transpose combination through sgemm and matches cpu', () => {
    const spy = vi.spyOn(blas, 'sgemm');
    for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
      const r = wasmVsCpu(() => tf.matMul(rnd(ta ? [96, 64] : [64, 96], 1), rnd(tb ? [80, 96] : [96, 80], 2), ta, tb));
      expect(r.shape).toEqual([64, 80]);
      expect(r.diff).toBeLessThan(1e-5);
    }
    expect(spy).toHaveBeenCalledTimes(4);
  });

  it('handles batches, broadcast batches and a fused bias', () => {
    const spy = vi.spyOn(blas, 'sgemm');
    const batched = wasmVsCpu(() => tf.matMul(rnd([3, 64, 48], 3), rnd([1, 80, 48], 4), false, true));
    expect(batched.shape).toEqual([3, 64, 80]);
    expect(batched.diff).toBeLessThan(1e-5);
    expect(spy).toHaveBeenCalledTimes(3);
    const fused = wasmVsCpu(() => tf.fused.matMul({ a: rnd([64, 128], 5), b: rnd([128, 96], 6), bias: rnd([96], 7) }));
    expect(fused.shape).toEqual([64, 96]);
    expect(fused.diff).toBeLessThan(1e-5);
    expect(spy).toHaveBeenCalledTimes(4);
    // gradients of a fused matmul with bias (what the model's output layer trains through)
    const grads = wasmVsCpu(() => {
      const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.fused.matMul({ a: a as tf.Tensor2D, b: b as tf.Tensor2D, bias: c }).square().sum();
      const [ga, gb, gc] = tf.grads(f)([rnd([64, 128], 8), rnd([128, 96], 9), rnd([96], 10)]);
      return tf.concat([ga.flatten(), gb.flatten(), gc.flatten()]);
    });
    expect(grads.diff).toBeLessThan(1e-5);
  });

  it('leaves the cases it does not handle to the wasm kernels, with the same results', () => {
    const spy = vi.spyOn(blas, 'sgemm');
    const relu = wasmVsCpu(() => tf.fused.matMul({ a: rnd([64, 128], 11), b: rnd([128, 96], 12), bias: rnd([96], 13), activation: 'relu' }));
    expect(relu.diff).toBeLessThan(1e-5);
    const vector = wasmVsCpu(() => tf.matMul(rnd([1, 321], 14), rnd([321, 1024], 15))); // batch-1 sampling: XNNPACK is faster
    expect(vector.diff).toBeLessThan(1e-5);
    const tiny = wasmVsCpu(() => tf.matMul(rnd([8, 8], 16), rnd([8, 8], 17)));
    expect(tiny.diff).toBeLessThan(1e-5);
    expect(spy).not.toHaveBeenCalled();
    expect(() => tf.matMul(rnd([64, 96], 18), rnd([95, 80], 19))).toThrow(/inner/i);
  });

  it('inside rowInvariantMatMuls, each row has the bits it has alone (sampling streams batched together)', () => {
    const rowGemm = vi.spyOn(blas, 'rowGemm');
    const gemm = vi.spyOn(blas, 'sgemm');
    // 16 rows: blocks of four; 7 rows × 1000 columns: a block, three single rows and ragged columns
    for (const [m, k, n] of [[16, 256, 1024], [7, 100, 1000]]) {
      rowGemm.mockClear();
      const W = rnd([k, n], 20);
      const bias = rnd([n], 21);
      const X = rnd([m, k], 22);
      const rows = (x: tf.Tensor) => rowInvariantMatMuls(() => tf.tidy(() => tf.add(tf.matMul(x as tf.Tensor2D, W), bias).dataSync() as Float32Array));
      const batched = rows(X);
      for (let r = 0; r < m; r++) {
        const alone = rows(tf.slice(X, [r, 0], [1, k]));
        expect(Array.from(batched.subarray(r * n, (r + 1) * n))).toEqual(Array.from(alone));
      }
      expect(rowGemm).toHaveBeenCalledTimes(1 + m);
      // and the same numbers as cpu
      const r = wasmVsCpu(() => rowInvariantMatMuls(() => tf.fused.matMul({ a: X as tf.Tensor2D, b: W as tf.Tensor2D, bias })));
      expect(r.diff).toBeLessThan(1e-5);
      tf.dispose([W, bias, X]);
    }
    expect(gemm).not.toHaveBeenCalled();
  });

  it('the fused LSTM cell matches the tfjs ops it replaces, and gives each row the bits it has alone', () => {
    expect(hasLstmCellKernel()).toBe(true);
    const cellSpy = vi.spyOn(blas, 'lstmCell');
    for (const [n, H] of [[16, 256], [5, 37]]) { // 37: a ragged tail past the last 8 lanes
      const xp = tf.mul(rnd([n, 4 * H], 30), 4); // pre-activations out to ±4, where σ and tanh bend
      const hw = tf.mul(rnd([n, 4 * H], 31), 4);
      const c = tf.mul(rnd([n, H], 32), 2);
      const fused = () => tf.tidy(() => {
        const [h, cNext] = tf.engine().runKernel(LSTM_CELL, { xp, hw, c }, {}) as tf.Tensor[];
        return tf.concat([h, cNext], 1);
      });
      const ops = tf.tidy(() => {
        const z = tf.add(xp, hw);
        const [i, f, o] = tf.split(tf.sigmoid(tf.slice(z, [0, 0], [n, 3 * H])), 3, 1);
        const cNext = tf.add(tf.mul(f, c), tf.mul(i, tf.tanh(tf.slice(z, [0, 3 * H], [n, H]))));
        return tf.concat([tf.mul(o, tf.tanh(cNext)), cNext], 1);
      });
      const got = fused();
      expect(tf.max(tf.abs(tf.sub(got, ops))).dataSync()[0]).toBeLessThan(2e-6);
      const all = got.dataSync();
      for (const r of [0, n - 1]) {
        const alone = tf.tidy(() => {
          const row = (t: tf.Tensor, w: number) => tf.slice(t, [r, 0], [1, w]);
          const [h, cNext] = tf.engine().runKernel(LSTM_CELL, { xp: row(xp, 4 * H), hw: row(hw, 4 * H), c: row(c, H) }, {}) as tf.Tensor[];
          return Array.from(tf.concat([h, cNext], 1).dataSync());
        });
        expect(Array.from(all.subarray(r * 2 * H, (r + 1) * 2 * H))).toEqual(alone);
      }
      tf.dispose([xp, hw, c, got, ops]);
    }
    expect(cellSpy).toHaveBeenCalledTimes(2 * 3);
  });

  it('rejects operands that do not hold the sizes it is told, instead of reading past them', () => {
    const a = new Float32Array(6);
    const b = new Float32Array(6);
    expect(() => blas.sgemm(false, false, 2, 3, 3, a, b, new Float32Array(6), 0)).toThrow(RangeError);
    expect(() => blas.sgemm(false, false, 2, 2, 3, a, b, new Float32Array(3), 0)).toThrow(RangeError);
    expect(() => blas.sgemm(false, false, 2, 2, 3, a, new Float64Array(6) as never, new Float32Array(4), 0)).toThrow(TypeError);
    expect(() => blas.sgemm(false, false, -1, 2, 3, a, b, new Float32Array(4), 0)).toThrow(RangeError);
    expect(() => blas.rowGemm(2, 3, 3, a, b, new Float32Array(6), false)).toThrow(RangeError);
    expect(() => blas.rowGemm(2, 2, 3, a, b, new Float32Array(3), false)).toThrow(RangeError);
    expect(() => blas.rowGemm(2, -2, 3, a, b, new Float32Array(4), false)).toThrow(RangeError);
    const f = (len: number) => new Float32Array(len);
    expect(() => blas.lstmCell(2, 3, f(24), f(23), f(6), f(6), f(6))).toThrow(RangeError);
    expect(() => blas.lstmCell(2, 3, f(24), f(24), f(6), f(6), f(5))).toThrow(RangeError);
    const c = new Float32Array(4);
    blas.sgemm(false, false, 2, 2, 3, Float32Array.of(1, 2, 3, 4, 5, 6), Float32Array.of(1, 0, 0, 1, 1, 1), c, 0);
    expect([...c]).toEqual([4, 5, 10, 11]);
    const y = Float32Array.of(1, 1, 1, 1);
    blas.rowGemm(2, 2, 3, Float32Array.of(1, 2, 3, 4, 5, 6), Float32Array.of(1, 0, 0, 1, 1, 1), y, true);
    expect([...y]).toEqual([5, 6, 11, 12]);
  });
});

/** Uniform in [-scale, scale), from a seed (no tfjs: the variants are called directly). */
function uniform(length: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = ((x >>> 0) / 2 ** 32 * 2 - 1) * scale;
  }
  return out;
}

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

/** The CPU's feature flags, as the kernel choice should see them (Linux). */
const cpuFlags = new Set((/^flags\s*:(.*)$/m.exec(existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '')?.[1] ?? '').trim().split(/\s+/));

describe('kernel variants (one portable build)', () => {
  const variants = blasVariants();

  it('lists the variants this CPU runs, best first, and uses the best', () => {
    const names = variants.map((v) => v.kernels);
    const expected = process.arch === 'x64'
      ? [...(cpuFlags.has('avx512f') && cpuFlags.has('avx2') && cpuFlags.has('fma') ? ['avx512'] : []), ...(cpuFlags.has('avx2') && cpuFlags.has('fma') ? ['avx2'] : []), 'baseline']
      : ['baseline'];
    expect(names).toEqual(expected);
    expect(blasStatus()).toMatchObject({ on: true, kernels: names[0], reason: null, addon: findBlasAddon() });
    expect(loadBlas()!.kernels).toBe(names[0]);
  });

  it('rowGemm: each row has the bits it has alone, at any row count (past 16), in every variant, and every variant agrees', () => {
    // One FMA chain per element, in k order, in every path: the maths leaves no room for a difference.
    for (const [k, n] of [[256, 1024], [100, 1000], [37, 65], [3, 5]]) {
      const rows = 40;
      const a = uniform(rows * k, k * 7 + n);
      const b = uniform(k * n, k + n * 3);
      const bias = uniform(rows * n, 11);
      let reference: number[] | null = null;
      for (const v of variants) {
        const alone = new Float32Array(rows * n);
        const aloneAcc = bias.slice();
        for (let r = 0; r < rows; r++) {
          v.rowGemm(1, n, k, a.subarray(r * k, (r + 1) * k), b, alone.subarray(r * n, (r + 1) * n), false);
          v.rowGemm(1, n, k, a.subarray(r * k, (r + 1) * k), b, aloneAcc.subarray(r * n, (r + 1) * n), true);
        }
        for (const m of [2, 3, 5, 7, 8, 9, 15, 16, 17, 24, 33, 40]) {
          const together = new Float32Array(m * n);
          v.rowGemm(m, n, k, a.subarray(0, m * k), b, together, false);
          expect(bits(together), `${v.kernels}: ${m} rows, k ${k}, n ${n}`).toEqual(bits(alone.subarray(0, m * n)));
          const acc = bias.slice(0, m * n);
          v.rowGemm(m, n, k, a.subarray(0, m * k), b, acc, true);
          expect(bits(acc), `${v.kernels}: ${m} rows accumulated`).toEqual(bits(aloneAcc.subarray(0, m * n)));
        }
        reference ??= bits(alone);
        expect(bits(alone), `${v.kernels} against ${variants[0].kernels}`).toEqual(reference);
      }
    }
  });

  it('lstmCell: each row has the bits it has alone in every variant, and every variant agrees', () => {
    // Measured: the same bits in all three variants, on these inputs out to ±100 (both ends of the
    // exp clamp). Every operation in cell.c is an exactly rounded IEEE one (add, mul, div, FMA,
    // min/max, floor, exponent bits) in the same order at every width, so nothing allows a difference.
    for (const [n, H] of [[16, 256], [5, 37], [3, 1]]) {
      const xp = uniform(n * 4 * H, n + H, 100);
      const hw = uniform(n * 4 * H, 2 * n + H, 4);
      const c = uniform(n * H, 3 * n + H, 20);
      xp.set([0, -0, 1e-30, -1e-30, 87.3, -87.3, 200, -200].slice(0, xp.length));
      let reference: number[] | null = null;
      for (const v of variants) {
        const h = new Float32Array(n * H);
        const cNext = new Float32Array(n * H);
        v.lstmCell(n, H, xp, hw, c, h, cNext);
        const got = [...bits(h), ...bits(cNext)];
        expect(got.every((x) => (x & 0x7f800000) !== 0x7f800000), `${v.kernels}: no NaN or infinity`).toBe(true);
        for (const r of [0, n - 1]) {
          const h1 = new Float32Array(H);
          const c1 = new Float32Array(H);
          v.lstmCell(1, H, xp.subarray(r * 4 * H, (r + 1) * 4 * H), hw.subarray(r * 4 * H, (r + 1) * 4 * H), c.subarray(r * H, (r + 1) * H), h1, c1);
          expect(bits(h1), `${v.kernels}: row ${r} of ${n}, H ${H}`).toEqual(bits(h.subarray(r * H, (r + 1) * H)));
          expect(bits(c1)).toEqual(bits(cNext.subarray(r * H, (r + 1) * H)));
        }
        reference ??= got;
        expect(got, `${v.kernels} against ${variants[0].kernels}`).toEqual(reference);
      }
    }
  });

  it(`${BLAS_KERNELS_ENV} picks a variant for the whole engine, and a variant it cannot have is a clear error`, async () => {
    const script = [
      "import { blasStatus, loadBlas } from './shared/engine/native/blas.ts';",
      "import { initBackend, hasLstmCellKernel } from './shared/engine/backend.ts';",
      'const status = blasStatus();',
      'let error = null;',
      'try { await initBackend("wasm"); } catch (e) { error = e.message; }',
      'const kernels = error ? null : loadBlas()?.kernels ?? null;',
      'console.log(JSON.stringify({ status, kernels, cell: !error && hasLstmCellKernel(), error }));',
    ].join('\n');
    const probe = async (want: string) => {
      const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        env: { ...process.env, [BLAS_KERNELS_ENV]: want },
        timeout: 60_000,
      });
      return JSON.parse(stdout) as { status: BlasStatus; kernels: string | null; cell: boolean; error: string | null };
    };
    for (const v of variants) {
      expect(await probe(v.kernels)).toMatchObject({ status: { on: true, kernels: v.kernels }, kernels: v.kernels, cell: true, error: null });
    }
    const bad = await probe('avx1024');
    expect(bad.status).toMatchObject({ on: false, kernels: null });
    expect(bad.status.reason).toMatch(/^CHARRNN_BLAS_KERNELS=avx1024: no such kernels \(the binding has .*baseline\); this CPU runs /);
    // The engine does not quietly run on something else: initialising the backend fails with it.
    expect(bad.error).toBe(bad.status.reason);
  });
});
