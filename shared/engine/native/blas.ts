// Loads the optional native binding (built by `npm install` when the system has OpenBLAS; see
// build.mjs). Absent, switched off (CHARRNN_BLAS=off), stale or unloadable: null, and the engine
// keeps its wasm kernels.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export interface Blas {
  /** c[m×n] = op(a)·op(b) + beta·c, row-major; a, b, c may be views of the wasm heap. */
  sgemm(transA: boolean, transB: boolean, m: number, n: number, k: number, a: Float32Array, b: Float32Array, c: Float32Array, beta: number): void;
  /** c[m×n] = a[m×k]·b[k×n] (+ c when accumulate), row-major; each row's bits do not depend on m. */
  rowGemm(m: number, n: number, k: number, a: Float32Array, b: Float32Array, c: Float32Array, accumulate: boolean): void;
  /** An LSTM cell's element-wise half for n rows: z = xp + hw ([n, 4H], gates i, f, o, g), c [n, H] → h, cNext. */
  lstmCell(n: number, H: number, xp: Float32Array, hw: Float32Array, c: Float32Array, h: Float32Array, cNext: Float32Array): void;
}

export const BLAS_ADDON = fileURLToPath(new URL('./build/Release/charrnn_blas.node', import.meta.url));

let loaded: Blas | null | undefined;

export function loadBlas(): Blas | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  const mode = (process.env.CHARRNN_BLAS ?? '').trim().toLowerCase();
  if (mode === 'off' || mode === '0' || mode === 'false') return loaded;
  if (!existsSync(BLAS_ADDON) || !builtForThisCpu()) return loaded;
  try {
    const addon = createRequire(import.meta.url)(BLAS_ADDON) as Partial<Blas>;
    // A build from an older checkout lacks newer functions: treat it as absent until rebuilt.
    const complete = (['sgemm', 'rowGemm', 'lstmCell'] as const).every((f) => typeof addon[f] === 'function');
    loaded = complete ? (addon as Blas) : null;
  } catch {
    loaded = null; // e.g. libopenblas removed after the build
  }
  return loaded;
}

/**
 * Whether the binding was built on this kind of CPU: it is compiled with -march=native, and on a
 * CPU without those instructions it would stop the process. build.mjs records arch and flags.
 */
export function builtForThisCpu(record: string | URL = new URL('./build/Release/cpu.json', import.meta.url)): boolean {
  try {
    const built = JSON.parse(readFileSync(record, 'utf8')) as { arch: string; flags: string | null };
    return built.arch === process.arch && built.flags === cpuFlags();
  } catch {
    return false; // built before the record existed, or unreadable: rebuild with npm run postinstall
  }
}

/** The CPU's feature flags (Linux), or null where /proc/cpuinfo is absent (as build.mjs reads them). */
function cpuFlags(): string | null {
  try {
    return /^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1].trim() ?? null;
  } catch {
    return null;
  }
}
