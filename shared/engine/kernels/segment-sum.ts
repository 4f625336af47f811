// UnsortedSegmentSum is missing on wasm; it is the gradient of a row gather (one-hot input,
// embeddings: model.ts's gatherRows). A scatter-add over heap views, registered only if the
// backend lacks it.
import * as tf from '@tensorflow/tfjs';
import { add } from './registry.ts';

export function installSegmentSum(): void {
  add('UnsortedSegmentSum', ({ inputs, attrs, backend }) => {
    const { x, segmentIds } = inputs;
    const n: number = attrs.numSegments;
    if (x.dtype !== 'float32' && x.dtype !== 'int32') throw new Error(`UnsortedSegmentSum: unsupported dtype ${x.dtype}`);
    const rowSize = tf.util.sizeFromShape(x.shape.slice(segmentIds.shape.length));
    const out = backend.makeOutput([n, ...x.shape.slice(segmentIds.shape.length)], x.dtype) as tf.TensorInfo;
    const xv = backend.typedArrayFromHeap(x) as Float32Array;
    const sv = backend.typedArrayFromHeap(segmentIds) as Int32Array;
    const ov = backend.typedArrayFromHeap(out) as Float32Array;
    ov.fill(0);
    for (let i = 0; i < sv.length; i++) {
      const s = sv[i];
      if (s < 0 || s >= n) continue; // like TensorFlow: out-of-range ids are dropped
      const src = i * rowSize;
      const dst = s * rowSize;
      for (let k = 0; k < rowSize; k++) ov[dst + k] += xv[src + k];
    }
    return out;
  });
}
