// Many sampling streams of one checkpoint stepped together: one batched cell step per character for
// every active stream (state rows [n, H]), one read-back of the [n, V] logits, then each stream draws
// its next character with its own seeded RNG and temperature / top-k / top-p.
//
// A stream's text is exactly what TextSampler.generate gives for the same options: both run stepRows
// (step.ts), whose matmuls compute every row alike whatever the row count. Streams join
// with zero state and feed their prime one character per batched step, alongside the others; a
// stream that is done, cancelled or whose consumer stopped leaves at the next step.
import * as tf from '@tensorflow/tfjs';
import { initBackend } from './backend.ts';
import type { RnnState } from './model.ts';
import { Rng } from './rng.ts';
import { TextChannel } from './text-channel.ts';
import { pick } from './pick.ts';
import { disposeStepWeights, loadStepWeights, stepRows, type StepWeights } from './step.ts';
import { streamStart } from './text-sampler.ts';
import type { CheckpointFiles, ModelConfig, SampleOptions } from './types.ts';
import type { Vocab } from './vocab.ts';

/** Steps run back to back for at most about this long before the event loop gets a turn. */
const TURN_MS = 10;

/** One sampling stream: read its text with `for await`; leaving the loop early cancels it. */
export class SampleStream extends TextChannel {
  /** Batched steps this stream has taken part in (prime and generation). */
  steps = 0;
  /** Prime characters fed so far; generation starts once all are in. */
  private fed = 0;
  /** Characters still to draw. */
  private left: number;
  /** Input of the next generation step: the character drawn last. */
  private last = -1;
  private readonly rng: Rng;
  private readonly unlisten: () => void;

  constructor(
    private readonly opts: SampleOptions,
    /** Prime ids (the start character for an empty prime). */
    private readonly prime: number[],
  ) {
    super();
    this.rng = new Rng(opts.seed);
    this.left = opts.length;
    const onAbort = () => this.cancel();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    this.unlisten = () => opts.signal?.removeEventListener('abort', onAbort);
    if (opts.signal?.aborted || opts.length === 0) this.close('done');
  }

  /** @internal The id this stream feeds into the next step. */
  input(): number {
    return this.fed < this.prime.length ? this.prime[this.fed] : this.last;
  }

  /**
   * @internal After a step: draw from this row's logits once the prime is in (`chars` maps ids to
   * text). True when that was the stream's first character.
   */
  advance(logits: Float32Array, chars: readonly string[]): boolean {
    this.steps++;
    if (this.fed < this.prime.length && ++this.fed < this.prime.length) return false;
    const id = pick(logits, this.opts, this.rng);
    this.append(chars[id]);
    this.last = id;
    const first = this.left === this.opts.length;
    if (--this.left === 0) this.close('done');
    return first;
  }

  /** @internal */
  fail(err: unknown): void {
    this.close('failed', err);
  }

  protected override onClose(): void {
    this.unlisten();
  }
}

export class BatchSampler {
  /** Batched steps run, and the stream rows they covered (sum of batch sizes). */
  readonly stats = { steps: 0, rowSteps: 0 };
  /** Row r of `state` belongs to rows[r]. */
  private rows: SampleStream[] = [];
  private joining: SampleStream[] = [];
  private state: RnnState | null = null;
  private running = false;
  private disposed = false;
  /** Called after every turn of steps (and when the loop stops): streams' new text is ready to take. */
  onTurn: (() => void) | null = null;

  private constructor(
    private readonly w: StepWeights,
    readonly vocab: Vocab,
    /** Training step of the checkpoint. */
    readonly step: number,
  ) {}

  /** Load from checkpoint files (only model.json and weights.bin are read). */
  static async load(files: Pick<CheckpointFiles, 'model.json' | 'weights.bin'>): Promise<BatchSampler> {
    await initBackend();
    const m = loadStepWeights(files);
    return new BatchSampler(m.w, m.vocab, m.step);
  }

  get model(): ModelConfig {
    return { ...this.w.net.config };
  }

  /** Streams open (joining, priming or generating). */
  get active(): number {
    return this.rows.filter((s) => s.running).length + this.joining.filter((s) => s.running).length;
  }

  /**
   * Start a stream: `length` characters after feeding `prime`, the same text as
   * TextSampler.generate(opts). Bad options throw EngineInputError here; aborting `opts.signal` ends it.
   */
  open(opts: SampleOptions): SampleStream {
    if (this.disposed) throw new Error('BatchSampler is disposed');
    const prime = streamStart(this.vocab, opts);
    const stream = new SampleStream(opts, prime);
    if (stream.running) {
      this.joining.push(stream);
      if (!this.running) {
        this.running = true;
        void this.run();
      }
    }
    return stream;
  }

  /** Cancel every stream and free the weights (once the loop has stopped). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const s of [...this.rows, ...this.joining]) s.cancel();
    if (!this.running) this.free();
  }

  /** While any stream is open: steps back to back for up to TURN_MS, then a turn for the event loop. */
  private async run(): Promise<void> {
    try {
      await null; // return from open() first; streams opened in the same tick start together
      for (;;) {
        this.regroup();
        if (this.rows.length === 0 || this.disposed) break;
        const until = performance.now() + TURN_MS;
        let firstChars = false;
        do {
          // A stream's first character goes out at once: end the turn early for it.
          firstChars = this.stepOnce() || firstChars;
          this.regroup();
        } while (this.rows.length > 0 && !firstChars && performance.now() < until);
        this.onTurn?.();
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } catch (err) {
      for (const s of [...this.rows, ...this.joining]) s.fail(err);
      this.rows = [];
      this.joining = [];
      this.setState(null);
    } finally {
      this.running = false;
      this.onTurn?.();
      if (this.disposed) this.free();
    }
  }

  /** One batched step over all rows; true if a stream drew its first character. */
  private stepOnce(): boolean {
    const V = this.vocab.chars.length;
    const ids = Int32Array.from(this.rows, (s) => s.input());
    const out = stepRows(this.w, ids, this.state!);
    this.setState(out.state);
    const logits = out.logits.dataSync() as Float32Array;
    out.logits.dispose();
    this.stats.steps++;
    this.stats.rowSteps += this.rows.length;
    let firstChars = false;
    this.rows.forEach((s, r) => {
      firstChars = s.advance(logits.subarray(r * V, (r + 1) * V), this.vocab.chars) || firstChars;
    });
    return firstChars;
  }

  /** Drop the rows of streams that ended, append zero rows for streams that joined. */
  private regroup(): void {
    const keep = this.rows.flatMap((s, r) => (s.running ? [r] : []));
    const joined = this.joining.filter((s) => s.running);
    this.joining = [];
    if (keep.length === this.rows.length && joined.length === 0) return;
    const rows = [...keep.map((r) => this.rows[r]), ...joined];
    if (rows.length === 0) {
      this.rows = [];
      this.setState(null);
      return;
    }
    const old = this.state;
    const H = this.w.net.config.hidden;
    const regrouped = tf.tidy(() => {
      const idx = tf.tensor1d(keep, 'int32');
      const resize = (t: tf.Tensor2D) => {
        const kept = keep.length === this.rows.length ? t : tf.gather(t, idx);
        return joined.length ? tf.concat([kept, tf.zeros([joined.length, H])]) : kept;
      };
      return old && keep.length
        ? old.map((s) => (s.c ? { h: resize(s.h), c: resize(s.c) } : { h: resize(s.h) }))
        : this.w.net.zeroState(rows.length);
    }) as RnnState;
    this.rows = rows;
    this.setState(regrouped);
  }

  /** Replace the state, disposing the old tensors (unless carried over unchanged). */
  private setState(next: RnnState | null): void {
    const keep = new Set(next?.flatMap((s) => [s.h, s.c]));
    for (const s of this.state ?? []) for (const t of [s.h, s.c]) if (t && !keep.has(t)) t.dispose();
    this.state = next;
  }

  private free(): void {
    this.setState(null);
    disposeStepWeights(this.w);
  }
}
