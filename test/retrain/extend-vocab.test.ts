// extendVocab: a trained checkpoint grows new characters without changing what it says about the
// old ones, and the grown checkpoint resumes training on text that uses them.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { readCheckpoint } from '../../shared/engine/checkpoint.ts';
import { extendVocab, renumberCheckpoint } from '../../shared/engine/checkpoint-edit.ts';
import { initBackend, readCheckpointInfo, resolveConfig, Trainer, Vocab } from '../../shared/engine/index.ts';
import { CharRnn } from '../../shared/engine/model.ts';
import type { CheckpointFiles } from '../../shared/engine/types.ts';

const OLD_TEXT = 'the cat sat on the mat. the dog sat on the log. '.repeat(30);
const NEW_TEXT = OLD_TEXT + 'ZEBRA! QUIZ? '.repeat(20);

/** Logits [T, V] of the checkpoint's model over `text` (one stream, zero initial state). */
function logits(files: CheckpointFiles, text: string): { values: Float32Array; V: number } {
  const c = readCheckpoint(files);
  const vocab = new Vocab(c.state.vocab);
  const model = new CharRnn(c.state.model, vocab.size, c.weights);
  try {
    const ids = Array.from(vocab.encode(text));
    const out = tf.tidy(() => {
      const r = model.forward(tf.tensor1d(ids, 'int32'), model.zeroState(1), { T: ids.length, B: 1, training: false });
      return r.logits;
    });
    const values = out.dataSync() as Float32Array;
    out.dispose();
    return { values: Float32Array.from(values), V: vocab.size };
  } finally {
    model.dispose();
  }
}

async function trained(embedding: number | null): Promise<CheckpointFiles> {
  const { model, train } = resolveConfig({ preset: 'tiny', hidden: 16, seqLen: 16, batchSize: 4, evalEvery: 1000, evalChars: 500, embedding });
  const t = await Trainer.create({ text: OLD_TEXT, model, train });
  try {
    for await (const _ of t.run({ steps: 15 }));
    return await t.checkpoint();
  } finally {
    t.dispose();
  }
}

beforeAll(async () => {
  await initBackend();
});

describe('extendVocab', () => {
  for (const embedding of [null, 8]) {
    it(`keeps the old characters' logits exactly and gives new ones finite logits (${embedding ? 'embedding' : 'one-hot'} input)`, async () => {
      const before = await trained(embedding);
      const oldVocab = readCheckpointInfo(before).vocab;
      const added = new Vocab(['Z', 'E', 'B', 'R', 'A', '!', 'Q', 'U', 'I', '?']).chars.filter((c) => !oldVocab.includes(c));
      const after = extendVocab(before, added);
      const info = readCheckpointInfo(after);
      expect(info.vocab).toEqual([...oldVocab, ...added]); // old ids keep their meaning
      expect(info.step).toBe(readCheckpointInfo(before).step);

      const probe = 'the dog sat on the mat.';
      const a = logits(before, probe);
      const b = logits(after, probe);
      expect(b.V).toBe(a.V + added.length);
      for (let t = 0; t < probe.length; t++) {
        const oldRow = a.values.subarray(t * a.V, (t + 1) * a.V);
        const newRow = b.values.subarray(t * b.V, (t + 1) * b.V);
        expect(Array.from(newRow.subarray(0, a.V))).toEqual(Array.from(oldRow));
        for (const x of newRow.subarray(a.V)) expect(Number.isFinite(x)).toBe(true);
      }
    });
  }

  it('resumes training on text with the new characters; Adam slots grew with the weights', async () => {
    const before = await trained(null);
    const oldVocab = new Vocab(readCheckpointInfo(before).vocab);
    const added = oldVocab.missing(NEW_TEXT);
    expect(added.length).toBeGreaterThan(0);
    // Without extension the old checkpoint cannot read the new text.
    await expect(Trainer.resume({ text: NEW_TEXT, checkpoint: before })).rejects.toThrow(/lacks/);

    const grown = extendVocab(before, added);
    const c = readCheckpoint(grown);
    expect(c.optimizerSlots.length).toBe(readCheckpoint(before).optimizerSlots.length);
    const t = await Trainer.resume({ text: NEW_TEXT, checkpoint: grown });
    try {
      let last = NaN;
      for await (const ev of t.run({ steps: 10 })) if (ev.type === 'eval') last = ev.valLoss;
      expect(Number.isFinite(last)).toBe(true);
      expect(t.step).toBe(readCheckpointInfo(before).step + 10);
      expect(t.vocab.size).toBe(oldVocab.size + added.length);
    } finally {
      t.dispose();
    }
  });

  it('rejects characters already in the vocabulary; no additions returns the same files', async () => {
    const before = await trained(null);
    expect(() => extendVocab(before, ['t'])).toThrow(/already in the vocabulary/);
    expect(extendVocab(before, [])).toBe(before);
  });

  it('renumberCheckpoint relabels the step and nothing else', async () => {
    const before = await trained(null);
    const moved = renumberCheckpoint(before, 500);
    expect(readCheckpointInfo(moved).step).toBe(500);
    expect(Array.from(readCheckpoint(moved).weights[0])).toEqual(Array.from(readCheckpoint(before).weights[0]));
    const t = await Trainer.resume({ text: OLD_TEXT, checkpoint: moved });
    try {
      expect(t.step).toBe(500);
    } finally {
      t.dispose();
    }
  });
});
