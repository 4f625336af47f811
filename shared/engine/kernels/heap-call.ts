// heapCall's kernel (step-kernels.ts): native code run on views of the wasm heap, inputs and new
// outputs alike, with nothing copied. The fused training layers (fused.ts) and the whole native
// sampling step (step.ts's nativeLstmStep) run through it, so no JavaScript or tfjs op runs inside
// their time loops.
import * as tf from '@tensorflow/tfjs';
import type { Blas } from '../native/blas.ts';
import { HEAP_CALL, type HeapCallAttrs } from '../step-kernels.ts';
import { add } from './registry.ts';

export function installHeapCall(blas: Blas): void {
  add(HEAP_CALL, ({ inputs, backend, attrs }) => {
    const { outputs, run } = attrs as HeapCallAttrs;
    const outs = outputs.map(([, shape]) => backend.makeOutput(shape, 'float32') as tf.TensorInfo);
    // Views after every makeOutput: each may grow the heap, which detaches older views.
    const views: Record<string, Float32Array | Int32Array> = {};
    for (const [name, t] of Object.entries(inputs)) views[name] = backend.typedArrayFromHeap(t);
    outputs.forEach(([name], i) => (views[name] = backend.typedArrayFromHeap(outs[i]) as Float32Array));
    run(views, blas);
    return outs;
  });
}
