// The second training replica (see replica.ts): a worker thread with its own tfjs instance that
// turns (weights, window, hidden state) into (loss, gradients, next hidden state), one step at a time.
import * as tf from '@tensorflow/tfjs';
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend } from './backend.ts';
import { CharRnn, type RnnState } from './model.ts';
import type { ReplicaInit, ReplicaReply, ReplicaStepRequest } from './replica.ts';
import { stepGrads } from './step-grads.ts';

const port = parentPort!;
const init = workerData as ReplicaInit;
let model: CharRnn | null = null;

function reply(m: ReplicaReply, transfer: ArrayBuffer[] = []): void {
  port.postMessage(m, transfer);
}

function step(req: ReplicaStepRequest): void {
  const net = model!;
  const vars = net.variables();
  vars.forEach((v, i) => tf.tidy(() => v.assign(tf.tensor(req.weights[i], v.shape, 'float32'))));
  const H = init.model.hidden;
  const lstm = init.model.cell === 'lstm';
  let k = 0;
  const carry: RnnState = net.layers.map(() => {
    const h = tf.tensor2d(req.carry[k++], [req.B, H]);
    return lstm ? { h, c: tf.tensor2d(req.carry[k++], [req.B, H]) } : { h };
  });
  const r = stepGrads(net, req.x, req.y, carry, { T: req.T, B: req.B, dropoutSeed: req.dropoutSeed });
  // Copies: a backend may hand out its own storage, and these buffers are transferred away.
  const read = (t: tf.Tensor) => (t.dataSync() as Float32Array).slice();
  const loss = r.loss.dataSync()[0];
  const grads = r.grads.map(read);
  const next = r.carry.flatMap((s) => (s.c ? [s.h, s.c] : [s.h])).map(read);
  tf.dispose([r.loss, ...r.grads, ...r.carry.flatMap((s) => (s.c ? [s.h, s.c] : [s.h])), ...carry.flatMap((s) => (s.c ? [s.h, s.c] : [s.h]))]);
  reply({ type: 'result', loss, grads, carry: next }, [...grads, ...next].map((a) => a.buffer as ArrayBuffer));
}

port.on('message', (req: ReplicaStepRequest) => {
  try {
    step(req);
  } catch (e) {
    reply({ type: 'error', message: e instanceof Error ? e.message : String(e) });
  }
});

try {
  await initBackend(init.backend);
  // Weights arrive with every step; these initial values are never used.
  model = new CharRnn(init.model, init.vocabSize);
  reply({ type: 'ready' });
} catch (e) {
  reply({ type: 'error', message: `could not start: ${e instanceof Error ? e.message : String(e)}` });
}
