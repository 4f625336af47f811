// Loss and weight gradients of one training window: what every training replica computes on its
// share of the streams (replicas.ts on the calling thread, replica-worker.ts on the second one).
import * as tf from '@tensorflow/tfjs';
import { CharRnn, type RnnState } from './model.ts';

export interface StepGrads {
  /** Mean cross-entropy over the window's T·B targets. */
  loss: tf.Scalar;
  /** One per `model.variables()`, same order. */
  grads: tf.Tensor[];
  /** Hidden state after the window (the caller owns it). */
  carry: RnnState;
}

/** x, y: time-major [T·B] ids; carry: the state the window starts from. */
export function stepGrads(
  model: CharRnn,
  x: Int32Array,
  y: Int32Array,
  carry: RnnState,
  o: { T: number; B: number; dropoutSeed?: number; threads?: number },
): StepGrads {
  const vars = model.variables();
  let nextCarry: RnnState = [];
  const { loss, grads } = tf.tidy(() => {
    const xt = tf.tensor1d(x, 'int32');
    const yt = tf.tensor1d(y, 'int32');
    const { value, grads } = tf.variableGrads(() => {
      const out = model.loss(xt, yt, carry, { T: o.T, B: o.B, training: true, dropoutSeed: o.dropoutSeed, threads: o.threads });
      nextCarry = out.state.map((s) => (s.c ? { h: tf.keep(s.h), c: tf.keep(s.c) } : { h: tf.keep(s.h) }));
      return out.loss;
    }, vars);
    return { loss: value, grads: vars.map((v) => grads[v.name]) };
  });
  return { loss, grads, carry: nextCarry };
}

/** Streams [from, from + n) of a time-major [T·B] window, as a time-major [T·n] window. */
export function streamSlice(ids: Int32Array, T: number, B: number, from: number, n: number): Int32Array {
  const out = new Int32Array(T * n);
  for (let t = 0; t < T; t++) out.set(ids.subarray(t * B + from, t * B + from + n), t * n);
  return out;
}
