// The training loop: truncated BPTT over contiguous streams, Adam, global-norm clipping, lr decay,
// periodic validation, divergence detection, and exact checkpoint/resume.
import { definedFields } from '../defined.ts';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from './backend.ts';
import { TrainBatches, evalWindows } from './batches.ts';
import { readCheckpoint, writeCheckpoint, CHECKPOINT_FORMAT, type TrainState } from './checkpoint.ts';
import { splitCorpus } from './corpus.ts';
import { CharRnn, disposeState, type RnnState } from './model.ts';
import { Adam, globalNorm } from './optimizer.ts';
import { TrainThreads } from './replicas.ts';
import { Rng } from './rng.ts';
import { TextSampler } from './text-sampler.ts';
import {
  EngineInputError,
  type CheckpointFiles,
  type ModelConfig,
  type SampleOptions,
  type TrainConfig,
  type TrainEvent,
  type TrainLimits,
} from './types.ts';
import { Vocab, formatChars, type Ids } from './vocab.ts';
import { countParams } from './config.ts';

const LOSS_TAIL = 200;
/** Validation reads the split as this many contiguous streams (fewer if it is short), whatever the
 * training batch size: enough rows for efficient matmuls, and val losses comparable across runs. */
const EVAL_STREAMS = 32;

export interface EvalResult {
  /** nats/char. */
  valLoss: number;
  /** bits/char. */
  valBpc: number;
}

type StepResult = { ok: true; loss: number } | { ok: false; reason: string };

/** Options of Trainer.create/resume that are not part of the run's TrainConfig. */
export interface TrainerOptions {
  /**
   * Training threads (data-parallel replicas): 1 or 2 (the caller's CHARRNN_TRAIN_THREADS). Default: 2 on
   * wasm/cpu with a second core and a step big enough to gain, else 1. 2 needs an even batch size
   * and a wasm/cpu backend; otherwise 1 is used.
   */
  threads?: number;
  /** The native backends' one-thread layout (CHARRNN_ONE_TFJS_THREAD): one replica, whatever `threads` says. */
  oneThread?: boolean;
}

export class Trainer {
  private readonly batches: TrainBatches;
  private readonly valIds: Ids;
  private carry: RnnState;
  private evaluatedAt = -1;
  /** Who computes each step's gradients: this thread, with a second one or not (replicas.ts). */
  private workers = TrainThreads.one();

  private constructor(
    readonly vocab: Vocab,
    private readonly model: CharRnn,
    private readonly opt: Adam,
    private trainCfg: TrainConfig,
    private s: TrainState,
    ids: Ids,
    readonly backend: string,
  ) {
    const { train, val } = splitCorpus(ids);
    this.batches = new TrainBatches(train, trainCfg.batchSize, trainCfg.seqLen);
    this.valIds = val;
    if (val.length < 2) {
      throw new EngineInputError('corpus is too short: its validation split (last 10%) needs at least 2 characters', 'corpus');
    }
    this.s.windowsPerEpoch = this.batches.windowsPerEpoch;
    this.carry = model.zeroState(trainCfg.batchSize);
  }

  /** A fresh run on `text`. */
  static async create(o: { text: string; model: ModelConfig; train: TrainConfig } & TrainerOptions): Promise<Trainer> {
    const backend = await initBackend();
    validateConfig(o.model, o.train);
    const vocab = Vocab.fromText(o.text);
    checkMemory(backend, o.model, vocab.size, o.train);
    const ids = vocab.encode(o.text);
    const model = new CharRnn(o.model, vocab.size, undefined, o.train.seed);
    const opt = new Adam(model.variables(), { amsgrad: o.train.amsgrad });
    const state: TrainState = {
      formatVersion: CHECKPOINT_FORMAT,
      step: 0,
      epoch: 0,
      epochIndex: 0,
      position: 0,
      windowsPerEpoch: 0,
      // Offset from the init seed so dropout masks do not reuse the weight-init stream.
      rngState: new Rng(o.train.seed ^ 0x5eed).int(),
      lr: o.train.lr,
      model: { ...o.model },
      train: { ...o.train },
      firstLoss: null,
      lossTail: [],
      lastValLoss: null,
      bestValLoss: null,
      valStep: null,
      vocab: [...vocab.chars],
      backend,
      optimizer: { t: 0, amsgrad: o.train.amsgrad, slots: opt.slots().length / model.variables().length },
      carry: [],
    };
    let t: Trainer;
    try {
      t = new Trainer(vocab, model, opt, { ...o.train }, state, ids, backend);
    } catch (e) {
      model.dispose();
      opt.dispose();
      throw e;
    }
    await t.startReplicas(o.threads, o.oneThread);
    return t;
  }

  /** Continue a run from a checkpoint. `train` overrides optimisation settings (e.g. a lower lr). */
  static async resume(o: { text: string; checkpoint: CheckpointFiles; train?: Partial<TrainConfig> } & TrainerOptions): Promise<Trainer> {
    const backend = await initBackend();
    const ck = readCheckpoint(o.checkpoint);
    const s = ck.state;
    const train: TrainConfig = { ...s.train, ...definedFields(o.train ?? {}) };
    validateConfig(s.model, train);
    const vocab = new Vocab(s.vocab);
    checkMemory(backend, s.model, vocab.size, train);
    const missing = vocab.missing(o.text);
    if (missing.length) {
      throw new EngineInputError(`corpus has characters the checkpoint's vocabulary lacks: ${formatChars(missing)}; resume with the run's original corpus`, 'corpus');
    }
    const ids = vocab.encode(o.text);
    const model = new CharRnn(s.model, vocab.size, ck.weights);
    const opt = new Adam(model.variables(), { amsgrad: train.amsgrad });
    const nVars = model.variables().length;
    const groups = (k: number) => ck.optimizerSlots.slice(k * nVars, (k + 1) * nVars);
    // Switching AMSGrad on starts its running max from v; switching it off drops it.
    const slotValues = [...groups(0), ...groups(1)];
    if (train.amsgrad) slotValues.push(...(s.optimizer.amsgrad ? groups(2) : groups(1)));
    opt.load(slotValues, s.optimizer.t);
    const state: TrainState = { ...s, train, backend, optimizer: { ...s.optimizer, amsgrad: train.amsgrad } };
    let t: Trainer;
    try {
      t = new Trainer(vocab, model, opt, train, state, ids, backend);
    } catch (e) {
      model.dispose();
      opt.dispose();
      throw e;
    }
    const sameShape = train.batchSize === s.train.batchSize && train.seqLen === s.train.seqLen && t.batches.windowsPerEpoch === s.windowsPerEpoch;
    if (sameShape && ck.carry.length === t.carry.length * (s.model.cell === 'lstm' ? 2 : 1)) {
      t.setCarry(ck.carry);
    } else if (!sameShape) {
      // New batch geometry: the old stream positions mean nothing, so restart the epoch's streams.
      t.s.position = 0;
    }
    t.s.epoch = t.s.epochIndex + t.s.position / t.batches.windowsPerEpoch;
    t.evaluatedAt = s.valStep ?? -1;
    await t.startReplicas(o.threads, o.oneThread);
    return t;
  }

  /** The training threads (replicas.ts); a failure disposes the trainer. */
  private async startReplicas(requested: number | undefined, oneThread = false): Promise<void> {
    try {
      this.workers = await TrainThreads.start({
        backend: this.backend, model: this.s.model, vocabSize: this.vocab.size, paramCount: this.model.paramCount,
        batchSize: this.trainCfg.batchSize, seqLen: this.trainCfg.seqLen, requested, oneThread,
      });
    } catch (e) {
      this.dispose();
      throw e;
    }
  }

  /** Threads training this run: 1, or 2 (the native layers' helper thread, or a replica's worker). */
  get threads(): number {
    return this.workers.count;
  }

  get step(): number {
    return this.s.step;
  }
  /** Fractional epochs trained. */
  get epoch(): number {
    return this.s.epoch;
  }
  get params(): number {
    return this.model.paramCount;
  }
  get modelConfig(): ModelConfig {
    return { ...this.s.model };
  }
  get trainConfig(): TrainConfig {
    return { ...this.trainCfg };
  }
  get windowsPerEpoch(): number {
    return this.batches.windowsPerEpoch;
  }
  get lastValLoss(): number | null {
    return this.s.lastValLoss;
  }
  get bestValLoss(): number | null {
    return this.s.bestValLoss;
  }
  /** Recent train losses, oldest first. */
  get lossTail(): { step: number; loss: number }[] {
    return [...this.s.lossTail];
  }

  /** Learning rate of the next step: decays once per epoch boundary after `lrDecayAfter` epochs. */
  get lr(): number {
    const { lr, lrDecay, lrDecayAfter } = this.trainCfg;
    const decays = Math.max(0, this.s.epochIndex - Math.max(lrDecayAfter, 1) + 1);
    return lr * lrDecay ** decays;
  }

  /**
   * Train until a limit is reached. Yields 'step' after every step, 'eval' every evalEvery steps and
   * at the end (unless just done or aborted), 'diverged' if it happened, then exactly one 'end'.
   * No limits = until aborted.
   */
  async *run(limits: TrainLimits = {}): AsyncGenerator<TrainEvent> {
    if (this.running) throw new Error('this trainer is already running: one run() at a time');
    this.running = true;
    try {
      yield* this.loop(limits);
    } finally {
      this.running = false;
    }
  }

  private running = false;

  private async *loop(limits: TrainLimits): AsyncGenerator<TrainEvent> {
    const W = this.batches.windowsPerEpoch;
    const stepLimit = limits.steps ?? Infinity;
    const epochStepLimit = limits.epochs !== undefined ? Math.max(0, Math.round(limits.epochs * W)) : Infinity;
    const t0 = performance.now();
    let done = 0;
    let trainMs = 0;
    let reason: 'steps' | 'epochs' | 'seconds' | 'aborted' | 'diverged';
    let divergedWhy = '';
    for (;;) {
      if (limits.signal?.aborted) { reason = 'aborted'; break; }
      if (done >= stepLimit) { reason = 'steps'; break; }
      if (done >= epochStepLimit) { reason = 'epochs'; break; }
      if (limits.seconds !== undefined && performance.now() - t0 >= limits.seconds * 1000) { reason = 'seconds'; break; }
      const ts = performance.now();
      const r = await this.trainStep();
      if (!r.ok) { reason = 'diverged'; divergedWhy = r.reason; break; }
      trainMs += performance.now() - ts;
      done++;
      const chars = done * this.trainCfg.batchSize * this.trainCfg.seqLen;
      yield {
        type: 'step', step: this.s.step, epoch: this.s.epoch, trainLoss: r.loss, lr: this.lastStepLr,
        charsPerSec: trainMs > 0 ? (chars * 1000) / trainMs : undefined, time: Date.now(),
      };
      if (this.s.step % this.trainCfg.evalEvery === 0) yield await this.evalEvent();
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    if (reason !== 'aborted' && this.evaluatedAt !== this.s.step) yield await this.evalEvent();
    if (reason === 'diverged') yield { type: 'diverged', step: this.s.step, reason: divergedWhy };
    yield { type: 'end', step: this.s.step, epoch: this.s.epoch, reason };
  }

  private lastStepLr = 0;

  /** One optimisation step on the next window. Leaves every piece of state untouched if it diverges. */
  private async trainStep(): Promise<StepResult> {
    const { batchSize: B, seqLen: T, gradClip, divergenceFactor } = this.trainCfg;
    if (this.s.position === 0) this.setCarry(null); // new epoch: streams restart, state resets
    const win = this.batches.window(this.s.position);
    const rng = new Rng(this.s.rngState);
    const dropoutSeed = this.s.model.dropout > 0 ? rng.int() : undefined;
    // Nothing below changes the trainer's state before the step is accepted (after the await, too).
    const { loss, grads, carry: nextCarry } = await this.workers.grads(this.model, win.x, win.y, this.carry, { T, B, dropoutSeed });
    const norm = globalNorm(grads);
    const both = tf.stack([loss, norm]);
    const [lossV, normV] = both.dataSync() as Float32Array;
    const dispose = () => {
      tf.dispose([both, loss, norm, ...grads]);
    };
    let why = '';
    if (!Number.isFinite(lossV)) why = `loss is ${lossV}`;
    else if (!Number.isFinite(normV)) why = `gradient norm is ${normV}`;
    else if (this.s.firstLoss !== null && lossV > divergenceFactor * this.s.firstLoss) {
      why = `loss ${lossV.toFixed(4)} exceeds ${divergenceFactor} × the first loss ${this.s.firstLoss.toFixed(4)}`;
    }
    if (why) {
      dispose();
      disposeState(nextCarry);
      return { ok: false, reason: `${why} at step ${this.s.step + 1}; weights kept from step ${this.s.step}, try a lower lr` };
    }
    const lr = this.lr;
    const scale = gradClip > 0 && normV > gradClip ? gradClip / (normV + 1e-6) : 1;
    this.opt.apply(grads, lr, scale);
    dispose();
    disposeState(this.carry);
    this.carry = nextCarry;

    const s = this.s;
    s.step++;
    s.rngState = rng.state;
    if (s.firstLoss === null) s.firstLoss = lossV;
    s.lossTail.push({ step: s.step, loss: lossV });
    if (s.lossTail.length > LOSS_TAIL) s.lossTail.splice(0, s.lossTail.length - LOSS_TAIL);
    s.position++;
    if (s.position >= this.batches.windowsPerEpoch) {
      s.position = 0;
      s.epochIndex++;
    }
    s.epoch = s.epochIndex + s.position / this.batches.windowsPerEpoch;
    s.optimizer.t = this.opt.t;
    this.lastStepLr = lr;
    s.lr = this.lr;
    return { ok: true, loss: lossV };
  }

  private async evalEvent(): Promise<TrainEvent> {
    const r = await this.evaluate();
    return { type: 'eval', step: this.s.step, epoch: this.s.epoch, valLoss: r.valLoss, valBpc: r.valBpc, time: Date.now() };
  }

  /**
   * Mean cross-entropy (nats/char) over the validation split (capped at evalChars targets), read as
   * contiguous streams with the hidden state carried across windows, like training.
   */
  async evaluate(): Promise<EvalResult> {
    const { seqLen, evalChars } = this.trainCfg;
    const windows = evalWindows(this.valIds, EVAL_STREAMS, Math.max(seqLen, 32), evalChars);
    let state = this.model.zeroState(windows[0].B);
    let sum = 0;
    let count = 0;
    for (const w of windows) {
      const r = tf.tidy(() => {
        return this.model.loss(tf.tensor1d(w.x, 'int32'), tf.tensor1d(w.y, 'int32'), state, {
          T: w.T, B: w.B, training: false, threads: this.workers.nativeLayerThreads, reduction: 'sum',
        });
      });
      sum += (await r.loss.data())[0];
      count += w.x.length;
      r.loss.dispose();
      disposeState(state);
      state = r.state;
      // A window at a time, like training steps: on a one-tfjs-thread server the loop runs on the
      // event loop's thread, and HTTP must get a turn between windows.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    disposeState(state);
    const valLoss = sum / count;
    this.s.lastValLoss = valLoss;
    if (this.s.bestValLoss === null || valLoss < this.s.bestValLoss) this.s.bestValLoss = valLoss;
    this.evaluatedAt = this.s.step;
    this.s.valStep = this.s.step;
    return { valLoss, valBpc: valLoss / Math.LN2 };
  }

  /**
   * Text generated from the current weights, as TextSampler gives it from a checkpoint of this step
   * (samples while training). Call it between steps. It reads the weights and nothing else: the
   * trainer's RNG, carried state and weights stay as they were, so losses and checkpoints do not
   * depend on whether a run samples.
   */
  async sample(opts: SampleOptions): Promise<string> {
    const sampler = TextSampler.borrow(this.model, this.vocab, this.s.step);
    try {
      let text = '';
      for await (const ch of sampler.generate(opts)) text += ch;
      return text;
    } finally {
      sampler.dispose();
    }
  }

  /** Serialise the current state (never mid-step, so never half-updated or NaN weights). */
  async checkpoint(): Promise<CheckpointFiles> {
    const weights = await this.model.read();
    const optimizerSlots = await Promise.all(this.opt.slots().map(async (v) => (await v.data()) as Float32Array));
    const carryTensors = this.carry.flatMap((s) => (s.c ? [s.h, s.c] : [s.h]));
    const carry = await Promise.all(carryTensors.map(async (t) => (await t.data()) as Float32Array));
    const state: TrainState = {
      ...this.s,
      lossTail: [...this.s.lossTail],
      train: { ...this.trainCfg },
      carry: carryTensors.map((t) => [...t.shape]),
    };
    return writeCheckpoint({ state, weights, optimizerSlots, carry });
  }

  /** Free the model, optimizer and state tensors. */
  dispose(): void {
    this.workers.dispose();
    this.model.dispose();
    this.opt.dispose();
    disposeState(this.carry);
    this.carry = [];
  }

  private setCarry(values: Float32Array[] | null): void {
    disposeState(this.carry);
    const { batchSize: B } = this.trainCfg;
    if (!values) {
      this.carry = this.model.zeroState(B);
      return;
    }
    const H = this.s.model.hidden;
    const lstm = this.s.model.cell === 'lstm';
    let k = 0;
    this.carry = this.model.layers.map(() => {
      const h = tf.tensor2d(values[k++], [B, H]);
      return lstm ? { h, c: tf.tensor2d(values[k++], [B, H]) } : { h };
    });
  }
}

/**
 * Rough peak wasm heap of a training step: what BPTT keeps per layer (≈22 floats per hidden unit
 * per character) and the head's [T·B, V] tensors, times 2.56 for the heap's growth policy and
 * temporaries (calibrated here: 1×128 at B256 T500 fits in the 4 GiB heap, T560 does not), plus
 * weights, gradients and Adam slots.
 */
export function estimateTrainHeapBytes(model: ModelConfig, vocabSize: number, train: Pick<TrainConfig, 'batchSize' | 'seqLen'>): number {
  const chars = train.batchSize * train.seqLen;
  const activations = 4 * chars * (22 * model.hidden * model.layers + 5 * vocabSize);
  return 2.56 * activations + 6 * 4 * countParams(model, vocabSize);
}

const WASM_HEAP_LIMIT = 4 * 2 ** 30;

/** wasm32 cannot grow past 4 GiB and aborts for good when it tries: refuse such configs up front. */
function checkMemory(backend: string, model: ModelConfig, vocabSize: number, train: TrainConfig): void {
  if (backend !== 'wasm') return;
  const need = estimateTrainHeapBytes(model, vocabSize, train);
  if (need > WASM_HEAP_LIMIT) {
    throw new EngineInputError(
      `training this model needs about ${(need / 2 ** 30).toFixed(1)} GiB of memory per step, more than the wasm ` +
        `backend's 4 GiB; lower batchSize, seqLen, hidden or layers`,
      'config.batchSize',
    );
  }
}

function validateConfig(model: ModelConfig, train: TrainConfig): void {
  const posInt = (v: number, field: string) => {
    if (!Number.isInteger(v) || v < 1) throw new EngineInputError(`${field} must be a positive integer (got ${v})`, field);
  };
  posInt(model.layers, 'config.layers');
  posInt(model.hidden, 'config.hidden');
  if (model.embedding !== null) posInt(model.embedding, 'config.embedding');
  if (!(model.dropout >= 0 && model.dropout < 1)) throw new EngineInputError('dropout must be in [0, 1)', 'config.dropout');
  posInt(train.seqLen, 'config.seqLen');
  posInt(train.batchSize, 'config.batchSize');
  posInt(train.evalEvery, 'config.evalEvery');
  if (!(train.lr > 0)) throw new EngineInputError('lr must be > 0', 'config.lr');
  if (!(train.divergenceFactor >= 1)) throw new EngineInputError('divergenceFactor must be ≥ 1', 'config.divergenceFactor');
}
