// Sampling options and the draw of each next character from the logits: plain arithmetic, no
// tfjs (the server validates options on a thread that never loads tfjs).
import type { Rng } from './rng.ts';
import { EngineInputError, type SampleOptions } from './types.ts';

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
