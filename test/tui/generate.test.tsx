// The generate screen against the real API: text streams in over several frames, earlier
// generations stay above, w saves them, Esc stops a stream, and a bad prime is shown at its field.
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createTinyRun, focusField, KEY, lineWith, press, renderApp, useTestApi, waitForFrame, waitForText, type Rendered } from './helpers.tsx';

const t = useTestApi(async (t) => {
  await createTinyRun(t.api, 'writer');
  for await (const ev of t.api.trainStream('writer', { steps: 20 })) void ev;
});

async function setField(app: Rendered, label: string, value: string): Promise<void> {
  await focusField(app, label);
  await press(app, ...Array(8).fill(KEY.backspace), value);
  await waitForFrame(app, (f) => lineWith(f, label).includes(value));
}

/** The generated text lines of a frame: everything under the Output heading but the ── headers. */
function outputText(frame: string): string {
  const lines = frame.split('\n');
  const start = lines.findIndex((l) => /^\s*(› )?\s*Output/.test(l));
  return lines
    .slice(start + 1, -2)
    .filter((l) => !l.startsWith('──'))
    .join('')
    .trim();
}

describe('generate screen', () => {
  it('streams text in over several frames, keeps earlier generations above, and saves them with w', async () => {
    const app = renderApp(t.api, { initialRoute: { name: 'generate', runId: 'writer' }, saveDir: t.dir });
    let frame = await waitForText(app, 'press Enter to generate');
    for (const label of ['Prime', 'Temperature', 'Top-k', 'Top-p', 'Length', 'Seed', 'Checkpoint']) expect(frame).toContain(label);
    await setField(app, 'Length', '3000');
    await setField(app, 'Seed', '7');
    // Timestamp every frame written while the text streams in.
    const streamed: { at: number; chars: string }[] = [];
    const write = app.stdout.write;
    app.stdout.write = (frame: string) => {
      const m = /#1 streaming ▌ ([\d,]+) chars so far/.exec(stripVTControlCharacters(frame));
      if (m) streamed.push({ at: Date.now(), chars: m[1] });
      write(frame);
    };
    await press(app, KEY.enter);
    await waitForText(app, '#1 · T=0.8 · top-k 0 · top-p 1 · 3000 chars · seed 7 · latest ▌');
    frame = await waitForText(app, 'Output · #1 done · 3,000 chars', 90_000);
    // The text grew across several frames…
    expect(new Set(streamed.map((f) => f.chars)).size).toBeGreaterThanOrEqual(3);
    // …drawn at a bounded rate (chunks are batched to ≤ 20 redraws a second; slack for timers).
    const seconds = Math.max(1, (streamed.at(-1)!.at - streamed[0].at) / 1000);
    expect(streamed.length / seconds).toBeLessThanOrEqual(25);
    const first = outputText(frame);
    expect(first.length).toBeGreaterThan(20);

    // Output is focused now: Enter generates again; #1 stays above #2.
    expect(frame).toMatch(/w save to file/);
    await setField(app, 'Length', '30');
    await focusField(app, 'Checkpoint');
    await press(app, KEY.right);
    await waitForFrame(app, (f) => /Checkpoint\s+◂  latest \[best\]/.test(f));
    await press(app, KEY.enter);
    frame = await waitForText(app, 'Output · #2 done · 30 chars', 60_000);
    expect(frame).toMatch(/#2 · T=0\.8 · top-k 0 · top-p 1 · 30 chars · seed 7 · best · step \d+/);
    await press(app, 'k', 'k', 'k');
    frame = await waitForText(app, 'scrolled up 3 lines');
    await press(app, KEY.pageUp);
    await waitForText(app, 'scrolled up 19 lines');
    await press(app, 'g'); // oldest: generation #1's header is back on screen
    frame = await waitForText(app, '#1 · T=0.8');
    await press(app, 'G');
    await waitForFrame(app, (f) => !f.includes('scrolled up') && f.includes('Output · #2 done'));

    await press(app, 'w');
    frame = await waitForText(app, 'Saved 2 generations to');
    const files = (await readdir(t.dir)).filter((f) => /^charrnn-writer-\d{8}-\d{6}\.txt$/.test(f));
    expect(files).toHaveLength(1);
    expect(frame).toContain(join(t.dir, files[0]).slice(0, 40));
    const saved = await readFile(join(t.dir, files[0]), 'utf8');
    expect(saved).toMatch(/--- #1 · T=0\.8 .* \(done\) ---\n/);
    expect(saved).toMatch(/--- #2 .* best .* \(done\) ---\n/);
    expect(saved.replace(/\n/g, '')).toContain(first.slice(0, 20));
  });

  it('Esc stops a stream (kept, marked stopped), and Esc again goes back to the run', async () => {
    const app = renderApp(t.api, { initialRoute: { name: 'generate', runId: 'writer' }, saveDir: t.dir });
    await waitForText(app, 'press Enter to generate');
    await setField(app, 'Length', '20000');
    await press(app, KEY.enter);
    await waitForFrame(app, (f) => /streaming ▌ [\d,]+ chars so far/.test(f) && outputText(f).length > 20, 30_000);
    await press(app, KEY.esc);
    const frame = await waitForText(app, 'Output · #1 stopped');
    expect(Number(/#1 stopped · ([\d,]+) chars/.exec(frame)![1].replace(/,/g, ''))).toBeLessThan(20000);
    expect(outputText(frame).length).toBeGreaterThan(0);
    await press(app, KEY.esc);
    await waitForText(app, 'Run › writer');
  });

  it('shows a prime the model cannot read next to the Prime field', async () => {
    const app = renderApp(t.api, { initialRoute: { name: 'generate', runId: 'writer' } });
    await waitForText(app, 'press Enter to generate');
    await press(app, '{€}');
    await press(app, KEY.enter);
    const frame = await waitForFrame(app, (f) => lineWith(f, 'Prime').includes('✗'));
    expect(lineWith(frame, 'Prime')).toMatch(/✗ .*vocabulary/);
    expect(frame).toMatch(/✗ prime: .*fix it and try again/);
  });

  it('says to train first when the run has no checkpoint yet', async () => {
    await createTinyRun(t.api, 'untrained');
    const app = renderApp(t.api, { initialRoute: { name: 'generate', runId: 'untrained' } });
    await waitForText(app, 'press Enter to generate');
    await press(app, KEY.enter);
    const frame = await waitForText(app, 'Output · #1 failed');
    expect(lineWith(frame, '✗')).toMatch(/^✗ Run "untrained" has no checkpoint yet: train first — press t in the run view to train it\.$/);
  });
});
