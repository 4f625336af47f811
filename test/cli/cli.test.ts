// The real `charrnn` command (node functions/bin/charrnn.js) in child processes, embedded mode
// over a temp file store: train with --json, sample, runs --json, and one-line errors.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, cliEnv, runCharrnn } from './run-cli.ts';

let dir: string;
let storeUrl: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'charrnn-cli-'));
  storeUrl = pathToFileURL(path.join(dir, 'store')).href;
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const charrnn = (args: string[], timeoutMs = 90_000, env: Record<string, string> = {}) => runCharrnn(args, { cwd: dir, timeoutMs, env });

const tiny = ['--hidden', '32', '--seq', '16', '--batch', '8'];

describe('charrnn CLI', () => {
  it('train --json prints one JSON object per progress line, then continues the run', async () => {
    const r = await charrnn(['train', '--corpus', 'names', '--run', 'demo', '--steps', '25', '--json', '--store', storeUrl, ...tiny]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    const progress = lines.filter((l) => !l.done);
    expect(progress.length).toBeGreaterThan(0);
    for (const p of progress) {
      expect(typeof p.step).toBe('number');
      expect(typeof p.trainLoss === 'number' || typeof p.valLoss === 'number').toBe(true);
    }
    expect(progress.some((p) => typeof p.valLoss === 'number')).toBe(true);
    expect(progress.some((p) => typeof p.charsPerSec === 'number')).toBe(true);
    // The slice's closing validation (step 25) carries the default sample: 200 characters.
    const sampled = progress.filter((p) => p.sample);
    expect(sampled.map((p) => [p.step, p.sample.step])).toEqual([[25, 25]]);
    expect([...sampled[0].sample.text]).toHaveLength(200);
    expect(typeof sampled[0].valLoss).toBe('number');
    const done = lines.at(-1);
    expect(done).toMatchObject({ done: true, step: 25, runId: 'demo' });

    // Again: the run exists, so training resumes from its checkpoint.
    const again = await charrnn(['train', '--corpus', 'names', '--run', 'demo', '--steps', '5', '--json', '--store', storeUrl]);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout.trim().split('\n').at(-1)!)).toMatchObject({ done: true, step: 30, steps: 5 });
  });

  it('sample writes only the generated text to stdout', async () => {
    const r = await charrnn(['sample', '--run', 'demo', '--length', '300', '--seed', '3', '--store', storeUrl]);
    expect(r.code, r.stderr).toBe(0);
    const text = r.stdout.replace(/\n$/, '');
    expect([...text].length).toBe(300);
    expect(r.stdout).not.toMatch(/charrnn|\{"|tfjs|backend/i);
    const again = await charrnn(['sample', '--run', 'demo', '--length', '300', '--seed', '3', '--store', storeUrl]);
    expect(again.stdout).toBe(r.stdout);
    const primed = await charrnn(['sample', '--run', 'demo', '--length', '20', '--prime', 'An', '--store', storeUrl]);
    expect(primed.code, primed.stderr).toBe(0);
    expect(primed.stdout.startsWith('An')).toBe(true);
  });

  it('trains on a .txt file (uploaded via POST /corpora) with the run named after it', async () => {
    const file = path.join(dir, 'verses.txt');
    await writeFile(file, 'row, row, row your boat, gently down the stream.\nmerrily, merrily, merrily, merrily, life is but a dream.\n'.repeat(20));
    const r = await charrnn(['train', '--corpus', file, '--steps', '3', '--json', '--store', storeUrl, ...tiny]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim().split('\n').at(-1)!)).toMatchObject({ done: true, runId: 'verses', step: 3 });
  });

  it('train --epochs and --seconds budgets; --store also takes a plain directory', async () => {
    const byEpochs = await charrnn(['train', '--corpus', 'names', '--run', 'budget', '--epochs', '0.05', '--json', '--store', path.join(dir, 'store'), ...tiny]);
    expect(byEpochs.code, byEpochs.stderr).toBe(0);
    const done = JSON.parse(byEpochs.stdout.trim().split('\n').at(-1)!);
    expect(done).toMatchObject({ done: true, runId: 'budget', stopReason: 'epochs' });
    expect(done.epoch).toBeCloseTo(0.05, 1);
    const bySeconds = await charrnn(['train', '--corpus', 'names', '--run', 'budget', '--seconds', '1.5', '--store', storeUrl]);
    expect(bySeconds.code, bySeconds.stderr).toBe(0);
    // Without --json: progress lines (each validation's sample under a bar), the closing validation's
    // sample, then the summary.
    const m = /^(?:step .*\n(?:  ── sample at step \d+\n(?:  │ .*\n)+)?)*step (\d+) .*val [\d.]+ .*\n  ── sample at step \1\n((?:  │ .*\n)+)done: run budget at step \1 .*\(seconds\)\n$/.exec(bySeconds.stdout);
    expect(m, bySeconds.stdout).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThan(done.step);
    const sampleText = m![2].split('\n').slice(0, -1).map((l) => l.slice('  │ '.length)).join('\n');
    expect([...sampleText]).toHaveLength(200);
  });

  it('runs --json lists the runs', async () => {
    const r = await charrnn(['runs', '--json', '--store', storeUrl]);
    expect(r.code, r.stderr).toBe(0);
    const { runs } = JSON.parse(r.stdout);
    const demo = runs.find((x: { id: string }) => x.id === 'demo');
    expect(demo).toMatchObject({ step: 30, status: 'idle', corpusName: 'names' });
    const table = await charrnn(['runs', '--store', storeUrl]);
    expect(table.stdout).toMatch(/^ID\s+STATUS\s+STEP/);
    expect(table.stdout).toMatch(/\ndemo\s+idle\s+30\s/);
  });

  it('unknown flags and bad values exit non-zero with one line naming the flag', async () => {
    const unknown = await charrnn(['train', '--corpus', 'names', '--bogus']);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr.trim().split('\n')).toHaveLength(1);
    expect(unknown.stderr).toContain('--bogus');

    const bad = await charrnn(['train', '--corpus', 'names', '--steps', 'many']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toContain('--steps');

    const preset = await charrnn(['train', '--corpus', 'names', '--preset', 'huge']);
    expect(preset.code).not.toBe(0);
    expect(preset.stderr.trim().split('\n')).toHaveLength(1);
    expect(preset.stderr).toMatch(/--preset.*huge.*auto, tiny, small, medium, large/);

    const both = await charrnn(['train', '--corpus', 'names', '--steps', '3', '--seconds', '3']);
    expect(both.code).not.toBe(0);
    expect(both.stderr).toMatch(/--steps|--seconds/);

    const corpus = await charrnn(['train', '--corpus', 'no-such-file.txt', '--store', storeUrl]);
    expect(corpus.code).not.toBe(0);
    expect(corpus.stderr.trim().split('\n')).toHaveLength(1);
    expect(corpus.stderr).toContain('--corpus');
  });

  it('API errors print one line without a stack', async () => {
    const r = await charrnn(['sample', '--run', 'nope', '--store', storeUrl]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe('charrnn: no run "nope"');
    const prime = await charrnn(['sample', '--run', 'demo', '--prime', '☃', '--store', storeUrl]);
    expect(prime.code).toBe(1);
    expect(prime.stderr.trim().split('\n')).toHaveLength(1);
    expect(prime.stderr).toContain('☃');
    const down = await charrnn(['runs', '--api', 'http://127.0.0.1:9']);
    expect(down.code).toBe(1);
    expect(down.stderr.trim().split('\n')).toHaveLength(1);
    expect(down.stderr).toMatch(/cannot reach/);
  });
});

describe('charrnn serve + --api', () => {
  it('serves the API with a token; the CLI talks to it with --api and CHARRNN_API_TOKEN', async () => {
    const TOKEN = 'cli-test-token';
    const server = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--store', path.join(dir, 'served')], {
      cwd: dir,
      env: cliEnv({ CHARRNN_API_TOKEN: TOKEN }),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const exited = new Promise<number | null>((r) => server.on('exit', (code) => r(code)));
    try {
      let stderr = '';
      const api = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`serve did not start: ${stderr}`)), 30_000);
        server.stderr.setEncoding('utf8').on('data', (d: string) => {
          stderr += d;
          const m = /listening on (http:\/\/\S+)/.exec(stderr);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]);
          }
        });
      });
      const denied = await charrnn(['runs', '--api', api]);
      expect(denied.code).toBe(1);
      expect(denied.stderr.trim().split('\n')).toHaveLength(1);
      expect(denied.stderr).toMatch(/bearer token/);
      expect(denied.stderr).not.toContain(TOKEN);

      const trained = await charrnn(['train', '--corpus', 'names', '--run', 'remote', '--steps', '3', '--json', '--api', api, ...tiny], 90_000, { CHARRNN_API_TOKEN: TOKEN });
      expect(trained.code, trained.stderr).toBe(0);
      expect(JSON.parse(trained.stdout.trim().split('\n').at(-1)!)).toMatchObject({ done: true, runId: 'remote', step: 3 });
      const listed = await charrnn(['runs', '--json'], 90_000, { CHARRNN_API_TOKEN: TOKEN, CHARRNN_API_URL: api });
      expect(JSON.parse(listed.stdout).runs.map((r: { id: string }) => r.id)).toEqual(['remote']);
    } finally {
      server.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });
});
