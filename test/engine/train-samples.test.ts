// Samples while training change nothing about training: with sampling on or off (after every step
// here, far more often than a run does), the losses and every checkpoint file are the same bits,
// resume stays exact, and the slice loop's points and checkpoints match but for the samples. A
// sample is what Sampler gives from a checkpoint of the same step.
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, loadBuiltinCorpus, resolveConfig, Sampler, Trainer, type CheckpointFiles, type SampleOptions } from './helpers.ts';
import { runSlice } from '../../functions/training/loop.ts';
import type { ProgressPoint, ServerMessage, WorkerInput, WorkerMessage } from '../../functions/training/protocol.ts';
import { DEFAULT_TRAINING_SAMPLES } from '../../shared/engine/config.ts';
import { CHECKPOINT_FILE_NAMES } from '../../shared/engine/types.ts';

const text = loadBuiltinCorpus('names').slice(0, 20_000);
// Two layers with dropout: the trainer's RNG draws masks every step, so a sampler that touched it
// would show in the losses.
const CONFIG = { layers: 2, hidden: 24, dropout: 0.1, batchSize: 8, seqLen: 16, evalEvery: 5, evalChars: 500, lr: 0.01 };
const OPTS: SampleOptions = { length: 60, temperature: 0.8, topK: 0, topP: 1, prime: 'Ma', seed: 7 };

beforeAll(async () => {
  expect(await initBackend('wasm')).toBe('wasm');
});

async function train(steps: number, o: { sampling: boolean; from?: CheckpointFiles }) {
  const t = o.from ? await Trainer.resume({ text, checkpoint: o.from }) : await Trainer.create({ text, ...resolveConfig(CONFIG) });
  const losses: number[] = [];
  const samples: string[] = [];
  for await (const e of t.run({ steps })) {
    if (e.type === 'step') losses.push(e.trainLoss);
    if (o.sampling && (e.type === 'step' || e.type === 'eval')) samples.push(await t.sample(OPTS));
  }
  const ck = await t.checkpoint();
  t.dispose();
  return { losses, samples, ck };
}

function expectSameFiles(a: CheckpointFiles, b: CheckpointFiles) {
  for (const name of CHECKPOINT_FILE_NAMES) expect(Buffer.from(a[name]).equals(Buffer.from(b[name])), name).toBe(true);
}

async function generate(files: CheckpointFiles, o: SampleOptions): Promise<string> {
  const s = await Sampler.load(files);
  let out = '';
  for await (const c of s.generate(o)) out += c;
  s.dispose();
  return out;
}

describe('Trainer.sample', () => {
  it('leaves losses, checkpoints and exact resume bit for bit as they are, and samples the current weights', async () => {
    const N = 12;
    const off = await train(N, { sampling: false });
    const on = await train(N, { sampling: true });
    expect(on.losses).toEqual(off.losses);
    expectSameFiles(on.ck, off.ck);
    expect(on.samples.length).toBeGreaterThan(N);
    // The samples change as the weights do, and the last is Sampler's text from this checkpoint.
    expect(new Set(on.samples).size).toBeGreaterThan(1);
    expect(on.samples.at(-1)).toBe(await generate(on.ck, OPTS));

    const first = await train(5, { sampling: true });
    const rest = await train(N - 5, { sampling: true, from: first.ck });
    expect([...first.losses, ...rest.losses]).toEqual(off.losses);
    expectSameFiles(rest.ck, off.ck);
  });
});

describe('the slice loop (functions/training/loop.ts)', () => {
  async function slice(sample: WorkerInput['sample']) {
    const { model, train } = resolveConfig(CONFIG);
    const input: WorkerInput = {
      runId: 'r', text, model, train, limits: { steps: 17 }, checkpointSeconds: 3600, bestValLoss: null,
      // Every step reports, so both slices report the same steps whatever the timing.
      progressMs: 0,
      sample,
    };
    const messages: WorkerMessage[] = [];
    await runSlice(input, { postMessage: (m) => void messages.push(m), on: (_: 'message', _fn: (m: ServerMessage) => void) => undefined });
    const error = messages.find((m) => m.type === 'error');
    expect(error).toBeUndefined();
    const points = messages.flatMap((m) => (m.type === 'progress' ? [m.point] : []));
    const checkpoints = messages.flatMap((m) => (m.type === 'checkpoint' ? [m] : []));
    return { points, checkpoints };
  }
  const withoutSample = ({ time: _t, charsPerSec: _c, etaSeconds: _e, sample: _s, ...p }: ProgressPoint) => p;

  it('puts a sample on the point of every validation by default and changes nothing else', async () => {
    const off = await slice({ ...DEFAULT_TRAINING_SAMPLES, every: 0 });
    const on = await slice({ ...DEFAULT_TRAINING_SAMPLES, length: 40, prime: 'Ma' });
    expect(on.points.map(withoutSample)).toEqual(off.points.map(withoutSample));
    expect(on.checkpoints.map((c) => [c.step, c.valLoss])).toEqual(off.checkpoints.map((c) => [c.step, c.valLoss]));
    on.checkpoints.forEach((c, i) => expectSameFiles(c.files, off.checkpoints[i].files));
    expect(off.points.some((p) => p.sample)).toBe(false);

    // Validations at 5, 10, 15 and the slice's end (17): each carries the sample of its step.
    const validated = on.points.filter((p) => p.valLoss !== undefined);
    expect(validated.map((p) => p.step)).toEqual([5, 10, 15, 17]);
    expect(on.points.filter((p) => p.sample).map((p) => p.step)).toEqual([5, 10, 15, 17]);
    for (const p of validated) {
      expect(p.sample!.step).toBe(p.step);
      expect([...p.sample!.text]).toHaveLength(40);
    }
    // The last one is exactly what sampling the slice's last checkpoint gives with the run's settings.
    const last = on.checkpoints.at(-1)!;
    expect(last.step).toBe(17);
    const { seed, temperature } = DEFAULT_TRAINING_SAMPLES;
    expect(validated.at(-1)!.sample!.text).toBe(await generate(last.files, { length: 40, temperature, topK: 0, topP: 1, prime: 'Ma', seed }));
  });

  it('samples every N steps when sampleEvery says so', async () => {
    const { points } = await slice({ ...DEFAULT_TRAINING_SAMPLES, every: 3, length: 10 });
    expect(points.filter((p) => p.sample).map((p) => p.step)).toEqual([3, 6, 9, 12, 15]);
    expect(points.filter((p) => p.sample).every((p) => p.sample!.step === p.step)).toBe(true);
  });
});
