// The char-RNN: (one-hot | embedding) → stacked LSTM/GRU → linear head over the vocabulary.
//
// One-hot input times a matrix is a row lookup, so layer 0 gathers rows of its input kernel instead
// of multiplying by a one-hot matrix; its gradient is a scatter-add of dY into those rows
// (UnsortedSegmentSum, which kernels/segment-sum.ts provides on wasm where tfjs lacks it).
import * as tf from '@tensorflow/tfjs';
import { customOp, gruFused, gruPlain, lstmFused, lstmPlain, type SeqOut } from './cells.ts';
import { fusedHeadLoss, fusedLayer, hasFusedLayers } from './fused.ts';
import { dropout as dropoutRows } from './dropout.ts';
import { Rng } from './rng.ts';
import type { ModelConfig } from './types.ts';

/** Per-layer recurrent state: h [B,H] (and c for LSTM). */
export type RnnState = { h: tf.Tensor2D; c?: tf.Tensor2D }[];

/** Dispose every tensor of a state. */
export function disposeState(s: RnnState): void {
  for (const l of s) {
    l.h.dispose();
    l.c?.dispose();
  }
}

export interface RnnLayer {
  /** [in, G·H] input weights (internal gate order, see cells.ts). */
  kernel: tf.Variable;
  /** [H, G·H]. */
  recurrent: tf.Variable;
  /** [G·H]. */
  bias: tf.Variable;
}

export interface ForwardOptions {
  /** Time steps in the window (ids are time-major [T·B]). */
  T: number;
  B: number;
  /** Training: dropout on, fused BPTT op. */
  training: boolean;
  /** Seed for this step's dropout masks. */
  dropoutSeed?: number;
  /** Use the autodiff reference instead of the fused BPTT op (gradient checks). */
  plain?: boolean;
  /** Threads of the native layers (fused.ts), where they run; default 1. */
  threads?: number;
}

export class CharRnn {
  readonly embedding: tf.Variable | null;
  readonly layers: RnnLayer[];
  readonly headKernel: tf.Variable;
  readonly headBias: tf.Variable;

  /** `values`: initial weights in `variables()` order (internal layout); omitted = seeded init. */
  constructor(
    readonly config: ModelConfig,
    readonly vocabSize: number,
    values?: Float32Array[],
    seed = 1,
  ) {
    const { hidden: H, layers: L } = config;
    const shapes = CharRnn.shapes(config, vocabSize);
    let init = values;
    if (!init) {
      // PyTorch-style U(±1/√H) for the recurrent layers and head; U(±1) for embeddings.
      const rng = new Rng(seed);
      init = shapes.map(({ name, shape }) =>
        rng.uniform(shape.reduce((a, b) => a * b, 1), name === 'embedding' ? 1 : 1 / Math.sqrt(H)),
      );
    }
    if (init.length !== shapes.length) throw new Error(`expected ${shapes.length} weight arrays, got ${init.length}`);
    const vars = shapes.map(({ shape }, i) => {
      if (init[i].length !== shape.reduce((a, b) => a * b, 1)) throw new Error(`weight ${shapes[i].name} has the wrong size`);
      return tf.tidy(() => tf.variable(tf.tensor(init[i], shape, 'float32'), true));
    });
    let k = 0;
    this.embedding = config.embedding ? vars[k++] : null;
    this.layers = [];
    for (let l = 0; l < L; l++) this.layers.push({ kernel: vars[k++], recurrent: vars[k++], bias: vars[k++] });
    this.headKernel = vars[k++];
    this.headBias = vars[k++];
  }

  /** Names and shapes of the weights, in `variables()` order. */
  static shapes(config: ModelConfig, V: number): { name: string; shape: number[] }[] {
    const G = config.cell === 'lstm' ? 4 : 3;
    const H = config.hidden;
    const out: { name: string; shape: number[] }[] = [];
    let inDim = V;
    if (config.embedding) {
      out.push({ name: 'embedding', shape: [V, config.embedding] });
      inDim = config.embedding;
    }
    for (let l = 0; l < config.layers; l++) {
      out.push({ name: `rnn${l}.kernel`, shape: [inDim, G * H] });
      out.push({ name: `rnn${l}.recurrent`, shape: [H, G * H] });
      out.push({ name: `rnn${l}.bias`, shape: [G * H] });
      inDim = H;
    }
    out.push({ name: 'head.kernel', shape: [H, V] });
    out.push({ name: 'head.bias', shape: [V] });
    return out;
  }

  variables(): tf.Variable[] {
    const v: tf.Variable[] = [];
    if (this.embedding) v.push(this.embedding);
    for (const l of this.layers) v.push(l.kernel, l.recurrent, l.bias);
    v.push(this.headKernel, this.headBias);
    return v;
  }

  get paramCount(): number {
    return this.variables().reduce((a, v) => a + v.size, 0);
  }

  zeroState(B: number): RnnState {
    const H = this.config.hidden;
    return this.layers.map(() =>
      this.config.cell === 'lstm' ? { h: tf.zeros([B, H]) as tf.Tensor2D, c: tf.zeros([B, H]) as tf.Tensor2D } : { h: tf.zeros([B, H]) as tf.Tensor2D },
    );
  }

  /** ids: int32 [T·B] time-major → logits [T·B, V] and the state after the window. */
  forward(ids: tf.Tensor1D, state: RnnState, o: ForwardOptions): { logits: tf.Tensor2D; state: RnnState } {
    const f = this.features(ids, state, o);
    return { logits: affine(f.x, this.headKernel, this.headBias), state: f.state };
  }

  /**
   * The mean (or summed) cross-entropy in nats of the window's next characters `targets` [T·B], and
   * the state after the window. Where the native layers run, the head is native too (fused.ts).
   */
  loss(ids: tf.Tensor1D, targets: tf.Tensor1D, state: RnnState, o: ForwardOptions & { reduction?: 'mean' | 'sum' }): { loss: tf.Scalar; state: RnnState } {
    const f = this.features(ids, state, o);
    const reduction = o.reduction ?? 'mean';
    const loss = this.native(o)
      ? fusedHeadLoss(f.x, this.headKernel, this.headBias, targets, { reduction, threads: o.threads ?? 1 })
      : crossEntropy(affine(f.x, this.headKernel, this.headBias), targets, reduction);
    return { loss, state: f.state };
  }

  /** The native layers (fused.ts) wherever the binding runs, training or not; else tfjs (cells.ts). */
  private native(o: ForwardOptions): boolean {
    return !o.plain && hasFusedLayers();
  }

  /** The last layer's outputs [T·B, H] (dropout applied when training) and the state after the window. */
  private features(ids: tf.Tensor1D, state: RnnState, o: ForwardOptions): { x: tf.Tensor2D; state: RnnState } {
    const { T } = o;
    const drop = o.training && this.config.dropout > 0;
    let seed = o.dropoutSeed ?? 0;
    const dropout = (x: tf.Tensor2D) => (drop ? dropoutRows(x, this.config.dropout, seed++) : x);
    const fused = o.training && !o.plain;
    const native = this.native(o);

    let x: tf.Tensor2D | null = this.embedding ? gatherRows(this.embedding, ids) : null;
    const next: RnnState = [];
    this.layers.forEach((layer, l) => {
      const s = state[l];
      let out: SeqOut;
      if (native) {
        out = fusedLayer(this.config.cell, x === null ? { ids } : { x }, layer, s, { T, threads: o.threads ?? 1 });
      } else {
        // One-hot rows: (onehot·W + b) = rows of (W + b), and the bias gradient becomes a sum over V rows.
        const Xp = x === null ? gatherRows(tf.add(layer.kernel, layer.bias), ids) : affine(x, layer.kernel, layer.bias);
        out =
          this.config.cell === 'lstm'
            ? (fused ? lstmFused : lstmPlain)(Xp, layer.recurrent, s.h, s.c!, T)
            : (fused ? gruFused : gruPlain)(Xp, layer.recurrent, s.h, T);
      }
      next.push(out.c ? { h: out.h as tf.Tensor2D, c: out.c as tf.Tensor2D } : { h: out.h as tf.Tensor2D });
      x = dropout(out.Hs as tf.Tensor2D);
    });
    return { x: x!, state: next };
  }

  /** Weight values in `variables()` order (internal layout). */
  async read(): Promise<Float32Array[]> {
    return Promise.all(this.variables().map(async (v) => (await v.data()) as Float32Array));
  }

  dispose(): void {
    for (const v of this.variables()) v.dispose();
  }
}

/** Rows `ids` of `table` ([V, D] → [N, D]); the gradient scatter-adds dY back into V rows. */
export function gatherRows(table: tf.Tensor2D | tf.Variable, ids: tf.Tensor1D): tf.Tensor2D {
  const V = table.shape[0];
  const op = customOp(([t]) => ({
    value: tf.gather(t, ids),
    gradFunc: (dy) => [tf.unsortedSegmentSum(dy, ids, V)],
  }));
  return op(table) as tf.Tensor2D;
}

/** x·W + b whose bias gradient is a matmul with ones (wasm's column Sum is ~20× slower). */
export function affine(x: tf.Tensor2D, W: tf.Tensor2D | tf.Variable, b: tf.Tensor1D | tf.Variable): tf.Tensor2D {
  const op = customOp(([xx, ww, bb], save) => {
    save([xx, ww]);
    return {
      value: tf.add(tf.matMul(xx as tf.Tensor2D, ww as tf.Tensor2D), bb),
      gradFunc: (dy, saved) => {
        const [sx, sw] = saved as tf.Tensor2D[];
        const d = dy as tf.Tensor2D;
        return [
          tf.matMul(d, sw, false, true),
          tf.matMul(sx, d, true, false),
          tf.reshape(tf.matMul(tf.ones([1, d.shape[0]]), d), [-1]),
        ];
      },
    };
  });
  return op(x, W, b) as tf.Tensor2D;
}

/** Mean cross-entropy (nats) of logits [N,V] against integer targets [N]. */
export function crossEntropy(logits: tf.Tensor2D, targets: tf.Tensor1D, reduction: 'mean' | 'sum' = 'mean'): tf.Scalar {
  // tf.oneHot(…, 'float32') is broken on wasm (writes int bits into a float buffer): cast instead.
  const labels = tf.cast(tf.oneHot(targets, logits.shape[1]), 'float32');
  return tf.losses.softmaxCrossEntropy(labels, logits, undefined, 0, reduction === 'mean' ? tf.Reduction.MEAN : tf.Reduction.SUM) as tf.Scalar;
}
