// The wasm kernel fixes give the same numbers as the stock kernels (and as the cpu backend).
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../shared/engine/backend.ts';
import { installWasmKernelFixes, uninstallWasmKernelFixes, wasmKernelFixesInstalled } from '../../shared/engine/kernels/index.ts';
import { maxRelDiff } from './helpers.ts';

/** Run `f` with the stock wasm kernels, with the fixes, and on cpu; return the three outputs. */
function threeWays(f: () => tf.Tensor | tf.Tensor[]): { stock: Float32Array[]; fixed: Float32Array[]; cpu: Float32Array[]; shapes: number[][] } {
  const run = () => {
    const out = tf.tidy(f);
    const list = Array.isArray(out) ? out : [out];
    const vals = list.map((t) => Float32Array.from(t.dataSync()));
    const shapes = list.map((t) => t.shape);
    tf.dispose(list);
    return { vals, shapes };
  };
  uninstallWasmKernelFixes();
  const stock = run();
  installWasmKernelFixes();
  const fixed = run();
  tf.setBackend('cpu');
  const cpu = run();
  tf.setBackend('wasm');
  expect(fixed.shapes).toEqual(stock.shapes);
  return { stock: stock.vals, fixed: fixed.vals, cpu: cpu.vals, shapes: fixed.shapes };
}

// Inputs are generated on the fly from fixed seeds, so every run sees the same numbers.
const rnd = (shape: number[], seed: number) => tf.randomUniform(shape, -1, 1, 'float32', seed);

describe('wasm kernel fixes', () => {
  beforeAll(async () => {
    expect(await initBackend('wasm')).toBe('wasm');
    expect(wasmKernelFixesInstalled()).toBe(true);
  });

  it('transposed BatchMatMul matches the stock kernel and cpu', () => {
    for (const [ta, tb] of [[true, false], [false, true], [true, true], [false, false]] as const) {
      const r = threeWays(() => {
        const a = rnd(ta ? [37, 19] : [19, 37], 1);
        const b = rnd(tb ? [23, 37] : [37, 23], 2);
        return tf.matMul(a, b, ta, tb);
      });
      expect(r.shapes[0]).toEqual([19, 23]);
      expect(maxRelDiff(r.fixed[0], r.stock[0])).toBeLessThan(1e-5);
      expect(maxRelDiff(r.fixed[0], r.cpu[0])).toBeLessThan(1e-5);
    }
    // batched (rank 3) and broadcast batch
    const r = threeWays(() => tf.matMul(rnd([3, 8, 5], 3), rnd([1, 6, 8], 4), true, true));
    expect(r.shapes[0]).toEqual([3, 5, 6]);
    expect(maxRelDiff(r.fixed[0], r.stock[0])).toBeLessThan(1e-5);
  });

  it('transposed _FusedMatMul (bias + activation) matches cpu', () => {
    // Compared with cpu only: the stock wasm kernel drops the bias on its transposed path
    // (tfjs-backend-wasm 4.22), which the fix also repairs; untransposed it must equal stock.
    for (const [ta, tb] of [[true, false], [false, true], [true, true]] as const) {
      const r = threeWays(() =>
        tf.fused.matMul({ a: rnd(ta ? [16, 9] : [9, 16], 5), b: rnd(tb ? [12, 16] : [16, 12], 6), transposeA: ta, transposeB: tb, bias: rnd([12], 7), activation: 'relu' }),
      );
      expect(maxRelDiff(r.fixed[0], r.cpu[0])).toBeLessThan(1e-5);
    }
    const plain = threeWays(() => tf.fused.matMul({ a: rnd([9, 16], 5), b: rnd([16, 12], 6), bias: rnd([12], 7), activation: 'relu' }));
    expect(plain.fixed[0]).toEqual(plain.stock[0]);
  });

  it('Slice, SplitV and Unpack give identical values for contiguous and strided cases', () => {
    const r = threeWays(() => {
      const x2 = rnd([20, 30], 8);
      const x4 = rnd([3, 4, 5, 6], 9);
      const x5 = rnd([2, 3, 2, 3, 4], 10);
      return [
        tf.slice(x2, [5, 0], [7, 30]), // contiguous rows
        tf.slice(x2, [2, 3], [10, 17]), // strided
        tf.slice(x4, [1, 1, 2, 0], [2, 3, 2, 6]),
        tf.slice(x5, [1, 0, 1, 1, 2], [1, 3, 1, 2, 2]),
        ...tf.split(x2, [10, 15, 5], 1),
        ...tf.split(x2, 4, 0),
        ...tf.unstack(x4, 2),
        tf.slice(tf.tensor1d([1, 2, 3, 4], 'int32'), [1], [2]).toFloat(),
        tf.slice(x2, [3, 3], [0, 5]).reshape([0]).concat(tf.zeros([1])),
      ];
    });
    r.fixed.forEach((v, i) => {
      expect(v).toEqual(r.stock[i]);
      expect(v).toEqual(r.cpu[i]);
    });
  });

  it('row GatherV2 matches, and falls back for other axes', () => {
    const r = threeWays(() => {
      const table = rnd([11, 7], 11);
      return [
        tf.gather(table, tf.tensor1d([3, 0, 10, 3, 5], 'int32')),
        tf.gather(table, tf.tensor2d([[1, 2], [9, 9]], [2, 2], 'int32')),
        tf.gather(table, tf.tensor1d([6, 1], 'int32'), 1),
        tf.gather(tf.tensor2d([[1, 2], [3, 4]], [2, 2], 'int32'), tf.tensor1d([1, 1, 0], 'int32')).toFloat(),
      ];
    });
    r.fixed.forEach((v, i) => {
      expect(v).toEqual(r.stock[i]);
      expect(v).toEqual(r.cpu[i]);
    });
  });

  it('adds the missing UnsortedSegmentSum (so gather gradients work), matching cpu', async () => {
    const f = () => [
      tf.unsortedSegmentSum(rnd([6, 4], 12), tf.tensor1d([2, 0, 2, 4, 0, 2], 'int32'), 5),
      tf.unsortedSegmentSum(rnd([5, 2, 3], 13), tf.tensor1d([1, 1, 0, 1, 0], 'int32'), 3),
      tf.unsortedSegmentSum(tf.tensor1d([1, 2, 3, 4], 'int32'), tf.tensor1d([0, 1, 0, 1], 'int32'), 2).toFloat(),
      tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, tf.tensor1d([3, 1, 3, 3], 'int32')), rnd([4, 5], 14))))(rnd([6, 5], 15)),
    ];
    const wasm = tf.tidy(f).map((t) => Float32Array.from(t.dataSync()));
    await tf.setBackend('cpu');
    const cpu = tf.tidy(f).map((t) => Float32Array.from(t.dataSync()));
    await tf.setBackend('wasm');
    wasm.forEach((v, i) => expect(maxRelDiff(v, cpu[i])).toBeLessThan(1e-6));
    uninstallWasmKernelFixes();
    expect(() => tf.tidy(() => tf.unsortedSegmentSum(rnd([2, 2], 1), tf.tensor1d([0, 1], 'int32'), 2))).toThrow(/not registered/);
    installWasmKernelFixes();
  });
});
