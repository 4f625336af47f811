// The native training layers and head (shared/engine/fused.ts, native/seq.c): where the binding
// runs they carry training and validation; their results do not depend on the thread count, so
// training is deterministic and resumes exactly on one thread or two; every kernel variant agrees.
// (Their gradients against tfjs autodiff of the plain layers: gradients.test.ts.)
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { collect, initBackend, loadBuiltinCorpus, losses, maxRelDiff, resolveConfig, Trainer, type RunConfigInputLike } from './helpers.ts';
import { hasFusedLayers } from '../../shared/engine/fused.ts';
import { CharRnn, type RnnState } from '../../shared/engine/model.ts';
import { readCheckpoint } from '../../shared/engine/checkpoint.ts';
import { blasVariants, loadBlas, type Blas, type SeqLayerArgs } from '../../shared/engine/native/blas.ts';

const names = loadBuiltinCorpus('names');

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

let blas: Blas;
beforeAll(async () => {
  expect(await initBackend('wasm')).toBe('wasm');
  blas = loadBlas()!;
  expect(blas, 'the native binding (npm run postinstall)').not.toBeNull();
  expect(hasFusedLayers()).toBe(true);
});
afterEach(() => vi.restoreAllMocks());

/** One window's loss and gradients through model.loss, on `threads` native threads. */
function lossAndGrads(net: CharRnn, state: RnnState, ids: number[], targets: number[], T: number, threads: number) {
  return tf.tidy(() => {
    const [x, y] = [tf.tensor1d(ids, 'int32'), tf.tensor1d(targets, 'int32')];
    const { value, grads } = tf.variableGrads(() => net.loss(x, y, state, { T, B: ids.length / T, training: true, threads }).loss, net.variables());
    return { loss: value.dataSync()[0], grads: net.variables().map((v) => Float32Array.from(grads[v.name].dataSync())) };
  });
}

describe('native layers and head', () => {
  it('carry training steps and validation (one native call per layer each way, one for the head)', async () => {
    const calls = { seqForward: vi.spyOn(blas, 'seqForward'), seqBackward: vi.spyOn(blas, 'seqBackward'), headForward: vi.spyOn(blas, 'headForward'), headBackward: vi.spyOn(blas, 'headBackward') };
    const t = await Trainer.create({ text: names.slice(0, 4000), ...resolveConfig({ cell: 'lstm', layers: 2, hidden: 16, batchSize: 4, seqLen: 8, evalEvery: 1000, evalChars: 100 }) });
    await collect(t.run({ steps: 2 }));
    // 2 steps × 2 layers forward and backward, then the final validation's windows forward only
    expect(calls.seqBackward).toHaveBeenCalledTimes(4);
    expect(calls.headBackward).toHaveBeenCalledTimes(2);
    expect(calls.seqForward.mock.calls.length).toBeGreaterThan(4);
    expect(calls.headForward.mock.calls.length).toBe(calls.seqForward.mock.calls.length / 2);
    t.dispose();
  });

  for (const cell of ['lstm', 'gru'] as const) {
    it(`${cell}: the same bits on 1, 2 and 3 threads (chunks of work, not shares of threads)`, () => {
      for (const embedding of [null, 6]) {
        const V = 11, T = 7, B = 19; // streams past two chunks of 8, a ragged last one
        const net = new CharRnn({ cell, layers: 2, hidden: 37, dropout: 0, embedding }, V, undefined, 5);
        const state: RnnState = net.layers.map((_, l) => ({
          h: tf.randomUniform([B, 37], -0.5, 0.5, 'float32', 10 + l) as tf.Tensor2D,
          ...(cell === 'lstm' ? { c: tf.randomUniform([B, 37], -0.5, 0.5, 'float32', 20 + l) as tf.Tensor2D } : {}),
        }));
        const ids = Array.from({ length: T * B }, (_, i) => (i * 7 + 3) % V);
        const targets = Array.from({ length: T * B }, (_, i) => (i * 5 + 1) % V);
        const one = lossAndGrads(net, state, ids, targets, T, 1);
        for (const threads of [2, 3]) {
          const more = lossAndGrads(net, state, ids, targets, T, threads);
          expect(more.loss).toBe(one.loss);
          more.grads.forEach((g, i) => expect(bits(g), `${cell} embedding ${embedding} weight ${i}, ${threads} threads`).toEqual(bits(one.grads[i])));
        }
        net.dispose();
        tf.dispose(state.flatMap((s) => [s.h, ...(s.c ? [s.c] : [])]));
      }
    });
  }

  it('a run on two threads is bit for bit the run on one (exact resume on two: replicas.test.ts, which runs here on these layers)', async () => {
    const text = names.slice(0, 8 * 20 * 3 * 10 / 9 + 20); // 3 windows per epoch: crosses state resets
    const cfg: RunConfigInputLike = { cell: 'lstm', layers: 2, hidden: 24, dropout: 0.2, amsgrad: true, batchSize: 8, seqLen: 20, evalEvery: 3, evalChars: 200, lr: 0.005 };
    const runs = await Promise.all([2, 1].map((threads) => Trainer.create({ text, ...resolveConfig(cfg), threads })));
    expect(runs.map((t) => t.threads)).toEqual([2, 1]);
    const [two, one] = await Promise.all(runs.map(async (t) => losses(await collect(t.run({ steps: 7 })))));
    expect(two).toEqual(one);
    const [w2, w1] = await Promise.all(runs.map(async (t) => readCheckpoint(await t.checkpoint()).weights.map(bits)));
    expect(w2).toEqual(w1);
    for (const t of runs) t.dispose();
  });

  it('a step and a validation leave no tensor behind (the trace lives from a forward pass to its backward pass)', async () => {
    for (const cell of ['lstm', 'gru'] as const) {
      const t = await Trainer.create({ text: names.slice(0, 5000), ...resolveConfig({ cell, layers: 2, hidden: 16, embedding: cell === 'gru' ? 5 : null, batchSize: 4, seqLen: 8, evalEvery: 1000 }), threads: 2 });
      await collect(t.run({ steps: 1 }));
      const before = tf.memory().numTensors;
      await collect(t.run({ steps: 3 }));
      await t.evaluate();
      expect(tf.memory().numTensors).toBe(before);
      t.dispose();
    }
  });
});

describe('kernel variants', () => {
  /** Random layer arguments for `blas`' seqForward/seqBackward (x input), fresh arrays each call. */
  function layer(cell: 'lstm' | 'gru', T: number, B: number, H: number, inDim: number) {
    const G = cell === 'lstm' ? 4 : 3;
    let seed = 1;
    const rnd = (n: number, scale = 1) => Float32Array.from({ length: n }, () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return ((seed / 2 ** 32) * 2 - 1) * scale;
    });
    const shape: Omit<SeqLayerArgs, 'wx' | 'wh' | 'h0' | 'gates' | 'hs'> = { cell, T, B, H, in: inDim, threads: 2 };
    return {
      ...shape, x: rnd(T * B * inDim), wx: rnd(inDim * G * H, 0.5), bias: rnd(G * H, 0.5), wh: rnd(H * G * H, 0.5), h0: rnd(B * H), c0: rnd(B * H),
      gates: new Float32Array(T * B * G * H), cs: new Float32Array(T * B * H), rh: new Float32Array(T * B * H), hs: new Float32Array(T * B * H),
      hLast: new Float32Array(B * H), cLast: new Float32Array(B * H), dhs: rnd(T * B * H),
      dx: new Float32Array(T * B * inDim), dwx: new Float32Array(inDim * G * H), db: new Float32Array(G * H), dwh: new Float32Array(H * G * H),
    };
  }
  it('every variant this CPU runs computes the layers and the head alike (up to the products\' rounding)', () => {
    const variants = blasVariants();
    for (const cell of ['lstm', 'gru'] as const) {
      const ref = layer(cell, 5, 11, 37, 13); // a ragged tail past every vector width
      variants[0].seqForward(ref);
      variants[0].seqBackward(ref);
      for (const v of variants.slice(1)) {
        const got = layer(cell, 5, 11, 37, 13);
        v.seqForward(got);
        v.seqBackward(got);
        for (const k of ['hs', 'cs', 'rh', 'dx', 'dwx', 'db', 'dwh'] as const) expect(maxRelDiff(got[k], ref[k]), `${v.kernels} ${cell} ${k}`).toBeLessThan(1e-5);
      }
    }
    const head = () => {
      const N = 300, H = 37, V = 19;
      const l = layer('lstm', 1, N, H, 1);
      return {
        N, H, V, threads: 2, mean: true, x: l.dhs, w: l.wh.subarray(0, H * V), bias: l.bias.subarray(0, V),
        targets: Int32Array.from({ length: N }, (_, i) => (i * 7) % V), probs: new Float32Array(N * V), loss: new Float32Array(1),
        dloss: Float32Array.of(1), dx: new Float32Array(N * H), dw: new Float32Array(H * V), db: new Float32Array(V),
      };
    };
    const ref = head();
    variants[0].headForward(ref);
    variants[0].headBackward(ref);
    for (const v of variants.slice(1)) {
      const got = head();
      v.headForward(got);
      v.headBackward(got);
      expect(Math.abs(got.loss[0] - ref.loss[0])).toBeLessThan(1e-5 * ref.loss[0]);
      for (const k of ['dx', 'dw', 'db'] as const) expect(maxRelDiff(got[k], ref[k]), `${v.kernels} head ${k}`).toBeLessThan(1e-5);
    }
  });

  it('rejects arguments that do not fit the shapes, instead of reading past them', () => {
    const l = layer('lstm', 2, 3, 4, 5);
    expect(() => blas.seqForward({ ...l, wh: new Float32Array(3) })).toThrow(/wh holds 3 elements, fewer than 64/);
    expect(() => blas.seqForward({ ...l, x: undefined })).toThrow(/ids or as x/);
    expect(() => blas.seqForward({ ...l, ids: Int32Array.of(0, 1, 2, 3, 4, 0) })).toThrow(/ids or as x/);
    expect(() => blas.seqForward({ ...l, x: undefined, ids: Int32Array.of(0, 1, 2, 3, 4, 5) })).toThrow(/an id is outside \[0, in\)/);
    expect(() => blas.seqBackward({ ...l, dx: undefined })).toThrow(/dx is required/);
    expect(() => blas.seqForward({ ...l, cell: 'rnn' as never })).toThrow(/cell must be/);
  });
});
