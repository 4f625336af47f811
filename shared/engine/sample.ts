// Text generation from a checkpoint: one recurrent step per character with the state carried (the
// prime is fed once, never re-run), the step BatchSampler runs with one row, and only the logits
// read back.
import { initBackend } from './backend.ts';
import { readModelFiles } from './checkpoint.ts';
import { CharRnn, type RnnState } from './model.ts';
import { pick, softmax, validateSampleOptions } from './pick.ts';
import { Rng } from './rng.ts';
import { disposeStepWeights, prepareStepWeights, stepRows, type StepWeights } from './step.ts';
import { EngineInputError, type CheckpointFiles, type ModelConfig, type SampleOptions } from './types.ts';
import { Vocab, formatChars } from './vocab.ts';

export class Sampler {
  private readonly w: StepWeights;

  private constructor(
    net: CharRnn,
    readonly vocab: Vocab,
    /** Training step of the checkpoint. */
    readonly step: number,
  ) {
    this.w = prepareStepWeights(net);
  }

  /** Load from checkpoint files (only model.json and weights.bin are read). */
  static async load(files: Pick<CheckpointFiles, 'model.json' | 'weights.bin'>): Promise<Sampler> {
    await initBackend();
    const m = readModelFiles(files);
    return new Sampler(new CharRnn(m.model, m.vocab.length, m.weights), new Vocab(m.vocab), m.step);
  }

  get model(): ModelConfig {
    return { ...this.w.net.config };
  }

  /**
   * Generate `length` characters after feeding `prime`. Yields text as it is produced (one
   * character per chunk). Same seed and options → same text.
   */
  async *generate(opts: SampleOptions): AsyncGenerator<string> {
    const missing = this.vocab.missing(opts.prime);
    if (missing.length) {
      throw new EngineInputError(`prime has character(s) outside the model's vocabulary: ${formatChars(missing)}`, 'prime');
    }
    validateSampleOptions(opts);
    const rng = new Rng(opts.seed);
    const prime = opts.prime.length > 0 ? [...opts.prime] : [this.startChar()];
    let state = this.zeroState();
    let logits: Float32Array | null = null;
    try {
      for (let i = 0; i < prime.length; i++) {
        const last = i === prime.length - 1;
        const r = this.cellStep(this.vocab.id(prime[i])!, state, last);
        state = r.state;
        if (last) logits = r.logits;
      }
      let lastYield = performance.now();
      for (let n = 0; n < opts.length; n++) {
        if (opts.signal?.aborted) return;
        const id = pick(logits!, opts, rng);
        yield this.vocab.chars[id];
        if (n === opts.length - 1) break;
        const r = this.cellStep(id, state, true);
        state = r.state;
        logits = r.logits;
        // Let timers, sockets and abort signals run during long generations.
        if (performance.now() - lastYield > 20) {
          await new Promise<void>((resolve) => setImmediate(resolve));
          lastYield = performance.now();
        }
      }
    } finally {
      disposeCell(state);
    }
  }

  /**
   * Next-character probabilities after feeding `text` from a zero state (temperature 1). For tests
   * and tools; generation uses the same step.
   */
  probabilities(text: string): Float64Array {
    const ids = this.vocab.encode(text.length > 0 ? text : this.startChar(), 'prime');
    let state = this.zeroState();
    let logits: Float32Array | null = null;
    for (let i = 0; i < ids.length; i++) {
      const r = this.cellStep(ids[i], state, i === ids.length - 1);
      state = r.state;
      if (r.logits) logits = r.logits;
    }
    disposeCell(state);
    return softmax(logits!, 1);
  }

  /** What an empty prime starts from: a newline (or a space, or the first character). */
  private startChar(): string {
    return ['\n', ' '].find((c) => this.vocab.has(c)) ?? this.vocab.chars[0];
  }

  dispose(): void {
    disposeStepWeights(this.w);
  }

  private zeroState(): RnnState {
    return this.w.net.zeroState(1);
  }

  /** One time step for one character; disposes the old state. Reads logits back only when asked. */
  private cellStep(id: number, state: RnnState, wantLogits: boolean): { state: RnnState; logits: Float32Array | null } {
    const out = stepRows(this.w, Int32Array.of(id), state);
    disposeCell(state);
    const logits = wantLogits ? (out.logits.dataSync() as Float32Array) : null;
    out.logits.dispose();
    return { state: out.state, logits };
  }
}

function disposeCell(state: RnnState): void {
  for (const s of state) {
    s.h.dispose();
    s.c?.dispose();
  }
}
