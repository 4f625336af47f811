// Backend selection: best available by default, CHARRNN_BACKEND / argument override, idempotent.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { currentBackend, initBackend } from '../../shared/engine/index.ts';
import { nativeAddonPresent } from '../../shared/engine/backend.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

/** initBackend() in a fresh process with the given CHARRNN_BACKEND. */
async function chooseIn(env: string | undefined, arg?: string): Promise<{ out: string; err: string }> {
  const script = `import { initBackend } from './shared/engine/index.ts';
try { console.log('BACKEND=' + await initBackend(${arg ? JSON.stringify(arg) : ''})); } catch (e) { console.log('ERROR=' + e.message); }`;
  const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: root,
    env: { ...process.env, CHARRNN_BACKEND: env ?? '' },
  });
  return { out: stdout.trim().split('\n').pop()!, err: stderr };
}

// Here the optional native packages may be present without their addon (no download possible).
const nativeInstalled = nativeAddonPresent('@tensorflow/tfjs-node') || nativeAddonPresent('@tensorflow/tfjs-node-gpu');

describe('initBackend', () => {
  it('picks the best available backend once and keeps it', async () => {
    delete process.env.CHARRNN_BACKEND;
    const name = await initBackend();
    expect(name).toBe(nativeInstalled ? 'tensorflow' : 'wasm');
    expect(currentBackend()).toBe(name);
    expect(tf.getBackend()).toBe(name);
    expect(await initBackend('cpu')).toBe(name); // idempotent: the first choice stands
  });

  it('honours CHARRNN_BACKEND and the argument, and explains bad values', async () => {
    const [cpu, wasm, arg, native, bogus] = await Promise.all([
      chooseIn('cpu'),
      chooseIn('@tensorflow/tfjs-backend-wasm'),
      chooseIn(undefined, 'cpu'),
      chooseIn('tensorflow'),
      chooseIn('gpu-please'),
    ]);
    expect(cpu.out).toBe('BACKEND=cpu');
    expect(wasm.out).toBe('BACKEND=wasm');
    expect(arg.out).toBe('BACKEND=cpu');
    expect(native.out).toBe(nativeInstalled ? 'BACKEND=tensorflow' : 'ERROR=no tfjs backend could be initialised (tried @tensorflow/tfjs-node-gpu, @tensorflow/tfjs-node): the native backend needs @tensorflow/tfjs-node(-gpu) installed with its TensorFlow library; or set CHARRNN_BACKEND=wasm');
    expect(bogus.out).toBe('ERROR=unknown backend "gpu-please": use tensorflow, wasm or cpu');
    // a package without its addon is skipped before import, so nothing is registered or logged
    for (const r of [cpu, wasm, arg, native]) expect(r.err).not.toMatch(/already registered/);
  });
});
