// Loads the fastest tfjs backend available at run time.
// Order: tfjs-node-gpu → tfjs-node (native TensorFlow, optional deps that may be absent) → wasm → cpu;
// The caller's settings (CHARRNN_BACKEND, CHARRNN_REQUIRE_GPU; or a backend's name) narrow it. What to accept is decided in
// backend-choice.ts (pure, tested without libtensorflow); this file only tries the candidates, and
// on wasm installs kernels/'s kernels (slow or missing ones replaced, matmuls to OpenBLAS).
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import {
  backendCandidates,
  chooseBackend,
  NATIVE_PACKAGES,
  type Attempt,
  type BackendChoice,
  type BackendInfo,
  type BackendRequest,
  type Candidate,
  type NativePackage,
} from './backend-choice.ts';
import { installWasmKernelFixes } from './kernels/index.ts';
import type { EngineSettings } from './settings.ts';
import { nativeAddonMissing } from './native-packages.ts';
import { blasStatus } from './native/blas.ts';

// The sampling step's half lives apart so that a browser can load step.ts without this file.
export { hasLstmCellKernel, LSTM_CELL, rowInvariantMatMuls } from './step-kernels.ts';

let chosen: Promise<BackendChoice> | null = null;
let choice: BackendChoice | null = null;

/**
 * Initialise the backend once (later calls keep the first choice) and return the active backend's
 * name. `settings`: the caller's (a string: just the backend's name); none = the best that loads.
 * Rejects with BackendUnavailableError, carrying each loader's error text, when nothing
 * acceptable loads (and then tries again on the next call).
 */
export async function initBackend(settings: string | Pick<EngineSettings, 'backend' | 'requireGpu'> = {}): Promise<string> {
  if (!chosen) {
    const s = typeof settings === 'string' ? { backend: settings } : settings;
    const request = { preferred: s.backend ?? '', requireGpu: s.requireGpu ?? false };
    chosen = pick(request).then(
      (c) => (choice = c),
      (e) => {
        chosen = null;
        throw e;
      },
    );
  }
  await chosen;
  return tf.getBackend();
}

/** The active backend's name ('tensorflow', 'wasm' or 'cpu'). */
export function currentBackend(): string {
  return tf.getBackend();
}

/** What this thread runs on; call after initBackend() resolved (each thread initialises its own tfjs). */
export function backendInfo(): BackendInfo {
  if (!choice) throw new Error('backendInfo() called before initBackend() succeeded');
  const { skipped: _, ...info } = choice;
  // The binding serves the wasm kernels only: on other backends it is loaded but not in use.
  const blas = blasStatus();
  return { ...info, blas: info.backend === 'wasm' && blas.on ? { on: true, kernels: blas.kernels } : { on: false, kernels: null } };
}

/** The candidates passed over on the way to the chosen backend, with their loaders' error text. */
export function backendSkipped(): BackendChoice['skipped'] {
  return choice ? [...choice.skipped] : [];
}

async function pick(request: BackendRequest): Promise<BackendChoice> {
  const attempts: Attempt[] = [];
  for (const candidate of backendCandidates(request)) {
    const a = await tryCandidate(candidate);
    attempts.push(a);
    if (a.loaded) break;
  }
  const c = chooseBackend(request, attempts);
  if (c.backend === 'wasm') installWasmKernelFixes();
  return c;
}

const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e));

async function tryCandidate(candidate: Candidate): Promise<Attempt> {
  if ((NATIVE_PACKAGES as readonly string[]).includes(candidate)) {
    const missing = nativeAddonMissing(candidate);
    if (missing) return { candidate, loaded: false, error: missing };
    try {
      // Optional dependency: a variable specifier keeps bundlers from requiring it at build time.
      const spec: NativePackage = candidate as NativePackage;
      await import(spec);
    } catch (e) {
      return { candidate, loaded: false, error: errorText(e) };
    }
    const set = await setBackend('tensorflow');
    if (!set.ok) return { candidate, loaded: false, error: set.error };
    // tfjs-node's NodeJSKernelBackend reads this from its binding once, when it is created.
    const gpu = (tf.backend() as unknown as { isUsingGpuDevice?: unknown }).isUsingGpuDevice === true;
    return { candidate, loaded: true, gpu };
  }
  const set = await setBackend(candidate);
  return set.ok ? { candidate, loaded: true } : { candidate, loaded: false, error: set.error };
}

/**
 * tf.setBackend, keeping the reason when it fails: tfjs reports a backend's failed initialisation
 * only through console.warn (engine.initializeBackend) and returns false, so the warning is caught
 * here (and still printed).
 */
async function setBackend(name: string): Promise<{ ok: true } | { ok: false; error: string }> {
  const warned: string[] = [];
  const warn = console.warn;
  console.warn = (...a: unknown[]) => {
    warned.push(a.map(String).join(' '));
    warn(...a);
  };
  try {
    if ((await tf.setBackend(name)) && tf.getBackend() === name) return { ok: true };
    return { ok: false, error: warned.at(-1)?.split('\n')[0] ?? `tf.setBackend('${name}') failed` };
  } catch (e) {
    return { ok: false, error: errorText(e) };
  } finally {
    console.warn = warn;
  }
}
