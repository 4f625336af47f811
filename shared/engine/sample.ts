// Text generation from a checkpoint: one recurrent step per character with the state carried (the
// prime is fed once, never re-run), the step BatchSampler runs with one row, and only the logits
// read back.
import { initBackend } from './backend.ts';
import { readModelFiles } from './checkpoint.ts';
import { CharRnn, type RnnState } from './model.ts';
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

export function validateSampleOptions(o: SampleOptions): void {
  if (!(Number.isInteger(o.length) && o.length >= 0)) throw new EngineInputError('length must be a non-negative integer', 'length');
  if (!(o.temperature >= 0)) throw new EngineInputError('temperature must be ≥ 0', 'temperature');
  if (!(Number.isInteger(o.topK) && o.topK >= 0)) throw new EngineInputError('topK must be a non-negative integer', 'topK');
  if (!(o.topP > 0 && o.topP <= 1)) throw new EngineInputError('topP must be in (0, 1]', 'topP');
}

/** softmax(logits / temperature) in float64. */
export function softmax(logits: ArrayLike<number>, temperature: number): Float64Array {
  const p = new Float64Array(logits.length);
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += p[i] = Math.exp((logits[i] - max) / temperature);
  for (let i = 0; i < p.length; i++) p[i] /= sum;
  return p;
}

/** Choose the next id: argmax at temperature 0, else sample from the top-k / top-p truncated softmax. */
export function pick(logits: ArrayLike<number>, o: Pick<SampleOptions, 'temperature' | 'topK' | 'topP'>, rng: Rng): number {
  if (o.temperature === 0) {
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
    return best;
  }
  const p = softmax(logits, o.temperature);
  // Nothing truncated is the common case, run per character: draw over all ids without a list.
  if (!((o.topK > 0 && o.topK < p.length) || o.topP < 1)) return draw(p, null, rng);
  let ids = Array.from(p.keys());
  ids.sort((a, b) => p[b] - p[a] || a - b);
  if (o.topK > 0) ids = ids.slice(0, o.topK);
  if (o.topP < 1) {
    let cum = 0;
    let keep = 0;
    const kept = ids.reduce((a, i) => a + p[i], 0);
    while (keep < ids.length && cum < o.topP * kept) cum += p[ids[keep++]];
    ids = ids.slice(0, Math.max(1, keep));
  }
  return draw(p, ids, rng);
}

/** One id drawn from p restricted to `ids` (every id, in order, when null), in proportion to p. */
function draw(p: Float64Array, ids: number[] | null, rng: Rng): number {
  const n = ids ? ids.length : p.length;
  let total = 0;
  for (let j = 0; j < n; j++) total += p[ids ? ids[j] : j];
  let u = rng.next() * total;
  for (let j = 0; j < n; j++) {
    const i = ids ? ids[j] : j;
    u -= p[i];
    if (u < 0) return i;
  }
  return ids ? ids[n - 1] : n - 1;
}
