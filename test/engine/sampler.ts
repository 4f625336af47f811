// The single-stream reference of the sampling tests and the bench: TextSampler (the engine's one
// stream, which Trainer.sample and the exported page run) loaded from checkpoint files on the
// engine's backend. BatchSampler and the sampling pool must give its text for the same options.
import { initBackend } from '../../shared/engine/backend.ts';
import { TextSampler } from '../../shared/engine/text-sampler.ts';
import type { CheckpointFiles } from '../../shared/engine/types.ts';

export class Sampler extends TextSampler {
  /** Load from checkpoint files (only model.json and weights.bin are read). */
  static async load(files: Pick<CheckpointFiles, 'model.json' | 'weights.bin'>): Promise<Sampler> {
    await initBackend();
    return TextSampler.fromModelFiles(files);
  }
}
