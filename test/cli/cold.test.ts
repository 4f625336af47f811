// Everyday commands stay light: `charrnn runs` in embedded mode lists the store without loading
// tfjs or starting a thread, from source (functions/bin/charrnn.js) and from the bundle
// (dist/cli.mjs). A preload (load-probe.mjs) reports both at exit; `train`, which needs both, is the
// control that shows the probe sees them. Not timed: `npm run bench -- --only cold` measures.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundle } from '../../infra/build.mjs';
import { createApp } from '../../functions/app.ts';
import { openRunStore } from '../../shared/store/index.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PROBE = fileURLToPath(new URL('./load-probe.mjs', import.meta.url));
let dir: string;
let store: string;
const bins: Record<string, string> = { source: path.join(ROOT, 'functions/bin/charrnn.js') };

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'charrnn-cold-'));
  store = pathToFileURL(path.join(dir, 'store')).href;
  const app = createApp({ store: openRunStore(store), log: () => {} });
  for (const id of ['one', 'two', 'three']) {
    const res = await app.request('/runs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ corpus: 'names', id, config: { preset: 'tiny' } }) });
    expect(res.status).toBe(201);
  }
  await bundle({ outdir: path.join(dir, 'dist') });
  bins.bundle = path.join(dir, 'dist/cli.mjs');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs the CLI with the probe; its output and what the probe saw. */
async function probed(bin: string, args: string[]): Promise<{ stdout: string; tfjs: boolean; workers: number }> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['NODE_OPTIONS', 'CHARRNN_API_URL', 'CHARRNN_API_TOKEN', 'CHARRNN_SAMPLE_THREADS']) delete env[k];
  const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', PROBE, bin, ...args, '--store', store], { cwd: dir, env, timeout: 90_000 });
  const line = /^LOAD-PROBE (.*)$/m.exec(stderr);
  if (!line) throw new Error(`no probe report:\n${stderr}`);
  return { stdout, ...(JSON.parse(line[1]) as { tfjs: boolean; workers: number }) };
}

describe.each(['source', 'bundle'])('charrnn from %s', (variant) => {
  it('runs: lists the store without loading tfjs or starting a thread', async () => {
    const r = await probed(bins[variant], ['runs']);
    expect(r.stdout).toMatch(/^ID\s+STATUS/);
    expect(r.stdout).toMatch(/^one\s+idle/m);
    expect(r.stdout).toMatch(/^three\s+idle/m);
    expect({ tfjs: r.tfjs, workers: r.workers }).toEqual({ tfjs: false, workers: 0 });
  });

  it('train (the control): loads tfjs and starts its training thread', async () => {
    const r = await probed(bins[variant], ['train', '--corpus', 'names', '--run', `control-${variant}`, '--steps', '1', '--hidden', '8', '--seq', '8', '--batch', '2', '--json']);
    expect(r.stdout).toContain('"done":true');
    expect(r.tfjs).toBe(true);
    expect(r.workers).toBeGreaterThan(0);
  });
});
