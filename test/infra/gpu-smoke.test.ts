// infra/gpu-smoke.sh's own code, run here on the wasm backend: no machine of this project has a GPU,
// so only the GPU itself (and tfjs-node-gpu's kernels) stays untested. Real processes, real sockets.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHECK_IDS, CHECKS, type Row } from '../../functions/smoke/checks.ts';
import { rel, ROOT } from './support.ts';

const SMOKE_TIMEOUT_MS = 150_000;
/** This machine's 2 cores are shared with other work while the server runs 4 busy threads; the
 * default (250 ms, what a GPU instance must meet) is checked by hand there, and its failure path below. */
const SHARED_MACHINE_MAX_GAP_MS = '1000';

function smoke(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env };
  delete env.NODE_OPTIONS; // the test runner's loaders stay out of the smoke and its children
  return new Promise((resolve) => {
    execFile('bash', [rel('infra/gpu-smoke.sh'), ...args], { cwd: ROOT, env, timeout: SMOKE_TIMEOUT_MS, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

const label = (id: string) => CHECKS.find((c) => c.id === id)!.label;
/** The table's line of one check: its cells. */
function tableRow(stdout: string, id: string): { result: string; detail: string } | undefined {
  const line = stdout.split('\n').find((l) => l.startsWith(`${label(id)} `));
  if (!line) return undefined;
  const [, result, ...detail] = line.split(' | ');
  return { result: result.trim(), detail: detail.join(' | ').trim() };
}

let dir: string;
let dist: string;
beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'charrnn-gpu-smoke-test-'));
  dist = path.join(dir, 'dist');
  await new Promise<void>((resolve, reject) =>
    execFile(process.execPath, [rel('infra/build.mjs'), '--outdir', dist, '--quiet'], { cwd: ROOT }, (e) => (e ? reject(e) : resolve())),
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// The bundle is what the image runs (dist/gpu-smoke.mjs starting dist/functions/main.mjs); the
// checkout's sources run below, in the tensorflow cases.
describe('gpu-smoke.sh --backend wasm --dist', () => {
  it('every row but the GPU ones passes, JSON out, exit 0', async () => {
    const r = await smoke(['--backend', 'wasm', '--dist', dist, '--json', '--max-healthz-gap-ms', SHARED_MACHINE_MAX_GAP_MS]);
    const report = JSON.parse(r.stdout) as { ok: boolean; backend: string; mode: string; rows: Row[] };
    expect(report.rows.map((row) => row.id)).toEqual(CHECK_IDS);
    for (const row of report.rows) {
      const gpuOnly = CHECKS.find((c) => c.id === row.id)!.gpuOnly;
      expect(row.result, `${row.check}: ${row.detail}`).toBe(gpuOnly ? 'skip (wasm)' : 'pass');
      expect(row.detail.length).toBeGreaterThan(0);
    }
    expect(report).toMatchObject({ ok: true, backend: 'wasm', mode: `bundle ${dist}` });
    expect(r.code, r.stderr).toBe(0);
  });

  it('a threshold that cannot hold fails its row, the table says so, exit 1', async () => {
    const r = await smoke(['--backend', 'wasm', '--dist', dist, '--only', 'server,healthz-gap,sigterm', '--max-healthz-gap-ms', '1']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/^check +\| result +\| detail$/m);
    for (const id of CHECK_IDS) expect(tableRow(r.stdout, id), `table row of ${id}`).toBeDefined();
    expect(tableRow(r.stdout, 'healthz-gap')).toMatchObject({ result: 'FAIL', detail: expect.stringMatching(/ ms \(≤ 1\) over \d+ answers/) });
    expect(tableRow(r.stdout, 'server')?.result).toBe('pass');
    expect(tableRow(r.stdout, 'sigterm')).toMatchObject({ result: 'pass', detail: expect.stringContaining('shutdown') });
    expect(tableRow(r.stdout, 'matmul')?.result).toBe('skip (not selected)');
    expect(r.stdout).toMatch(/^gpu-smoke: 2 pass, 1 FAIL, 9 skip, [\d.]+ s$/m);
  });
});

describe('gpu-smoke.sh --backend tensorflow from the checkout, on a machine without a GPU', () => {
  it('fails the GPU, library and backend rows with the reason, exit 1', async () => {
    const r = await smoke(['--only', 'gpu,cuda-libs,backend,matmul']);
    expect(r.code, r.stderr).toBe(1);
    expect(tableRow(r.stdout, 'gpu')).toMatchObject({ result: 'FAIL', detail: expect.stringContaining('nvidia-smi not found') });
    expect(tableRow(r.stdout, 'cuda-libs')).toMatchObject({ result: 'FAIL', detail: '@tensorflow/tfjs-node-gpu is not installed' });
    // The engine's own error: no native TensorFlow here, and no silent fall-back to wasm.
    expect(tableRow(r.stdout, 'backend')).toMatchObject({ result: 'FAIL', detail: expect.stringContaining('tfjs-node') });
    expect(tableRow(r.stdout, 'matmul')?.result).toBe('FAIL');
  });

  it('rejects a bad option with the usage, exit 2', async () => {
    const r = await smoke(['--backend', 'webgl']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--backend must be tensorflow or wasm');
    expect(r.stderr).toContain('usage: infra/gpu-smoke.sh');
  });
});
