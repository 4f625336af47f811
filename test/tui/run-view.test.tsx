// The run view against the real API: training as a chain of bounded slices with a live chart,
// a clean stop, N-epoch training, and tailing metrics when another client holds the run (409).
import { describe, expect, it } from 'vitest';
import { createTinyRun, KEY, lineWith, press, renderApp, useTestApi, waitForFrame, waitForText } from './helpers.tsx';

const t = useTestApi();

const stepShown = (frame: string): number => Number(/step (\d+) · epoch/.exec(frame)?.[1] ?? -1);

/** Another client's slice, straight over HTTP (JSON, not streamed). */
function trainElsewhere(id: string, seconds: number): Promise<Response> {
  return fetch(`${t.url}/runs/${id}/train`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ maxSeconds: seconds }),
  });
}

async function waitForStatus(id: string, status: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while ((await t.api.getRun(id)).status !== status) {
    if (Date.now() > deadline) throw new Error(`${id} never became ${status}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('run view', () => {
  it('trains until stopped in chained slices, draws the loss chart, and stops cleanly after the slice', async () => {
    await createTinyRun(t.api, 'trainee');
    const app = renderApp(t.api, { initialRoute: { name: 'run', runId: 'trainee' }, sliceSeconds: 2 });
    let frame = await waitForText(app, 'No metrics yet');
    expect(frame).toMatch(/○ idle/);
    await press(app, 't');
    // Typing a number: the footer stops offering letter shortcuts (q would type a q).
    frame = await waitForFrame(app, (f) => f.includes('Epochs to train (empty = until stopped)') && !f.includes('q quit'));
    expect(frame).toContain('Ctrl+C quit');
    await press(app, KEY.enter);
    frame = await waitForFrame(app, (f) => f.includes('● training') && stepShown(f) > 0 && f.includes('┤'));
    expect(frame).toMatch(/━ train/);
    expect(frame).toMatch(/until stopped/);
    expect(frame).toMatch(/\d+(\.\d)?k? chars\/s/);
    expect(frame).toMatch(/backend \w+/);
    expect(frame).toMatch(/s stop after this slice/);
    // A second slice means the first ended (checkpointed) and the app chained the next one.
    frame = await waitForText(app, '(slice 2)', 30_000);
    // The first slice's closing validation brought a sample: it shows without a key pressed.
    frame = await waitForText(app, /Sample at step \d+ · newest of \d+/);
    expect(frame).not.toContain('No sample yet');
    const before = stepShown(frame);
    await press(app, 's');
    frame = await waitForText(app, 'Stopping after this slice');
    expect(frame).toMatch(/◐ stopping after this slice/);
    frame = await waitForText(app, '○ idle', 30_000);
    const shown = stepShown(frame);
    expect(shown).toBeGreaterThan(before - 1);
    const run = await t.api.getRun('trainee');
    expect(run.status).toBe('idle');
    expect(run.step).toBe(shown);
    // The last slice ended on its own time budget and checkpointed where the run now is.
    expect(frame).toMatch(new RegExp(`Last slice: \\d+ steps in [\\d.]+s \\(seconds\\), checkpoint at step ${shown} · [2-9] slices this session`));
    expect(frame).toMatch(/t train/);
    // The chart's y axis spans the losses seen: the top label is above the bottom one.
    const labels = frame
      .split('\n')
      .map((l) => /^\s*(\d+\.\d\d) [┤┼]/.exec(l)?.[1])
      .filter(Boolean)
      .map(Number);
    expect(labels.length).toBeGreaterThan(3);
    expect(labels[0]).toBeGreaterThan(labels.at(-1)!);
  });

  it('trains a given number of epochs and ends on its own', async () => {
    await createTinyRun(t.api, 'epochs');
    const app = renderApp(t.api, { initialRoute: { name: 'run', runId: 'epochs' }, sliceSeconds: 2 });
    await waitForText(app, 'No metrics yet');
    await press(app, 't');
    await waitForText(app, 'Epochs to train');
    await press(app, 'abc', KEY.enter);
    await waitForText(app, '"abc" is not a number of epochs');
    await press(app, KEY.backspace, KEY.backspace, KEY.backspace, '0.02', KEY.enter);
    const frame = await waitForText(app, /epoch \d\.\d\d \/ 0\.02/);
    expect(lineWith(frame, '/ 0.02')).toMatch(/ETA/);
    await waitForText(app, '○ idle', 60_000);
    const run = await t.api.getRun('epochs');
    expect(run.epoch).toBeGreaterThanOrEqual(0.0199);
    expect(run.epoch).toBeLessThan(0.05);
  });

  it('tails the metrics instead when another client is training the run (409)', async () => {
    await createTinyRun(t.api, 'shared');
    const app = renderApp(t.api, { initialRoute: { name: 'run', runId: 'shared' } });
    await waitForText(app, 'No metrics yet');
    const other = trainElsewhere('shared', 6);
    await waitForStatus('shared', 'training');
    await press(app, 't');
    await waitForText(app, 'Epochs to train');
    await press(app, KEY.enter);
    let frame = await waitForText(app, '◉ watching another client');
    expect(frame).toContain('Another client is training this run (409)');
    expect(frame).toMatch(/s stop watching/);
    frame = await waitForFrame(app, (f) => f.includes('┤') && stepShown(f) > 0, 30_000);
    await press(app, 's');
    await waitForText(app, '○ idle');
    expect((await other).status).toBe(200);
  });

  it('follows a run that is already training when opened', async () => {
    await createTinyRun(t.api, 'busy');
    const other = trainElsewhere('busy', 4);
    await waitForStatus('busy', 'training');
    const app = renderApp(t.api, { initialRoute: { name: 'run', runId: 'busy' } });
    const frame = await waitForText(app, '◉ watching another client');
    expect(frame).toContain('showing its live metrics');
    await press(app, 'g');
    await waitForText(app, 'Generate › busy');
    await press(app, KEY.esc);
    await waitForText(app, 'Run › busy');
    expect((await other).status).toBe(200);
    // Once the other client is done, the view stops tailing by itself and says so.
    const done = await waitForText(app, 'The other client’s training ended — press t to train this run.', 30_000);
    expect(done).toMatch(/○ idle/);
    expect(done).toMatch(/t train/);
  });
});
