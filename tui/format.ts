// Short human formats for numbers the screens show.
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
