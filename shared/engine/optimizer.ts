// Adam (with the AMSGrad option) over a fixed list of variables, plus global-norm clipping.
// Written here rather than tf.train.adam so the moments serialise in a fixed order and layout
// and AMSGrad is available; the update follows PyTorch's torch.optim.Adam.
import * as tf from '@tensorflow/tfjs';

export interface AdamOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
  amsgrad: boolean;
}

export class Adam {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  /** Updates applied so far (for bias correction). */
  t = 0;
  readonly m: tf.Variable[];
  readonly v: tf.Variable[];
  /** Running max of v (AMSGrad only). */
  readonly vMax: tf.Variable[] | null;

  constructor(
    private readonly params: tf.Variable[],
    readonly opts: AdamOptions,
  ) {
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    const zeros = () => params.map((p) => tf.tidy(() => tf.variable(tf.zerosLike(p), false)));
    this.m = zeros();
    this.v = zeros();
    this.vMax = opts.amsgrad ? zeros() : null;
  }

  /** Apply one update. `scale` multiplies every gradient first (global-norm clipping). */
  apply(grads: tf.Tensor[], lr: number, scale: tf.Scalar | number = 1): void {
    this.t++;
    const bc1 = 1 - this.beta1 ** this.t;
    const bc2 = 1 - this.beta2 ** this.t;
    tf.tidy(() => {
      grads.forEach((g0, i) => {
        const g = scale === 1 ? g0 : tf.mul(g0, scale);
        const m = tf.add(tf.mul(this.m[i], this.beta1), tf.mul(g, 1 - this.beta1));
        const v = tf.add(tf.mul(this.v[i], this.beta2), tf.mul(tf.square(g), 1 - this.beta2));
        this.m[i].assign(m);
        this.v[i].assign(v);
        let vHat: tf.Tensor = v;
        if (this.vMax) {
          vHat = tf.maximum(this.vMax[i], v);
          this.vMax[i].assign(vHat);
        }
        const denom = tf.add(tf.div(tf.sqrt(vHat), Math.sqrt(bc2)), this.eps);
        this.params[i].assign(tf.sub(this.params[i], tf.mul(tf.div(m, denom), lr / bc1)));
      });
    });
  }

  /** Slot tensors in a fixed order: m…, v…, (vMax…). */
  slots(): tf.Variable[] {
    return [...this.m, ...this.v, ...(this.vMax ?? [])];
  }

  /** Restore slots (same order as slots()) and the step count. */
  load(values: Float32Array[], t: number): void {
    const slots = this.slots();
    if (values.length !== slots.length) throw new Error(`optimizer state has ${values.length} slots, expected ${slots.length}`);
    slots.forEach((s, i) => tf.tidy(() => s.assign(tf.tensor(values[i], s.shape, 'float32'))));
    this.t = t;
  }

  dispose(): void {
    for (const s of this.slots()) s.dispose();
  }
}

/** Global L2 norm of a list of gradients, as a scalar tensor. */
export function globalNorm(grads: tf.Tensor[]): tf.Scalar {
  return tf.tidy(() => tf.sqrt(tf.addN(grads.map((g) => tf.sum(tf.square(g))))) as tf.Scalar);
}
