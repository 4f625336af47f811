// What `npm run bench` promises about itself (BENCHMARKS.md): exit 1 when a measurement fails (the
// failure printed as a `# … failed:` line), `# torch reference skipped: <why>` and exit 0 when the
// PyTorch reference cannot run, and exit 2 on a usage error. Short runs; no figure is checked.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function bench(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NODE_OPTIONS;
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'test/bench/bench.ts', ...args], { cwd: ROOT, env, timeout: 120_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('npm run bench', () => {
  it('exits 1 when a measurement fails, and says which', async () => {
    // 64 layers of 8192: far past the engine's memory check, so the model cannot be made.
    const r = await bench(['--budget', '1', '--only', 'train', '--configs', '64x8192']);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toMatch(/^# 64x8192 model failed: .+/m);
  });

  it('skips the PyTorch reference with the reason when its Python cannot run it, and exits 0', async () => {
    const r = await bench(['--only', 'torch', '--configs', '1x8', '--python', '/nonexistent/python3']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^# torch reference skipped: (\/nonexistent\/python3 not found|tinyshakespeare not found.*)$/m);
  });

  it('exits 2 on a usage error', async () => {
    const r = await bench(['--configs', 'banana']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--configs: "banana" is not LAYERSxHIDDEN/);
  });
});
