// The exported page in a real browser: Debian's chromium, headless, driven by playwright-core. A
// run trained here is exported with the real `charrnn export` (over HTTP, GET /runs/:id/export),
// the page is opened from file:// (and from a static HTTP server), and it generates: text streams
// in frame by frame, greedy text equals the API's, seeds repeat, bad controls are refused by the
// API's own rules. A screenshot stays in the test's temp dir.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPage, PAGE_SOURCES } from '../../infra/build.mjs';
import { startServer, type RunningServer } from '../../functions/server.ts';
import { SITE_FILES } from '../../functions/export/page/site.mjs';
import { runCharrnn } from '../cli/run-cli.ts';
import { chromiumMissing, launchChromium } from '../support/chromium.ts';
import { json } from '../functions/helpers.ts';

// A verse the model learns by heart in a few hundred steps: its greedy text then runs through long
// stretches of it instead of one short loop, so 300 equal characters say something.
const VERSE =
  'Tyger Tyger, burning bright,\nIn the forests of the night;\nWhat immortal hand or eye,\nCould frame thy fearful symmetry?\n\n' +
  'In what distant deeps or skies.\nBurnt the fire of thine eyes?\nOn what wings dare he aspire?\nWhat the hand, dare seize the fire?\n\n';

let dir: string;
let server: RunningServer;
let context: BrowserContext;
let page: Page;
let site: string;
let statics: Server | undefined;

async function apiSample(body: Record<string, unknown>): Promise<string> {
  const res = await fetch(`${server.url}/runs/verse/sample`, json(body));
  expect(res.status).toBe(200);
  return (await res.json()).text;
}

/** Load the page and wait until its model is ready. */
async function open(url = pathToFileURL(path.join(site, SITE_FILES.html)).href): Promise<void> {
  await page.goto(url);
  await page.waitForFunction(() => document.body.dataset.state === 'ready', null, { timeout: 60_000 });
}

/** Fill the controls (empty string = leave the field empty), press Generate, wait for the end. */
async function generate(controls: Record<string, string>, until: 'done' | 'stopped' = 'done'): Promise<string> {
  for (const [name, value] of Object.entries(controls)) await page.fill(`input[name=${name}]`, value);
  await page.click('#generate');
  await page.waitForFunction((s) => document.body.dataset.state === s, until, { timeout: 60_000 });
  return (await page.textContent('#generated')) ?? '';
}

beforeAll(async () => {
  const missing = chromiumMissing();
  if (missing) throw new Error(`this test needs Debian's chromium: ${missing}`);
  dir = await mkdtemp(path.join(tmpdir(), 'charrnn-web-'));
  server = await startServer({ port: 0, storeUrl: pathToFileURL(path.join(dir, 'store')).href, token: '', log: () => {} });
  const created = await fetch(
    `${server.url}/runs`,
    json({ corpus: { text: VERSE.repeat(12), name: 'tyger.txt' }, id: 'verse', config: { preset: 'tiny', seqLen: 32, batchSize: 8, lr: 0.01, evalEvery: 1000, sampleEvery: 0 } }),
  );
  expect(created.status).toBe(201);
  const trained = await fetch(`${server.url}/runs/verse/train`, json({ steps: 150 }));
  expect(trained.status).toBe(200);
  site = path.join(dir, 'site');
  const exported = await runCharrnn(['export', '--run', 'verse', '--out', site, '--api', server.url]);
  expect(exported.code, exported.stderr).toBe(0);
  expect(exported.stdout).toBe(`exported run verse at step 150 to ${site}: open ${path.join(site, 'index.html')} in any browser\n`);
  context = await launchChromium(path.join(dir, 'chromium-profile'));
  page = context.pages()[0] ?? (await context.newPage());
}, 180_000);

afterAll(async () => {
  await context?.close();
  await server?.close();
  statics?.close();
  // Everything but the screenshot goes.
  if (dir) for (const name of await readdir(dir)) if (name !== 'screenshot.png') await rm(path.join(dir, name), { recursive: true, force: true });
});

describe('the exported page', () => {
  it('is the page, its script, the checkpoint for it (model.js) and the checkpoint files', async () => {
    expect((await readdir(site)).sort()).toEqual(Object.values(SITE_FILES).sort());
    const html = await readFile(path.join(site, SITE_FILES.html), 'utf8');
    expect(html).toContain(`<script src="${SITE_FILES.model}"></script>`);
    expect(html).toContain(`<script src="${SITE_FILES.script}"></script>`);
    const vocab = JSON.parse(await readFile(path.join(site, SITE_FILES.vocab), 'utf8')) as string[];
    expect(vocab.join('')).toBe([...new Set(VERSE)].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!).join(''));
    expect((await readFile(path.join(site, SITE_FILES.weights))).length).toBeGreaterThan(10_000);
  });

  it("bundles the engine's own sampling code, and nothing of its Node half", async () => {
    const { metafile } = await buildPage({ outfile: path.join(dir, 'probe.js'), write: false });
    const inputs = Object.keys(metafile.inputs);
    expect(inputs).toContain(PAGE_SOURCES.entry);
    for (const f of ['step.ts', 'pick.ts', 'rng.ts', 'text-sampler.ts', 'checkpoint.ts', 'model.ts']) expect(inputs).toContain(`shared/engine/${f}`);
    expect(inputs.filter((p) => /shared\/engine\/(backend|native|corpus|train|replica)/.test(p))).toEqual([]);
    expect(inputs).toContain('shared/api/schemas.ts'); // the controls' rules are the API's
  });

  it('opens from file://, streams text as it generates, and its greedy text is the API\'s', async () => {
    await open();
    expect(await page.textContent('#title')).toBe('verse');
    expect(await page.textContent('#about')).toMatch(/^LSTM 1×64, \d+ characters; checkpoint latest \(step 150\) of run verse\./);
    // The API's defaults fill the controls.
    expect(await page.inputValue('input[name=temperature]')).toBe('1');
    expect(await page.inputValue('input[name=length]')).toBe('200');
    // Why the checkpoint comes as a script: from file://, chromium refuses to fetch the files beside the page.
    const fetched = await page.evaluate(() => fetch('model.json').then((r) => `ok ${r.status}`, (e: Error) => e.message));
    expect(fetched).toBe('Failed to fetch');

    // The length shown in each painted frame while it generates.
    await page.evaluate(() => {
      const w = window as unknown as { frames: number[] };
      w.frames = [];
      const tick = () => {
        w.frames.push(document.querySelector('#generated')!.textContent!.length);
        if (document.body.dataset.state !== 'done') requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
    });
    const text = await generate({ prime: 'Tyger', temperature: '0', length: '300', seed: '' });
    expect([...text]).toHaveLength(300);
    const frames = await page.evaluate(() => (window as unknown as { frames: number[] }).frames);
    expect(new Set(frames.filter((n) => n > 0 && n < 300)).size, `lengths painted: ${frames.join(',')}`).toBeGreaterThanOrEqual(3);
    expect(await page.textContent('#prime-shown')).toBe('Tyger');
    expect(await page.textContent('#status')).toMatch(/^300 characters in [\d.]+ s \(\d+\/s\) · seed \d+$/);
    expect(text).toBe(await apiSample({ prime: 'Tyger', temperature: 0, length: 300, seed: 1 }));
    expect(text).toContain('fearful symmetry'); // it did learn the verse
    await page.screenshot({ path: path.join(dir, 'screenshot.png'), fullPage: true });
    console.log(`page screenshot: ${path.join(dir, 'screenshot.png')}`);
  });

  it('repeats a seed, refuses bad controls as the API does, and stops', async () => {
    await open();
    const a = await generate({ prime: '', temperature: '1', topK: '5', topP: '0.9', length: '120', seed: '42' });
    const b = await generate({});
    expect([...a]).toHaveLength(120);
    expect(b).toBe(a);
    // The engine's RNG and draw: the server's text for that seed. (Kernels that differ in the last
    // bits could move a draw only when it falls within ~1e-7 of a boundary.)
    expect(a).toBe(await apiSample({ prime: '', temperature: 1, topK: 5, topP: 0.9, length: 120, seed: 42 }));

    await page.fill('input[name=temperature]', '-1');
    await page.click('#generate');
    await expect.poll(() => page.textContent('.error[data-for=temperature]')).toMatch(/>=\s*0/);
    expect(await page.evaluate(() => document.body.dataset.state)).toBe('done');
    await page.fill('input[name=temperature]', '1');
    await page.fill('input[name=prime]', 'Tyger ☃');
    await page.click('#generate');
    await expect.poll(() => page.textContent('.error[data-for=prime]')).toContain('"☃"');
    expect(await page.textContent('.error[data-for=temperature]')).toBe('');

    await page.fill('input[name=prime]', '');
    await page.fill('input[name=length]', '100000');
    await page.click('#generate');
    await page.waitForFunction(() => (document.querySelector('#generated')!.textContent ?? '').length > 20);
    await page.click('#stop');
    await page.waitForFunction(() => document.body.dataset.state === 'stopped');
    expect(((await page.textContent('#generated')) ?? '').length).toBeLessThan(100_000);
    expect(await page.textContent('#status')).toMatch(/ · stopped$/);
  });

  it('works from a static HTTP host as well', async () => {
    statics = createServer((req, res) => {
      const name = path.basename(new URL(req.url ?? '/', 'http://x').pathname) || SITE_FILES.html;
      readFile(path.join(site, name)).then(
        (body) => res.writeHead(200).end(body),
        () => res.writeHead(404).end(),
      );
    });
    await new Promise<void>((r) => statics!.listen(0, '127.0.0.1', r));
    const { port } = statics.address() as { port: number };
    await open(`http://127.0.0.1:${port}/`);
    const text = await generate({ prime: 'What', temperature: '0', length: '80', seed: '' });
    expect(text).toBe(await apiSample({ prime: 'What', temperature: 0, length: 80 }));
  });
});
