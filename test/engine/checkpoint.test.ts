// Checkpoint files read back, and what a damaged one says: each missing or broken file is an
// EngineInputError naming it (a 4xx over HTTP), never a crash or a silently wrong model. Resume's
// edges: a corpus the vocabulary lacks, a new batch geometry (the streams restart), the same one
// (the carried state comes back). Written with the mutants StrykerJS found alive (TESTING.md).
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { readCheckpoint, readCheckpointInfo, readModelFiles } from '../../shared/engine/checkpoint.ts';
import { EngineInputError, initBackend, loadBuiltinCorpus, resolveConfig, Trainer, type CheckpointFiles } from './helpers.ts';

const names = loadBuiltinCorpus('names');
const CFG = { hidden: 16, batchSize: 4, seqLen: 16, evalEvery: 10_000, evalChars: 100 };
let files: CheckpointFiles;

beforeAll(async () => {
  expect(await initBackend('wasm')).toBe('wasm');
  const t = await Trainer.create({ text: names, ...resolveConfig(CFG) });
  for await (const e of t.run({ steps: 3 })) void e;
  files = await t.checkpoint();
  t.dispose();
});

const enc = new TextEncoder();
const dec = new TextDecoder();
const withJson = (name: 'state.json' | 'model.json', edit: (j: Record<string, unknown>) => void): CheckpointFiles => {
  const j = JSON.parse(dec.decode(files[name]));
  edit(j);
  return { ...files, [name]: enc.encode(JSON.stringify(j)) };
};

describe('a damaged checkpoint says which file and why', () => {
  it.each([
    ['model.json missing', () => ({ ...files, 'model.json': undefined }), /^checkpoint is missing model\.json$/],
    ['weights.bin missing', () => ({ ...files, 'weights.bin': undefined }), /^checkpoint is missing weights\.bin$/],
    ['optimizer.bin missing', () => ({ ...files, 'optimizer.bin': undefined }), /^checkpoint is missing optimizer\.bin$/],
    ['state.json missing', () => ({ ...files, 'state.json': undefined }), /^checkpoint is missing state\.json$/],
    ['state.json not JSON', () => ({ ...files, 'state.json': enc.encode('{oops') }), /^checkpoint state\.json is not valid JSON$/],
    ['model.json not JSON', () => ({ ...files, 'model.json': enc.encode('[') }), /^checkpoint model\.json is not valid JSON$/],
    ['a future format', () => withJson('state.json', (j) => (j.formatVersion = 99)), /^checkpoint format 99 is not supported \(expected 1\)$/],
    ['a model.json of another tool', () => withJson('model.json', (j) => delete j.userDefinedMetadata), /^model\.json has no charrnn metadata \(not a charrnn checkpoint\)$/],
    ['weights.bin cut short', () => ({ ...files, 'weights.bin': files['weights.bin'].subarray(4) }), /^checkpoint weights\.bin has \d+ bytes, expected \d+$/],
    ['optimizer.bin cut short', () => ({ ...files, 'optimizer.bin': files['optimizer.bin'].subarray(0, 8) }), /^checkpoint optimizer\.bin has 8 bytes, expected \d+$/],
  ])('%s', (_what, damaged, says) => {
    let err: unknown;
    try {
      readCheckpoint(damaged() as CheckpointFiles);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(EngineInputError);
    expect((err as Error).message).toMatch(says);
  });

  it('readModelFiles and readCheckpointInfo check the files they read', () => {
    expect(() => readModelFiles({ 'model.json': files['model.json'] } as CheckpointFiles)).toThrow(/^checkpoint is missing weights\.bin$/);
    expect(() => readCheckpointInfo({ 'model.json': files['model.json'] })).toThrow(/^checkpoint is missing state\.json$/);
    expect(readCheckpointInfo(files)).toMatchObject({ step: 3, model: { hidden: 16 } });
  });
});

describe('reading back', () => {
  it('reads weights at any byte offset (a buffer slice from the store) to the same values', () => {
    const ref = readCheckpoint(files);
    const shifted = (b: Uint8Array) => {
      const big = new Uint8Array(b.byteLength + 1);
      big.set(b, 1);
      return big.subarray(1);
    };
    const moved = readCheckpoint({ ...files, 'weights.bin': shifted(files['weights.bin']), 'optimizer.bin': shifted(files['optimizer.bin']) });
    expect(moved.weights).toEqual(ref.weights);
    expect(moved.optimizerSlots).toEqual(ref.optimizerSlots);
    expect(moved.carry).toEqual(ref.carry);
    expect(ref.carry.length).toBe(2); // h and c of the one LSTM layer
    expect(ref.optimizerSlots.length).toBe(2 * ref.weights.length); // Adam's m and v per weight
  });

  it('model.json loads in tfjs-layers as trainable layers with the same outputs', async () => {
    const m = readModelFiles(files);
    const json = JSON.parse(dec.decode(files['model.json']));
    const model = await tf.loadLayersModel(
      tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData: files['weights.bin'].slice().buffer }),
    );
    try {
      expect(model.layers.filter((l) => l.trainableWeights.length > 0).every((l) => l.trainable)).toBe(true);
      expect(model.getWeights().length).toBe(m.weights.length);
      expect(json.userDefinedMetadata.charrnn).toMatchObject({ formatVersion: 1, step: 3, input: 'one-hot' });
    } finally {
      model.dispose();
    }
  });
});

describe('resume', () => {
  it('refuses a corpus with characters the vocabulary lacks, naming them', async () => {
    await expect(Trainer.resume({ text: names + '§', checkpoint: files })).rejects.toThrow(/corpus has characters the checkpoint's vocabulary lacks: .*§.*resume with the run's original corpus/);
  });

  it('the same geometry carries the saved state on; a new batch size or window restarts the streams', async () => {
    const same = await Trainer.resume({ text: names, checkpoint: files });
    const saved = readCheckpoint(files);
    try {
      expect(same.epoch).toBeCloseTo(saved.state.epoch, 10);
      expect(same.step).toBe(3);
      const again = readCheckpoint(await same.checkpoint());
      expect(again.carry).toEqual(saved.carry); // the carried h and c came back as saved
    } finally {
      same.dispose();
    }
    for (const train of [{ batchSize: 2 }, { seqLen: 8 }]) {
      const t = await Trainer.resume({ text: names, checkpoint: files, train });
      try {
        const ck = readCheckpoint(await t.checkpoint());
        expect(ck.state.position).toBe(0);
        expect(t.epoch).toBe(ck.state.epochIndex);
        expect(ck.carry.every((c) => c.every((x) => x === 0))).toBe(true); // a zero state, not the old streams'
      } finally {
        t.dispose();
      }
    }
  });
});
