// Sampler: TextSampler (text-sampler.ts, which a browser runs too) loaded from checkpoint files on
// the engine's backend.
import { initBackend } from './backend.ts';
import { TextSampler } from './text-sampler.ts';
import type { CheckpointFiles } from './types.ts';

export class Sampler extends TextSampler {
  /** Load from checkpoint files (only model.json and weights.bin are read). */
  static async load(files: Pick<CheckpointFiles, 'model.json' | 'weights.bin'>): Promise<Sampler> {
    await initBackend();
    return TextSampler.fromModelFiles(files);
  }
}
