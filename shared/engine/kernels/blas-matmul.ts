// Matmuls through the native binding, straight on the wasm heap (Float32Array views, no copy).
// XNNPACK's matmuls on wasm SIMD128 reach ~45 GFLOP/s per core here; OpenBLAS's sgemm on the CPU's
// own AVX-512 units ~120 (a 1×256/2×512 step's shapes, BENCHMARKS.md). Each call gets one BLAS
// thread: the trainer already runs one replica per core. Inside rowInvariantMatMuls (sampling) the
// products go to the binding's rowGemm instead, whose bits for a row do not depend on how many rows
// share the call (sgemm's do: 61 of 63 row counts differ on this CPU).
import * as tf from '@tensorflow/tfjs';
import type { Blas } from '../native/blas.ts';
import { inRowInvariantMatMuls } from '../step-kernels.ts';
import type { KernelArgs } from './registry.ts';

/** Matmuls smaller than this stay on XNNPACK: below it the call costs more than the vector width saves. */
const BLAS_MIN_MACS = 1 << 15;

/**
 * BatchMatMul/_FusedMatMul through the system BLAS, straight on the wasm heap; null when the case
 * is not one it handles (non-float32, an activation, a bias that is not one row, uneven batches, a
 * matrix-vector product outside rowInvariantMatMuls), and the caller takes the wasm path.
 */
export function blasMatMul(blas: Blas, { inputs, backend, attrs }: KernelArgs): tf.TensorInfo | null {
  const { a, b, bias, preluActivationWeights } = inputs;
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || preluActivationWeights) return null;
  if (attrs.activation && attrs.activation !== 'linear') return null;
  const ra = a.shape.length;
  const rb = b.shape.length;
  if (ra < 2 || rb < 2) return null;
  const ta = !!attrs.transposeA;
  const tb = !!attrs.transposeB;
  const m = ta ? a.shape[ra - 1] : a.shape[ra - 2];
  const k = ta ? a.shape[ra - 2] : a.shape[ra - 1];
  const n = tb ? b.shape[rb - 2] : b.shape[rb - 1];
  if ((tb ? b.shape[rb - 1] : b.shape[rb - 2]) !== k) return null; // let the stock kernel word the error
  const rowwise = inRowInvariantMatMuls();
  // Row by row, the choice must not depend on m (the number of rows).
  if (rowwise ? ta || tb : m < 2 || m * n * k < BLAS_MIN_MACS) return null;
  const batchA = tf.util.sizeFromShape(a.shape.slice(0, -2));
  const batchB = tf.util.sizeFromShape(b.shape.slice(0, -2));
  if (batchA !== batchB && batchA !== 1 && batchB !== 1) return null;
  if (bias && (bias.dtype !== 'float32' || tf.util.sizeFromShape(bias.shape) !== n)) return null;
  const batchShape = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const batch = tf.util.sizeFromShape(batchShape);
  if (batch !== Math.max(batchA, batchB)) return null;

  const out = backend.makeOutput([...batchShape, m, n], 'float32') as tf.TensorInfo;
  // Views after makeOutput: it may grow the heap, which detaches older views.
  const av = backend.typedArrayFromHeap(a) as Float32Array;
  const bv = backend.typedArrayFromHeap(b) as Float32Array;
  const ov = backend.typedArrayFromHeap(out) as Float32Array;
  if (bias) {
    const biasv = backend.typedArrayFromHeap(bias) as Float32Array;
    for (let r = 0; r < batch * m; r++) ov.set(biasv, r * n);
  }
  const beta = bias ? 1 : 0;
  const sa = m * k;
  const sb = k * n;
  const so = m * n;
  for (let i = 0; i < batch; i++) {
    const ai = batchA === 1 ? 0 : i;
    const bi = batchB === 1 ? 0 : i;
    const bMat = bv.subarray(bi * sb, bi * sb + sb);
    if (rowwise) {
      blas.rowGemm(m, n, k, av.subarray(ai * sa, ai * sa + sa), bMat, ov.subarray(i * so, i * so + so), beta === 1);
    } else {
      blas.sgemm(ta, tb, m, n, k, av.subarray(ai * sa, ai * sa + sa), bMat, ov.subarray(i * so, i * so + so), beta);
    }
  }
  return out;
}
