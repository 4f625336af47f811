// The pure pieces behind the charts and the generate scrollback.
import { describe, expect, it } from 'vitest';
import { lossSeries, plotLoss, resample, sparkline } from '../../tui/chart.ts';
import { flowText, wrap } from '../../tui/format.ts';
import type { MetricPoint } from '../../tui/api.ts';

const pt = (step: number, trainLoss?: number, valLoss?: number): MetricPoint => ({ step, epoch: step / 100, time: step, trainLoss, valLoss });

describe('lossSeries', () => {
  it('keeps one column per step when there are fewer steps than columns', () => {
    const s = lossSeries([pt(1, 4), pt(2, 3), pt(3, 2.5)], 80);
    expect(s.train).toEqual([4, 3, 2.5]);
    expect(s.val).toEqual([]);
    expect([s.firstStep, s.lastStep]).toEqual([1, 3]);
  });

  it('averages many steps into at most `width` columns, first and last preserved', () => {
    const points = Array.from({ length: 1000 }, (_, i) => pt(i + 1, 5 - i / 250));
    const s = lossSeries(points, 50);
    expect(s.train).toHaveLength(50);
    expect(s.train[0]).toBeCloseTo(5 - 0 / 250 - 0.04, 0);
    expect(s.train[49]).toBeLessThan(1.1);
    for (let i = 1; i < s.train.length; i++) expect(s.train[i]).toBeLessThanOrEqual(s.train[i - 1]);
  });

  it('holds sparse validation losses between evaluations and follows train before the first', () => {
    const s = lossSeries([pt(1, 4), pt(2, 3.5), pt(3, 3, 3.2), pt(4, 2.8), pt(5, 2.6, 2.9)], 80);
    expect(s.val).toEqual([4, 3.5, 3.2, 3.2, 2.9]);
    expect(s.train).toEqual([4, 3.5, 3, 2.8, 2.6]);
  });

  it('plots validation alone when there is no train loss', () => {
    const s = lossSeries([pt(10, undefined, 3), pt(20, undefined, 2.5)], 80);
    expect(s.train).toEqual([]);
    expect(s.val[0]).toBe(3);
    expect(s.val.at(-1)).toBe(2.5);
  });

  it('ignores points without a finite loss', () => {
    expect(lossSeries([pt(1), pt(2, NaN)], 10).train).toEqual([]);
  });
});

describe('plotLoss', () => {
  it('draws an asciichart with the requested height and y labels spanning the losses', () => {
    const rows = plotLoss(lossSeries([pt(1, 4), pt(2, 3), pt(3, 2)], 40), 8, false);
    expect(rows).toHaveLength(8);
    expect(rows[0]).toContain('4.00');
    expect(rows.at(-1)).toContain('2.00');
    expect(rows.join('\n')).toMatch(/[╰╮─]/);
  });

  it('draws nothing without data and survives a flat line', () => {
    expect(plotLoss(lossSeries([], 40), 8)).toEqual([]);
    expect(plotLoss(lossSeries([pt(1, 2), pt(2, 2)], 40), 5, false).join('\n')).toContain('─');
  });
});

describe('sparkline and resample', () => {
  it('maps min to the lowest bar and max to the highest', () => {
    expect(sparkline([1, 2, 3, 4, 5, 6, 7, 8], 8)).toBe('▁▂▃▄▅▆▇█');
    expect(sparkline([3, 3, 3], 5)).toBe('▄▄▄');
    expect(sparkline([], 5)).toBe('');
  });

  it('downsamples by averaging equal slices', () => {
    expect(resample([1, 1, 3, 3], 2)).toEqual([1, 3]);
    expect(resample([1, 2], 5)).toEqual([1, 2]);
  });
});

describe('wrap', () => {
  it('hard-wraps at the width and keeps line breaks', () => {
    expect(wrap('abcdefg\n\nxy', 3)).toEqual(['abc', 'def', 'g', '', 'xy']);
  });

  it('counts terminal cells: wide characters take two and no character or emoji sequence is split', () => {
    expect(wrap('ab漢字c', 4)).toEqual(['ab漢', '字c']);
    expect(wrap('a👩‍👩‍👧b', 2)).toEqual(['a', '👩‍👩‍👧', 'b']);
    expect(wrap('𝔸𝔹ℂ', 2)).toEqual(['𝔸𝔹', 'ℂ']); // astral, one cell each: never half a surrogate pair
  });

  it('flows generated text onto rows: line breaks become ↵, other controls a dot', () => {
    expect(flowText('Ann\nBo\r\nCy\tD')).toBe('Ann↵Bo↵Cy·D');
  });
});
