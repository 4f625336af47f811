import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../shared/engine/backend.ts';
import { CharRnn } from '../shared/engine/model.ts';
import { prepareStepWeights, stepRows } from '../shared/engine/step.ts';
const H = Number(process.argv[2] ?? 256), L = Number(process.argv[3] ?? 1);
await initBackend('wasm');
const net = new CharRnn({ cell: 'lstm', hidden: H, layers: L, dropout: 0, embedding: 0 } as any, 65);
const w = prepareStepWeights(net);
let state = net.zeroState(1);
const N = 4000;
for (let round = 0; round < 3; round++) {
  let tStep = 0, tRead = 0;
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const a = performance.now();
    const out = stepRows(w, Int32Array.of(i % 65), state);
    const b = performance.now();
    for (const s of state) { s.h.dispose(); s.c?.dispose(); }
    out.logits.dataSync();
    out.logits.dispose();
    const c = performance.now();
    tStep += b - a; tRead += c - b;
    state = out.state;
  }
  const total = performance.now() - t0;
  console.log(`H${H} L${L}: ${(N * 1000 / total).toFixed(0)} steps/s; stepRows ${(tStep / N * 1000).toFixed(1)} µs, read ${(tRead / N * 1000).toFixed(1)} µs, tensors ${tf.memory().numTensors}`);
}
