// The backend decision as a pure function: every branch, with made-up loader outcomes (no
// libtensorflow can be installed here), plus the settings it reads from the environment.
import { describe, expect, it } from 'vitest';
import {
  backendCandidates,
  BackendUnavailableError,
  chooseBackend,
  describeBackend,
  foreseeBackend,
  type Attempt,
  type BackendRequest,
} from '../../shared/engine/backend-choice.ts';
import { readEngineSettings } from '../../functions/settings.ts';

const GPU = '@tensorflow/tfjs-node-gpu';
const NODE = '@tensorflow/tfjs-node';
const CUDA_ERROR = 'libcudart.so.11.0: cannot open shared object file: No such file or directory';
const TF_ERROR = 'libtensorflow.so.2: cannot open shared object file: No such file or directory';

const auto: BackendRequest = { preferred: '', requireGpu: false };
const gpuRequired: BackendRequest = { preferred: '', requireGpu: true };
const failed = (candidate: Attempt['candidate'], error: string): Attempt => ({ candidate, loaded: false, error });

/** What the loader does: try the candidates in order, stop at the first that loads. */
function simulate(r: BackendRequest, outcomes: Partial<Record<Attempt['candidate'], Attempt>>) {
  const attempts: Attempt[] = [];
  for (const c of backendCandidates(r)) {
    const a = outcomes[c] ?? failed(c, `${c}: not installed`);
    attempts.push(a);
    if (a.loaded) break;
  }
  return { attempts, choose: () => chooseBackend(r, attempts) };
}

describe('backendCandidates', () => {
  it('tries the native packages, then wasm, then cpu by default; names narrow it', () => {
    expect(backendCandidates(auto)).toEqual([GPU, NODE, 'wasm', 'cpu']);
    expect(backendCandidates({ preferred: 'tensorflow', requireGpu: false })).toEqual([GPU, NODE]);
    expect(backendCandidates({ preferred: ' WASM ', requireGpu: false })).toEqual(['wasm']);
    expect(backendCandidates({ preferred: '@tensorflow/tfjs-backend-cpu', requireGpu: false })).toEqual(['cpu']);
    expect(backendCandidates({ preferred: NODE, requireGpu: false })).toEqual([NODE]);
    expect(() => backendCandidates({ preferred: 'gpu-please', requireGpu: false })).toThrow('unknown backend "gpu-please": use tensorflow, wasm or cpu');
  });

  it('with a GPU required: only tfjs-node-gpu, and a backend setting that excludes it is an error', () => {
    expect(backendCandidates(gpuRequired)).toEqual([GPU]);
    expect(backendCandidates({ preferred: 'tensorflow', requireGpu: true })).toEqual([GPU]);
    for (const preferred of ['wasm', 'cpu', NODE]) {
      expect(() => backendCandidates({ preferred, requireGpu: true })).toThrow(
        new BackendUnavailableError(`CHARRNN_REQUIRE_GPU=1 needs ${GPU}, but CHARRNN_BACKEND=${preferred} excludes it`),
      );
    }
  });
});

describe('chooseBackend', () => {
  it('GPU required, tfjs-node-gpu loaded on a GPU: tensorflow on gpu', () => {
    const { attempts, choose } = simulate(gpuRequired, { [GPU]: { candidate: GPU, loaded: true, gpu: true } });
    expect(attempts.map((a) => a.candidate)).toEqual([GPU]);
    expect(choose()).toEqual({ backend: 'tensorflow', package: GPU, device: 'gpu', skipped: [] });
  });

  it('GPU required, tfjs-node-gpu loaded but TensorFlow sees no GPU: refused, saying why', () => {
    const { choose } = simulate(gpuRequired, { [GPU]: { candidate: GPU, loaded: true, gpu: false } });
    expect(choose).toThrow(BackendUnavailableError);
    expect(choose).toThrow(/CHARRNN_REQUIRE_GPU=1, but @tensorflow\/tfjs-node-gpu loaded without a GPU \(isUsingGpuDevice is false\)/);
  });

  it('GPU required, tfjs-node-gpu failed to load: refused with the loader\'s own error', () => {
    const { choose } = simulate(gpuRequired, { [GPU]: failed(GPU, CUDA_ERROR) });
    expect(choose).toThrow(`CHARRNN_REQUIRE_GPU=1, but ${GPU} did not load (${GPU}: ${CUDA_ERROR})`);
  });

  it('GPU required, but something else loaded (attempts not from backendCandidates): refused', () => {
    expect(() => chooseBackend(gpuRequired, [failed(GPU, CUDA_ERROR), { candidate: 'wasm', loaded: true }])).toThrow(/loaded instead of/);
  });

  it('an explicit backend that cannot be honoured is an error carrying each loader\'s text', () => {
    const { choose } = simulate({ preferred: 'tensorflow', requireGpu: false }, { [GPU]: failed(GPU, CUDA_ERROR), [NODE]: failed(NODE, TF_ERROR) });
    expect(choose).toThrow(
      `backend "tensorflow" is unavailable (${GPU}: ${CUDA_ERROR}; ${NODE}: ${TF_ERROR}); ` +
        'the native backend needs @tensorflow/tfjs-node(-gpu) installed with its TensorFlow library, or set CHARRNN_BACKEND=wasm',
    );
    const wasm = simulate({ preferred: 'wasm', requireGpu: false }, { wasm: failed('wasm', 'WebAssembly.instantiate(): out of memory') });
    expect(wasm.choose).toThrow('backend "wasm" is unavailable (wasm: WebAssembly.instantiate(): out of memory)');
  });

  it('an explicit backend that loads is used', () => {
    expect(simulate({ preferred: 'cpu', requireGpu: false }, { cpu: { candidate: 'cpu', loaded: true } }).choose()).toEqual({
      backend: 'cpu', package: null, device: 'cpu', skipped: [],
    });
    expect(simulate({ preferred: 'tensorflow', requireGpu: false }, { [GPU]: failed(GPU, CUDA_ERROR), [NODE]: { candidate: NODE, loaded: true, gpu: false } }).choose())
      .toEqual({ backend: 'tensorflow', package: NODE, device: 'cpu', skipped: [{ candidate: GPU, error: CUDA_ERROR }] });
  });

  it('default chain: the first that loads wins, and what failed before it is kept with its error', () => {
    const gpu = simulate(auto, { [GPU]: { candidate: GPU, loaded: true, gpu: true } }).choose();
    expect(gpu).toEqual({ backend: 'tensorflow', package: GPU, device: 'gpu', skipped: [] });
    // The GPU package without a GPU still beats wasm, but says it runs on the CPU.
    const noDevice = simulate(auto, { [GPU]: { candidate: GPU, loaded: true, gpu: false } }).choose();
    expect(noDevice).toMatchObject({ backend: 'tensorflow', package: GPU, device: 'cpu' });
    // A gpu flag on a non-native candidate means nothing.
    expect(chooseBackend(auto, [{ candidate: 'wasm', loaded: true, gpu: true }]).device).toBe('cpu');
    const wasm = simulate(auto, { [GPU]: failed(GPU, CUDA_ERROR), [NODE]: failed(NODE, TF_ERROR), wasm: { candidate: 'wasm', loaded: true } });
    expect(wasm.attempts.map((a) => a.candidate)).toEqual([GPU, NODE, 'wasm']);
    expect(wasm.choose()).toEqual({
      backend: 'wasm', package: null, device: 'cpu',
      skipped: [{ candidate: GPU, error: CUDA_ERROR }, { candidate: NODE, error: TF_ERROR }],
    });
    const cpu = simulate(auto, { wasm: failed('wasm', 'no SIMD'), cpu: { candidate: 'cpu', loaded: true } }).choose();
    expect(cpu).toMatchObject({ backend: 'cpu', skipped: [{ candidate: GPU }, { candidate: NODE }, { candidate: 'wasm', error: 'no SIMD' }] });
  });

  it('default chain with nothing loading: one error naming every candidate and its error', () => {
    const { choose } = simulate(auto, {});
    expect(choose).toThrow(
      `no tfjs backend could be initialised (${GPU}: ${GPU}: not installed; ${NODE}: ${NODE}: not installed; wasm: wasm: not installed; cpu: cpu: not installed); ` +
        'the native backend needs @tensorflow/tfjs-node(-gpu) installed with its TensorFlow library',
    );
  });

  it('describeBackend: one log line', () => {
    expect(describeBackend({ backend: 'tensorflow', package: GPU, device: 'gpu', blas: { on: false, kernels: null } })).toBe(`tensorflow on gpu (${GPU})`);
    expect(describeBackend({ backend: 'wasm', package: null, device: 'cpu', blas: { on: true, kernels: null } }, [{ candidate: GPU, error: CUDA_ERROR }])).toBe(
      `wasm, matmuls on OpenBLAS; not used: ${GPU} (${CUDA_ERROR})`,
    );
  });
});

describe('foreseeBackend', () => {
  it('names wasm/cpu only when no native package can load; otherwise only loading tells', () => {
    const none = () => false;
    const gpuOnly = (p: string) => p === GPU;
    expect(foreseeBackend(auto, none)).toBe('wasm');
    expect(foreseeBackend(auto, gpuOnly)).toBeNull();
    expect(foreseeBackend({ preferred: 'cpu', requireGpu: false }, gpuOnly)).toBe('cpu');
    expect(foreseeBackend({ preferred: 'tensorflow', requireGpu: false }, none)).toBeNull(); // startup will fail
    expect(foreseeBackend(gpuRequired, none)).toBeNull();
    expect(foreseeBackend({ preferred: 'bogus', requireGpu: false }, none)).toBeNull();
  });
});

describe('engine settings from the environment (functions/settings.ts)', () => {
  it('reads each variable, and names it when a value is malformed', () => {
    expect(readEngineSettings({})).toEqual({ backend: '', requireGpu: false, oneTfjsThread: false });
    expect(readEngineSettings({ CHARRNN_BACKEND: ' wasm ' }).backend).toBe('wasm');
    for (const yes of ['1', 'true', 'YES', 'on']) expect(readEngineSettings({ CHARRNN_REQUIRE_GPU: yes }).requireGpu).toBe(true);
    for (const no of ['0', 'false', 'off', '']) expect(readEngineSettings({ CHARRNN_REQUIRE_GPU: no }).requireGpu).toBe(false);
    expect(() => readEngineSettings({ CHARRNN_REQUIRE_GPU: 'gpu' })).toThrow('CHARRNN_REQUIRE_GPU must be 1 or 0, got "gpu"');
    expect(readEngineSettings({ CHARRNN_ONE_TFJS_THREAD: '1' }).oneTfjsThread).toBe(true);
    expect(() => readEngineSettings({ CHARRNN_ONE_TFJS_THREAD: 'maybe' })).toThrow('CHARRNN_ONE_TFJS_THREAD must be 1 or 0, got "maybe"');
    expect(readEngineSettings({ CHARRNN_TRAIN_THREADS: '2' }).trainThreads).toBe(2);
    expect(() => readEngineSettings({ CHARRNN_TRAIN_THREADS: '3' })).toThrow(/1 or 2 .*CHARRNN_TRAIN_THREADS=3/);
  });
});
