// GatherV2 along axis 0 (a row lookup: the model's one-hot input layer) loops per element on wasm
// (140 ms for 6400 rows of 1024); copying whole rows through heap views takes ~3 ms. Any other
// gather (another axis, batch dims, ids out of range: the stock kernel words the error) stays stock.
import * as tf from '@tensorflow/tfjs';
import { callKernel, override } from './registry.ts';

export function installRowGather(): void {
  override('GatherV2', (stock) => (args) => {
    const { inputs, attrs, backend } = args;
    const { x, indices } = inputs;
    const axis = tf.util.parseAxisParam(attrs.axis, x.shape)[0];
    if (axis !== 0 || (attrs.batchDims ?? 0) !== 0 || x.dtype === 'string' || x.dtype === 'complex64' || indices.dtype !== 'int32') {
      return callKernel(stock, args);
    }
    const rows = x.shape[0];
    const rowSize = tf.util.sizeFromShape(x.shape.slice(1));
    const idx = backend.typedArrayFromHeap(indices) as Int32Array;
    for (let i = 0; i < idx.length; i++) if (!(idx[i] >= 0 && idx[i] < rows)) return callKernel(stock, args);
    const out = backend.makeOutput([...indices.shape, ...x.shape.slice(1)], x.dtype) as tf.TensorInfo;
    const iv = backend.typedArrayFromHeap(indices) as Int32Array; // re-read: makeOutput may move the heap
    const xv = backend.typedArrayFromHeap(x) as Float32Array;
    const ov = backend.typedArrayFromHeap(out) as Float32Array;
    for (let i = 0; i < iv.length; i++) ov.set(xv.subarray(iv[i] * rowSize, (iv[i] + 1) * rowSize), i * rowSize);
    return out;
  });
}
