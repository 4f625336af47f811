// The sampling step's LSTM cell (z = xp + hw, three sigmoids, two tanhs, the new c and h) as one
// native kernel (native/cell.c) instead of ten tfjs ops: at one row the ops' dispatch, not their
// arithmetic, was most of the step (one 1×256 character ~68 → ~35 µs). step.ts uses it where
// hasLstmCellKernel() says it is registered.
import * as tf from '@tensorflow/tfjs';
import type { Blas } from '../native/blas.ts';
import { LSTM_CELL } from '../step-kernels.ts';
import { add } from './registry.ts';

export function installLstmCell(blas: Blas): void {
  add(LSTM_CELL, ({ inputs, backend }) => {
    const { xp, hw, c } = inputs;
    const [n, H] = c.shape;
    const h = backend.makeOutput([n, H], 'float32') as tf.TensorInfo;
    const cNext = backend.makeOutput([n, H], 'float32') as tf.TensorInfo;
    const view = (t: tf.TensorInfo) => backend.typedArrayFromHeap(t) as Float32Array;
    blas.lstmCell(n, H, view(xp), view(hw), view(c), view(h), view(cNext));
    return [h, cNext];
  });
}
