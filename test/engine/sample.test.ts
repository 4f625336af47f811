// Sampling: reproducibility, temperature/top-k/top-p, prime handling, abort, and equivalence of the
// checkpoint with tf.loadLayersModel (what a browser would load).
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineInputError, initBackend, Sampler, trainedOnNames, type SampleOptions } from './helpers.ts';
import type { RunConfigInput } from '../../shared/api/schemas.ts';
import type { CheckpointFiles } from '../../shared/engine/types.ts';

async function text(s: Sampler, o: Partial<SampleOptions>): Promise<string> {
  let out = '';
  for await (const c of s.generate({ length: 80, temperature: 1, topK: 0, topP: 1, prime: '', seed: 1, ...o })) out += c;
  return out;
}

const argmax = (p: ArrayLike<number>) => {
  let b = 0;
  for (let i = 1; i < p.length; i++) if (p[i] > p[b]) b = i;
  return b;
};

let ck: CheckpointFiles;
let s: Sampler;

beforeAll(async () => {
  expect(await initBackend('wasm')).toBe('wasm');
  ck = await trainedOnNames({ hidden: 32 }, 40);
  s = await Sampler.load(ck);
});
afterAll(() => s.dispose());

describe('Sampler', () => {
  it('is reproducible with a seed, and the seed matters', async () => {
    const a = await text(s, { seed: 42 });
    expect(a).toHaveLength(80);
    expect(await text(s, { seed: 42 })).toBe(a);
    const again = await Sampler.load(ck);
    expect(await text(again, { seed: 42 })).toBe(a);
    again.dispose();
    expect(await text(s, { seed: 43 })).not.toBe(a);
    expect([...a].every((c) => s.vocab.has(c))).toBe(true);
  });

  it('temperature 0 is argmax: deterministic, seed-independent, the greedy chain of the model', async () => {
    const g = await text(s, { temperature: 0, prime: 'Mar', length: 20, seed: 1 });
    expect(await text(s, { temperature: 0, prime: 'Mar', length: 20, seed: 999 })).toBe(g);
    let ctx = 'Mar';
    for (const ch of g) {
      expect(s.vocab.chars[argmax(s.probabilities(ctx))]).toBe(ch);
      ctx += ch;
    }
    // top-k = 1 and a tiny top-p both reduce to argmax at any temperature
    expect(await text(s, { temperature: 1.5, topK: 1, prime: 'Mar', length: 20, seed: 5 })).toBe(g);
    expect(await text(s, { temperature: 1, topP: 1e-6, prime: 'Mar', length: 20, seed: 6 })).toBe(g);
  });

  it('top-k restricts every choice to the k most likely characters', async () => {
    const out = await text(s, { temperature: 2, topK: 3, prime: 'Jo', length: 30, seed: 3 });
    let ctx = 'Jo';
    for (const ch of out) {
      const p = s.probabilities(ctx);
      const top3 = [...p.keys()].sort((a, b) => p[b] - p[a]).slice(0, 3).map((i) => s.vocab.chars[i]);
      expect(top3).toContain(ch);
      ctx += ch;
    }
    // without top-k, a hot temperature leaves the top 3 somewhere in 30 characters
    const free = await text(s, { temperature: 2, prime: 'Jo', length: 30, seed: 3 });
    ctx = 'Jo';
    let outside = 0;
    for (const ch of free) {
      const p = s.probabilities(ctx);
      const top3 = [...p.keys()].sort((a, b) => p[b] - p[a]).slice(0, 3).map((i) => s.vocab.chars[i]);
      if (!top3.includes(ch)) outside++;
      ctx += ch;
    }
    expect(outside).toBeGreaterThan(0);
  });

  it('rejects a prime with characters outside the vocabulary, naming them', async () => {
    const e = await text(s, { prime: 'Ann€🦄' }).then(() => null, (x: unknown) => x);
    expect(e).toBeInstanceOf(EngineInputError);
    expect((e as EngineInputError).field).toBe('prime');
    expect((e as EngineInputError).message).toContain('"€"');
    expect((e as EngineInputError).message).toContain('"🦄"');
  });

  it('stops when the signal aborts', async () => {
    const ac = new AbortController();
    let n = 0;
    for await (const c of s.generate({ length: 10_000, temperature: 1, topK: 0, topP: 1, prime: '', seed: 1, signal: ac.signal })) {
      void c;
      if (++n === 25) ac.abort();
    }
    expect(n).toBe(25);
    expect(s.step).toBe(40);
  });

  for (const [name, cfg] of [
    ['one-hot LSTM, 2 layers', { hidden: 24, layers: 2 }],
    ['one-hot GRU', { hidden: 24, cell: 'gru' }],
    ['embedding LSTM', { hidden: 24, embedding: 6 }],
  ] as [string, RunConfigInput][]) {
    it(`${name}: tf.loadLayersModel on the checkpoint gives the Sampler's next-char probabilities`, async () => {
      const files = await trainedOnNames(cfg, 15);
      const sampler = await Sampler.load(files);
      const mj = JSON.parse(new TextDecoder().decode(files['model.json']));
      const w = files['weights.bin'];
      const model = await tf.loadLayersModel(
        tf.io.fromMemory({
          modelTopology: mj.modelTopology,
          weightSpecs: mj.weightsManifest[0].weights,
          weightData: w.buffer.slice(w.byteOffset, w.byteOffset + w.byteLength) as ArrayBuffer,
        }),
      );
      const prime = 'Katherine\nLu';
      const ids = [...sampler.vocab.encode(prime)];
      const V = sampler.vocab.size;
      const probs = tf.tidy(() => {
        const x = cfg.embedding
          ? tf.tensor2d([ids], [1, ids.length], 'float32')
          : tf.cast(tf.oneHot(tf.tensor2d([ids], [1, ids.length], 'int32'), V), 'float32');
        const logits = model.predict(x) as tf.Tensor; // [1, T, V]
        return tf.softmax(tf.slice(logits, [0, ids.length - 1, 0], [1, 1, V]).reshape([V])).dataSync();
      });
      const mine = sampler.probabilities(prime);
      let maxDiff = 0;
      for (let i = 0; i < V; i++) maxDiff = Math.max(maxDiff, Math.abs(mine[i] - probs[i]));
      expect(maxDiff).toBeLessThan(1e-5);
      expect(Math.max(...mine)).toBeGreaterThan(2 / V); // a trained, non-uniform distribution
      model.dispose();
      sampler.dispose();
    });
  }
});
