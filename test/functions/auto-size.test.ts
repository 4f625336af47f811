// `preset: "auto"`, the default: the rule (shared/presets.ts) and what a run records of it through the
// API. The rule's constants come from the sweep in BENCHMARKS.md ("Quality per CPU-minute").
import { describe, expect, it } from 'vitest';
import { createApp } from '../../functions/app.ts';
import { readLimits } from '../../functions/settings.ts';
import { resolveConfig } from '../../shared/engine/tf-free.ts';
import { autoSize, AUTO_DEFAULT_SECONDS, AUTO_DROPOUT, AUTO_HEAVY_DROPOUT, AUTO_SHAPES, countParams, trainFlopsPerChar, type AutoSize } from '../../shared/presets.ts';
import { openRunStore } from '../../shared/store/index.ts';
import { json, useTempStore } from './helpers.ts';

const SHAKESPEARE = 1_115_394;
const params = (a: { layers: number; hidden: number }) => countParams({ cell: 'lstm', layers: a.layers, hidden: a.hidden, embedding: null }, 65);
const rung = (a: AutoSize) => AUTO_SHAPES.findIndex((s) => s.layers === a.layers && s.hidden === a.hidden);

describe('autoSize', () => {
  it('sizes up as the budget grows, and stops at what the corpus can feed', () => {
    const budgets = [10, 30, 60, 300, 600, 3600, 36_000];
    const picks = budgets.map((b) => rung(autoSize({ corpusChars: SHAKESPEARE, budgetSeconds: b })));
    expect(Math.min(...picks)).toBeGreaterThanOrEqual(0);
    for (let i = 1; i < picks.length; i++) expect(picks[i], `${budgets[i]} s vs ${budgets[i - 1]} s`).toBeGreaterThanOrEqual(picks[i - 1]);
    expect(picks[0]).toBeLessThan(picks.at(-1)!);
    // The sweep's winners: 2×384 for tinyshakespeare and 10 minutes, 2×512 for an hour.
    expect(autoSize({ corpusChars: SHAKESPEARE, budgetSeconds: 600 })).toMatchObject({ layers: 2, hidden: 384 });
    expect(autoSize({ corpusChars: SHAKESPEARE, budgetSeconds: 3600 })).toMatchObject({ layers: 2, hidden: 512 });
    // A corpus a hundred times smaller never gets a model with more than 10 parameters per character.
    for (const b of budgets) {
      const small = autoSize({ corpusChars: 11_000, budgetSeconds: b });
      if (rung(small) > 0) expect(params(small)).toBeLessThanOrEqual(10 * 11_000);
    }
  });

  it('adds dropout only when the budget passes over the corpus many times', () => {
    const long = autoSize({ corpusChars: SHAKESPEARE, budgetSeconds: 3600 });
    expect(long.reason).toMatch(/dropout/);
    // More passes of a bigger model over the same text: more dropout (the sweep's 10- and 60-minute recipes).
    expect(autoSize({ corpusChars: SHAKESPEARE, budgetSeconds: 600 }).dropout).toBe(AUTO_DROPOUT);
    expect(long.dropout).toBe(AUTO_HEAVY_DROPOUT);
    expect(AUTO_HEAVY_DROPOUT).toBeGreaterThan(AUTO_DROPOUT);
    // A corpus so big that the budget does not see it all: nothing to regularise.
    const huge = autoSize({ corpusChars: 500_000_000, budgetSeconds: 600 });
    expect(huge.dropout).toBe(0);
  });

  it('says what it chose and why in one line, and assumes the default budget when none is given', () => {
    const a = autoSize({ corpusChars: SHAKESPEARE });
    const given = autoSize({ corpusChars: SHAKESPEARE, budgetSeconds: AUTO_DEFAULT_SECONDS });
    expect({ ...a, reason: '' }).toEqual({ ...given, reason: '' });
    expect(a.reason).not.toContain('\n');
    expect(a.reason).toMatch(new RegExp(`^${a.layers}×${a.hidden}, dropout ${a.dropout}: `));
    expect(autoSize({ corpusChars: SHAKESPEARE, budgetSeconds: 3600 }).reason).toMatch(/^large 2×512, dropout/);
    expect(a.reason).toContain(`${AUTO_DEFAULT_SECONDS / 60} min assumed`);
    expect(a.reason).toMatch(/1\.1M chars/);
    expect(autoSize({ corpusChars: SHAKESPEARE, budgetSeconds: 90 }).reason).toContain('1.5 min ≈');
  });

  it('says when a budget is more than the largest shape can use, and only then', () => {
    // The 60-minute curve: 2×512 with dropout 0.5 was lowest at 20–30 minutes and rose after.
    expect(autoSize({ corpusChars: SHAKESPEARE, budgetSeconds: 3600 }).reason).toMatch(/; overfits after ≈ 31 min \(sample from best\)$/);
    expect(autoSize({ corpusChars: SHAKESPEARE, budgetSeconds: 7200 }).reason).toContain('overfits after ≈ 31 min');
    for (const b of [60, 600, 1200, 1800]) expect(autoSize({ corpusChars: SHAKESPEARE, budgetSeconds: b }).reason).not.toContain('overfits');
    // A server that does not allow the largest shape: nothing measured to say.
    const capped = autoSize({ corpusChars: SHAKESPEARE, budgetSeconds: 3600, limits: { maxLayers: 2, maxHidden: 384, maxParams: 1e9 } });
    expect(capped).toMatchObject({ layers: 2, hidden: 384 });
    expect(capped.reason).not.toContain('overfits');
  });

  it("never picks a size over a server's limits", () => {
    const free = autoSize({ corpusChars: SHAKESPEARE, budgetSeconds: 3600 });
    expect(free.hidden).toBe(512);
    const capped = autoSize({ corpusChars: SHAKESPEARE, budgetSeconds: 3600, limits: { maxLayers: 8, maxHidden: 256, maxParams: 50_000_000 } });
    expect(capped).toMatchObject({ layers: 2, hidden: 256 });
    const fewParams = autoSize({ corpusChars: SHAKESPEARE, budgetSeconds: 3600, limits: { maxLayers: 8, maxHidden: 2048, maxParams: 200_000 } });
    expect(params(fewParams)).toBeLessThanOrEqual(200_000);
    expect(rung(fewParams)).toBeGreaterThan(0);
  });

  it('plans with FLOPs that grow with the model', () => {
    expect(trainFlopsPerChar(2, 512, 65)).toBeGreaterThan(trainFlopsPerChar(1, 512, 65));
    // 6 × the matmul weights: 1×128 over 65 characters.
    expect(trainFlopsPerChar(1, 128, 65)).toBe(6 * (128 * 65 + 4 * 128 * (65 + 128)));
  });
});

describe('resolveConfig with auto', () => {
  const auto = autoSize({ corpusChars: SHAKESPEARE, budgetSeconds: 3600 });

  it("uses auto's size and dropout, and records why", () => {
    const r = resolveConfig({}, auto);
    expect(r.model).toMatchObject({ layers: auto.layers, hidden: auto.hidden, dropout: auto.dropout });
    expect(r.sizing).toBe(`auto: ${auto.reason}`);
  });

  it('lets every explicit setting win', () => {
    const size = resolveConfig({ layers: 1, hidden: 96 }, auto);
    expect(size.model).toMatchObject({ layers: 1, hidden: 96, dropout: 0 });
    expect(size.sizing).toBe('1×96: set explicitly');
    const drop = resolveConfig({ dropout: 0.5 }, auto);
    expect(drop.model).toMatchObject({ layers: auto.layers, hidden: auto.hidden, dropout: 0.5 });
    expect(drop.sizing).toBe(`auto: ${auto.reason}; dropout 0.5 set explicitly`);
    const preset = resolveConfig({ preset: 'tiny' }, auto);
    expect(preset.model).toMatchObject({ layers: 1, hidden: 64, dropout: 0 });
    expect(preset.sizing).toBe('tiny 1×64: preset chosen');
  });
});

describe('POST /runs sizes a run with auto by default', () => {
  const store = useTempStore();
  const app = () => createApp({ store: openRunStore(store.url), limits: readLimits({}), log: () => {} });

  it('records the size it chose for the corpus and the budget, and the reason', async () => {
    const a = app();
    const res = await a.request('/runs', json({ corpus: 'moby-dick', id: 'auto-default' }));
    expect(res.status).toBe(201);
    const run = await res.json();
    const chars = [...(await import('../../shared/engine/tf-free.ts')).loadBuiltinCorpus('moby-dick')].length;
    const expected = autoSize({ corpusChars: chars, vocabSize: run.vocabSize, limits: readLimits({}) });
    expect(run.model).toMatchObject({ layers: expected.layers, hidden: expected.hidden, dropout: expected.dropout });
    expect(run.sizing).toBe(`auto: ${expected.reason}`);
    expect((await (await a.request('/runs/auto-default')).json()).sizing).toBe(run.sizing);

    const short = await (await a.request('/runs', json({ corpus: 'moby-dick', id: 'auto-short', config: { budgetSeconds: 20 } }))).json();
    expect(short.sizing).toMatch(/^auto: \w+ \d+×\d+.*0\.3 min ≈/);
    expect(short.params).toBeLessThan(run.params);
  });

  it('refuses a budget that is not a positive number of seconds, naming the field', async () => {
    const res = await app().request('/runs', json({ corpus: 'names', config: { budgetSeconds: -5 } }));
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { field: 'config.budgetSeconds', message: expect.stringMatching(/budgetSeconds.*>0/) } });
  });

  it('keeps an explicit preset, and says so', async () => {
    const run = await (await app().request('/runs', json({ corpus: 'names', id: 'tiny-one', config: { preset: 'tiny' } }))).json();
    expect(run.model).toMatchObject({ layers: 1, hidden: 64 });
    expect(run.sizing).toBe('tiny 1×64: preset chosen');
  });
});
