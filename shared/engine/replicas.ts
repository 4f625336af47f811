// Data parallelism: which threads compute a training step's loss and gradients, and how the step's
// streams are split between them. The trainer (train.ts) asks TrainThreads for each window's
// gradients and alone clips, applies Adam and keeps the state, so checkpoints, resume and divergence
// rollback are those of one replica.
//
// With 2 threads chosen (chooseReplicas, replica.ts): where the native layers run (fused.ts), the
// second thread is theirs, splitting the streams inside each layer; otherwise a second replica
// (replica.ts's worker) takes half the streams. The native layers' thread needs no second tfjs
// instance (~0.25 GB less at 2x512), no weights and gradients passed between threads, and is
// faster: BENCHMARKS.md.
import * as tf from '@tensorflow/tfjs';
import { hasFusedLayers } from './fused.ts';
import { disposeState, type CharRnn, type RnnState } from './model.ts';
import { chooseReplicas, TrainReplica } from './replica.ts';
import { stepGrads, streamSlice, type StepGrads } from './step-grads.ts';
import type { ModelConfig } from './types.ts';

export interface TrainThreadsInit {
  backend: string;
  model: ModelConfig;
  vocabSize: number;
  paramCount: number;
  batchSize: number;
  seqLen: number;
  /** Trainer.create/resume's `threads` and `oneThread` (TrainerOptions). */
  requested?: number;
  oneThread?: boolean;
}

export class TrainThreads {
  private constructor(
    /** The second replica's worker (2 training threads without the native layers), or null. */
    private replica: TrainReplica | null,
    /** Threads of the native layers (fused.ts): 2 training threads where they run. */
    private layerThreads: number,
  ) {}

  static one(): TrainThreads {
    return new TrainThreads(null, 1);
  }

  /** The threads for a run: 1, or 2 as chooseReplicas decides (throws when 2 were asked for and cannot start). */
  static async start(o: TrainThreadsInit): Promise<TrainThreads> {
    const { requested, oneThread } = o;
    const n = chooseReplicas({
      backend: o.backend, batchSize: o.batchSize, requested, oneThread,
      flopsPerStep: o.batchSize * o.seqLen * 6 * o.paramCount,
    });
    if (n !== 2) return TrainThreads.one();
    if (hasFusedLayers()) return new TrainThreads(null, 2);
    try {
      return new TrainThreads(await TrainReplica.start({ backend: o.backend, model: { ...o.model }, vocabSize: o.vocabSize }), 1);
    } catch (e) {
      // Chosen automatically: one thread still trains. Asked for explicitly: say why it cannot.
      if (requested === undefined) return TrainThreads.one();
      throw e;
    }
  }

  /** Threads training: 1, or 2 (the native layers' helper thread, or a replica's worker). */
  get count(): number {
    return this.replica ? 2 : this.layerThreads;
  }

  /** What the native layers are told to use in a forward pass (validation too). */
  get nativeLayerThreads(): number {
    return this.layerThreads;
  }

  /**
   * Loss and gradients of a time-major [T·B] window starting from `carry`, and the state after it
   * (the caller owns all of it; `carry` stays the caller's).
   */
  async grads(model: CharRnn, x: Int32Array, y: Int32Array, carry: RnnState, o: { T: number; B: number; dropoutSeed?: number }): Promise<StepGrads> {
    if (!this.replica) return stepGrads(model, x, y, carry, { ...o, threads: this.layerThreads });
    return splitGrads(this.replica, model, x, y, carry, o);
  }

  dispose(): void {
    this.replica?.dispose();
    this.replica = null;
    this.layerThreads = 1;
  }
}

/**
 * Loss and gradients of the window with its streams split between this thread (the first half)
 * and the replica (the second): the means of the two halves' means, i.e. those of the whole batch.
 */
async function splitGrads(
  replica: TrainReplica,
  model: CharRnn,
  x: Int32Array,
  y: Int32Array,
  carry: RnnState,
  { T, B, dropoutSeed }: { T: number; B: number; dropoutSeed?: number },
): Promise<StepGrads> {
  const half = B / 2;
  const vars = model.variables();
  const H = model.config.hidden;
  const carryRows = (from: number) =>
    tf.tidy(() => carry.flatMap((s) => (s.c ? [s.h, s.c] : [s.h])).map((t) => tf.slice(t, [from, 0], [half, H])));
  const theirCarry = carryRows(half);
  const pending = replica.step({
    type: 'step',
    weights: vars.map((v) => v.dataSync() as Float32Array),
    x: streamSlice(x, T, B, half, half),
    y: streamSlice(y, T, B, half, half),
    T,
    B: half,
    carry: theirCarry.map((t) => t.dataSync() as Float32Array),
    // Another mask stream for the other streams; deterministic, so resume stays exact.
    dropoutSeed: dropoutSeed === undefined ? undefined : (dropoutSeed ^ 0x5bd1e995) & 0x7fffffff,
  });
  tf.dispose(theirCarry);
  const ourCarryFlat = carryRows(0);
  let k = 0;
  const ourCarry: RnnState = carry.map((s) => (s.c ? { h: ourCarryFlat[k++] as tf.Tensor2D, c: ourCarryFlat[k++] as tf.Tensor2D } : { h: ourCarryFlat[k++] as tf.Tensor2D }));
  let ours: StepGrads;
  try {
    ours = stepGrads(model, streamSlice(x, T, B, 0, half), streamSlice(y, T, B, 0, half), ourCarry, { T, B: half, dropoutSeed });
  } finally {
    tf.dispose(ourCarryFlat);
  }
  let theirs: Awaited<typeof pending>;
  try {
    theirs = await pending;
  } catch (e) {
    tf.dispose([ours.loss, ...ours.grads]);
    disposeState(ours.carry);
    throw e;
  }
  const out = tf.tidy(() => {
    const loss = tf.mul(tf.add(ours.loss, theirs.loss), 0.5) as tf.Scalar;
    const grads = ours.grads.map((g, i) => tf.mul(tf.add(g, tf.tensor(theirs.grads[i], g.shape, 'float32')), 0.5));
    let j = 0;
    const next: RnnState = ours.carry.map((s) => {
      const join = (t: tf.Tensor2D) => tf.concat([t, tf.tensor2d(theirs.carry[j++], [half, H])], 0) as tf.Tensor2D;
      const h = join(s.h);
      return s.c ? { h, c: join(s.c) } : { h };
    });
    return { loss, grads, carry: next };
  });
  tf.dispose([ours.loss, ...ours.grads]);
  disposeState(ours.carry);
  return out;
}
