// The active tfjs backend, and the kernels the engine's training step rests on, computed by it and
// by tfjs's plain-JS `cpu` backend in the same process. tf.setBackend switches between them; every
// input is rebuilt from seeded arrays on each side, so no tensor crosses backends.
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../shared/engine/backend.ts';
import { CharRnn, type RnnState } from '../../shared/engine/model.ts';
import { loadBlas } from '../../shared/engine/native/blas.ts';
import { Rng } from '../../shared/engine/rng.ts';
import { stepGrads } from '../../shared/engine/step-grads.ts';
import type { ModelConfig } from '../../shared/engine/types.ts';
import { fmt, maxAbsDiff, relError, TOLERANCES, type Backend, type Outcome } from './checks.ts';

export async function checkBackend(want: Backend): Promise<Outcome> {
  const got = await initBackend(want);
  if (got !== want) return { result: 'FAIL', detail: `the engine chose ${got}, not ${want}` };
  if (want === 'wasm') return { result: 'pass', detail: `wasm, OpenBLAS binding ${loadBlas() ? 'on' : 'off'}` };
  // tfjs-node(-gpu) sets this from TensorFlow's device list when its backend is created.
  const gpu = (tf.findBackend('tensorflow') as { isUsingGpuDevice?: boolean } | null)?.isUsingGpuDevice;
  if (gpu !== true) {
    return {
      result: 'FAIL',
      detail: 'TensorFlow runs on the CPU (isUsingGpuDevice false): tfjs-node loaded instead of tfjs-node-gpu, or TensorFlow found no usable GPU (see the rows above)',
    };
  }
  return { result: 'pass', detail: 'tensorflow (tfjs-node-gpu), isUsingGpuDevice true' };
}

/** What `fn` computes on the active backend, then on `cpu`. */
async function activeAndCpu<T>(fn: () => T): Promise<[T, T]> {
  const active = tf.getBackend();
  const onActive = fn();
  await tf.setBackend('cpu');
  try {
    return [onActive, fn()];
  } finally {
    await tf.setBackend(active);
  }
}

const within = (err: number, tol: number, what: string): Outcome => ({
  result: err <= tol ? 'pass' : 'FAIL',
  detail: `${what} ${fmt(err)} (≤ ${fmt(tol)})`,
});

/** ids in [0, n). */
function ids(rng: Rng, count: number, n: number): Int32Array {
  return Int32Array.from({ length: count }, () => Math.floor(rng.next() * n));
}

// A training step's kind of shapes (T·B rows, a 65-character vocabulary), small enough for the
// plain-JS cpu backend to answer in about a second.
const ROWS = 1024;
const V = 65;
const H = 128;

export async function checkMatMul(): Promise<Outcome> {
  const rng = new Rng(11);
  const [M, K, N] = [256, 256, 256];
  const a = rng.uniform(M * K, 1);
  const b = rng.uniform(K * N, 1);
  const [act, cpu] = await activeAndCpu(() =>
    tf.tidy(() => {
      const A = tf.tensor2d(a, [M, K]);
      const B = tf.tensor2d(b, [K, N]);
      // Plain, and both transposed forms the gradients use.
      return [tf.matMul(A, B), tf.matMul(A, tf.transpose(B), false, true), tf.matMul(tf.transpose(A), B, true, false)].map((t) => t.dataSync() as Float32Array);
    }),
  );
  const err = Math.max(...act.map((x, i) => relError(x, cpu[i])));
  return within(err, TOLERANCES.matmulRel, `[${M}×${K}]·[${K}×${N}], plain and transposed: rel err`);
}

export async function checkGather(): Promise<Outcome> {
  const rng = new Rng(12);
  const table = rng.uniform(V * H, 1);
  const rows = ids(rng, ROWS, V);
  const [act, cpu] = await activeAndCpu(() => tf.tidy(() => tf.gather(tf.tensor2d(table, [V, H]), tf.tensor1d(rows, 'int32')).dataSync() as Float32Array));
  return within(maxAbsDiff(act, cpu), TOLERANCES.gatherAbs, `${ROWS} rows of [${V}×${H}]: max abs diff`);
}

export async function checkSegmentSum(): Promise<Outcome> {
  const rng = new Rng(13);
  const data = rng.uniform(ROWS * H, 1);
  const seg = ids(rng, ROWS, V);
  const [act, cpu] = await activeAndCpu(() =>
    tf.tidy(() => tf.unsortedSegmentSum(tf.tensor2d(data, [ROWS, H]), tf.tensor1d(seg, 'int32'), V).dataSync() as Float32Array),
  );
  return within(relError(act, cpu), TOLERANCES.segmentSumRel, `[${ROWS}×${H}] into ${V} segments: rel err`);
}

/**
 * The engine's training step (stepGrads: one-hot row gather, two stacked fused LSTMs with their
 * hand-written BPTT, the linear head, cross-entropy) on two consecutive windows, the second starting
 * from the first one's carried state, so the initial-state paths are non-zero too.
 */
export async function checkLstmGradient(): Promise<Outcome> {
  const model: ModelConfig = { cell: 'lstm', layers: 2, hidden: 64, dropout: 0, embedding: null };
  const [T, B, vocab] = [16, 8, 40];
  const rng = new Rng(14);
  const windows = [0, 1].map(() => ({ x: ids(rng, T * B, vocab), y: ids(rng, T * B, vocab) }));
  const run = () => {
    const net = new CharRnn(model, vocab, undefined, 7);
    let carry: RnnState = net.zeroState(B);
    const out: { loss: number; grads: Float32Array[] }[] = [];
    for (const w of windows) {
      const r = stepGrads(net, w.x, w.y, carry, { T, B });
      out.push({ loss: r.loss.dataSync()[0], grads: r.grads.map((g) => g.dataSync() as Float32Array) });
      tf.dispose([r.loss, ...r.grads, ...carry.flatMap((s) => (s.c ? [s.h, s.c] : [s.h]))]);
      carry = r.carry;
    }
    tf.dispose(carry.flatMap((s) => (s.c ? [s.h, s.c] : [s.h])));
    net.dispose();
    return out;
  };
  const [act, cpu] = await activeAndCpu(run);
  const lossErr = Math.max(...act.map((w, i) => Math.abs(w.loss - cpu[i].loss)));
  const gradErr = Math.max(...act.flatMap((w, i) => w.grads.map((g, k) => relError(g, cpu[i].grads[k]))));
  const ok = lossErr <= TOLERANCES.lstmLossAbs && gradErr <= TOLERANCES.lstmGradRel;
  return {
    result: ok ? 'pass' : 'FAIL',
    detail: `2×64 LSTM, 2 windows T${T} B${B}: loss diff ${fmt(lossErr)} (≤ ${fmt(TOLERANCES.lstmLossAbs)}), grads rel err ${fmt(gradErr)} (≤ ${fmt(TOLERANCES.lstmGradRel)})`,
  };
}
