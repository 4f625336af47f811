// The run view's samples: the newest under the chart, ←/→ through earlier ones, wrapped to the
// terminal's cells on a narrow one. The samples are metrics points in the real store, as a trainer
// writes them (the run-view and tmux tests see ones that training wrote).
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import stringWidth from 'string-width';
import { describe, expect, it } from 'vitest';
import { newMetricsSegment, openRunStore } from '../../shared/store/index.ts';
import type { MetricPoint } from '../../shared/engine/types.ts';
import { flowText } from '../../tui/format.ts';
import { createTinyRun, KEY, lineWith, press, renderApp, useTestApi, waitForFrame, waitForText } from './helpers.tsx';

const t = useTestApi();

const TEXTS = [
  'Anna\nBob\nCy',
  'Marianne\nJosephine\nAdelaide\n',
  // Long, with line breaks, wide characters and an emoji sequence: more than the panel's rows.
  ('Évangéline\nZoë 漢字かな 👩‍👩‍👧 Oksana\t' + 'Rosalind\nMargarethe\n').repeat(8),
];

async function runWithSamples(id: string): Promise<void> {
  await createTinyRun(t.api, id);
  const store = openRunStore(pathToFileURL(join(t.dir, 'store')).href);
  const points: MetricPoint[] = TEXTS.map((text, i) => {
    const step = (i + 1) * 100;
    return { step, epoch: step / 1000, trainLoss: 3 - i, valLoss: 3.1 - i, valBpc: (3.1 - i) / Math.LN2, time: Date.now() + i, sample: { step, text } };
  });
  await store.appendMetrics(id, newMetricsSegment(), points);
}

/** The sample's rows as shown (the lines after its heading, indent removed). */
function sampleRows(frame: string): string[] {
  const lines = frame.split('\n');
  const at = lines.findIndex((l) => /^Sample at step/.test(l));
  const rows: string[] = [];
  for (const l of lines.slice(at + 1)) {
    if (!l.startsWith('  ') || l.trim() === '') break;
    rows.push(l.slice(2));
  }
  return rows;
}

describe('run view samples', () => {
  it('shows the newest sample under the chart and pages through earlier ones with ← and →', async () => {
    await runWithSamples('paged');
    const app = renderApp(t.api, { initialRoute: { name: 'run', runId: 'paged' } });
    let frame = await waitForText(app, 'Sample at step 300 · newest of 3 · ← earlier');
    expect(frame).toMatch(/←→ earlier\/later sample/);
    // Below the chart's step axis, above the progress bar.
    const lines = frame.split('\n');
    const heading = lines.findIndex((l) => l.startsWith('Sample at step'));
    expect(lines[heading - 1]).toMatch(/steps 100 → /);
    expect(sampleRows(frame)[0].startsWith('Évangéline↵Zoë 漢字かな')).toBe(true);

    await press(app, KEY.left);
    frame = await waitForText(app, 'Sample at step 200 · 2 of 3 · ← earlier · → later');
    expect(sampleRows(frame)).toEqual(['Marianne↵Josephine↵Adelaide↵']);
    await press(app, KEY.left, KEY.left);
    frame = await waitForText(app, 'Sample at step 100 · 1 of 3 · → later');
    expect(sampleRows(frame)).toEqual(['Anna↵Bob↵Cy']);
    await press(app, KEY.right);
    await waitForText(app, 'Sample at step 200 · 2 of 3');
    await press(app, KEY.right);
    frame = await waitForText(app, 'Sample at step 300 · newest of 3');
    expect(lineWith(frame, 'Sample at step')).not.toContain('→ later');
  });

  it('wraps a long sample to a narrow terminal: whole characters, within the width, cut with …', async () => {
    await runWithSamples('narrow');
    const app = renderApp(t.api, { initialRoute: { name: 'run', runId: 'narrow' } });
    await waitForText(app, 'Sample at step 300');
    let columns = 100;
    Object.defineProperty(app.stdout, 'columns', { get: () => columns, configurable: true });
    columns = 36;
    app.stdout.emit('resize');
    const frame = await waitForFrame(app, (f) => f.includes('Sample at step 300') && f.split('\n').every((l) => stringWidth(l) <= 36));
    for (const line of frame.split('\n')) expect(stringWidth(line), line).toBeLessThanOrEqual(36);
    const rows = sampleRows(frame);
    expect(rows).toHaveLength(4);
    expect(rows.at(-1)!.endsWith('…')).toBe(true);
    // The rows, joined, are the start of the flowed sample: nothing dropped or split in between.
    const shown = rows.join('').slice(0, -1);
    expect(flowText(TEXTS[2]).startsWith(shown)).toBe(true);
    for (const row of rows.slice(0, -1)) expect(stringWidth(row)).toBeGreaterThan(32);
  });

  it('says when none has come yet, and when a run takes none', async () => {
    await createTinyRun(t.api, 'fresh');
    const app = renderApp(t.api, { initialRoute: { name: 'run', runId: 'fresh' } });
    await waitForText(app, 'No sample yet: one comes with each validation');
    await t.api.createRun({ id: 'quiet', corpus: 'names', config: { preset: 'tiny', sampleEvery: 0 } });
    const other = renderApp(t.api, { initialRoute: { name: 'run', runId: 'quiet' } });
    await waitForText(other, 'Samples are off for this run (sampleEvery 0)');
  });
});
