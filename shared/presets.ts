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

/** "tiny 1×64, small 1×128, …" (layers × hidden), for descriptions and hints. */
export function describePresets(separator = ', '): string {
  return ['auto (chosen from the corpus and time budget)', ...SIZES.map((p) => `${p} ${PRESET_SHAPES[p].layers}×${PRESET_SHAPES[p].hidden}`)].join(separator);
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
/** Training throughput the rule plans with: the 2-core CPU's measured ~256 effective GFLOP/s at every size. */
export const AUTO_PLAN_GFLOPS = 250;
/** The budget assumed when none is given (a run is usually trained and watched for minutes, not hours). */
export const AUTO_DEFAULT_SECONDS = 600;
/** A size must see at least this many training characters per parameter in the budget. */
export const AUTO_MIN_CHARS_PER_PARAM = 2;
/** …and have at most this many parameters per corpus character (char-rnn: the same order of magnitude). */
export const AUTO_MAX_PARAMS_PER_CHAR = 10;
/** Dropout once the budget passes the training split this many times (train loss falls below val). */
export const AUTO_DROPOUT_EPOCHS = 3;
export const AUTO_DROPOUT = 0.25;

export interface AutoSize {
  size: Size;
  dropout: number;
  /** One line: what was chosen and why. */
  reason: string;
}

/**
 * `auto`: the largest size that the budget trains on enough characters per parameter and the corpus
 * does not dwarf, with dropout when the budget runs many epochs over the corpus.
 */
export function autoSize(o: {
  corpusChars: number;
  vocabSize?: number;
  budgetSeconds?: number;
  /** A server's limits: a size over them is never chosen. */
  limits?: { maxLayers: number; maxHidden: number; maxParams: number };
}): AutoSize {
  const V = o.vocabSize ?? 65;
  const seconds = o.budgetSeconds ?? AUTO_DEFAULT_SECONDS;
  const plan = (size: Size) => {
    const { layers, hidden } = PRESET_SHAPES[size];
    const params = countParams({ cell: 'lstm', layers, hidden, embedding: null }, V);
    const chars = (AUTO_PLAN_GFLOPS * 1e9 * seconds) / trainFlopsPerChar(layers, hidden, V);
    return { size, params, chars };
  };
  const allowed = (p: ReturnType<typeof plan>) => {
    const { layers, hidden } = PRESET_SHAPES[p.size];
    return !o.limits || (layers <= o.limits.maxLayers && hidden <= o.limits.maxHidden && p.params <= o.limits.maxParams);
  };
  const fits = (p: ReturnType<typeof plan>) =>
    allowed(p) && p.chars >= AUTO_MIN_CHARS_PER_PARAM * p.params && p.params <= AUTO_MAX_PARAMS_PER_CHAR * o.corpusChars;
  const pick = [...SIZES].reverse().map(plan).find(fits) ?? plan('tiny');
  const epochs = pick.chars / Math.max(1, 0.9 * o.corpusChars);
  const dropout = epochs >= AUTO_DROPOUT_EPOCHS && PRESET_SHAPES[pick.size].layers > 1 ? AUTO_DROPOUT : 0;
  const { layers, hidden } = PRESET_SHAPES[pick.size];
  const budget = o.budgetSeconds === undefined ? `${seconds / 60} min assumed` : `${+(seconds / 60).toFixed(1)} min`;
  const reason =
    `${pick.size} ${layers}×${hidden}${dropout ? `, dropout ${dropout}` : ''}: ${fmt(o.corpusChars)} chars, ${budget} ≈ ` +
    `${fmt(pick.chars)} training chars (${epochs.toFixed(1)} epochs) for ${fmt(pick.params)} params`;
  return { size: pick.size, dropout, reason };
}

const fmt = (n: number) => (n >= 1e6 ? `${+(n / 1e6).toFixed(1)}M` : n >= 1e3 ? `${Math.round(n / 1e3)}k` : String(Math.round(n)));
