// The size presets and the rule behind `auto`, once: the API's enum (shared/api/schemas.ts), the
// engine's defaults (shared/engine/config.ts), the TUI's choices and `npm run quality` read this
// module. No imports (no tfjs, no zod).

/** The fixed sizes, smallest first. */
export const SIZES = ['tiny', 'small', 'medium', 'large'] as const;
export type Size = (typeof SIZES)[number];
/** What a run may ask for: a fixed size, or `auto` (autoSize below picks one for the corpus and budget). */
export const PRESETS = ['auto', ...SIZES] as const;
export type Preset = (typeof PRESETS)[number];

export const PRESET_SHAPES: Record<Size, { layers: number; hidden: number }> = {
  tiny: { layers: 1, hidden: 64 },
  small: { layers: 1, hidden: 128 },
  medium: { layers: 2, hidden: 256 },
  large: { layers: 2, hidden: 512 },
};

export const DEFAULT_PRESET: Preset = 'auto';

/** What one preset means: "2 layers × 512 units", or how auto chooses. */
export function describePreset(preset: Preset): string {
  if (preset === 'auto') return 'sized for the corpus and budget';
  const { layers, hidden } = PRESET_SHAPES[preset];
  return `${layers} layer${layers === 1 ? '' : 's'} × ${hidden} units`;
}

/** "auto (sized for …), tiny 1×64, small 1×128, …" (layers × hidden), for descriptions and help. */
export function describePresets(separator = ', '): string {
  return [`auto (${describePreset('auto')})`, ...SIZES.map((p) => `${p} ${PRESET_SHAPES[p].layers}×${PRESET_SHAPES[p].hidden}`)].join(separator);
}

/**
 * Training FLOPs per character of an LSTM (6 × the matmul weights: forward, and the two products of
 * the backward pass; the one-hot input counted as a dense product, as ref_torch.py counts it).
 */
export function trainFlopsPerChar(layers: number, hidden: number, vocabSize: number): number {
  let weights = hidden * vocabSize;
  for (let l = 0; l < layers; l++) weights += 4 * hidden * ((l === 0 ? vocabSize : hidden) + hidden);
  return 6 * weights;
}

/** Trainable parameters of a model over a vocabulary of `vocabSize` characters. */
export function countParams(model: { cell: 'lstm' | 'gru'; layers: number; hidden: number; embedding: number | null; dropout?: number }, vocabSize: number): number {
  const gates = model.cell === 'lstm' ? 4 : 3;
  const H = model.hidden;
  let n = 0;
  let inDim = vocabSize;
  if (model.embedding) {
    n += vocabSize * model.embedding;
    inDim = model.embedding;
  }
  for (let l = 0; l < model.layers; l++) {
    n += gates * H * (inDim + H + 1);
    inDim = H;
  }
  return n + H * vocabSize + vocabSize;
}

// The auto rule's constants, from the sweep in BENCHMARKS.md ("Quality per CPU-minute").
/** Training throughput the rule plans with: what 2-layer models with dropout reach at the default B 32, T 64 on the 2-core CPU (171–185 effective GFLOP/s). */
export const AUTO_PLAN_GFLOPS = 180;
/** The budget assumed when none is given (a run is usually trained and watched for minutes, not hours). */
export const AUTO_DEFAULT_SECONDS = 600;
/**
 * A shape must see at least this many training characters per parameter in the budget: at 10 minutes
 * on tinyshakespeare 2×384 (5.1 per parameter, val 1.469) beat 2×512 (1.6 per parameter, val 1.492).
 */
export const AUTO_MIN_CHARS_PER_PARAM = 4;
/** …and have at most this many parameters per corpus character (char-rnn: the same order of magnitude). */
export const AUTO_MAX_PARAMS_PER_CHAR = 10;
/** Dropout once the budget passes the training split this many times (train loss falls below val). */
export const AUTO_DROPOUT_EPOCHS = 3;
export const AUTO_DROPOUT = 0.25;
/**
 * Twice that once epochs × parameters per training character pass this: with 0.25, 2×384 at 9
 * epochs (18) still improved, 2×512 at 10 epochs (33) stalled at val 1.49 while train fell to 1.18.
 */
export const AUTO_HEAVY_DROPOUT_EXPOSURE = 25;
export const AUTO_HEAVY_DROPOUT = 0.5;
/**
 * Past this many training characters per parameter val rises even with dropout 0.5: 2×512 on
 * tinyshakespeare read its lowest val at 3.6–5.3 (20–30 min, 1.455) and 1.484 / 1.524 at 7.0 / 10.7
 * (40 / 60 min). A budget beyond it on the largest shape is more than the shape can use: the line
 * says when, and the run's `best` checkpoint keeps the low point. Measured for that shape only, so
 * only said for it (smaller shapes are chosen when a bigger one would not get enough characters).
 */
export const AUTO_USEFUL_CHARS_PER_PARAM = 5;

/** The shapes `auto` chooses from, smallest first: the presets' and, between medium and large, the sweep's 10-minute winner. */
export const AUTO_SHAPES: readonly { layers: number; hidden: number }[] = [
  PRESET_SHAPES.tiny,
  PRESET_SHAPES.small,
  PRESET_SHAPES.medium,
  { layers: 2, hidden: 384 },
  PRESET_SHAPES.large,
];

export interface AutoSize {
  layers: number;
  hidden: number;
  dropout: number;
  /** One line: what was chosen and why. */
  reason: string;
}

/**
 * `auto`: the largest shape that the budget trains on enough characters per parameter and the
 * corpus does not dwarf, with dropout when the budget runs many epochs over the corpus.
 */
export function autoSize(o: {
  corpusChars: number;
  vocabSize?: number;
  budgetSeconds?: number;
  /** A server's limits: a shape over them is never chosen. */
  limits?: { maxLayers: number; maxHidden: number; maxParams: number };
}): AutoSize {
  const V = o.vocabSize ?? 65;
  const seconds = o.budgetSeconds ?? AUTO_DEFAULT_SECONDS;
  const plans = AUTO_SHAPES.map(({ layers, hidden }) => ({
    layers,
    hidden,
    params: countParams({ cell: 'lstm', layers, hidden, embedding: null }, V),
    chars: (AUTO_PLAN_GFLOPS * 1e9 * seconds) / trainFlopsPerChar(layers, hidden, V),
  }));
  const allowed = (p: (typeof plans)[number]) =>
    !o.limits || (p.layers <= o.limits.maxLayers && p.hidden <= o.limits.maxHidden && p.params <= o.limits.maxParams);
  const fits = (p: (typeof plans)[number]) =>
    allowed(p) && p.chars >= AUTO_MIN_CHARS_PER_PARAM * p.params && p.params <= AUTO_MAX_PARAMS_PER_CHAR * o.corpusChars;
  const pick = [...plans].reverse().find(fits) ?? plans[0];
  const trainChars = Math.max(1, 0.9 * o.corpusChars);
  const epochs = pick.chars / trainChars;
  const exposure = (epochs * pick.params) / trainChars;
  const dropout = pick.layers < 2 || epochs < AUTO_DROPOUT_EPOCHS ? 0 : exposure >= AUTO_HEAVY_DROPOUT_EXPOSURE ? AUTO_HEAVY_DROPOUT : AUTO_DROPOUT;
  const name = SIZES.find((s) => PRESET_SHAPES[s].layers === pick.layers && PRESET_SHAPES[s].hidden === pick.hidden);
  const budget = o.budgetSeconds === undefined ? `${seconds / 60} min assumed` : `${+(seconds / 60).toFixed(1)} min`;
  const reason =
    `${name ? `${name} ` : ''}${pick.layers}×${pick.hidden}${dropout ? `, dropout ${dropout}` : ''}: ${fmt(o.corpusChars)} chars, ${budget} ≈ ` +
    `${fmt(pick.chars)} training chars (${epochs.toFixed(1)} epochs) for ${fmt(pick.params)} params` +
    (pick === plans[plans.length - 1] && pick.chars > AUTO_USEFUL_CHARS_PER_PARAM * pick.params
      ? `; overfits after ≈ ${+((seconds * AUTO_USEFUL_CHARS_PER_PARAM * pick.params) / pick.chars / 60).toPrecision(2)} min (sample from best)`
      : '');
  return { layers: pick.layers, hidden: pick.hidden, dropout, reason };
}

const fmt = (n: number) => (n >= 1e6 ? `${+(n / 1e6).toFixed(1)}M` : n >= 1e3 ? `${Math.round(n / 1e3)}k` : String(Math.round(n)));
