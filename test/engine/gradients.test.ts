// The hand-written BPTT (fused LSTM/GRU ops, row-gather and affine gradients) against tfjs autodiff
// of the unfused reference, and against finite differences.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../shared/engine/backend.ts';
import { CharRnn, type RnnState } from '../../shared/engine/model.ts';
import type { ModelConfig } from '../../shared/engine/types.ts';

const V = 7;
const T = 6;
const B = 3;
const idsData = Array.from({ length: T * B }, (_, i) => (i * 5 + 2) % V);
const targetData = Array.from({ length: T * B }, (_, i) => (i * 3 + 1) % V);

function setup(cfg: ModelConfig) {
  const net = new CharRnn(cfg, V, undefined, 11);
  // A non-zero carried state, as in the middle of an epoch.
  const state: RnnState = net.layers.map((_, l) => ({
    h: tf.randomUniform([B, cfg.hidden], -0.5, 0.5, 'float32', 100 + l) as tf.Tensor2D,
    c: cfg.cell === 'lstm' ? (tf.randomUniform([B, cfg.hidden], -0.5, 0.5, 'float32', 200 + l) as tf.Tensor2D) : undefined,
  }));
  const ids = tf.tensor1d(idsData, 'int32');
  const targets = tf.tensor1d(targetData, 'int32');
  const loss = (plain: boolean) => net.loss(ids, targets, state, { T, B, training: true, plain }).loss;
  const grads = (plain: boolean) =>
    tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => loss(plain), net.variables());
      return { loss: value.dataSync()[0], g: net.variables().map((v) => Float32Array.from(grads[v.name].dataSync())) };
    });
  const dispose = () => {
    net.dispose();
    tf.dispose([ids, targets]);
    for (const s of state) tf.dispose([s.h, s.c!].filter(Boolean));
  };
  return { net, loss, grads, dispose };
}

const configs: [string, ModelConfig][] = [
  ['LSTM one-hot 2 layers', { cell: 'lstm', layers: 2, hidden: 5, dropout: 0, embedding: null }],
  ['GRU one-hot 2 layers', { cell: 'gru', layers: 2, hidden: 5, dropout: 0, embedding: null }],
  ['LSTM with embedding', { cell: 'lstm', layers: 1, hidden: 4, dropout: 0, embedding: 3 }],
  ['GRU with embedding', { cell: 'gru', layers: 1, hidden: 4, dropout: 0, embedding: 3 }],
];

for (const backend of ['wasm', 'cpu']) {
  describe(`gradients on ${backend}`, () => {
    beforeAll(async () => {
      expect(await initBackend('wasm')).toBe('wasm');
      await tf.setBackend(backend);
    });
    afterAll(async () => {
      await tf.setBackend('wasm');
    });

    for (const [name, cfg] of configs) {
      it(`${name}: fused BPTT equals autodiff of the unfused cell`, () => {
        const m = setup(cfg);
        const fused = m.grads(false);
        const ref = m.grads(true);
        expect(fused.loss).toBeCloseTo(ref.loss, 6);
        fused.g.forEach((g, k) => {
          let maxDiff = 0;
          let scale = 0;
          for (let i = 0; i < g.length; i++) {
            maxDiff = Math.max(maxDiff, Math.abs(g[i] - ref.g[k][i]));
            scale = Math.max(scale, Math.abs(ref.g[k][i]));
          }
          expect(scale).toBeGreaterThan(0); // every weight gets a gradient
          expect(maxDiff / scale).toBeLessThan(1e-5);
        });
        m.dispose();
      });

      it(`${name}: gradients match central finite differences`, () => {
        const m = setup(cfg);
        const { g } = m.grads(false);
        const vars = m.net.variables();
        const h = 1e-2;
        let checked = 0;
        vars.forEach((v, k) => {
          const base = Float32Array.from(v.dataSync());
          // a few coordinates per weight: first, middle, last
          for (const i of [0, Math.floor(base.length / 2), base.length - 1]) {
            const at = (delta: number) => {
              const p = base.slice();
              p[i] += delta;
              tf.tidy(() => v.assign(tf.tensor(p, v.shape)));
              return tf.tidy(() => m.loss(true).dataSync()[0]);
            };
            const fd = (at(h) - at(-h)) / (2 * h);
            tf.tidy(() => v.assign(tf.tensor(base, v.shape)));
            expect(Math.abs(fd - g[k][i])).toBeLessThan(2e-4 + 2e-2 * Math.abs(g[k][i]));
            checked++;
          }
        });
        expect(checked).toBe(vars.length * 3);
        m.dispose();
      });
    }
  });
}
