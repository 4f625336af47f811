// The recurrences over a whole window, LSTM and GRU, time-major.
//
// Input projections for all T steps come in precomputed (Xp = x·W + b, one big matmul), so a time
// step costs one matmul over h plus element-wise gate math. In training the whole loop is one
// `tf.customGrad` op with hand-written BPTT: autodiff through T unrolled steps would keep a
// transposed weight-gradient matmul per step; here dWh is a single GEMM over all steps and dXp flows
// back into autodiff, so dW, db and dx are single big ops too.
// Gradients do not flow into the initial state (truncated BPTT, as in char-rnn). One step's maths is
// cell-step.ts's, which the sampling step runs too.
//
// Gate layouts (columns of Xp and Wh):
//   LSTM: [i, f, o | g] — one sigmoid over 3H, one tanh over H. (Keras stores i, f, g, o; the
//         checkpoint code permutes.)
//   GRU:  [z, r | h̃] as in Keras (reset gate applied before the recurrent matmul, reset_after=false):
//         h' = z∘h + (1−z)∘tanh(x_h + (r∘h)·U_h).
import * as tf from '@tensorflow/tfjs';
import { gruCellStep, lstmCellStep, type Tanh } from './cell-step.ts';
import { tanhViaSigmoid } from './step-kernels.ts';

export interface SeqOut {
  /** Hidden outputs of every step, time-major [T·B, H]. */
  Hs: tf.Tensor;
  /** Final hidden state [B, H] (and LSTM cell state), for the next window. Not differentiable. */
  h: tf.Tensor;
  c?: tf.Tensor;
}

/**
 * Training's tanh: as 2σ(2x) − 1 where the backend's Tanh kernel is slow (wasm's is scalar libm,
 * ~10× slower than its vectorised Sigmoid: 234 µs vs 25 µs on [64, 256]; kernels/README.md); the
 * absolute difference is below 2e-7 and d/dx = 1 − tanh² holds either way.
 */
function trainingTanh(): Tanh {
  return tanhViaSigmoid() ? (x) => tf.sub(tf.mul(tf.sigmoid(tf.mul(x, 2)), 2), 1) : tf.tanh;
}

// ------------------------------------------------------------------------------------------ LSTM

interface LstmTrace {
  hs: tf.Tensor[];
  sig: tf.Tensor[]; // sigmoid(i, f, o) [B, 3H]
  ifo: tf.Tensor[][]; // the same split into its three gates
  g: tf.Tensor[]; // tanh candidate [B, H]
  c: tf.Tensor[];
  tc: tf.Tensor[]; // tanh(c)
}

function lstmSteps(Xp: tf.Tensor, Wh: tf.Tensor, h0: tf.Tensor, c0: tf.Tensor, T: number): LstmTrace {
  const xs = tf.split(Xp, T, 0);
  const tanh = trainingTanh();
  const tr: LstmTrace = { hs: [], sig: [], ifo: [], g: [], c: [], tc: [] };
  let h = h0;
  let c = c0;
  for (let t = 0; t < T; t++) {
    const s = lstmCellStep(xs[t], h, c, Wh, tanh);
    ({ h, c } = s);
    tr.hs.push(h);
    tr.sig.push(s.sig);
    tr.ifo.push(s.ifo);
    tr.g.push(s.g);
    tr.c.push(c);
    tr.tc.push(s.tc);
  }
  return tr;
}

/** LSTM over a window with autodiff through every step: the reference, and the eval/inference path. */
export function lstmPlain(Xp: tf.Tensor, Wh: tf.Tensor, h0: tf.Tensor, c0: tf.Tensor, T: number): SeqOut {
  const tr = lstmSteps(Xp, Wh, h0, c0, T);
  return { Hs: tf.concat(tr.hs, 0), h: tr.hs[T - 1], c: tr.c[T - 1] };
}

/** LSTM over a window as one op with hand-written BPTT (training path). */
export function lstmFused(Xp: tf.Tensor, Wh: tf.Tensor, h0: tf.Tensor, c0: tf.Tensor, T: number): SeqOut {
  let last: { h: tf.Tensor; c: tf.Tensor } | null = null;
  const keep = backwardKeeper();
  const op = customOp(([xp, wh]) => {
    const tr = lstmSteps(xp, wh, h0, c0, T);
    // The final state leaves the op's internal tidy through keep(); the caller owns it.
    last = { h: tf.keep(tr.hs[T - 1].clone()), c: tf.keep(tr.c[T - 1].clone()) };
    const saved = [wh, ...keep.hold([...tr.hs, ...tr.sig, ...tr.g, ...tr.c, ...tr.tc, ...tr.ifo.flat()])];
    return {
      value: tf.concat(tr.hs, 0),
      gradFunc: (dHs) => keep.release(lstmBackward(dHs, saved, h0, c0, T)),
    };
  });
  const Hs = op(Xp, Wh);
  const fin = last as unknown as { h: tf.Tensor; c: tf.Tensor };
  // Hand ownership back to the surrounding scope (undo keep): the tensors are tracked from here on.
  return { Hs, h: track(fin.h), c: track(fin.c) };
}

function lstmBackward(dHs: tf.Tensor, saved: tf.Tensor[], h0: tf.Tensor, c0: tf.Tensor, T: number): tf.Tensor[] {
  const Wh = saved[0];
  const at = (k: number, t: number) => saved[1 + k * T + t]; // k: 0 h, 1 sig, 2 g, 3 c, 4 tc
  const gate = (t: number, k: number) => saved[1 + 5 * T + 3 * t + k]; // k: 0 i, 1 f, 2 o
  const WhT = tf.transpose(Wh); // [4H, H], once per window
  const dHsSteps = tf.split(dHs, T, 0);
  const dz: tf.Tensor[] = new Array(T);
  let dhNext: tf.Tensor | null = null as tf.Tensor | null;
  let dcNext: tf.Tensor | null = null;
  for (let t = T - 1; t >= 0; t--) {
    const dh: tf.Tensor = dhNext ? tf.add(dHsSteps[t], dhNext) : dHsSteps[t];
    const sig = at(1, t);
    const g = at(2, t);
    const tc = at(4, t);
    const cPrev = t > 0 ? at(3, t - 1) : c0;
    const [i, f, o] = [gate(t, 0), gate(t, 1), gate(t, 2)];
    // Derivatives as x − x·y² and s − s² rather than x·(1 − y²): wasm broadcasts a scalar slowly.
    const dhO = tf.mul(dh, o);
    let dc = tf.sub(dhO, tf.mul(dhO, tf.square(tc))); // dh·o·tanh'(c)
    if (dcNext) dc = tf.add(dc, dcNext);
    const dSig = tf.concat([tf.mul(dc, g), tf.mul(dc, cPrev), tf.mul(dh, tc)], 1); // d i, d f, d o
    const dzs = tf.mul(dSig, tf.sub(sig, tf.square(sig))); // σ' = σ − σ²
    const dcI = tf.mul(dc, i);
    const dzg = tf.sub(dcI, tf.mul(dcI, tf.square(g))); // tanh' = 1 − g²
    dz[t] = tf.concat([dzs, dzg], 1);
    dcNext = tf.mul(dc, f);
    dhNext = tf.matMul(dz[t], WhT);
  }
  const DZ = tf.concat(dz, 0); // [T·B, 4H] = dXp
  const Hprev = tf.concat([h0, ...Array.from({ length: T - 1 }, (_, t) => at(0, t))], 0);
  const dWh = tf.matMul(Hprev, DZ, true, false); // one GEMM over all steps
  return [DZ, dWh];
}

// ------------------------------------------------------------------------------------------- GRU

interface GruTrace {
  hs: tf.Tensor[];
  zr: tf.Tensor[]; // sigmoid(z, r) [B, 2H]
  hh: tf.Tensor[]; // candidate tanh [B, H]
  rh: tf.Tensor[]; // r∘h_prev, input of the candidate's recurrent matmul
}

function gruSteps(Xp: tf.Tensor, Wh: tf.Tensor, h0: tf.Tensor, T: number): GruTrace {
  const H = Wh.shape[0];
  const [Wzr, Whh] = tf.split(Wh, [2 * H, H], 1);
  const xs = tf.split(Xp, T, 0);
  const tanh = trainingTanh();
  const tr: GruTrace = { hs: [], zr: [], hh: [], rh: [] };
  let h = h0;
  for (let t = 0; t < T; t++) {
    const s = gruCellStep(xs[t], h, Wzr, Whh, tanh);
    h = s.h;
    tr.hs.push(h);
    tr.zr.push(s.zr);
    tr.hh.push(s.hh);
    tr.rh.push(s.rh);
  }
  return tr;
}

export function gruPlain(Xp: tf.Tensor, Wh: tf.Tensor, h0: tf.Tensor, T: number): SeqOut {
  const tr = gruSteps(Xp, Wh, h0, T);
  return { Hs: tf.concat(tr.hs, 0), h: tr.hs[T - 1] };
}

export function gruFused(Xp: tf.Tensor, Wh: tf.Tensor, h0: tf.Tensor, T: number): SeqOut {
  let last: tf.Tensor | null = null;
  const keep = backwardKeeper();
  const op = customOp(([xp, wh]) => {
    const tr = gruSteps(xp, wh, h0, T);
    last = tf.keep(tr.hs[T - 1].clone());
    const saved = [wh, ...keep.hold([...tr.hs, ...tr.zr, ...tr.hh, ...tr.rh])];
    return {
      value: tf.concat(tr.hs, 0),
      gradFunc: (dHs) => keep.release(gruBackward(dHs, saved, h0, T)),
    };
  });
  const Hs = op(Xp, Wh);
  return { Hs, h: track(last as unknown as tf.Tensor) };
}

function gruBackward(dHs: tf.Tensor, saved: tf.Tensor[], h0: tf.Tensor, T: number): tf.Tensor[] {
  const Wh = saved[0];
  const H = Wh.shape[0];
  const at = (k: number, t: number) => saved[1 + k * T + t]; // k: 0 h, 1 zr, 2 hh, 3 rh
  const [Wzr, Whh] = tf.split(Wh, [2 * H, H], 1);
  const WzrT = tf.transpose(Wzr);
  const WhhT = tf.transpose(Whh);
  const dHsSteps = tf.split(dHs, T, 0);
  const dzr: tf.Tensor[] = new Array(T);
  const dhhPre: tf.Tensor[] = new Array(T);
  let dhNext: tf.Tensor | null = null as tf.Tensor | null;
  for (let t = T - 1; t >= 0; t--) {
    const dh: tf.Tensor = dhNext ? tf.add(dHsSteps[t], dhNext) : dHsSteps[t];
    const hPrev = t > 0 ? at(0, t - 1) : h0;
    const zr = at(1, t);
    const hh = at(2, t);
    const [z, r] = tf.split(zr, 2, 1);
    // Same x − x·y² form as the LSTM (no scalar broadcasts).
    const dhh = tf.sub(dh, tf.mul(dh, z)); // dh·(1 − z)
    dhhPre[t] = tf.sub(dhh, tf.mul(dhh, tf.square(hh)));
    const dRh = tf.matMul(dhhPre[t], WhhT);
    const dZ = tf.mul(dh, tf.sub(hPrev, hh));
    const dR = tf.mul(dRh, hPrev);
    dzr[t] = tf.mul(tf.concat([dZ, dR], 1), tf.sub(zr, tf.square(zr)));
    dhNext = tf.add(tf.add(tf.mul(dh, z), tf.mul(dRh, r)), tf.matMul(dzr[t], WzrT));
  }
  const DZR = tf.concat(dzr, 0);
  const DHH = tf.concat(dhhPre, 0);
  const Hprev = tf.concat([h0, ...Array.from({ length: T - 1 }, (_, t) => at(0, t))], 0);
  const RH = tf.concat(Array.from({ length: T }, (_, t) => at(3, t)), 0);
  const dWh = tf.concat([tf.matMul(Hprev, DZR, true, false), tf.matMul(RH, DHH, true, false)], 1);
  return [tf.concat([DZR, DHH], 1), dWh];
}

// ------------------------------------------------------------------------------------------ misc

type Saver = (tensors: tf.Tensor[]) => void;
type GradFn = (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor[];

/** tf.customGrad with plain array typing: f(inputs, save) → { value, gradFunc(dy, saved) → one grad per input }. */
export function customOp(f: (inputs: tf.Tensor[], save: Saver) => { value: tf.Tensor; gradFunc: GradFn }): (...inputs: tf.Tensor[]) => tf.Tensor {
  const op: any = tf.customGrad(((...args: unknown[]) => {
    const save = args.pop() as Saver;
    return f(args as tf.Tensor[], save);
  }) as any);
  return (...inputs) => op(...inputs) as tf.Tensor;
}

/**
 * What a fused op's backward pass reads, kept alive past the forward pass's tidy without copies
 * (here and in fused.ts).
 * (customGrad's save() clones every saved tensor: 8 copies per LSTM time step.) Only while
 * gradients are being recorded, as save() does; the backward pass releases them once used.
 */
export function backwardKeeper(): { hold: (ts: tf.Tensor[]) => tf.Tensor[]; release: (grads: tf.Tensor[]) => tf.Tensor[] } {
  const recording = (tf.engine() as any).state.gradientDepth > 0;
  let held: tf.Tensor[] = [];
  return {
    hold: (ts) => {
      // The op's own tensors (never its inputs: not ours to keep or dispose).
      if (recording) held = ts.map((t) => tf.keep(t));
      return ts;
    },
    release: (grads) => {
      for (const t of held) t.dispose();
      held = [];
      return grads;
    },
  };
}

/**
 * Another reference to t's data, without a copy (wasm's clone copies; a reshape shares the buffer):
 * what a fused op holds for its backward pass.
 */
export function ref<T extends tf.Tensor>(t: T): T {
  return tf.reshape(t, t.shape) as T;
}

/** Undo tf.keep: let the current tidy scope own (and dispose) this tensor like any other. */
export function track<T extends tf.Tensor>(t: T): T {
  const owned = ref(t);
  t.dispose();
  return owned;
}
