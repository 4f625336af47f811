// Data-parallel training (2 replicas: this thread + a worker thread): the same steps as one
// replica up to float rounding, exact resume, the worker's gradients, the choice of thread count.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { collect, initBackend, loadBuiltinCorpus, losses, resolveConfig, splitCorpus, Trainer, Vocab, type RunConfigInputLike } from './helpers.ts';
import { readCheckpoint } from '../../shared/engine/checkpoint.ts';
import { CharRnn } from '../../shared/engine/model.ts';
import { chooseReplicas, TrainReplica } from '../../shared/engine/replica.ts';
import { stepGrads, streamSlice } from '../../shared/engine/step-grads.ts';
import { TrainBatches } from '../../shared/engine/batches.ts';

const names = loadBuiltinCorpus('names');

const maxDiff = (a: Float32Array[], b: Float32Array[]) => Math.max(...a.map((x, i) => Math.max(...x.map((v, j) => Math.abs(v - b[i][j])))));

beforeAll(async () => {
  expect(await initBackend('wasm')).toBe('wasm');
});

describe('two training replicas', () => {
  it('train like one: same losses, weights and carried state up to float rounding', async () => {
    const text = names.slice(0, 8 * 20 * 4 * 10 / 9 + 20);
    const cfg: RunConfigInputLike = { cell: 'lstm', layers: 2, hidden: 24, dropout: 0, batchSize: 8, seqLen: 20, lr: 1e-3, gradClip: 0.5, evalEvery: 1000, evalChars: 200 };
    const one = await Trainer.create({ text, ...resolveConfig(cfg), threads: 1 });
    const two = await Trainer.create({ text, ...resolveConfig(cfg), threads: 2 });
    expect([one.threads, two.threads]).toEqual([1, 2]);
    const [l1, l2] = [losses(await collect(one.run({ steps: 3 }))), losses(await collect(two.run({ steps: 3 })))];
    expect(l2).toHaveLength(3);
    l1.forEach((l, i) => expect(Math.abs(l - l2[i])).toBeLessThan(1e-5));
    const [c1, c2] = [readCheckpoint(await one.checkpoint()), readCheckpoint(await two.checkpoint())];
    // Adam moves each weight by ≈lr per step whatever the gradient's size: far below lr = same steps.
    expect(maxDiff(c1.weights, c2.weights)).toBeLessThan(1e-5);
    expect(maxDiff(c1.optimizerSlots, c2.optimizerSlots)).toBeLessThan(1e-5);
    // the carried state of all 8 streams (4 per replica) is in the checkpoint, in stream order
    expect(c2.carry.map((c) => c.length)).toEqual(c1.carry.map((c) => c.length));
    expect(maxDiff(c1.carry, c2.carry)).toBeLessThan(1e-5);
    expect(c2.state).toEqual({ ...c1.state, lossTail: c2.state.lossTail, firstLoss: c2.state.firstLoss });
    one.dispose();
    two.dispose();
    expect(two.threads).toBe(1);
  });

  it('resume exactly: k steps + checkpoint + resume + (N−k) steps = N uninterrupted steps', async () => {
    const text = names.slice(0, 8 * 20 * 3 * 10 / 9 + 20); // 3 windows per epoch: crosses state resets
    const config = resolveConfig({ cell: 'lstm', layers: 2, hidden: 24, dropout: 0.2, amsgrad: true, batchSize: 8, seqLen: 20, evalEvery: 3, evalChars: 200, lr: 0.005 });
    const a = await Trainer.create({ text, ...config, threads: 2 });
    const full = losses(await collect(a.run({ steps: 7 })));
    const b = await Trainer.create({ text, ...config, threads: 2 });
    const first = losses(await collect(b.run({ steps: 4 })));
    const ck = await b.checkpoint();
    b.dispose();
    const c = await Trainer.resume({ text, checkpoint: ck, threads: 2 });
    expect(c.threads).toBe(2);
    const rest = losses(await collect(c.run({ steps: 3 })));
    expect([...first, ...rest]).toEqual(full);
    const [wa, wc] = [readCheckpoint(await a.checkpoint()).weights, readCheckpoint(await c.checkpoint()).weights];
    wa.forEach((w, i) => expect(Array.from(w)).toEqual(Array.from(wc[i])));
    a.dispose();
    c.dispose();
  });

  it('the worker returns the gradients this thread computes for the same streams, bit for bit', async () => {
    const model = { cell: 'gru' as const, layers: 1, hidden: 12, dropout: 0, embedding: 6 };
    const vocab = Vocab.fromText(names);
    const { train } = splitCorpus(vocab.encode(names));
    const win = new TrainBatches(train, 4, 10).window(2);
    const net = new CharRnn(model, vocab.size, undefined, 3);
    const carry = [{ h: tf.randomUniform([4, 12], -0.5, 0.5, 'float32', 5) as tf.Tensor2D }];
    const replica = await TrainReplica.start({ backend: 'wasm', model, vocabSize: vocab.size });
    try {
      const [x, y] = [streamSlice(win.x, 10, 4, 2, 2), streamSlice(win.y, 10, 4, 2, 2)];
      const half = tf.tidy(() => [{ h: tf.slice(carry[0].h, [2, 0], [2, 12]) as tf.Tensor2D }]);
      const here = stepGrads(net, x, y, half, { T: 10, B: 2 });
      const there = await replica.step({
        type: 'step', weights: net.variables().map((v) => v.dataSync() as Float32Array), x, y, T: 10, B: 2,
        carry: [half[0].h.dataSync() as Float32Array],
      });
      expect(there.loss).toBe(here.loss.dataSync()[0]);
      here.grads.forEach((g, i) => expect(Array.from(there.grads[i])).toEqual(Array.from(g.dataSync())));
      expect(Array.from(there.carry[0])).toEqual(Array.from(here.carry[0].h.dataSync()));
      expect(streamSlice(Int32Array.from([0, 1, 2, 3, 4, 5, 6, 7]), 2, 4, 1, 2)).toEqual(Int32Array.from([1, 2, 5, 6]));
      tf.dispose([here.loss, ...here.grads, here.carry[0].h, half[0].h]);
      // a bad request is reported, not fatal; after dispose the worker is gone and steps reject
      await expect(replica.step({ type: 'step', weights: [], x, y, T: 10, B: 2, carry: [] })).rejects.toThrow(/training replica: /);
    } finally {
      replica.dispose();
      net.dispose();
      tf.dispose(carry[0].h);
    }
    await expect(replica.step({ type: 'step', weights: [], x: new Int32Array(), y: new Int32Array(), T: 1, B: 1, carry: [] })).rejects.toThrow(/disposed/);
  });

  it('a training step leaves no tensor behind, on one thread or two', async () => {
    const text = names.slice(0, 5000);
    for (const threads of [1, 2]) {
      for (const model of [{ cell: 'lstm' as const, layers: 2 }, { cell: 'gru' as const, layers: 1 }]) {
        const t = await Trainer.create({ text, ...resolveConfig({ ...model, hidden: 16, batchSize: 4, seqLen: 8, evalEvery: 1000 }), threads });
        await collect(t.run({ steps: 1 }));
        const before = tf.memory().numTensors;
        await collect(t.run({ steps: 3 }));
        expect(tf.memory().numTensors).toBe(before);
        t.dispose();
      }
    }
  });

  it('chooses 2 threads only where they can help, and honours the caller\'s setting', () => {
    const big = { backend: 'wasm', batchSize: 64, flopsPerStep: 13e9 };
    expect(chooseReplicas(big)).toBe(2); // this machine has 2 cores
    expect(chooseReplicas({ ...big, flopsPerStep: 1e8 })).toBe(1); // tiny steps: the worker costs more than it saves
    expect(chooseReplicas({ ...big, batchSize: 63 })).toBe(1); // streams must split evenly
    expect(chooseReplicas({ ...big, backend: 'tensorflow' })).toBe(1); // native TensorFlow threads itself
    expect(chooseReplicas({ ...big, requested: 1 })).toBe(1);
    expect(chooseReplicas({ ...big, flopsPerStep: 1, requested: 2 })).toBe(2);
    expect(chooseReplicas({ ...big, batchSize: 7, requested: 2 })).toBe(1);
    expect(chooseReplicas({ ...big, requested: 2, oneThread: true })).toBe(1); // CHARRNN_ONE_TFJS_THREAD: one replica
    expect(() => chooseReplicas({ ...big, requested: 3 })).toThrow(/1 or 2 \(got 3\)/);
    // The engine reads no environment: CHARRNN_TRAIN_THREADS reaches it only through its caller.
    process.env.CHARRNN_TRAIN_THREADS = '1';
    try {
      expect(chooseReplicas(big)).toBe(2);
    } finally {
      delete process.env.CHARRNN_TRAIN_THREADS;
    }
  });
});
