// Shared imports for the engine tests.
export * from '../../shared/engine/index.ts';
import type { RunConfigInput } from '../../shared/api/schemas.ts';
export type RunConfigInputLike = RunConfigInput;

import { loadBuiltinCorpus, resolveConfig, Trainer, type CheckpointFiles } from '../../shared/engine/index.ts';

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
