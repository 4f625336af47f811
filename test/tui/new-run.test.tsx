// The new-run form against the real API: a 400 from the server lands next to the field it names,
// the advanced section sends hyperparameters, and a local file is uploaded as the corpus.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { focusField, KEY, lineWith, press, renderApp, useTestApi, waitForFrame, waitForText } from './helpers.tsx';

const t = useTestApi();

describe('new run screen', () => {
  it('shows the API’s 400 next to the offending field, then creates the run once fixed', async () => {
    const app = renderApp(t.api, { initialRoute: { name: 'new' } });
    // The corpus choice is focused: the footer offers ←→ and the global keys.
    let frame = await waitForText(app, '←→ change choice');
    expect(frame).toMatch(/› Corpus\s+◂ \[moby-dick\] names  local file…  ▸/);
    expect(frame).toMatch(/Enter create/);
    await press(app, KEY.right); // moby-dick → names
    await waitForFrame(app, (f) => /Corpus\s+◂  moby-dick \[names\]/.test(f));
    await focusField(app, 'Run id');
    // While typing, letter shortcuts are not offered (and q types a q).
    await waitForFrame(app, (f) => !f.includes('q quit'));
    await press(app, 'Bad Id!q');
    await waitForText(app, 'Bad Id!q');
    expect(app.quits).toBe(0);
    await focusField(app, 'Size');
    await press(app, KEY.left, KEY.left, KEY.left); // auto → large → medium → small (the choices wrap)… then to tiny
    await press(app, KEY.left);
    await waitForFrame(app, (f) => /Size\s+◂[^▸\n]*\[tiny\]/.test(f));
    await press(app, KEY.enter);
    frame = await waitForFrame(app, (f) => lineWith(f, 'Run id').includes('✗'));
    expect(lineWith(frame, 'Run id')).toMatch(/✗ .*lowercase/);
    expect(frame).toMatch(/✗ id: use 1-64 lowercase letters/);
    expect((await t.api.listRuns()).length).toBe(0);

    await focusField(app, 'Run id');
    await press(app, ...Array(8).fill(KEY.backspace));
    await press(app, 'names-tiny');
    await waitForFrame(app, (f) => lineWith(f, 'Run id').includes('names-tiny') && !lineWith(f, 'Run id').includes('✗'));
    await press(app, KEY.enter);
    frame = await waitForText(app, 'Run › names-tiny');
    expect(frame).toContain('Created run names-tiny');
    const run = await t.api.getRun('names-tiny');
    expect(run.corpusName).toBe('names');
    expect(run.model.hidden).toBe(64);
  });

  it('sends advanced hyperparameters and shows a config error from the API next to that field', async () => {
    const app = renderApp(t.api, { initialRoute: { name: 'new' } });
    await waitForText(app, 'Corpus');
    await press(app, KEY.right);
    await focusField(app, 'Run id');
    await press(app, 'adv');
    await focusField(app, 'Advanced');
    await press(app, KEY.right);
    await waitForText(app, 'seqLen');
    await focusField(app, 'hidden');
    await press(app, '0');
    await focusField(app, 'seqLen');
    await press(app, 'x7');
    await press(app, KEY.enter);
    // Not a number: caught before any request.
    let frame = await waitForFrame(app, (f) => lineWith(f, 'seqLen').includes('✗'));
    expect(lineWith(frame, 'seqLen')).toContain('"x7" is not a number');
    await press(app, KEY.backspace, KEY.backspace, '12');
    await press(app, KEY.enter);
    // hidden = 0 is the server's to reject: its field comes back as config.hidden.
    frame = await waitForFrame(app, (f) => lineWith(f, 'hidden').includes('✗'));
    expect(lineWith(frame, 'hidden')).toMatch(/✗ /);
    expect(frame).toMatch(/config\.hidden/);
    await focusField(app, 'hidden');
    await press(app, KEY.backspace, '32');
    // A prime for the samples while training with a character the corpus (names) lacks.
    await focusField(app, 'samplePrime');
    await press(app, 'Ann☃');
    await press(app, KEY.enter);
    frame = await waitForFrame(app, (f) => lineWith(f, 'samplePrime').includes('✗'));
    expect(frame).toMatch(/config\.samplePrime: "☃" not in this run's vocabulary/);
    await press(app, KEY.backspace);
    await focusField(app, 'sampleEvery');
    await press(app, '50');
    await press(app, KEY.enter);
    await waitForText(app, 'Run › adv');
    const run = await t.api.getRun('adv');
    expect(run.model.hidden).toBe(32);
    expect(run.train.seqLen).toBe(12);
    expect(run.sample).toMatchObject({ every: 50, prime: 'Ann' });
  });

  it('uploads a local text file as the corpus', async () => {
    const path = join(t.dir, 'poem.txt');
    await writeFile(path, 'the quick brown fox jumps over the lazy dog.\n'.repeat(200));
    const app = renderApp(t.api, { initialRoute: { name: 'new' } });
    await waitForText(app, 'Corpus');
    await press(app, KEY.left); // moby-dick → local file…
    await waitForText(app, 'File');
    await focusField(app, 'File');
    await press(app, join(t.dir, 'missing.txt'));
    await press(app, KEY.enter);
    let frame = await waitForFrame(app, (f) => lineWith(f, 'File').includes('✗'));
    expect(lineWith(frame, 'File')).toContain('no such file');
    await press(app, ...Array(11).fill(KEY.backspace), 'poem.txt');
    await focusField(app, 'Run id');
    await press(app, 'poem');
    await press(app, KEY.enter);
    frame = await waitForText(app, 'Run › poem');
    const run = await t.api.getRun('poem');
    expect(run.corpus).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(run.corpusName).toBe('poem.txt');
  });

  it('sizes the run with auto for the budget typed, and the run view says what it chose and why', async () => {
    const app = renderApp(t.api, { initialRoute: { name: 'new' } });
    let frame = await waitForText(app, 'Corpus');
    expect(frame).toMatch(/Size\s+\[auto\] tiny/);
    // Budget is asked for only while the size is auto.
    // The hint says what the chosen size means.
    await focusField(app, 'Size');
    expect(lineWith(await waitForText(app, 'auto: sized'), 'Size')).toContain('auto: sized for the corpus and budget');
    await press(app, KEY.right); // auto → tiny
    frame = await waitForFrame(app, (f) => /Size\s+◂[^▸\n]*\[tiny\]/.test(f) && !f.includes('Budget'));
    expect(lineWith(frame, 'Size')).toContain('tiny: 1 layer × 64 units');
    await press(app, KEY.left);
    await waitForText(app, 'Budget');
    await focusField(app, 'Budget');
    await press(app, 'soon');
    await focusField(app, 'Run id');
    await press(app, 'sized');
    await press(app, KEY.enter);
    frame = await waitForFrame(app, (f) => lineWith(f, 'Budget').includes('✗'));
    expect(lineWith(frame, 'Budget')).toContain('"soon" is not a number of minutes');
    // A number the server refuses (over 30 days): its 400 lands next to Budget too.
    await focusField(app, 'Budget');
    await press(app, ...Array(4).fill(KEY.backspace), '1e9');
    await press(app, KEY.enter);
    frame = await waitForFrame(app, (f) => lineWith(f, 'Budget').includes('✗') && f.includes('config.budgetSeconds'));
    expect(lineWith(frame, 'Budget')).toMatch(/✗ .*(big|<=)/i);
    await focusField(app, 'Budget');
    await press(app, ...Array(3).fill(KEY.backspace), '0.5');
    await press(app, KEY.enter);
    frame = await waitForText(app, 'Run › sized');
    const sizing = (await t.api.getRun('sized')).sizing ?? '';
    expect(sizing).toMatch(/^auto: \w+ \d+×\d+/);
    expect(sizing).toContain('0.5 min ≈');
    expect(frame).toContain(`Created run sized (${sizing.slice(0, 20)}`);
    frame = await waitForFrame(app, (f) => f.includes('No metrics yet'));
    expect(lineWith(frame, 'size auto:')).toContain(sizing.slice(0, 30));
  });
});
