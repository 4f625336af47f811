// Dropout masks drawn in plain JS. tf.dropout draws every element through seedrandom's alea and
// builds the mask in several tensor ops: 23–36 ms for one [3200, 384–512] activation on wasm, this
// 10–15 ms (medians of 30 alternating calls, 2026-12-06; a 2-layer model at B 64, T 100 pays it
// twice per replica per step). One mulberry32 draw gives two elements here (16 bits each, so the
// keep probability is exact to 2⁻¹⁶).
import * as tf from '@tensorflow/tfjs';

/** x · mask / (1 − rate), each element kept with probability 1 − rate, the mask drawn from `seed`. */
export function dropout(x: tf.Tensor2D, rate: number, seed: number): tf.Tensor2D {
  return tf.tidy(() => tf.mul(x, tf.tensor2d(dropoutMask(x.size, rate, seed), x.shape as [number, number])) as tf.Tensor2D);
}

/** n elements, each 1/(1 − rate) with probability 1 − rate, else 0. */
export function dropoutMask(n: number, rate: number, seed: number): Float32Array {
  const mask = new Float32Array(n);
  const keepBelow = Math.round((1 - rate) * 65536);
  const scale = 1 / (1 - rate);
  let s = seed >>> 0;
  for (let i = 0; i < n; i += 2) {
    // mulberry32 (rng.ts), inlined: a method call per draw costs as much as the draw.
    let a = (s = (s + 0x6d2b79f5) >>> 0);
    a = Math.imul(a ^ (a >>> 15), a | 1);
    a ^= a + Math.imul(a ^ (a >>> 7), a | 61);
    const r = (a ^ (a >>> 14)) >>> 0;
    if ((r & 0xffff) < keepBelow) mask[i] = scale;
    if (r >>> 16 < keepBelow && i + 1 < n) mask[i + 1] = scale;
  }
  return mask;
}
