// One sampling time step for n rows (streams), shared by Sampler (n = 1) and BatchSampler: the same
// ops for every n, and matmuls that compute each row alike whatever n is, so a stream's text does
// not depend on what is sampled beside it. Where the native binding is built, the LSTM cell's
// element-wise half is one kernel (backend.ts, native/cell.c) instead of ten tfjs ops. No Node module
// here: the exported page runs this step in a browser (functions/export/page/page.ts).
import * as tf from '@tensorflow/tfjs';
import { hasLstmCellKernel, LSTM_CELL, rowInvariantMatMuls } from './step-kernels.ts';
import type { CharRnn, RnnState } from './model.ts';

/** The checkpoint's tensors as the sampling step uses them (prepared once). */
export interface StepWeights {
  net: CharRnn;
  /** Layer-0 input rows with the bias folded in ([V, G·H]), when the input is one-hot. */
  table0: tf.Tensor2D | null;
  /** GRU recurrent kernels split into the gates' [H, 2H] and the candidate's [H, H] parts. */
  gruSplit: [tf.Tensor2D, tf.Tensor2D][];
}

/** Fold and split the checkpoint's tensors for stepRows (kept until disposeStepWeights). */
export function prepareStepWeights(net: CharRnn): StepWeights {
  const H = net.config.hidden;
  return {
    net,
    table0: net.embedding ? null : tf.keep(tf.add(net.layers[0].kernel, net.layers[0].bias) as tf.Tensor2D),
    gruSplit: net.config.cell === 'gru' ? net.layers.map((l) => tf.split(l.recurrent, [2 * H, H], 1).map((t) => tf.keep(t)) as [tf.Tensor2D, tf.Tensor2D]) : [],
  };
}

/** Free what prepareStepWeights made, and the model too unless it is borrowed (a trainer's). */
export function disposeStepWeights(w: StepWeights, { keepNet = false } = {}): void {
  w.table0?.dispose();
  tf.dispose(w.gruSplit.flat());
  if (!keepNet) w.net.dispose();
}

/**
 * One time step for n rows: ids [n] are each row's input character. Returns the new state and the
 * logits [n, V]; the caller disposes the old state.
 */
export function stepRows(w: StepWeights, ids: Int32Array, state: RnnState): { state: RnnState; logits: tf.Tensor2D } {
  const { hidden: H, cell } = w.net.config;
  const n = ids.length;
  const fusedCell = hasLstmCellKernel();
  return rowInvariantMatMuls(() => tf.tidy(() => {
    const idT = tf.tensor1d(ids, 'int32');
    let x: tf.Tensor2D;
    const next: RnnState = [];
    w.net.layers.forEach((layer, l) => {
      let xp: tf.Tensor2D;
      if (l === 0 && w.table0) xp = tf.gather(w.table0, idT);
      else {
        const input = l === 0 ? (tf.gather(w.net.embedding!, idT) as tf.Tensor2D) : x;
        xp = tf.add(tf.matMul(input, layer.kernel), layer.bias);
      }
      const { h: hPrev, c: cPrev } = state[l];
      if (cell === 'lstm' && fusedCell) {
        const [h, c] = tf.engine().runKernel(LSTM_CELL, { xp, hw: tf.matMul(hPrev, layer.recurrent), c: cPrev! }, {}) as tf.Tensor2D[];
        next.push({ h, c });
      } else if (cell === 'lstm') {
        const z = tf.add(xp, tf.matMul(hPrev, layer.recurrent));
        const sig = tf.sigmoid(tf.slice(z, [0, 0], [n, 3 * H]));
        const g = tf.tanh(tf.slice(z, [0, 3 * H], [n, H]));
        const [i, f, o] = tf.split(sig, 3, 1);
        const c = tf.add(tf.mul(f, cPrev!), tf.mul(i, g)) as tf.Tensor2D;
        next.push({ h: tf.mul(o, tf.tanh(c)), c });
      } else {
        const [Wzr, Whh] = w.gruSplit[l];
        const zr = tf.sigmoid(tf.add(tf.slice(xp, [0, 0], [n, 2 * H]), tf.matMul(hPrev, Wzr)));
        const [z, r] = tf.split(zr, 2, 1);
        const hh = tf.tanh(tf.add(tf.slice(xp, [0, 2 * H], [n, H]), tf.matMul(tf.mul(r, hPrev), Whh)));
        next.push({ h: tf.add(hh, tf.mul(z, tf.sub(hPrev, hh))) });
      }
      x = next[l].h;
    });
    const logits = tf.add(tf.matMul(x!, w.net.headKernel), w.net.headBias);
    return { state: next, logits } as unknown as tf.TensorContainer;
  })) as unknown as { state: RnnState; logits: tf.Tensor2D };
}
