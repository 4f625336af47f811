// Dropout masks (shared/engine/dropout.ts): the keep rate, the scale, the same mask for the same seed,
// and the gradient a training step takes through them.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../shared/engine/index.ts';
import { dropout, dropoutMask } from '../../shared/engine/dropout.ts';

beforeAll(() => initBackend());

describe('dropout', () => {
  it('keeps each element with probability 1 − rate, scaled by 1/(1 − rate)', () => {
    for (const rate of [0.1, 0.25, 0.5]) {
      const m = dropoutMask(200_001, rate, 7);
      const kept = m.filter((v) => v !== 0);
      expect(new Set(kept)).toEqual(new Set([Math.fround(1 / (1 - rate))]));
      // 200k Bernoulli draws: the kept fraction within 5 standard deviations.
      const sd = Math.sqrt((rate * (1 - rate)) / m.length);
      expect(Math.abs(kept.length / m.length - (1 - rate))).toBeLessThan(5 * sd);
      // Odd and even elements come from the two halves of one draw: both halves are used.
      const odd = m.filter((v, i) => i % 2 === 1 && v !== 0).length / ((m.length - 1) / 2);
      expect(Math.abs(odd - (1 - rate))).toBeLessThan(10 * sd);
    }
  });

  it('draws the same mask for the same seed, another for another', () => {
    expect(dropoutMask(1001, 0.25, 3)).toEqual(dropoutMask(1001, 0.25, 3));
    expect(dropoutMask(1001, 0.25, 3)).not.toEqual(dropoutMask(1001, 0.25, 4));
  });

  it('passes the gradient through the kept elements only', async () => {
    const x = tf.randomNormal([40, 30]) as tf.Tensor2D;
    const mask = dropoutMask(x.size, 0.3, 11);
    const y = dropout(x, 0.3, 11);
    expect(Array.from(await y.data())).toEqual(Array.from(await tf.mul(x, tf.tensor2d(mask, [40, 30])).data()));
    const g = tf.grad((v: tf.Tensor) => tf.sum(dropout(v as tf.Tensor2D, 0.3, 11)))(x);
    expect(Array.from(await g.data())).toEqual(Array.from(mask));
  });
});
