// Checkpoint files read back, and what a damaged one says: each missing or broken file is an
// EngineInputError naming it (a 4xx over HTTP), never a crash or a silently wrong model. Resume's
// edges: a corpus the vocabulary lacks, a new batch geometry (the streams restart), the same one
// (the carried state comes back). Written with the mutants StrykerJS found alive (TESTING.md).
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { TrainBatches } from '../../shared/engine/batches.ts';
import { modelTopology, readCheckpoint, readCheckpointInfo, readModelFiles } from '../../shared/engine/checkpoint.ts';
import { splitCorpus } from '../../shared/engine/corpus.ts';
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
    expect((err as EngineInputError).field).toBe('checkpoint'); // the field a 400 names
  });

  it('readModelFiles and readCheckpointInfo check the files they read', () => {
    expect(() => readModelFiles({ 'model.json': files['model.json'] } as CheckpointFiles)).toThrow(expect.objectContaining({ message: 'checkpoint is missing weights.bin', field: 'checkpoint' }));
    expect(() => readCheckpointInfo({ 'model.json': files['model.json'] })).toThrow(expect.objectContaining({ message: 'checkpoint is missing state.json', field: 'checkpoint' }));
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
    const refused = Trainer.resume({ text: names + '§', checkpoint: files });
    await expect(refused).rejects.toThrow(/corpus has characters the checkpoint's vocabulary lacks: .*§.*resume with the run's original corpus/);
    await expect(refused).rejects.toMatchObject({ field: 'corpus' });
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
    // Each condition alone. The saved run has W windows per epoch (B=4, T=16 over the whole
    // corpus); a prefix of the corpus found here gives the same W with B=2 (or with T=8), and half
    // the corpus gives another W with B and T unchanged. Any one change restarts the streams.
    const W = readCheckpoint(files).state.windowsPerEpoch;
    const windows = (text: string, B: number, T: number) => new TrainBatches(splitCorpus(Uint32Array.from(text, (ch) => ch.charCodeAt(0))).train, B, T).windowsPerEpoch;
    let n = 1000;
    while (windows(names.slice(0, n), 2, 16) < W) n += 1;
    const cut = names.slice(0, n);
    expect([windows(cut, 2, 16), windows(cut, 4, 8)]).toEqual([W, W]);
    const shorter = names.slice(0, Math.floor(names.length / 2));
    for (const [what, text, train] of [
      ['batch size alone', cut, { batchSize: 2 }],
      ['window alone', cut, { seqLen: 8 }],
      ['windows per epoch alone', shorter, {}],
    ] as const) {
      const t = await Trainer.resume({ text, checkpoint: files, train });
      try {
        const ck = readCheckpoint(await t.checkpoint());
        expect(ck.state.windowsPerEpoch === W, what).toBe(what !== 'windows per epoch alone');
        expect(ck.state.position, what).toBe(0);
        expect(t.epoch, what).toBe(ck.state.epochIndex);
        expect(ck.carry.every((c) => c.every((x) => x === 0)), what).toBe(true); // a zero state, not the old streams'
      } finally {
        t.dispose();
      }
    }
  });
});

describe('what a checkpoint carries (made inside each test, so StrykerJS credits it)', () => {
  it('the loss tail, the step in model.json, the producer and the input kind', async () => {
    for (const embedding of [null, 8]) {
      const t = await Trainer.create({ text: names, ...resolveConfig({ ...CFG, embedding }) });
      try {
        for await (const e of t.run({ steps: 4 })) void e;
        const saved = await t.checkpoint();
        expect(readCheckpoint(saved).state.lossTail).toEqual(t.lossTail);
        expect(t.lossTail).toHaveLength(4);
        expect(readModelFiles(saved).step).toBe(4);
        const meta = JSON.parse(dec.decode(saved['model.json']));
        expect(meta.generatedBy).toBe('charrnn');
        expect(meta.userDefinedMetadata.charrnn.input).toBe(embedding ? 'ids' : 'one-hot');
      } finally {
        t.dispose();
      }
    }
  });

  it('a slice validates at its last step, also when resumed from a checkpoint that never validated', async () => {
    const t = await Trainer.create({ text: names, ...resolveConfig(CFG) });
    const unvalidated = await t.checkpoint(); // step 0, valStep null
    t.dispose();
    expect(readCheckpoint(unvalidated).state.valStep).toBeNull();
    const r = await Trainer.resume({ text: names, checkpoint: unvalidated });
    try {
      const events = [];
      for await (const e of r.run({ steps: 1 })) events.push(e);
      expect(events.filter((e) => e.type === 'eval').map((e) => e.step)).toEqual([1]);
    } finally {
      r.dispose();
    }
  });
});

describe("model.json's topology", () => {
  it.each([
    ['LSTM, one-hot', 'lstm', null],
    ['LSTM, embedding', 'lstm', 4],
    ['GRU, one-hot', 'gru', null],
    ['GRU, embedding', 'gru', 4],
  ] as const)('%s: what tfjs-layers itself writes for the same Sequential (but the initialisers)', async (_name, cell, embedding) => {
    const V = 5;
    const m = tf.sequential({ name: 'charrnn' });
    if (embedding) m.add(tf.layers.embedding({ name: 'embedding', inputDim: V, outputDim: embedding, batchInputShape: [null, null] }));
    for (let l = 0; l < 2; l++) {
      const args = { name: `rnn_${l}`, units: 3, returnSequences: true, recurrentActivation: 'sigmoid' as const, ...(l === 0 && !embedding ? { batchInputShape: [null, null, V] } : {}) };
      m.add(cell === 'lstm' ? tf.layers.lstm(args) : tf.layers.gru(args));
    }
    m.add(tf.layers.dense({ name: 'head', units: V }));
    let theirs: unknown;
    await m.save(
      tf.io.withSaveHandler(async (a) => {
        theirs = a.modelTopology;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    m.dispose();
    // Ours initialise nothing (the weights come from weights.bin); theirs name their random ones.
    const withoutInitialisers = (o: unknown) => JSON.parse(JSON.stringify(o, (k, v) => (k.endsWith('initializer') ? undefined : v)));
    const ours = modelTopology({ cell, layers: 2, hidden: 3, dropout: 0, embedding }, V);
    expect(withoutInitialisers(ours)).toEqual(withoutInitialisers(theirs));
  });
});
