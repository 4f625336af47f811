// The GPU smoke's rows, its tolerances and its table: defined here once, read by the checks,
// by main.ts (order, output) and by test/infra/gpu-smoke.test.ts.

export const CHECKS = [
  { id: 'gpu', label: 'GPU and driver', gpuOnly: true },
  { id: 'cuda-libs', label: 'CUDA/cuDNN libraries', gpuOnly: true },
  { id: 'backend', label: 'tfjs backend', gpuOnly: false },
  { id: 'matmul', label: 'matMul vs cpu', gpuOnly: false },
  { id: 'gather', label: 'gather vs cpu', gpuOnly: false },
  { id: 'segment-sum', label: 'unsortedSegmentSum vs cpu', gpuOnly: false },
  { id: 'lstm-grad', label: 'fused LSTM gradient vs cpu', gpuOnly: false },
  { id: 'train', label: '50 training steps vs wasm', gpuOnly: false },
  { id: 'resume', label: 'checkpoint, resume, continue', gpuOnly: false },
  { id: 'server', label: 'server: slice + 4 sample streams', gpuOnly: false },
  { id: 'healthz-gap', label: 'longest /healthz gap', gpuOnly: false },
  { id: 'sigterm', label: 'SIGTERM mid-slice', gpuOnly: false },
] as const;

export type CheckId = (typeof CHECKS)[number]['id'];
export const CHECK_IDS = CHECKS.map((c) => c.id) as CheckId[];

export type Backend = 'tensorflow' | 'wasm';
export const BACKENDS: readonly Backend[] = ['tensorflow', 'wasm'];

export interface Outcome {
  /** pass, FAIL, or why it did not run. */
  result: 'pass' | 'FAIL' | `skip (${string})`;
  detail: string;
}

export interface Row extends Outcome {
  id: CheckId;
  check: string;
  seconds: number;
}

/**
 * How far the active backend may be from tfjs's `cpu` backend (the reference) and from wasm.
 * Relative errors are ‖a − b‖₂ / ‖b‖₂. TensorFlow runs float32 matrix products in TF32 on GPUs of
 * compute capability 8.0 and newer (its default), 10 mantissa bits: about 5e-4 relative per product,
 * so the bounds below leave room for that and still catch a wrong kernel (errors of order 1).
 */
export const TOLERANCES = {
  matmulRel: 2e-3,
  /** gather copies rows: anything but the same bits is a bug. */
  gatherAbs: 0,
  /** Float sums in another order (GPU atomics). */
  segmentSumRel: 1e-5,
  lstmLossAbs: 1e-3,
  lstmGradRel: 1e-2,
  /** Per-step train loss (nats) against the wasm reference over 50 steps. */
  trainLossAbs: 0.05,
  /** The loss must fall at least this much over the 50 steps (it does by ~1 nat on `names`). */
  trainLossDrop: 0.3,
  /** A resumed run against the uninterrupted one: exact on wasm/cpu, loose where kernels are not
   * bit-reproducible (cuBLAS, GPU reductions). */
  resumeLossAbs: { deterministic: 0, native: 0.05 },
};

/** /healthz is polled this often while a slice and the sample streams run. */
export const HEALTHZ_POLL_MS = 50;
/** Issue 12: the event loop answers /healthz within 200 ms while training. */
export const DEFAULT_MAX_HEALTHZ_GAP_MS = HEALTHZ_POLL_MS + 200;

/** ‖a − b‖₂ / ‖b‖₂ (0 when both are zero). */
export function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < a.length; i++) {
    diff += (a[i] - b[i]) ** 2;
    norm += b[i] ** 2;
  }
  if (!Number.isFinite(diff)) return Infinity;
  return norm === 0 ? Math.sqrt(diff) : Math.sqrt(diff / norm);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = d; // NaN propagates as a failure
  }
  return m;
}

/** An error's first non-empty line, for the detail column. */
export function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n').find((l) => l.trim()) ?? msg;
}

/** A short number for the detail column. */
export const fmt = (x: number) => (x === 0 ? '0' : Math.abs(x) >= 0.01 && Math.abs(x) < 1e4 ? String(Number(x.toPrecision(3))) : x.toExponential(1));

export function formatTable(rows: Row[]): string {
  const head = { check: 'check', result: 'result', detail: 'detail' };
  const wCheck = Math.max(head.check.length, ...rows.map((r) => r.check.length));
  const wResult = Math.max(head.result.length, ...rows.map((r) => r.result.length));
  const line = (r: { check: string; result: string; detail: string }) => `${r.check.padEnd(wCheck)} | ${r.result.padEnd(wResult)} | ${r.detail}`;
  return [line(head), `${'-'.repeat(wCheck)}-+-${'-'.repeat(wResult)}-+-${'-'.repeat(6)}`, ...rows.map(line)].join('\n');
}

/** The closing line: counts and wall time. */
export function summaryLine(rows: Row[], seconds: number): string {
  const n = (f: (r: Row) => boolean) => rows.filter(f).length;
  return `gpu-smoke: ${n((r) => r.result === 'pass')} pass, ${n((r) => r.result === 'FAIL')} FAIL, ${n((r) => r.result.startsWith('skip'))} skip, ${seconds.toFixed(1)} s`;
}
