// The sampling step's promise, at the level of bits: stepRows gives every row the logits and the
// next state it gives that row alone, however many rows share the step. Comparing generated text
// is too weak for this (a one-bit change in a logit rarely changes the drawn character), so this
// compares the float32 bit patterns. Runs with the native binding (rowGemm, the fused cell) and,
// in the wasm-only project, without it.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../shared/engine/backend.ts';
import { CharRnn, type RnnState } from '../../shared/engine/model.ts';
import { Rng } from '../../shared/engine/rng.ts';
import { disposeStepWeights, prepareStepWeights, stepRows, stepRowsOps } from '../../shared/engine/step.ts';
import { hasHeapCall } from '../../shared/engine/step-kernels.ts';
import type { ModelConfig } from '../../shared/engine/types.ts';

const V = 67;

beforeAll(async () => {
  expect(await initBackend('wasm')).toBe('wasm');
});

/** n rows of random state (h, and c for an LSTM) for every layer, as plain arrays. */
function randomState(cfg: ModelConfig, n: number, rng: Rng): Float32Array[][] {
  return Array.from({ length: cfg.layers }, () => (cfg.cell === 'lstm' ? [0, 1] : [0]).map(() => rng.uniform(n * cfg.hidden, 1)));
}

const toState = (cfg: ModelConfig, rows: Float32Array[][], n: number): RnnState =>
  rows.map(([h, c]) => ({ h: tf.tensor2d(h, [n, cfg.hidden]), ...(c ? { c: tf.tensor2d(c, [n, cfg.hidden]) } : {}) }));

const rowOf = (a: Float32Array, r: number, width: number) => a.slice(r * width, (r + 1) * width);

/** The step's outputs as bits: logits, then each layer's h (and c). */
function stepBits(w: ReturnType<typeof prepareStepWeights>, cfg: ModelConfig, ids: Int32Array, state: Float32Array[][], step = stepRows): Uint32Array[] {
  const n = ids.length;
  const s = toState(cfg, state, n);
  const out = step(w, ids, s);
  const arrays = [out.logits, ...out.state.flatMap((l) => (l.c ? [l.h, l.c] : [l.h]))].map((t) => new Uint32Array((t.dataSync() as Float32Array).slice().buffer));
  tf.dispose([out.logits, ...out.state.flatMap((l) => (l.c ? [l.h, l.c] : [l.h])), ...s.flatMap((l) => (l.c ? [l.h, l.c] : [l.h]))]);
  return arrays;
}

describe.each<[string, ModelConfig]>([
  ['LSTM 1x32 one-hot', { cell: 'lstm', layers: 1, hidden: 32, dropout: 0, embedding: null }],
  ['LSTM 2x256 one-hot', { cell: 'lstm', layers: 2, hidden: 256, dropout: 0, embedding: null }],
  ['LSTM 1x512 embedding', { cell: 'lstm', layers: 1, hidden: 512, dropout: 0, embedding: 24 }],
  ['GRU 2x64 embedding', { cell: 'gru', layers: 2, hidden: 64, dropout: 0, embedding: 16 }],
])('stepRows, %s', (_name, cfg) => {
  it('gives each row of 2, 8, 16 and 17 rows exactly the bits it gets alone', () => {
    const w = prepareStepWeights(new CharRnn(cfg, V, undefined, 7));
    try {
      const rng = new Rng(11);
      for (const n of [2, 8, 16, 17]) {
        const ids = Int32Array.from({ length: n }, () => rng.int() % V);
        const state = randomState(cfg, n, rng);
        const together = stepBits(w, cfg, ids, state);
        const widths = [V, ...state.flatMap((l) => l.map(() => cfg.hidden))];
        for (let r = 0; r < n; r++) {
          const alone = stepBits(w, cfg, ids.slice(r, r + 1), state.map((l) => l.map((a) => rowOf(a, r, cfg.hidden))));
          alone.forEach((bits, k) => expect(rowOf(together[k] as unknown as Float32Array, r, widths[k]) as unknown as Uint32Array, `n=${n} row ${r} output ${k}`).toEqual(bits));
        }
      }
    } finally {
      disposeStepWeights(w);
    }
  });
});

describe.each<[string, ModelConfig]>([
  ['LSTM 1x32 one-hot', { cell: 'lstm', layers: 1, hidden: 32, dropout: 0, embedding: null }],
  ['LSTM 2x256 one-hot', { cell: 'lstm', layers: 2, hidden: 256, dropout: 0, embedding: null }],
  ['LSTM 2x64 embedding', { cell: 'lstm', layers: 2, hidden: 64, dropout: 0, embedding: 24 }],
])('the native LSTM step, %s', (_name, cfg) => {
  it.runIf(process.env.CHARRNN_BLAS !== 'off')('gives the bits of the step in tfjs ops (its twin, which a browser runs), for 1 and 9 rows', () => {
    expect(hasHeapCall()).toBe(true); // stepRows takes the native path here
    const w = prepareStepWeights(new CharRnn(cfg, V, undefined, 5));
    try {
      const rng = new Rng(3);
      for (const n of [1, 9]) {
        const ids = Int32Array.from({ length: n }, () => rng.int() % V);
        const state = randomState(cfg, n, rng);
        expect(stepBits(w, cfg, ids, state, stepRows)).toEqual(stepBits(w, cfg, ids, state, stepRowsOps));
      }
      // Out of range either side: the native step would otherwise read outside its tables.
      for (const id of [V, -1]) expect(() => stepRows(w, Int32Array.of(id), w.net.zeroState(1))).toThrow(/not in \[0, 66\]/);
    } finally {
      disposeStepWeights(w);
    }
  });
});

describe('disposeStepWeights', () => {
  it('frees what the step made, and the model too unless it is borrowed (a trainer’s)', () => {
    for (const keepNet of [true, false]) {
      const net = new CharRnn({ cell: 'gru', layers: 2, hidden: 8, dropout: 0, embedding: null }, V, undefined, 1);
      const w = prepareStepWeights(net);
      const made = [w.table0!, ...w.gruSplit.flat()];
      if (keepNet) disposeStepWeights(w, { keepNet });
      else disposeStepWeights(w);
      expect(made.every((t) => t.isDisposed)).toBe(true);
      expect(net.variables().every((v) => v.isDisposed)).toBe(!keepNet);
      if (keepNet) net.dispose();
    }
  });
});
