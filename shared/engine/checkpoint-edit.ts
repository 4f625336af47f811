// Edits of checkpoint files that need no tfjs: growing the vocabulary (a corpus gained characters)
// and renumbering the step (a retrain that branches from `best` continues the run's step count).
import { readCheckpoint, weightSpecs, writeCheckpoint } from './checkpoint.ts';
import { Rng } from './rng.ts';
import { EngineInputError, type CheckpointFiles } from './types.ts';
import { formatChars } from './vocab.ts';

export interface ExtendVocabOptions {
  /** New weights are drawn from U(-scale, scale) (default 0.01: small next to the trained ones). */
  scale?: number;
  seed?: number;
}

/**
 * The checkpoint with `added` characters appended to its vocabulary (old ids keep their meaning).
 * Per new character: a small random input row (the one-hot kernel of layer 0, or the embedding),
 * a small random head column, and a head bias equal to the smallest old bias (as unlikely as the
 * rarest known character). Adam's slots grow with zeros; the carried state is unchanged. Old
 * characters' logits are therefore exactly what they were, for any input made of old characters.
 */
export function extendVocab(files: CheckpointFiles, added: readonly string[], opts: ExtendVocabOptions = {}): CheckpointFiles {
  const c = readCheckpoint(files);
  const { state } = c;
  const known = new Set(state.vocab);
  const fresh: string[] = [];
  for (const ch of added) {
    if ([...ch].length !== 1) throw new EngineInputError(`vocabulary entries are single characters, got ${JSON.stringify(ch)}`, 'corpus');
    if (known.has(ch)) throw new EngineInputError(`${formatChars([ch])} is already in the vocabulary`, 'corpus');
    known.add(ch);
    fresh.push(ch);
  }
  if (fresh.length === 0) return files;

  const V = state.vocab.length;
  const n = fresh.length;
  const specs = weightSpecs(state.model, V);
  const rng = new Rng(opts.seed ?? state.train.seed ^ 0x70c4b);
  const scale = opts.scale ?? 0.01;
  const small = (k: number) => rng.uniform(k, scale);
  const headBias = c.weights[specs.length - 1];
  const minBias = headBias.reduce((a, b) => Math.min(a, b), Infinity);

  // How each variable grows: extra input rows, extra head columns, extra bias entries, or not at all.
  const growth = specs.map((spec, i) => {
    if (spec.name === 'embedding/embeddings' || (spec.name === 'rnn_0/kernel' && !state.model.embedding)) return 'rows' as const;
    if (spec.name === 'head/kernel') return 'cols' as const;
    if (i === specs.length - 1) return 'bias' as const;
    return 'none' as const;
  });
  const grow = (a: Float32Array, i: number, fill: (k: number) => Float32Array, biasFill: (k: number) => Float32Array): Float32Array => {
    const shape = specs[i].shape;
    switch (growth[i]) {
      case 'rows':
        return concat(a, fill(n * shape[1]));
      case 'cols':
        return addColumns(a, shape[0], shape[1], n, fill);
      case 'bias':
        return concat(a, biasFill(n));
      case 'none':
        return a;
    }
  };
  const zeros = (k: number) => new Float32Array(k);
  const weights = c.weights.map((w, i) => grow(w, i, small, (k) => new Float32Array(k).fill(Number.isFinite(minBias) ? minBias : 0)));
  // Slots are groups (m, v[, vMax]) of one array per variable, in variables() order.
  const optimizerSlots = c.optimizerSlots.map((slot, j) => grow(slot, j % specs.length, zeros, zeros));

  return writeCheckpoint({
    state: { ...state, vocab: [...state.vocab, ...fresh] },
    weights,
    optimizerSlots,
    carry: c.carry,
  });
}

/** The checkpoint relabelled as step `step` (weights, optimizer and data position unchanged). */
export function renumberCheckpoint(files: CheckpointFiles, step: number): CheckpointFiles {
  if (!Number.isSafeInteger(step) || step < 0) throw new EngineInputError(`step must be a non-negative integer, got ${step}`, 'checkpoint');
  const c = readCheckpoint(files);
  const lossTail = c.state.lossTail.filter((p) => p.step <= step);
  return writeCheckpoint({ ...c, state: { ...c.state, step, lossTail, valStep: c.state.valStep === c.state.step ? step : c.state.valStep } });
}

function concat(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** [rows, cols] row-major → [rows, cols + extra], the new columns from `fill`. */
function addColumns(a: Float32Array, rows: number, cols: number, extra: number, fill: (k: number) => Float32Array): Float32Array {
  const out = new Float32Array(rows * (cols + extra));
  const add = fill(rows * extra);
  for (let r = 0; r < rows; r++) {
    out.set(a.subarray(r * cols, (r + 1) * cols), r * (cols + extra));
    out.set(add.subarray(r * extra, (r + 1) * extra), r * (cols + extra) + cols);
  }
  return out;
}
