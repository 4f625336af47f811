// Short human formats for numbers the screens show, and text wrapped to terminal cells.
import stringWidth from 'string-width';
import type { Run } from './api.ts';

export const fmtLoss = (v: number | null | undefined): string => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(3) : '—');

export function fmtDuration(seconds: number | null | undefined): string {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) return '—';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function fmtRate(v: number | null | undefined): string {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '—';
  if (v >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
  return v.toFixed(0);
}

export const fmtSize = (run: Run): string => `${run.model.layers}×${run.model.hidden}`;

export function fmtParams(n: number | undefined): string {
  if (!n) return '';
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M params`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(0)}k params`;
  return `${n} params`;
}

/** Fit text to exactly `width` cells (cut with … or pad). */
export function fit(text: string, width: number, align: 'left' | 'right' = 'left'): string {
  if (width <= 0) return '';
  const t = text.length > width ? (width > 1 ? text.slice(0, width - 1) + '…' : text.slice(0, width)) : text;
  return align === 'left' ? t.padEnd(width) : t.padStart(width);
}

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/**
 * Hard-wrap text to `width` terminal cells, keeping its own line breaks. A wide character (CJK,
 * most emoji) takes two cells, and no character or emoji sequence is split across rows.
 */
export function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    let row = '';
    let used = 0;
    for (const { segment } of graphemes.segment(line)) {
      const w = stringWidth(segment);
      if (used + w > width && row) {
        out.push(row);
        row = '';
        used = 0;
      }
      row += segment;
      used += w;
    }
    out.push(row);
  }
  return out;
}

/**
 * Generated text as one flowing paragraph for a few rows of the screen: line breaks become ↵ and
 * other control characters (a corpus's tabs or carriage returns) a middle dot, so nothing moves
 * the cursor.
 */
export function flowText(text: string): string {
  return text.replace(/\r?\n/g, '↵').replace(/[\u0000-\u001f\u007f-\u009f]/g, '·');
}
