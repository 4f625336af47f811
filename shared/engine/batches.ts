// char-rnn truncated BPTT batches. The training ids are cut into B contiguous streams; window w
// of an epoch holds characters [w·T, (w+1)·T) of every stream, so window w+1 continues exactly
// where window w stopped and the hidden state carries across windows. The state resets at w = 0.
// Layout is time-major: element t·B + b is time step t of stream b (what the model consumes).
import type { Ids } from './vocab.ts';
import { EngineInputError } from './types.ts';

export interface Window {
  /** Inputs, time-major [T·B]. */
  x: Int32Array;
  /** Targets: the next character of every input, same layout. */
  y: Int32Array;
  /** Time steps in this window. */
  T: number;
  /** Streams (batch rows). */
  B: number;
}

/** Throws a clear EngineInputError unless the training split holds at least one batch (B·T+1 chars). */
export function checkCorpusFits(trainChars: number, batchSize: number, seqLen: number): void {
  const need = batchSize * seqLen + 1;
  if (trainChars < need) {
    throw new EngineInputError(
      `corpus is too short: its training split (90%) has ${trainChars} characters but one batch needs ` +
        `batchSize × seqLen + 1 = ${need}; lower batchSize or seqLen, or provide more text`,
      'corpus',
    );
  }
}

export class TrainBatches {
  /** Characters per stream. */
  readonly streamLen: number;
  /** Windows (= steps) per epoch. */
  readonly windowsPerEpoch: number;

  constructor(
    private readonly ids: Ids,
    readonly B: number,
    readonly T: number,
  ) {
    checkCorpusFits(ids.length, B, T);
    // Streams share no characters; the last target of stream b is the first input of stream b+1.
    this.streamLen = Math.floor((ids.length - 1) / B);
    this.windowsPerEpoch = Math.floor(this.streamLen / T);
  }

  /** Window `w` (0 ≤ w < windowsPerEpoch) of every epoch. */
  window(w: number): Window {
    const { B, T, ids, streamLen } = this;
    if (!(w >= 0 && w < this.windowsPerEpoch)) throw new RangeError(`window ${w} out of range`);
    const x = new Int32Array(T * B);
    const y = new Int32Array(T * B);
    for (let b = 0; b < B; b++) {
      const start = b * streamLen + w * T;
      for (let t = 0; t < T; t++) {
        x[t * B + b] = ids[start + t];
        y[t * B + b] = ids[start + t + 1];
      }
    }
    return { x, y, T, B };
  }
}

/**
 * Windows covering (up to `maxChars` targets of) a validation split, stateful like training:
 * min(B, chars) contiguous streams read in order, the last window possibly shorter than T.
 */
export function evalWindows(ids: Ids, B: number, T: number, maxChars: number): Window[] {
  let n = ids.length;
  if (maxChars > 0) n = Math.min(n, maxChars + 1);
  const targets = n - 1;
  if (targets < 1) return [];
  const streams = Math.max(1, Math.min(B, Math.floor(targets / T) || targets));
  const streamLen = Math.floor(targets / streams);
  const out: Window[] = [];
  for (let s0 = 0; s0 < streamLen; s0 += T) {
    const Tw = Math.min(T, streamLen - s0);
    const x = new Int32Array(Tw * streams);
    const y = new Int32Array(Tw * streams);
    for (let b = 0; b < streams; b++) {
      const start = b * streamLen + s0;
      for (let t = 0; t < Tw; t++) {
        x[t * streams + b] = ids[start + t];
        y[t * streams + b] = ids[start + t + 1];
      }
    }
    out.push({ x, y, T: Tw, B: streams });
  }
  return out;
}
