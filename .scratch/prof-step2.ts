import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../shared/engine/backend.ts';
import { CharRnn } from '../shared/engine/model.ts';
import { heapCall } from '../shared/engine/step-kernels.ts';
await initBackend('wasm');
const H = 256;
const net = new CharRnn({ cell: 'lstm', hidden: H, layers: 1, dropout: 0, embedding: null } as any, 65);
const W = net.layers[0].recurrent;
const h = tf.zeros([1, H]);
const out = new Float32Array(4 * H);
for (let round = 0; round < 3; round++) {
  const N = 5000;
  let inner = 0;
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const r = heapCall({ h, W }, { y: [1, 4 * H] }, (v, blas) => {
      const a = performance.now();
      blas.rowGemm(1, 4 * H, H, v.h as Float32Array, v.W as Float32Array, v.y as Float32Array, false);
      inner += performance.now() - a;
    });
    r.y.dispose();
  }
  const t = (performance.now() - t0) / N * 1000;
  console.log(`heapCall total ${t.toFixed(1)} µs, rowGemm ${(inner / N * 1000).toFixed(1)} µs`);
  const t1 = performance.now();
  for (let i = 0; i < N; i++) (tf.getBackend() as any);
  const hv = h.dataSync() as Float32Array, wv = W.dataSync() as Float32Array;
  const { loadBlas } = await import('../shared/engine/native/blas.ts');
  const blas = loadBlas()!;
  const t2 = performance.now();
  for (let i = 0; i < N; i++) blas.rowGemm(1, 4 * H, H, hv, wv, out, false);
  console.log(`rowGemm on JS arrays ${((performance.now() - t2) / N * 1000).toFixed(1)} µs`);
}
