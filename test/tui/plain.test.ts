// charrnn-tui without a terminal (stdout piped): plain lines and exit codes, against a real server.
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closedPort, createTinyRun, startTestApi, type TestApi } from './helpers.tsx';

const BIN = resolve(fileURLToPath(new URL('../../tui/bin/charrnn-tui.js', import.meta.url)));
let t: TestApi;

beforeAll(async () => {
  t = await startTestApi();
  await createTinyRun(t.api, 'piped');
});
afterAll(async () => {
  await t?.close();
});

function runTui(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runTuiWith({}, ...args);
}

function runTuiWith(opts: { interruptAfterOutput?: boolean }, ...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CHARRNN_API_URL: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      if (opts.interruptAfterOutput && !stdout) child.kill('SIGINT');
      stdout += d;
    });
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

describe('non-TTY mode', () => {
  it('lists runs as plain lines and says how to do more', async () => {
    const r = await runTui('--api', t.url);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ID\s+CORPUS\s+SIZE\s+STATUS/m);
    expect(r.stdout).toMatch(/^piped\s+names\s+1×64\s+idle\s+0/m);
    expect(r.stdout).toContain('stdout is not a terminal');
    expect(r.stdout).not.toMatch(/\u001B\[/); // no drawing
  });

  it('trains for N seconds in slices, printing progress lines, then samples', async () => {
    const r = await runTui('--api', t.url, '--run', 'piped', '--train-seconds', '8', '--slice-seconds', '2');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^step \d+ epoch \d\.\d{3} train \d\.\d{3} .* chars\/s eta .* backend \w+$/m);
    const slices = r.stdout.match(/^slice done: \d+ steps/gm) ?? [];
    expect(slices.length).toBeGreaterThanOrEqual(2);
    // Every slice ends on a validation, which brings a sample: one line, right after its step's line.
    const samples = [...r.stdout.matchAll(/^step (\d+) epoch .*\nsample at step (\d+): (.+)$/gm)];
    expect(samples.length).toBeGreaterThanOrEqual(slices.length);
    for (const [, step, sampleStep, text] of samples) {
      expect(sampleStep).toBe(step);
      expect([...text]).toHaveLength(200);
    }
    const run = await t.api.getRun('piped');
    expect(run.step).toBeGreaterThan(0);
    expect(r.stdout).toContain(`step ${run.step} epoch`);

    const s = await runTui('--api', t.url, '--run', 'piped', '--sample', '120');
    expect(s.code).toBe(0);
    expect(s.stdout.trimEnd().length).toBeGreaterThanOrEqual(100);
  });

  it('exits non-zero with a one-line reason on misuse or an unreachable API', async () => {
    const usage = await runTui('--api', t.url, '--sample', '10');
    expect(usage.code).toBe(2);
    expect(usage.stdout).toContain('need --run ID');
    const down = await runTui('--api', `http://127.0.0.1:${await closedPort()}`);
    expect(down.code).toBe(1);
    expect(down.stderr.trim().split('\n')).toHaveLength(1);
    expect(down.stderr).toMatch(/^charrnn-tui: Cannot reach http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\): start the server or pass --api URL\.$/m);
    const missing = await runTui('--api', t.url, '--run', 'nope');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/nope.*check the run id/);
  });

  it('stops a sample on Ctrl+C with exit status 130 and no message', async () => {
    const r = await runTuiWith({ interruptAfterOutput: true }, '--api', t.url, '--run', 'piped', '--sample', '20000');
    expect(r.code).toBe(130);
    expect(r.stderr).toBe('');
    expect(r.stdout.length).toBeGreaterThan(0);
    expect(r.stdout.length).toBeLessThan(20000);
  });
});
