// Text generation from a model's weights, one stream: one recurrent step per character with the
// state carried (the prime is fed once, never re-run), the step BatchSampler runs with one row
// (step.ts), the draw of pick.ts and the seeded Rng, and only the logits read back. Trainer.sample
// runs it between training steps, and the exported page (functions/export/page/page.ts) in a
// browser: no Node module here. The server samples through BatchSampler, which gives each stream
// this very text (tests load checkpoints into it on the engine's backend: test/engine/sampler.ts).
import { disposeState, type CharRnn, type RnnState } from './model.ts';
import { pick, softmax, validateSampleOptions } from './pick.ts';
import { Rng } from './rng.ts';
import { disposeStepWeights, loadStepWeights, prepareStepWeights, stepRows, type StepWeights } from './step.ts';
import { type CheckpointFiles, type ModelConfig, type SampleOptions } from './types.ts';
import { checkPrime, type Vocab } from './vocab.ts';

export class TextSampler {
  protected constructor(
    private readonly w: StepWeights,
    readonly vocab: Vocab,
    /** Training step of the weights. */
    readonly step: number,
    /** The model belongs to someone else (a trainer): dispose() leaves it alone. */
    private readonly borrowed = false,
  ) {}

  /** From checkpoint files (only model.json and weights.bin are read), on the active tfjs backend. */
  static fromModelFiles(files: Pick<CheckpointFiles, 'model.json' | 'weights.bin'>): TextSampler {
    const m = loadStepWeights(files);
    return new TextSampler(m.w, m.vocab, m.step);
  }

  /**
   * Sample a live model's current weights without copying them (a trainer's, between two steps).
   * Reads the weights and nothing else of the model; dispose() frees only what sampling made.
   */
  static borrow(net: CharRnn, vocab: Vocab, step: number): TextSampler {
    return new TextSampler(prepareStepWeights(net), vocab, step, true);
  }

  get model(): ModelConfig {
    return { ...this.w.net.config };
  }

  /**
   * Generate `length` characters after feeding `prime`. Yields text as it is produced (one
   * character per chunk). Same seed and options → same text.
   */
  async *generate(opts: SampleOptions): AsyncGenerator<string> {
    const prime = streamStart(this.vocab, opts);
    const rng = new Rng(opts.seed);
    let state = this.zeroState();
    let logits: Float32Array | null = null;
    try {
      for (let i = 0; i < prime.length; i++) {
        const last = i === prime.length - 1;
        const r = this.cellStep(prime[i], state, last);
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
        // Let timers, sockets and abort signals run during long generations (a page: paint).
        if (performance.now() - lastYield > 20) {
          await nextTurn();
          lastYield = performance.now();
        }
      }
    } finally {
      disposeState(state);
    }
  }

  /**
   * Next-character probabilities after feeding `text` from a zero state (temperature 1). For tests
   * and tools; generation uses the same step.
   */
  probabilities(text: string): Float64Array {
    const ids = primeIds(this.vocab, text);
    let state = this.zeroState();
    let logits: Float32Array | null = null;
    for (let i = 0; i < ids.length; i++) {
      const r = this.cellStep(ids[i], state, i === ids.length - 1);
      state = r.state;
      if (r.logits) logits = r.logits;
    }
    disposeState(state);
    return softmax(logits!, 1);
  }

  dispose(): void {
    disposeStepWeights(this.w, { keepNet: this.borrowed });
  }

  private zeroState(): RnnState {
    return this.w.net.zeroState(1);
  }

  /** One time step for one character; disposes the old state. Reads logits back only when asked. */
  private cellStep(id: number, state: RnnState, wantLogits: boolean): { state: RnnState; logits: Float32Array | null } {
    const out = stepRows(this.w, Int32Array.of(id), state);
    disposeState(state);
    const logits = wantLogits ? (out.logits.dataSync() as Float32Array) : null;
    out.logits.dispose();
    return { state: out.state, logits };
  }
}

/**
 * The ids a generation feeds before its first draw: the prime's, or for an empty prime a newline
 * (or a space, or the first character). A character outside the vocabulary is EngineInputError('prime').
 */
export function primeIds(vocab: Vocab, prime: string): number[] {
  checkPrime(vocab, prime);
  if (prime.length > 0) return Array.from(vocab.encode(prime, 'prime'));
  return [vocab.id(['\n', ' '].find((c) => vocab.has(c)) ?? vocab.chars[0])!];
}

/**
 * What every stream checks before its first step (here and in BatchSampler.open), in this order:
 * the prime's characters, then the options. Returns the ids fed before the first draw.
 */
export function streamStart(vocab: Vocab, opts: SampleOptions): number[] {
  const prime = primeIds(vocab, opts.prime);
  validateSampleOptions(opts);
  return prime;
}

/** A turn for timers, sockets and abort signals (Node), or for painting (a browser has no setImmediate). */
export function nextTurn(): Promise<void> {
  return new Promise<void>((resolve) => (typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0)));
}
