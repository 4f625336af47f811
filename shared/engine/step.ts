// One sampling time step for n rows (streams), shared by TextSampler (n = 1) and BatchSampler: the same
// ops for every n, and matmuls that compute each row alike whatever n is, so a stream's text does
// not depend on what is sampled beside it. Where the native binding is built, the LSTM cell's
// element-wise half is one kernel (kernels/lstm-cell.ts, native/cell.c) instead of ten tfjs ops, and an LSTM's
// whole step is one native call (nativeLstmStep). No Node module here: the exported page runs this
// step in a browser (functions/export/page/page.ts).
import * as tf from '@tensorflow/tfjs';
import { gruCellStep, lstmCellStep } from './cell-step.ts';
import { readModelFiles } from './checkpoint.ts';
import { hasHeapCall, hasLstmCellKernel, heapCall, LSTM_CELL, rowInvariantMatMuls } from './step-kernels.ts';
import { CharRnn, type RnnState } from './model.ts';
import type { CheckpointFiles } from './types.ts';
import { Vocab } from './vocab.ts';

/** The checkpoint's tensors as the sampling step uses them (prepared once). */
export interface StepWeights {
  net: CharRnn;
  /** Layer-0 input rows with the bias folded in ([V, G·H]), when the input is one-hot. */
  table0: tf.Tensor2D | null;
  /** GRU recurrent kernels split into the gates' [H, 2H] and the candidate's [H, H] parts. */
  gruSplit: [tf.Tensor2D, tf.Tensor2D][];
  /** nativeLstmStep's work rows (x, xp, hw), grown to the largest n seen. */
  scratch?: { rows: number; x: Float32Array; xp: Float32Array; hw: Float32Array };
}

/** Fold and split the checkpoint's tensors for stepRows (kept until disposeStepWeights). */
export function prepareStepWeights(net: CharRnn): StepWeights {
  const H = net.config.hidden;
  return {
    net,
    table0: net.embedding ? null : tf.keep(tf.add(net.layers[0].kernel, net.layers[0].bias) as tf.Tensor2D),
    gruSplit: net.config.cell === 'gru' ? net.layers.map((l) => tf.split(l.recurrent, [2 * H, H], 1).map((t) => tf.keep(t)) as [tf.Tensor2D, tf.Tensor2D]) : [],
  };
}

/**
 * A checkpoint's model as the sampling step uses it, its vocabulary and training step, from
 * model.json and weights.bin only, on the active tfjs backend: what every sampler loads.
 */
export function loadStepWeights(files: Pick<CheckpointFiles, 'model.json' | 'weights.bin'>): { w: StepWeights; vocab: Vocab; step: number } {
  const m = readModelFiles(files);
  return { w: prepareStepWeights(new CharRnn(m.model, m.vocab.length, m.weights)), vocab: new Vocab(m.vocab), step: m.step };
}

/** Free what prepareStepWeights made, and the model too unless it is borrowed (a trainer's). */
export function disposeStepWeights(w: StepWeights, { keepNet = false } = {}): void {
  w.table0?.dispose();
  tf.dispose(w.gruSplit.flat());
  if (!keepNet) w.net.dispose();
}

/**
 * One time step for n rows: ids [n] are each row's input character. Returns the new state and the
 * logits [n, V]; the caller disposes the old state.
 */
export function stepRows(w: StepWeights, ids: Int32Array, state: RnnState): { state: RnnState; logits: tf.Tensor2D } {
  return w.net.config.cell === 'lstm' && hasHeapCall() ? nativeLstmStep(w, ids, state) : stepRowsOps(w, ids, state);
}

/**
 * stepRows in one native call (heapCall, where the binding is built): the same products (rowGemm,
 * row by row), bias additions and cell (native/cell.c) in the same order as stepRowsOps, so the
 * same bits (test/sampling/step-rows.test.ts), without its ~8 tfjs ops per step: one 2x512 step
 * 378 → 250 µs, batch-1 1x256 sampling 15–19k → 28k chars/s (BENCHMARKS.md, issue 13).
 */
function nativeLstmStep(w: StepWeights, ids: Int32Array, state: RnnState): { state: RnnState; logits: tf.Tensor2D } {
  const net = w.net;
  const { hidden: H, layers: L } = net.config;
  const n = ids.length;
  const V = net.headKernel.shape[1]!;
  const E = net.embedding ? net.embedding.shape[1]! : 0;
  if (!w.scratch || w.scratch.rows < n) w.scratch = { rows: n, x: new Float32Array(n * E), xp: new Float32Array(n * 4 * H), hw: new Float32Array(n * 4 * H) };
  const { x, xp, hw } = w.scratch;
  for (const id of ids) if (!(id >= 0 && id < V)) throw new Error(`stepRows: character id ${id} is not in [0, ${V - 1}]`);
  const inputs: Record<string, tf.Tensor> = { headKernel: net.headKernel, headBias: net.headBias };
  if (w.table0) inputs.table0 = w.table0;
  else inputs.embedding = net.embedding!;
  net.layers.forEach((layer, l) => {
    if (l > 0 || !w.table0) inputs[`kernel${l}`] = layer.kernel;
    inputs[`bias${l}`] = layer.bias;
    inputs[`recurrent${l}`] = layer.recurrent;
    inputs[`h${l}`] = state[l].h;
    inputs[`c${l}`] = state[l].c!;
  });
  const outShapes: Record<string, number[]> = { logits: [n, V] };
  for (let l = 0; l < L; l++) Object.assign(outShapes, { [`hOut${l}`]: [n, H], [`cOut${l}`]: [n, H] });
  const idT = tf.tensor1d(ids, 'int32');
  const out = heapCall({ ...inputs, ids: idT }, outShapes, (v, blas) => {
    const f = v as Record<string, Float32Array>;
    const G = 4 * H;
    const addBias = (y: Float32Array, bias: Float32Array, cols: number) => {
      for (let r = 0; r < n; r++) for (let j = 0; j < cols; j++) y[r * cols + j] += bias[j];
    };
    const gather = (table: Float32Array, width: number, into: Float32Array) => {
      for (let r = 0; r < n; r++) into.set(table.subarray(ids[r] * width, (ids[r] + 1) * width), r * width);
    };
    let below: Float32Array | null = null; // the layer below's h rows
    for (let l = 0; l < L; l++) {
      const xpl = xp.subarray(0, n * G);
      const hwl = hw.subarray(0, n * G);
      if (l === 0 && w.table0) gather(f.table0, G, xpl);
      else {
        const input = l === 0 ? x.subarray(0, n * E) : below!;
        if (l === 0) gather(f.embedding, E, input);
        blas.rowGemm(n, G, l === 0 ? E : H, input, f[`kernel${l}`], xpl, false);
        addBias(xpl, f[`bias${l}`], G);
      }
      blas.rowGemm(n, G, H, f[`h${l}`], f[`recurrent${l}`], hwl, false);
      blas.lstmCell(n, H, xpl, hwl, f[`c${l}`], f[`hOut${l}`], f[`cOut${l}`]);
      below = f[`hOut${l}`];
    }
    blas.rowGemm(n, V, H, below!, f.headKernel, f.logits, false);
    addBias(f.logits, f.headBias, V);
  });
  idT.dispose();
  const next: RnnState = Array.from({ length: L }, (_, l) => ({ h: out[`hOut${l}`] as tf.Tensor2D, c: out[`cOut${l}`] as tf.Tensor2D }));
  return { state: next, logits: out.logits as tf.Tensor2D };
}

/** stepRows in tfjs ops: what a browser, the GRU and a machine without the binding run. */
export function stepRowsOps(w: StepWeights, ids: Int32Array, state: RnnState): { state: RnnState; logits: tf.Tensor2D } {
  const { cell } = w.net.config;
  const fusedCell = hasLstmCellKernel();
  return rowInvariantMatMuls(() => tf.tidy(() => {
    const idT = tf.tensor1d(ids, 'int32');
    let x: tf.Tensor2D;
    const next: RnnState = [];
    w.net.layers.forEach((layer, l) => {
      let xp: tf.Tensor2D;
      if (l === 0 && w.table0) xp = tf.gather(w.table0, idT);
      else {
        const input = l === 0 ? (tf.gather(w.net.embedding!, idT) as tf.Tensor2D) : x;
        xp = tf.add(tf.matMul(input, layer.kernel), layer.bias);
      }
      const { h: hPrev, c: cPrev } = state[l];
      // tf.tanh, not training's 2σ(2x) − 1: the texts stay those this step always gave.
      if (cell === 'lstm' && fusedCell) {
        const [h, c] = tf.engine().runKernel(LSTM_CELL, { xp, hw: tf.matMul(hPrev, layer.recurrent), c: cPrev! }, {}) as tf.Tensor2D[];
        next.push({ h, c });
      } else if (cell === 'lstm') {
        const { h, c } = lstmCellStep(xp, hPrev, cPrev!, layer.recurrent, tf.tanh);
        next.push({ h: h as tf.Tensor2D, c: c as tf.Tensor2D });
      } else {
        const [Wzr, Whh] = w.gruSplit[l];
        next.push({ h: gruCellStep(xp, hPrev, Wzr, Whh, tf.tanh).h as tf.Tensor2D });
      }
      x = next[l].h;
    });
    const logits = tf.add(tf.matMul(x!, w.net.headKernel), w.net.headBias);
    return { state: next, logits } as unknown as tf.TensorContainer;
  })) as unknown as { state: RnnState; logits: tf.Tensor2D };
}
