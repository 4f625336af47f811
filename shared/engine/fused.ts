// The training layers in the native binding: an LSTM or GRU layer over a whole window as one native
// call forward and one backward (native/seq.c), input projection included, as a tf.customGrad op;
// and the head (output layer and loss) the same way.
// The native twin of cells.ts's layers (the tfjs reference, and what runs without the binding, on
// the cpu backend and on native TensorFlow); test/engine/gradients.test.ts holds them to the same
// gradients.
//
// Why: in cells.ts every time step is a dozen tfjs ops each way, and on wasm their dispatch,
// allocation and element-wise kernels cost as much as the step's recurrent product. Here the time
// loop runs in C: per step one product into preallocated gate rows and one vectorised pass over
// them; the weight gradients are one sgemm each over all T·B rows; the streams are split between
// `threads` threads. Measured on 1x256 (B64 T100) and 2x512: BENCHMARKS.md.
//
// The forward pass leaves a trace in tensors it owns (activated gates, cell states or r·h, the
// outputs), kept past the forward pass's scope only while gradients are recorded; the backward pass
// turns the gates into their gradient in place and frees the trace.
import * as tf from '@tensorflow/tfjs';
import { hasHeapCall, heapCall } from './step-kernels.ts';
import { backwardKeeper, customOp, ref, track, type SeqOut } from './cells.ts';
import type { HeadBackwardArgs, HeadForwardArgs, SeqLayerArgs } from './native/blas.ts';

/** Whether the fused native layers can run here: wasm with the native binding. */
export function hasFusedLayers(): boolean {
  return hasHeapCall();
}

export interface FusedWeights {
  /** [in, G·H]. */
  kernel: tf.Tensor;
  /** [G·H]. */
  bias: tf.Tensor;
  /** [H, G·H]. */
  recurrent: tf.Tensor;
}

/**
 * One layer over a window: input one-hot `ids` [T·B] (int32; in = the vocabulary) or `x` [T·B, in];
 * state h (and c for the LSTM) [B, H]. Differentiable in x and the weights; like cells.ts, not in
 * the initial state (truncated BPTT).
 */
export function fusedLayer(
  cell: 'lstm' | 'gru',
  input: { ids: tf.Tensor1D } | { x: tf.Tensor2D },
  w: FusedWeights,
  state: { h: tf.Tensor; c?: tf.Tensor },
  o: { T: number; threads: number },
): SeqOut {
  const lstm = cell === 'lstm';
  const [inDim, GH] = w.kernel.shape as [number, number];
  const H = w.recurrent.shape[0];
  const B = state.h.shape[0];
  const TB = o.T * B;
  const shape = { cell, T: o.T, B, H, in: inDim, threads: o.threads };
  const ids = 'ids' in input ? input.ids : null;
  const traceName = lstm ? 'cs' : 'rh';
  let last: tf.Tensor[] = [];
  const keep = backwardKeeper();
  const op = customOp((inputs) => {
    const [wx, bias, wh] = inputs.slice(-3);
    const feed: Record<string, tf.Tensor> = { ...(ids ? { ids } : { x: inputs[0] }), ...(lstm ? { h0: state.h, c0: state.c! } : { h0: state.h }) };
    const out = heapCall(
      { ...feed, wx, bias, wh },
      { hs: [TB, H], gates: [TB, GH], [traceName]: [TB, H], hLast: [B, H], ...(lstm ? { cLast: [B, H] } : {}) },
      (v, blas) => blas.seqForward({ ...shape, ...(v as unknown as SeqForwardViews) }),
    );
    // The final state leaves the op's internal tidy through keep(); the caller owns it.
    last = [tf.keep(out.hLast), ...(lstm ? [tf.keep(out.cLast)] : [])];
    // What the backward pass reads: the trace, and references to the input, the initial state and
    // the output, which tfjs disposes after the forward pass.
    const names = ['gates', traceName, 'hs', ...Object.keys(feed)];
    const held = keep.hold([out.gates, out[traceName], ref(out.hs), ...Object.values(feed).map(ref)]);
    const saved = Object.fromEntries(names.map((n, i) => [n, held[i]]));
    return {
      value: out.hs,
      gradFunc: (dHs) => {
        const grads = heapCall(
          { ...saved, wx, wh, dhs: dHs },
          { ...(ids ? {} : { dx: [TB, inDim] }), dwx: [inDim, GH], db: [GH], dwh: [H, GH] },
          (v, blas) => blas.seqBackward({ ...shape, ...(v as unknown as SeqBackwardViews) }),
        );
        return keep.release([...(ids ? [] : [grads.dx]), grads.dwx, grads.db, grads.dwh]);
      },
    };
  });
  const Hs = ids ? op(w.kernel, w.bias, w.recurrent) : op((input as { x: tf.Tensor2D }).x, w.kernel, w.bias, w.recurrent);
  // Hand ownership back to the surrounding scope (undo keep): the tensors are tracked from here on.
  return { Hs, h: track(last[0]), ...(lstm ? { c: track(last[1]) } : {}) };
}

type Views<A> = { [K in keyof A]: A[K] extends Float32Array | Int32Array | undefined ? A[K] : never };
type SeqForwardViews = Omit<Views<import('./native/blas.ts').SeqForwardArgs>, keyof SeqLayerArgs> & Views<SeqLayerArgs>;
type SeqBackwardViews = Omit<Views<import('./native/blas.ts').SeqBackwardArgs>, keyof SeqLayerArgs> & Views<SeqLayerArgs>;
type HeadForwardViews = Views<Omit<HeadForwardArgs, keyof HeadShape>>;
type HeadBackwardViews = Views<Omit<HeadBackwardArgs, keyof HeadShape>>;
type HeadShape = Pick<HeadForwardArgs, 'N' | 'H' | 'V' | 'threads' | 'mean'>;

/**
 * The head's loss in one native call each way: logits = x·W + b ([N, V], never a tensor) and their
 * softmax cross-entropy against `targets` [N], the mean over rows (or the sum). The twin of
 * model.ts's affine + crossEntropy, which on wasm are ~15 kernels each way over [N, V] (their Exp is
 * scalar: 3 ms per [6400, 65]).
 */
export function fusedHeadLoss(
  x: tf.Tensor2D,
  w: tf.Tensor,
  bias: tf.Tensor,
  targets: tf.Tensor1D,
  o: { reduction: 'mean' | 'sum'; threads: number },
): tf.Scalar {
  const [N, H] = x.shape;
  const V = w.shape[1]!;
  const shape = { N, H, V, threads: o.threads, mean: o.reduction === 'mean' };
  const keep = backwardKeeper();
  const op = customOp(([xx, ww, bb]) => {
    const out = heapCall({ x: xx, w: ww, bias: bb, targets }, { probs: [N, V], loss: [1] }, (v, blas) =>
      blas.headForward({ ...shape, ...(v as unknown as HeadForwardViews) }),
    );
    const [probs, xs, ts] = keep.hold([out.probs, ref(xx), ref(targets)]);
    return {
      value: tf.reshape(out.loss, []),
      gradFunc: (dy) => {
        const g = heapCall({ x: xs, w: ww, targets: ts, probs, dloss: dy }, { dx: [N, H], dw: [H, V], db: [V] }, (v, blas) =>
          blas.headBackward({ ...shape, ...(v as unknown as HeadBackwardViews) }),
        );
        return keep.release([g.dx, g.dw, g.db]);
      },
    };
  });
  return op(x, w, bias) as tf.Scalar;
}
