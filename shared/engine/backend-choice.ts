// Which tfjs backend to run on, decided from what loaded: a pure function of the request
// (CHARRNN_BACKEND, CHARRNN_REQUIRE_GPU) and each candidate's outcome, so every branch is tested
// without libtensorflow (backend.ts does the loading). No tfjs import.
import { ENGINE_ENV } from './settings.ts';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

/** The native TensorFlow packages, best first. Either registers tfjs's 'tensorflow' backend. */
export const NATIVE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;
export type NativePackage = (typeof NATIVE_PACKAGES)[number];
export const GPU_PACKAGE: NativePackage = '@tensorflow/tfjs-node-gpu';

export type Candidate = NativePackage | 'wasm' | 'cpu';

export interface BackendRequest {
  /** CHARRNN_BACKEND or initBackend's argument; '' = the best that loads. */
  preferred: string;
  /** CHARRNN_REQUIRE_GPU. */
  requireGpu: boolean;
}

/** What trying one candidate gave: loaded (a native package: whether TensorFlow uses a GPU), or the loader's own error text. */
export type Attempt = { candidate: Candidate; loaded: true; gpu?: boolean } | { candidate: Candidate; loaded: false; error: string };

/** What a thread runs on (backendInfo() in backend.ts); /healthz reports it (its schema: BackendInUse in shared/api/schemas.ts). */
export interface BackendInfo {
  backend: BackendName;
  /** gpu only when the tensorflow backend runs on a GPU device. */
  device: 'gpu' | 'cpu';
  /** Whether wasm matrix products run on the OpenBLAS binding, and its kernel variant. */
  blas: { on: boolean; kernels: string | null };
  /** The tfjs-node package that loaded, if any. */
  package: NativePackage | null;
}

export interface BackendChoice extends Omit<BackendInfo, 'blas'> {
  /** Candidates tried before the chosen one, with their loaders' error text (worth a log line). */
  skipped: { candidate: Candidate; error: string }[];
}

/** No acceptable backend: the message carries every loader's own error text. */
export class BackendUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackendUnavailableError';
  }
}

const isNative = (c: string): c is NativePackage => (NATIVE_PACKAGES as readonly string[]).includes(c);

/** The candidates to try, best first. An unknown name, or a GPU demand the named backend cannot meet, throws. */
export function backendCandidates(r: BackendRequest): Candidate[] {
  const want = r.preferred.trim().toLowerCase();
  let order: Candidate[];
  if (!want) order = [...NATIVE_PACKAGES, 'wasm', 'cpu'];
  else if (want === 'tensorflow' || want === 'native') order = [...NATIVE_PACKAGES];
  else if (isNative(want)) order = [want];
  else if (want === 'wasm' || want === '@tensorflow/tfjs-backend-wasm') order = ['wasm'];
  else if (want === 'cpu' || want === '@tensorflow/tfjs-backend-cpu') order = ['cpu'];
  else throw new BackendUnavailableError(`unknown backend "${r.preferred}": use tensorflow, wasm or cpu`);
  if (!r.requireGpu) return order;
  if (!order.includes(GPU_PACKAGE)) {
    throw new BackendUnavailableError(`${ENGINE_ENV.requireGpu}=1 needs ${GPU_PACKAGE}, but ${ENGINE_ENV.backend}=${r.preferred} excludes it`);
  }
  return [GPU_PACKAGE];
}

/**
 * The backend to run on, given the attempts in candidate order (the loader stops at the first that
 * loads). Throws BackendUnavailableError when nothing acceptable loaded: no candidate at all, or a
 * required GPU that is not in use.
 */
export function chooseBackend(r: BackendRequest, attempts: readonly Attempt[]): BackendChoice {
  const i = attempts.findIndex((a) => a.loaded);
  const skipped = attempts.slice(0, i < 0 ? attempts.length : i).map((a) => ({ candidate: a.candidate, error: a.loaded ? '' : a.error }));
  const tried = skipped.map((s) => `${s.candidate}: ${s.error}`).join('; ');
  if (i < 0) {
    if (r.requireGpu) throw new BackendUnavailableError(`${ENGINE_ENV.requireGpu}=1, but ${GPU_PACKAGE} did not load (${tried || 'not tried'})`);
    const hint = skipped.some((s) => isNative(s.candidate))
      ? `; the native backend needs @tensorflow/tfjs-node(-gpu) installed with its TensorFlow library${r.preferred.trim() ? `, or set ${ENGINE_ENV.backend}=wasm` : ''}`
      : '';
    const what = r.preferred.trim() ? `backend "${r.preferred.trim()}" is unavailable` : 'no tfjs backend could be initialised';
    throw new BackendUnavailableError(`${what} (${tried || 'nothing tried'})${hint}`);
  }
  const chosen = attempts[i] as Extract<Attempt, { loaded: true }>;
  const pkg = isNative(chosen.candidate) ? chosen.candidate : null;
  const device = pkg && chosen.gpu === true ? 'gpu' : 'cpu';
  if (r.requireGpu && !(pkg === GPU_PACKAGE && device === 'gpu')) {
    throw new BackendUnavailableError(
      pkg === GPU_PACKAGE
        ? `${ENGINE_ENV.requireGpu}=1, but ${GPU_PACKAGE} loaded without a GPU (isUsingGpuDevice is false): check the NVIDIA driver, and that CUDA and cuDNN are on LD_LIBRARY_PATH`
        : `${ENGINE_ENV.requireGpu}=1, but ${chosen.candidate} loaded instead of ${GPU_PACKAGE}`,
    );
  }
  return { backend: pkg ? 'tensorflow' : (chosen.candidate as 'wasm' | 'cpu'), package: pkg, device, skipped };
}

/**
 * The backend a request ends on when no native package can load: the first of wasm/cpu it would
 * try. Null when a native package might load (only loading it tells) or the request allows none,
 * and for a request backendCandidates rejects. Lets a server plan its threads before its tfjs is up.
 */
export function foreseeBackend(r: BackendRequest, loadable: (pkg: NativePackage) => boolean): 'wasm' | 'cpu' | null {
  let order: Candidate[];
  try {
    order = backendCandidates(r);
  } catch {
    return null;
  }
  if (order.some((c) => isNative(c) && loadable(c))) return null;
  return (order.find((c) => !isNative(c)) as 'wasm' | 'cpu' | undefined) ?? null;
}

/** One line for a startup log: what runs, and why better candidates were passed over. */
export function describeBackend(info: BackendInfo, skipped: BackendChoice['skipped'] = []): string {
  const on = info.package ? `${info.backend} on ${info.device} (${info.package})` : info.backend;
  const blas = info.blas.on ? `, matmuls on OpenBLAS${info.blas.kernels ? ` (${info.blas.kernels})` : ''}` : '';
  const passed = skipped.length ? `; not used: ${skipped.map((s) => `${s.candidate} (${s.error})`).join(', ')}` : '';
  return `${on}${blas}${passed}`;
}
