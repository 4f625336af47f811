// What the sampling step (step.ts) asks of the backend, with no Node module in sight: the fused
// LSTM cell's kernel name and the row-invariant matmul scope. backend.ts registers the kernel and
// reads the scope where the native binding serves matmuls; a browser has neither, and step.ts runs
// there unchanged (the exported page, functions/export/page/page.ts).
import * as tf from '@tensorflow/tfjs';

/** Kernel name of the fused sampling LSTM cell: inputs xp, hw [n, 4H] and c [n, H]; outputs h, c. */
export const LSTM_CELL = 'CharrnnLstmCell';

/** Whether the active backend has the fused sampling LSTM cell. */
export function hasLstmCellKernel(): boolean {
  return tf.getKernel(LSTM_CELL, tf.getBackend()) !== undefined;
}

let rowwiseDepth = 0;

/**
 * Run `f` with every matmul computed so that a row's bits never depend on how many rows share the
 * product. Sampling needs it: a stream's text must not change with the streams batched beside it
 * (same seed, same text). OpenBLAS's sgemm gives different bits for different row counts (61 of 63
 * counts differ here); the binding's rowGemm computes each element as one FMA chain over k in
 * order, in every path (native/rows.c). Without BLAS the wasm kernels already compute each row
 * alike.
 */
export function rowInvariantMatMuls<T>(f: () => T): T {
  rowwiseDepth++;
  try {
    return f();
  } finally {
    rowwiseDepth--;
  }
}

/** Whether the caller is inside rowInvariantMatMuls (backend.ts's matmul kernels ask). */
export function inRowInvariantMatMuls(): boolean {
  return rowwiseDepth > 0;
}
