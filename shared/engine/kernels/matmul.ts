// BatchMatMul and _FusedMatMul on wasm: to OpenBLAS where the native binding runs (blas-matmul.ts),
// else XNNPACK with any transpose materialised first. tfjs-backend-wasm 4.22 uses XNNPACK only for
// untransposed operands; with a transposed one it falls back to a naive scalar loop (and the fused
// one drops its bias there). Every matmul gradient is transposed, so training needs this.
import * as tf from '@tensorflow/tfjs';
import type { Blas } from '../native/blas.ts';
import { blasMatMul } from './blas-matmul.ts';
import { callKernel, override, WASM } from './registry.ts';

export function installMatMuls(blas: Blas | null): void {
  const transposeK = tf.getKernel('Transpose', WASM)!;
  for (const name of ['BatchMatMul', '_FusedMatMul']) {
    override(name, (stock) => (args) => {
      const native = blas && blasMatMul(blas, args);
      if (native) return native;
      const { inputs, backend, attrs } = args;
      if (!attrs.transposeA && !attrs.transposeB) return callKernel(stock, args);
      const temps: tf.TensorInfo[] = [];
      const swapLast2 = (x: tf.TensorInfo): tf.TensorInfo => {
        const r = x.shape.length;
        const perm = [...Array(r).keys()];
        [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
        const out = callKernel(transposeK, { inputs: { x }, backend, attrs: { perm } }) as tf.TensorInfo;
        temps.push(out);
        return out;
      };
      const a = attrs.transposeA ? swapLast2(inputs.a) : inputs.a;
      const b = attrs.transposeB ? swapLast2(inputs.b) : inputs.b;
      const out = callKernel(stock, {
        inputs: { ...inputs, a, b },
        backend,
        attrs: { ...attrs, transposeA: false, transposeB: false },
      });
      for (const t of temps) backend.disposeData(t.dataId);
      return out;
    });
  }
}
