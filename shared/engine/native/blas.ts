// Loads the optional native binding (built by `npm install` when the system has OpenBLAS; see
// build.mjs), from the source tree or from beside the bundle (infra/build.mjs). Absent, switched
// off (CHARRNN_BLAS=off), incomplete or unloadable: null, and the engine keeps its wasm kernels;
// blasStatus() says which and why. One build runs on any CPU of its architecture: the binding lists
// the kernel variants this CPU runs, best first, and the best is used unless CHARRNN_BLAS_KERNELS
// names another.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { BLAS_ENV, BLAS_KERNELS_ENV, BUILT_ADDON, BUNDLED_ADDON, blasKernelsWanted, blasSwitchedOff } from './env.mjs';

export interface Blas {
  /** c[m×n] = op(a)·op(b) + beta·c, row-major; a, b, c may be views of the wasm heap. */
  sgemm(transA: boolean, transB: boolean, m: number, n: number, k: number, a: Float32Array, b: Float32Array, c: Float32Array, beta: number): void;
  /** c[m×n] = a[m×k]·b[k×n] (+ c when accumulate), row-major; each row's bits do not depend on m. */
  rowGemm(m: number, n: number, k: number, a: Float32Array, b: Float32Array, c: Float32Array, accumulate: boolean): void;
  /** An LSTM cell's element-wise half for n rows: z = xp + hw ([n, 4H], gates i, f, o, g), c [n, H] → h, cNext. */
  lstmCell(n: number, H: number, xp: Float32Array, hw: Float32Array, c: Float32Array, h: Float32Array, cNext: Float32Array): void;
  /** A training layer's forward pass over a whole window (native/seq.c): fills gates, cs | rh, hs, hLast, cLast. */
  seqForward(args: SeqForwardArgs): void;
  /** Its backward pass: fills dx (x input), dwx, db, dwh; overwrites gates. */
  seqBackward(args: SeqBackwardArgs): void;
  /** The head's forward pass: logits = x·w + bias, probs = their softmax, loss[0] = the cross-entropy. */
  headForward(args: HeadForwardArgs): void;
  /** Its backward pass for dloss[0]: fills dx, dw, db; overwrites probs. */
  headBackward(args: HeadBackwardArgs): void;
  /** c[m×n] = op(a)·b (+ c), op(a) = a [m, k] or aᵀ (a [k, m]), with the layers' products on `threads` threads (benchmarks). */
  gemm(threads: number, transA: boolean, m: number, n: number, k: number, a: Float32Array, b: Float32Array, c: Float32Array, accumulate: boolean): void;
  /** The kernel variant rowGemm, lstmCell and the layers run: 'avx512', 'avx2' or 'baseline'. */
  readonly kernels: string;
  /** The kernels OpenBLAS chose for sgemm ('Haswell', 'SkylakeX', …; OPENBLAS_CORETYPE pins them). */
  readonly openblasCore: string;
}

/**
 * One LSTM (gates i, f, o, g) or GRU (z, r, h̃) layer over a window, time-major (row t·B + b is
 * stream b at step t), G = 4 or 3 gates. Row-major arrays: ids [T·B] (one-hot input, each < in) or
 * x [T·B, in]; wx [in, G·H], wh [H, G·H], bias [G·H]; h0, c0 [B, H]; the trace gates [T·B, G·H]
 * (activated), cs [T·B, H] (LSTM cell states) or rh [T·B, H] (GRU r·h_prev), hs [T·B, H] (outputs).
 * `threads` splits the streams (and the big products) between that many threads.
 */
export interface SeqLayerArgs {
  cell: 'lstm' | 'gru';
  T: number;
  B: number;
  H: number;
  in: number;
  threads: number;
  ids?: Int32Array;
  x?: Float32Array;
  wx: Float32Array;
  wh: Float32Array;
  h0: Float32Array;
  c0?: Float32Array;
  gates: Float32Array;
  cs?: Float32Array;
  rh?: Float32Array;
  hs: Float32Array;
}

/**
 * The head over N rows: x [N, H], w [H, V], targets [N] (each < V), probs [N, V]; the loss is the mean
 * over rows (or the sum when !mean).
 */
export interface HeadArgs {
  N: number;
  H: number;
  V: number;
  threads: number;
  mean: boolean;
  x: Float32Array;
  w: Float32Array;
  targets: Int32Array;
  probs: Float32Array;
}

export interface HeadForwardArgs extends HeadArgs {
  bias: Float32Array;
  /** [1]. */
  loss: Float32Array;
}

export interface HeadBackwardArgs extends HeadArgs {
  /** [1]: the loss's gradient. */
  dloss: Float32Array;
  dx: Float32Array;
  dw: Float32Array;
  db: Float32Array;
}

export interface SeqForwardArgs extends SeqLayerArgs {
  bias: Float32Array;
  hLast: Float32Array;
  cLast?: Float32Array;
}

export interface SeqBackwardArgs extends SeqLayerArgs {
  /** The outputs' gradient [T·B, H]. */
  dhs: Float32Array;
  dx?: Float32Array;
  dwx: Float32Array;
  db: Float32Array;
  dwh: Float32Array;
}

export interface BlasStatus {
  on: boolean;
  /** The kernel variant in use, when on. */
  kernels: string | null;
  /** OpenBLAS's kernels for sgemm, when on (Blas.openblasCore). */
  openblas: string | null;
  /** Why it is off: 'CHARRNN_BLAS=off', 'not built', the load error's first line, … */
  reason: string | null;
  /** The addon file found (loaded or not). */
  addon: string | null;
}

/** What blas.c exports. */
interface Addon {
  sgemm: Blas['sgemm'];
  openblasCore: string;
  variants: ({ name: string } & Pick<Blas, 'rowGemm' | 'lstmCell' | 'seqForward' | 'seqBackward' | 'headForward' | 'headBackward' | 'gemm'>)[];
  built: string[];
}

/**
 * Where the addon may be, first found wins: this file in the source tree (native/), or the bundle
 * this code is bundled into: dist/functions/*.mjs or dist/cli.mjs, with the addon at
 * dist/BUNDLED_ADDON.
 */
export const ADDON_CANDIDATES: readonly string[] = [BUILT_ADDON, `../${BUNDLED_ADDON}`, BUNDLED_ADDON].map((p) =>
  fileURLToPath(new URL(p, import.meta.url)),
);

/** The addon file loadBlas() loads, or null when none is built. */
export function findBlasAddon(): string | null {
  return ADDON_CANDIDATES.find((p) => existsSync(p)) ?? null;
}

let state: { blas: Blas | null; all: Blas[]; status: BlasStatus; error: Error | null } | undefined;

function load(): NonNullable<typeof state> {
  if (state) return state;
  const off = (reason: string, addon: string | null = null, error: Error | null = null) =>
    (state = { blas: null, all: [], status: { on: false, kernels: null, openblas: null, reason, addon }, error });
  if (blasSwitchedOff()) return off(`${BLAS_ENV}=off`);
  const addon = findBlasAddon();
  if (!addon) return off('not built');
  let lib: Partial<Addon>;
  try {
    lib = createRequire(import.meta.url)(addon) as Partial<Addon>;
  } catch (e) {
    // e.g. libopenblas.so.0 missing on this machine (Debian: apt-get install libopenblas0)
    return off(String(e instanceof Error ? e.message : e).split('\n')[0], addon);
  }
  // A build from an older checkout lacks newer exports: treat it as absent until rebuilt.
  if (typeof lib.sgemm !== 'function' || !Array.isArray(lib.variants) || !Array.isArray(lib.built) || !lib.variants.length || typeof lib.variants[0].gemm !== 'function') {
    return off('built by an older checkout (npm run postinstall rebuilds it)', addon);
  }
  const openblasCore = lib.openblasCore ?? 'unknown';
  const all = lib.variants.map(({ name, ...kernels }): Blas => ({ sgemm: lib.sgemm!, ...kernels, kernels: name, openblasCore }));
  const want = blasKernelsWanted();
  const runs = all.map((b) => b.kernels).join(', ');
  let blas = all[0];
  if (want && want !== 'auto') {
    const chosen = all.find((b) => b.kernels === want);
    if (!chosen) {
      const why = lib.built.includes(want) ? 'this CPU cannot run them' : `no such kernels (the binding has ${lib.built.join(', ')})`;
      // An explicit choice that cannot hold is an error, not a silent fallback: it exists to pin
      // tests and benchmarks to one variant.
      const msg = `${BLAS_KERNELS_ENV}=${want}: ${why}; this CPU runs ${runs}`;
      return off(msg, addon, new Error(msg));
    }
    blas = chosen;
  }
  return (state = { blas, all, status: { on: true, kernels: blas.kernels, openblas: openblasCore, reason: null, addon }, error: null });
}

/**
 * The binding with the chosen kernels, or null without one. Throws when CHARRNN_BLAS_KERNELS names
 * kernels this CPU or this build does not have.
 */
export function loadBlas(): Blas | null {
  const s = load();
  if (s.error) throw s.error;
  return s.blas;
}

/** Whether the binding is in use, with which kernels, or why not. Never throws. */
export function blasStatus(): BlasStatus {
  return { ...load().status };
}

/** Every kernel variant this CPU runs, best first, each as a Blas (tests and benchmarks compare them). */
export function blasVariants(): Blas[] {
  return [...load().all];
}
