// What the model code asks of the backend's kernels, with no Node module in sight: the sampling
// step's fused LSTM cell (step.ts), the row-invariant matmul scope, heapCall (the fused training
// layers, fused.ts) and whether tanh is better computed through sigmoid (cells.ts). kernels/
// registers the kernels, reads the scope and declares the tanh where the wasm backend runs; a
// browser has none of them, and the same code runs there on tfjs alone (the exported page,
// functions/export/page/page.ts). The model code asks these questions, never a backend's name.
import * as tf from '@tensorflow/tfjs';
import type { Blas } from './native/blas.ts';

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

/** Whether the caller is inside rowInvariantMatMuls (kernels/blas-matmul.ts asks). */
export function inRowInvariantMatMuls(): boolean {
  return rowwiseDepth > 0;
}

/** Kernel name of the generic native call on heap views (heapCall); kernels/heap-call.ts registers it. */
export const HEAP_CALL = 'CharrnnHeapCall';

export interface HeapCallAttrs {
  outputs: [string, number[]][];
  run: (views: Record<string, Float32Array | Int32Array>, blas: Blas) => void;
}

/** Whether heapCall is available: the wasm backend with the native binding. */
export function hasHeapCall(): boolean {
  return tf.getKernel(HEAP_CALL, tf.getBackend()) !== undefined;
}

/** Backends whose Tanh kernel is slow beside their Sigmoid (kernels/ declares wasm's). */
const sigmoidTanhBackends = new Set<string>();

/** Declare that on `backend` tanh is better computed as 2σ(2x) − 1 (see tanhViaSigmoid). */
export function declareSigmoidTanh(backend: string): void {
  sigmoidTanhBackends.add(backend);
}

/** Whether the active backend computes tanh faster as 2σ(2x) − 1 than with its Tanh kernel. */
export function tanhViaSigmoid(): boolean {
  return sigmoidTanhBackends.has(tf.getBackend());
}

/**
 * One kernel that hands `run` views of the wasm heap and the native binding: the inputs' views
 * (float32 or int32) and those of new float32 outputs (uninitialised), by name; `run` fills the
 * outputs (it may also write an input it owns: fused.ts's gate trace). Nothing is copied. `run` must
 * not call tfjs (a heap growth would detach the views). Records no gradient: call it inside a custom
 * gradient op, or outside gradients.
 */
export function heapCall(
  inputs: Record<string, tf.Tensor>,
  outputs: Record<string, number[]>,
  run: HeapCallAttrs['run'],
): Record<string, tf.Tensor> {
  const order = Object.entries(outputs);
  const attrs: HeapCallAttrs = { outputs: order, run };
  const out = tf.engine().runKernel(HEAP_CALL, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor | tf.Tensor[];
  const list = Array.isArray(out) ? out : [out];
  return Object.fromEntries(order.map(([name], i) => [name, list[i]]));
}
