// What `npm run bench` promises about itself (BENCHMARKS.md): exit 1 when a measurement fails (the
// failure printed as a `# … failed:` line), `# torch reference skipped: <why>` and exit 0 when the
// PyTorch reference cannot run, and exit 2 on a usage error. Short runs; no figure is checked.
import { describe, expect, it } from 'vitest';
import { runScript } from '../support/run-script.ts';

const bench = (args: string[]) => runScript('test/bench/bench.ts', args);

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
