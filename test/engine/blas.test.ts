// The OpenBLAS matmul path: built wherever OpenBLAS's headers are (CI installs them), taken for
// every matmul big enough, row by row where sampling needs it, and numerically the same as the cpu
// backend.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { hasLstmCellKernel, initBackend, LSTM_CELL, rowInvariantMatMuls } from '../../shared/engine/backend.ts';
import { BLAS_ADDON, builtForThisCpu, loadBlas, type Blas } from '../../shared/engine/native/blas.ts';

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
    expect(existsSync(BLAS_ADDON), `${BLAS_ADDON} (npm run postinstall)`).toBe(true);
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

  it('is used only on the CPU it was built for (-march=native)', () => {
    const record = join(BLAS_ADDON, '..', 'cpu.json');
    expect(builtForThisCpu(record)).toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'charrnn-cpu-'));
    try {
      const built = JSON.parse(readFileSync(record, 'utf8'));
      const other = join(dir, 'cpu.json');
      writeFileSync(other, JSON.stringify({ ...built, flags: `${built.flags ?? ''} not_this_cpu` }));
      expect(builtForThisCpu(other)).toBe(false);
      writeFileSync(other, JSON.stringify({ ...built, arch: 'arm64' === process.arch ? 'x64' : 'arm64' }));
      expect(builtForThisCpu(other)).toBe(false);
      expect(builtForThisCpu(join(dir, 'missing.json'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
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
