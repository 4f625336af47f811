// One time step of an LSTM or GRU cell in tfjs ops, the maths written once. cells.ts runs it over a
// training window (the tfjs twin of fused.ts's native layers, and what trains without the binding);
// step.ts for the rows of a sampling step (the tfjs twin of its native step, and what a browser
// runs). Gate layouts: cells.ts. No Node module: the exported page loads it.
import * as tf from '@tensorflow/tfjs';

/** The tanh the caller wants: tf.tanh, or cells.ts's faster one for training on wasm. */
export type Tanh = (x: tf.Tensor) => tf.Tensor;

export interface LstmCellStep {
  h: tf.Tensor;
  c: tf.Tensor;
  /** The rest is what training's backward pass reads: σ(i, f, o) [n, 3H], */
  sig: tf.Tensor;
  /** the same split into its three gates, */
  ifo: tf.Tensor[];
  /** the candidate tanh(g) [n, H] and tanh(c). */
  g: tf.Tensor;
  tc: tf.Tensor;
}

/** xp [n, 4H]: the input's projection (bias included); h, c [n, H]; Wh [H, 4H] (gates i, f, o | g). */
export function lstmCellStep(xp: tf.Tensor, h: tf.Tensor, c: tf.Tensor, Wh: tf.Tensor, tanh: Tanh): LstmCellStep {
  const H = Wh.shape[0];
  const z = tf.add(xp, tf.matMul(h, Wh));
  const [zs, zg] = tf.split(z, [3 * H, H], 1);
  const sig = tf.sigmoid(zs);
  const g = tanh(zg);
  const [i, f, o] = tf.split(sig, 3, 1);
  const cNext = tf.add(tf.mul(f, c), tf.mul(i, g));
  const tc = tanh(cNext);
  return { h: tf.mul(o, tc), c: cNext, sig, ifo: [i, f, o], g, tc };
}

export interface GruCellStep {
  h: tf.Tensor;
  /** What training's backward pass reads: σ(z, r) [n, 2H], the candidate [n, H], and r∘h. */
  zr: tf.Tensor;
  hh: tf.Tensor;
  rh: tf.Tensor;
}

/**
 * xp [n, 3H]: the input's projection (bias included); h [n, H]; Wzr [H, 2H] and Whh [H, H]: the
 * recurrent kernel's gate and candidate columns. Reset gate before the recurrent product (Keras's
 * reset_after: false): h' = z∘h + (1−z)∘tanh(x_h + (r∘h)·U_h).
 */
export function gruCellStep(xp: tf.Tensor, h: tf.Tensor, Wzr: tf.Tensor, Whh: tf.Tensor, tanh: Tanh): GruCellStep {
  const H = Whh.shape[0];
  const [xzr, xh] = tf.split(xp, [2 * H, H], 1);
  const zr = tf.sigmoid(tf.add(xzr, tf.matMul(h, Wzr)));
  const [z, r] = tf.split(zr, 2, 1);
  const rh = tf.mul(r, h);
  const hh = tanh(tf.add(xh, tf.matMul(rh, Whh)));
  return { h: tf.add(hh, tf.mul(z, tf.sub(h, hh))), zr, hh, rh };
}
