// The run list against a real in-process API: empty state, table, keyboard navigation, open and
// back, the help overlay, delete with confirmation, and quitting.
import { describe, expect, it } from 'vitest';
import { closedPort, createTinyRun, KEY, lineWith, press, renderApp, startTestApi, useTestApi, waitForFrame, waitForText } from './helpers.tsx';

const t = useTestApi();

describe('runs screen', () => {
  it('says how to start when there are no runs, and n opens the new-run form', async () => {
    const app = renderApp(t.api);
    const frame = await waitForText(app, 'No runs yet');
    expect(frame).toContain('Press n to create one');
    expect(frame).toMatch(/n new run/);
    await press(app, 'n');
    await waitForText(app, 'Corpus');
    await press(app, KEY.esc);
    await waitForText(app, 'No runs yet');
  });

  it('lists runs in a table, moves the selection with j/k and arrows, opens with Enter and goes back with Esc', async () => {
    await createTinyRun(t.api, 'alpha');
    await createTinyRun(t.api, 'bravo');
    await createTinyRun(t.api, 'charlie');
    const app = renderApp(t.api);
    let frame = await waitForText(app, 'charlie');
    for (const h of ['NAME', 'CORPUS', 'SIZE', 'STATUS', 'STEP', 'EPOCH', 'VAL', 'BEST', 'LOSS TREND']) expect(frame).toContain(h);
    expect(lineWith(frame, 'alpha')).toMatch(/alpha\s+names\s+1×64\s+idle\s+0\s+0\.00\s+—\s+—/);
    // Newest first: charlie is selected, and its details are shown under the table.
    expect(lineWith(frame, 'charlie')).toMatch(/^› /);
    expect(frame).toMatch(/^charlie · lstm 1×64 · \d+k params · seqLen 16 · batch 8 · lr [\d.]+ · updated /m);
    await press(app, 'j');
    frame = await waitForFrame(app, (f) => lineWith(f, 'bravo').startsWith('› '));
    expect(lineWith(frame, 'charlie')).not.toMatch(/^› /);
    await press(app, KEY.down);
    await waitForFrame(app, (f) => lineWith(f, 'alpha').startsWith('› '));
    await press(app, KEY.down); // already last: stays
    await press(app, 'k', KEY.up);
    await waitForFrame(app, (f) => lineWith(f, 'charlie').startsWith('› '));
    await press(app, 'G');
    await waitForFrame(app, (f) => lineWith(f, 'alpha').startsWith('› '));
    await press(app, KEY.enter);
    frame = await waitForText(app, 'No metrics yet');
    expect(frame).toContain('Run › alpha');
    expect(frame).toMatch(/lstm 1×64/);
    expect(frame).toMatch(/t train/);
    await press(app, KEY.esc);
    await waitForText(app, 'LOSS TREND');
  });

  it('shows a help overlay listing every screen’s keys, closed with ? or Esc', async () => {
    const app = renderApp(t.api);
    await waitForText(app, 'LOSS TREND');
    await press(app, '?');
    const frame = await waitForText(app, 'Keys');
    for (const text of ['Everywhere', 'Runs (here)', 'New run', 'Generate', 'new run', 'delete', 'save to file', 'stop after this slice', 'stop watching', 'Ctrl+C']) {
      expect(frame).toContain(text);
    }
    expect(frame).toMatch(/\?\/Esc close help/);
    await press(app, KEY.esc);
    await waitForFrame(app, (f) => f.includes('LOSS TREND') && !f.includes('Everywhere'));
    await press(app, '?');
    await waitForText(app, 'Everywhere');
    await press(app, '?');
    await waitForFrame(app, (f) => !f.includes('Everywhere'));
  });

  it('deletes a run only after confirmation', async () => {
    await createTinyRun(t.api, 'doomed');
    const app = renderApp(t.api);
    await waitForFrame(app, (f) => lineWith(f, 'doomed').startsWith('› '));
    await press(app, 'd');
    let frame = await waitForText(app, 'Delete run doomed');
    await waitForText(app, 'y confirm delete  n/Esc keep');
    await press(app, 'n');
    frame = await waitForText(app, 'Kept it.');
    expect(frame).not.toContain('Delete run doomed');
    expect((await t.api.getRun('doomed')).id).toBe('doomed');

    await press(app, 'd');
    await waitForText(app, 'Delete run doomed');
    await press(app, 'y');
    frame = await waitForText(app, 'Deleted run doomed.');
    await waitForFrame(app, (f) => !lineWith(f, 'doomed').includes('names'));
    await expect(t.api.getRun('doomed')).rejects.toMatchObject({ status: 404 });
  });

  it('quits with q and with Ctrl+C', async () => {
    let app = renderApp(t.api);
    await waitForText(app, 'q quit');
    await press(app, 'q');
    expect(app.quits).toBe(1);
    app.unmount();
    app = renderApp(t.api);
    await waitForText(app, 'q quit');
    await press(app, KEY.ctrlC);
    expect(app.quits).toBe(1);
  });

  it('explains an unreachable API in one line with what to do', async () => {
    const { Api } = await import('../../tui/api.ts');
    const port = await closedPort();
    const app = renderApp(new Api(`http://127.0.0.1:${port}`));
    const frame = await waitForText(app, 'Cannot reach');
    expect(lineWith(frame, 'Cannot reach')).toBe(`✗ Cannot reach http://127.0.0.1:${port} (ECONNREFUSED): start the server or pass --api URL.`);
    expect(frame).not.toMatch(/at .*\.ts:\d+/); // no stack trace
  });

  it('re-lays out the table when the terminal is resized', async () => {
    await createTinyRun(t.api, 'resized');
    const app = renderApp(t.api);
    await waitForText(app, 'LOSS TREND');
    let columns = 100;
    Object.defineProperty(app.stdout, 'columns', { get: () => columns, configurable: true });
    columns = 64;
    app.stdout.emit('resize');
    const frame = await waitForFrame(app, (f) => !f.includes('LOSS TREND') && f.includes('resized'));
    for (const line of frame.split('\n')) expect(line.length).toBeLessThanOrEqual(64);
    expect(lineWith(frame, 'NAME')).toMatch(/NAME\s+CORPUS\s+SIZE\s+STATUS/);
    columns = 120;
    app.stdout.emit('resize');
    await waitForText(app, 'LOSS TREND');
  });

  it('says which token to set when the API answers 401', async () => {
    const locked = await startTestApi({ token: 'sesame' });
    try {
      let app = renderApp(locked.api);
      const frame = await waitForText(app, '401');
      expect(lineWith(frame, '401')).toMatch(/^✗ Set CHARRNN_API_TOKEN to a valid token: the API refused the request \(401: /);
      app.unmount();
      const { Api } = await import('../../tui/api.ts');
      app = renderApp(new Api(locked.url, { token: 'sesame' }));
      await waitForText(app, 'No runs yet');
    } finally {
      await locked.close();
    }
  });

  it('the header says the backend is starting until the server has loaded it (503), then names it', async () => {
    const lazy = await startTestApi({ backendInit: 'first-use' });
    try {
      const app = renderApp(lazy.api);
      const frame = await waitForText(app, 'backend starting…');
      expect(frame).not.toMatch(/✗/); // a 503 from /healthz is not an error to show
      await lazy.loadBackend();
      await waitForFrame(app, (f) => /test · wasm · v\d+\.\d+\.\d+/.test(f));
    } finally {
      await lazy.close();
    }
  });
});
