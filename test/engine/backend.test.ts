// Backend selection: best available by default, the caller's settings (CHARRNN_BACKEND, read by
// functions/settings.ts) or a name override it, idempotent.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { currentBackend, initBackend } from '../../shared/engine/index.ts';
import { backendInfo } from '../../shared/engine/backend.ts';
import { nativeAddonMissing, nativeAddonPresent } from '../../shared/engine/native-packages.ts';
import { loadBlas } from '../../shared/engine/native/blas.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

/** initBackend() in a fresh process with the given CHARRNN_BACKEND, as the server calls it: with the settings it read, or a name. */
async function chooseIn(env: string | undefined, arg?: string, extra: Record<string, string> = {}): Promise<{ out: string; err: string }> {
  const script = `import { initBackend } from './shared/engine/index.ts';
import { readEngineSettings } from './functions/settings.ts';
try { console.log('BACKEND=' + await initBackend(${arg ? JSON.stringify(arg) : 'readEngineSettings()'})); } catch (e) { console.log('ERROR=' + e.message); }`;
  const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: root,
    env: { ...process.env, CHARRNN_BACKEND: env ?? '', ...extra },
  });
  return { out: stdout.trim().split('\n').pop()!, err: stderr };
}

// Here the optional native packages may be present without their addon (no download possible).
const nativeInstalled = nativeAddonPresent('@tensorflow/tfjs-node') || nativeAddonPresent('@tensorflow/tfjs-node-gpu');

describe('initBackend', () => {
  it('picks the best available backend once and keeps it', async () => {
    const name = await initBackend();
    expect(name).toBe(nativeInstalled ? 'tensorflow' : 'wasm');
    expect(currentBackend()).toBe(name);
    expect(tf.getBackend()).toBe(name);
    expect(await initBackend('cpu')).toBe(name); // idempotent: the first choice stands
    if (!nativeInstalled) {
      expect(backendInfo()).toEqual({ backend: 'wasm', package: null, device: 'cpu', blas: { on: loadBlas() !== null, kernels: loadBlas()?.kernels ?? null } });
    }
  });

  it('honours CHARRNN_BACKEND and the argument, and explains bad values', async () => {
    const [cpu, wasm, arg, native, bogus, gpu] = await Promise.all([
      chooseIn('cpu'),
      chooseIn('@tensorflow/tfjs-backend-wasm'),
      chooseIn(undefined, 'cpu'),
      chooseIn('tensorflow'),
      chooseIn('gpu-please'),
      chooseIn(undefined, undefined, { CHARRNN_REQUIRE_GPU: '1' }),
    ]);
    expect(cpu.out).toBe('BACKEND=cpu');
    expect(wasm.out).toBe('BACKEND=wasm');
    expect(arg.out).toBe('BACKEND=cpu');
    expect(bogus.out).toBe('ERROR=unknown backend "gpu-please": use tensorflow, wasm or cpu');
    if (nativeInstalled) expect(native.out).toBe('BACKEND=tensorflow');
    else {
      // Each package's own reason, as the resolver or loader gave it.
      const [g, n] = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'].map((p) => `${p}: ${nativeAddonMissing(p)}`);
      expect(native.out).toBe(
        `ERROR=backend "tensorflow" is unavailable (${g}; ${n}); the native backend needs @tensorflow/tfjs-node(-gpu) installed with its TensorFlow library, or set CHARRNN_BACKEND=wasm`,
      );
      expect(gpu.out).toBe(`ERROR=CHARRNN_REQUIRE_GPU=1, but @tensorflow/tfjs-node-gpu did not load (@tensorflow/tfjs-node-gpu: ${nativeAddonMissing('@tensorflow/tfjs-node-gpu')})`);
      expect(nativeAddonMissing('@tensorflow/tfjs-node-gpu')).toMatch(/Cannot find module|without its native addon/);
    }
    // a package without its addon is skipped before import, so nothing is registered or logged
    for (const r of [cpu, wasm, arg, native]) expect(r.err).not.toMatch(/already registered/);
  });
});
