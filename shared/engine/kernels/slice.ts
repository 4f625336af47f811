// Slice, SplitV and Unpack through heap views. The stock wasm Slice copies its whole input out of
// the heap on every call, and SplitV/Unpack slice once per output; the recurrences slice every
// time step (cells.ts), so this is a copy of the sliced part only.
import * as tf from '@tensorflow/tfjs';
import { callKernel, override, WASM, type WasmBackend } from './registry.ts';

export function installSliceViews(): void {
  const stockSlice = tf.getKernel('Slice', WASM)!;
  const sliceView = (x: tf.TensorInfo, begin: number[], size: number[], backend: WasmBackend): tf.TensorInfo => {
    if (x.dtype === 'string') return callKernel(stockSlice, { inputs: { x }, attrs: { begin, size }, backend });
    const [b, sz] = tf.slice_util.parseSliceParams(x as tf.Tensor, begin, size);
    const out = backend.makeOutput(sz, x.dtype) as tf.TensorInfo;
    // makeOutput may grow the heap (detaching old views), so take the views afterwards.
    const xv = backend.typedArrayFromHeap(x) as Float32Array;
    const ov = backend.typedArrayFromHeap(out) as Float32Array;
    const xs = tf.util.computeStrides(x.shape);
    const total = tf.util.sizeFromShape(sz);
    if (total === 0) return out;
    if (tf.slice_util.isSliceContinous(x.shape, b, sz)) {
      const off = tf.slice_util.computeFlatOffset(b, xs);
      ov.set(xv.subarray(off, off + total));
      return out;
    }
    // Strided copy: walk every index but the last, copying contiguous rows of the last axis.
    const r = x.shape.length;
    const inner = sz[r - 1];
    const rows = total / inner;
    const idx = new Array<number>(r - 1).fill(0);
    for (let n = 0, o = 0; n < rows; n++, o += inner) {
      let off = b[r - 1];
      for (let d = 0; d < r - 1; d++) off += (b[d] + idx[d]) * xs[d];
      ov.set(xv.subarray(off, off + inner), o);
      for (let d = r - 2; d >= 0; d--) {
        if (++idx[d] < sz[d]) break;
        idx[d] = 0;
      }
    }
    return out;
  };
  override('Slice', () => ({ inputs, attrs, backend }) => sliceView(inputs.x, attrs.begin, attrs.size, backend));
  override('SplitV', () => ({ inputs, attrs, backend }) => {
    const { x } = inputs;
    const axis = tf.util.parseAxisParam(attrs.axis, x.shape)[0];
    const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, attrs.numOrSizeSplits, axis);
    const begin = new Array<number>(x.shape.length).fill(0);
    return sizes.map((s) => {
      const size = x.shape.slice();
      size[axis] = s;
      const o = sliceView(x, begin.slice(), size, backend);
      begin[axis] += s;
      return o;
    });
  });
  override('Unpack', () => ({ inputs, attrs, backend }) => {
    const { value } = inputs;
    let axis: number = attrs.axis;
    if (axis < 0) axis += value.shape.length;
    const outShape = value.shape.filter((_, i) => i !== axis);
    const begin = new Array<number>(value.shape.length).fill(0);
    const size = value.shape.slice();
    size[axis] = 1;
    const outs: tf.TensorInfo[] = [];
    for (let i = 0; i < value.shape[axis]; i++) {
      begin[axis] = i;
      outs.push(sliceView(value, begin.slice(), size, backend));
    }
    return outs.map(({ dataId, dtype }) => ({ dataId, dtype, shape: outShape }));
  });
}
