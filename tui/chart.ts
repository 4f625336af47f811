// Pure helpers that turn a loss history into what the charts draw.
import * as asciichart from 'asciichart';
import type { MetricPoint } from './api.ts';

export interface LossSeries {
  train: number[];
  val: number[];
  firstStep: number;
  lastStep: number;
}

/**
 * Resample train and validation loss onto at most `width` columns over the step axis (mean per
 * column). asciichart needs dense series, and validation is sparse: a column without an
 * evaluation repeats the last one, and columns before the first evaluation take the train value
 * there (plotLoss draws train over validation, so that stretch stays hidden).
 */
export function lossSeries(points: readonly MetricPoint[], width: number): LossSeries {
  const withLoss = points.filter((p) => finite(p.trainLoss) || finite(p.valLoss));
  if (withLoss.length === 0 || width < 2) return { train: [], val: [], firstStep: 0, lastStep: 0 };
  let firstStep = Infinity;
  let lastStep = -Infinity;
  for (const p of withLoss) {
    firstStep = Math.min(firstStep, p.step);
    lastStep = Math.max(lastStep, p.step);
  }
  const span = lastStep - firstStep;
  const columns = Math.max(1, Math.min(width, span + 1));
  const col = (step: number) => (span === 0 ? 0 : Math.min(columns - 1, Math.floor(((step - firstStep) / span) * (columns - 1) + 0.5)));
  const bucket = (pick: (p: MetricPoint) => number | undefined) => {
    const sum = new Array<number>(columns).fill(0);
    const count = new Array<number>(columns).fill(0);
    for (const p of withLoss) {
      const v = pick(p);
      if (!finite(v)) continue;
      const c = col(p.step);
      sum[c] += v;
      count[c] += 1;
    }
    return sum.map((s, i) => (count[i] ? s / count[i] : NaN));
  };
  const train = fillGaps(bucket((p) => p.trainLoss));
  const val = fillGaps(bucket((p) => p.valLoss), train);
  return { train, val, firstStep, lastStep };
}

/** Carry values forward over empty columns; before the first value use `lead` (or that value). */
function fillGaps(values: number[], lead: number[] = []): number[] {
  const first = values.findIndex((v) => !Number.isNaN(v));
  if (first < 0) return [];
  const out = values.slice();
  for (let i = 0; i < first; i++) out[i] = lead[i] ?? values[first];
  for (let i = first + 1; i < out.length; i++) if (Number.isNaN(out[i])) out[i] = out[i - 1];
  return out;
}

function finite(v: number | undefined): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/** The line chart's rows (asciichart), train in cyan and validation in yellow. */
export function plotLoss(series: LossSeries, height: number, colors = true): string[] {
  // Validation first so train is drawn over it where they coincide (before the first evaluation).
  const data = [series.val, series.train].filter((s) => s.length > 0);
  if (data.length === 0) return [];
  const all = data.flat();
  const min = Math.min(...all);
  const max = Math.max(...all);
  const rows = Math.max(1, height - 1);
  const palette = colors ? [asciichart.cyan, asciichart.yellow] : [undefined, undefined];
  const chart = asciichart.plot(data, {
    height: rows,
    // A flat line still needs a visible range.
    min: max - min < 1e-6 ? min - 0.05 : min,
    max: max - min < 1e-6 ? max + 0.05 : max,
    colors: series.val.length ? [palette[1], palette[0]] : [palette[0]],
    format: (x: number) => x.toFixed(2).padStart(7),
  });
  return chart.split('\n');
}

const BARS = '▁▂▃▄▅▆▇█';

/** A one-line trend of the last `width` values (min → ▁, max → █). */
export function sparkline(values: readonly number[], width: number): string {
  const v = values.filter((x) => Number.isFinite(x));
  if (v.length === 0 || width <= 0) return '';
  const tail = resample(v, width);
  const lo = Math.min(...tail);
  const hi = Math.max(...tail);
  return tail.map((x) => BARS[hi - lo < 1e-9 ? 3 : Math.round(((x - lo) / (hi - lo)) * (BARS.length - 1))]).join('');
}

/** Down-sample to at most n values by averaging equal slices (keeps the shape). */
export function resample(values: readonly number[], n: number): number[] {
  if (values.length <= n) return values.slice();
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const a = Math.floor((i * values.length) / n);
    const b = Math.max(a + 1, Math.floor(((i + 1) * values.length) / n));
    let s = 0;
    for (let j = a; j < b; j++) s += values[j];
    out.push(s / (b - a));
  }
  return out;
}
