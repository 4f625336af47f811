// What `npm run quality` promises about itself (BENCHMARKS.md, "Quality per CPU-minute"): one line
// per curve point with the validation loss over the whole split, the PyTorch reference skipped with
// the reason when it cannot run, and exit 2 on a usage error. Tiny runs; no figure is checked.
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runScript } from '../support/run-script.ts';

const quality = (args: string[]) => runScript('test/bench/quality.ts', args);
const SHAKESPEARE = new URL('../../../shared/data/tinyshakespeare.txt', import.meta.url);
const TINY = 'layers=1,hidden=16,batchSize=8,seqLen=25,dropout=0';

describe('npm run quality', () => {
  it.skipIf(!existsSync(SHAKESPEARE))('trains a recipe to a character budget and reads the whole validation split at each point', async () => {
    const r = await quality(['--chars', '12000', '--curve', '2', '--recipe', TINY, '--json', '--python', '/nonexistent/python3']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, number | string>);
    expect(rows).toHaveLength(2);
    expect(rows.map((x) => x.chars)).toEqual([6000, 12000]);
    expect(rows.map((x) => x.steps)).toEqual([30, 60]);
    for (const x of rows) {
      expect(x).toMatchObject({ bench: 'quality', config: TINY, backend: 'charrnn' });
      expect(x.val_loss).toBeGreaterThan(1);
      expect(x.val_loss).toBeLessThan(Math.log(65) + 0.5);
    }
    expect(r.stderr).toMatch(/^# PyTorch reference skipped: \/nonexistent\/python3 not found$/m);
    expect(r.stderr).toMatch(/^# .*1×16 lstm, dropout 0, one-hot, B 8, T 25/m);
    const best = rows.reduce((a, b) => (b.val_loss < a.val_loss ? b : a));
    expect(r.stderr).toContain(`# ${TINY}: best along the curve: val ${(best.val_loss as number).toFixed(4)} at `);
    expect(r.stderr).toContain(`(step ${best.steps})`);
  });

  it('exits 2 on a usage error, naming what to fix', async () => {
    const key = await quality(['--recipe', 'layers=two']);
    expect(key.code).toBe(2);
    expect(key.stderr).toMatch(/--recipe "layers=two": layers: /);
    const notKv = await quality(['--recipe', 'large']);
    expect(notKv.code).toBe(2);
    expect(notKv.stderr).toMatch(/"large" is not key=value \(recipes: auto, baseline/);
    const curve = await quality(['--curve', '0']);
    expect(curve.code).toBe(2);
    expect(curve.stderr).toMatch(/--curve must be a whole number/);
  });
});
