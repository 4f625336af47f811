// `npm start` as a new user meets it: a run created with the form's defaults (moby-dick, auto),
// trained as a chain of slices of the default length (30 s, the same as the default
// checkpointSeconds), stopped with s. The run view and the Runs table then show the best loss,
// and best.json holds the lowest validation of the whole chain.
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fmtLoss } from '../../tui/format.ts';
import { expectBestIsMinimum } from '../support/best.ts';
import { RunSessions } from '../../tui/run-session.ts';
import { autoSize } from '../../shared/presets.ts';
import { loadBuiltinCorpus } from '../../shared/engine/tf-free.ts';
import { readLimits } from '../../functions/settings.ts';
import { KEY, lineWith, press, renderApp, sleep, useTestApi, waitForFrame, waitForText } from './helpers.tsx';

const t = useTestApi();

describe('the TUI with the shipped defaults', () => {
  it('a chain of default slices leaves best on the lowest validation, shown in the run view and the Runs table', async () => {
    // Sessions with no options: the app's own default slice length, as `npm start` runs it.
    const sessions = new RunSessions(t.api);
    const app = renderApp(t.api, { initialRoute: { name: 'new' }, sessions });
    await waitForText(app, '←→ change choice');
    await press(app, KEY.enter);
    let frame = await waitForText(app, 'Created run');
    const runId = /Run › (\S+)/.exec(frame)![1];
    const created = await t.api.getRun(runId);
    // The size is auto's for moby-dick and the assumed budget (the form's Budget left empty), and says so.
    const auto = autoSize({ corpusChars: [...loadBuiltinCorpus('moby-dick')].length, vocabSize: created.vocabSize, limits: readLimits({}) });
    expect(created).toMatchObject({ corpusName: 'moby-dick', model: { layers: auto.layers, hidden: auto.hidden, dropout: auto.dropout }, train: { evalEvery: 100 } });
    expect(created.sizing).toBe(`auto: ${auto.reason}`);
    expect(lineWith(await waitForText(app, 'size auto:'), 'size auto:')).toContain(auto.reason.slice(0, 40));

    await press(app, 't');
    await waitForText(app, 'Epochs to train (empty = until stopped)');
    await press(app, KEY.enter);
    // The first slice (30 s) ended and checkpointed; the chain goes on until s.
    const deadline = Date.now() + 90_000;
    while (sessions.get(runId).getState().slices < 1) {
      if (Date.now() > deadline) throw new Error(`the first slice never ended:\n${app.frame()}`);
      await sleep(100);
    }
    await press(app, 's');
    frame = await waitForText(app, '○ idle', 90_000);
    expect(frame).toMatch(/· 2 slices this session/);

    const best = await expectBestIsMinimum(pathToFileURL(join(t.dir, 'store')).href, runId);
    expect((await t.api.getRun(runId)).bestValLoss).toBe(best.valLoss);
    expect(frame).toMatch(new RegExp(`best\\s+${fmtLoss(best.valLoss).replace('.', '\\.')}`));

    await press(app, KEY.esc);
    frame = await waitForFrame(app, (f) => f.includes('BEST') && f.includes(runId));
    const header = lineWith(frame, 'BEST');
    const row = lineWith(frame, runId);
    // The BEST column: the cell under the header's BEST, right-aligned to its end.
    const end = header.indexOf('BEST') + 'BEST'.length;
    expect(row.slice(end - 6, end).trim()).toBe(fmtLoss(best.valLoss));
  });
});
