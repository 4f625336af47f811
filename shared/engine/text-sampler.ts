// Text generation from a model's weights: one recurrent step per character with the state carried
// (the prime is fed once, never re-run), the step BatchSampler runs with one row (step.ts), the draw
// of pick.ts and the seeded Rng, and only the logits read back. No Node module here: the exported
// page (functions/export/page/page.ts) runs this very code in a browser. sample.ts adds loading a checkpoint on the
// engine's backend.
import { readModelFiles } from './checkpoint.ts';
import { CharRnn, type RnnState } from './model.ts';
import { pick, softmax, validateSampleOptions } from './pick.ts';
import { Rng } from './rng.ts';
import { disposeStepWeights, prepareStepWeights, stepRows, type StepWeights } from './step.ts';
import { type CheckpointFiles, type ModelConfig, type SampleOptions } from './types.ts';
import { checkPrime, Vocab } from './vocab.ts';

export class TextSampler {
  private readonly w: StepWeights;

  protected constructor(
    net: CharRnn,
    readonly vocab: Vocab,
    /** Training step of the weights. */
    readonly step: number,
    /** The model belongs to someone else (a trainer): dispose() leaves it alone. */
    private readonly borrowed = false,
  ) {
    this.w = prepareStepWeights(net);
  }

  /** From checkpoint files (only model.json and weights.bin are read), on the active tfjs backend. */
  static fromModelFiles(files: Pick<CheckpointFiles, 'model.json' | 'weights.bin'>): TextSampler {
    const m = readModelFiles(files);
    return new TextSampler(new CharRnn(m.model, m.vocab.length, m.weights), new Vocab(m.vocab), m.step);
  }

  /**
   * Sample a live model's current weights without copying them (a trainer's, between two steps).
   * Reads the weights and nothing else of the model; dispose() frees only what sampling made.
   */
  static borrow(net: CharRnn, vocab: Vocab, step: number): TextSampler {
    return new TextSampler(net, vocab, step, true);
  }

  get model(): ModelConfig {
    return { ...this.w.net.config };
  }

  /**
   * Generate `length` characters after feeding `prime`. Yields text as it is produced (one
   * character per chunk). Same seed and options → same text.
   */
  async *generate(opts: SampleOptions): AsyncGenerator<string> {
    const prime = primeIds(this.vocab, opts.prime);
    validateSampleOptions(opts);
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
      disposeCell(state);
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
    disposeCell(state);
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
    disposeCell(state);
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

/** A turn for timers, sockets and abort signals (Node), or for painting (a browser has no setImmediate). */
export function nextTurn(): Promise<void> {
  return new Promise<void>((resolve) => (typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0)));
}

function disposeCell(state: RnnState): void {
  for (const s of state) {
    s.h.dispose();
    s.c?.dispose();
  }
}
