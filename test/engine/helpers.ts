// Shared imports for the engine tests.
export * from '../../shared/engine/index.ts';
export { Sampler } from './sampler.ts';
import type { RunConfigInput } from '../../shared/api/schemas.ts';
export type RunConfigInputLike = RunConfigInput;

import { loadBuiltinCorpus, resolveConfig, Trainer, type CheckpointFiles, type TrainEvent } from '../../shared/engine/index.ts';

/** A checkpoint of a small model trained `steps` steps on the names corpus (sampling tests). */
export async function trainedOnNames(cfg: RunConfigInput, steps: number): Promise<CheckpointFiles> {
  const t = await Trainer.create({
    text: loadBuiltinCorpus('names'),
    ...resolveConfig({ batchSize: 16, seqLen: 32, lr: 0.01, evalEvery: 10_000, evalChars: 200, ...cfg }),
  });
  for await (const e of t.run({ steps })) void e;
  const ck = await t.checkpoint();
  t.dispose();
  return ck;
}

/** Every event of a run. */
export async function collect(gen: AsyncGenerator<TrainEvent>): Promise<TrainEvent[]> {
  const out: TrainEvent[] = [];
  for await (const e of gen) out.push(e);
  return out;
}

/** The train losses of a run's step events. */
export const losses = (ev: TrainEvent[]): number[] => ev.flatMap((e) => (e.type === 'step' ? [e.trainLoss] : []));

/** The largest difference between a and b, relative to b's largest magnitude. */
export function maxRelDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} and ${b.length}`);
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return d / (m || 1);
}
