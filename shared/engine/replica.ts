// The second training replica's worker, and how many replicas to train with. wasm under Node runs
// on one thread (tfjs's threaded wasm build cannot start its workers there), so a second
// worker_threads Worker with its own tfjs instance computes the loss and gradients of half the
// streams while the calling thread computes the other half (replicas.ts splits and averages). The
// worker is stateless: every step it receives the current weights, its streams' window and hidden
// state, and returns loss, gradients and the next hidden state. The trainer clips and applies Adam
// alone, so checkpoints, resume and divergence rollback are exactly those of one replica.
import { availableParallelism } from 'node:os';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { threadPlan } from './threads.ts';
import type { ModelConfig } from './types.ts';

/** Worker input (workerData). */
export interface ReplicaInit {
  backend: string;
  model: ModelConfig;
  vocabSize: number;
}

export interface ReplicaStepRequest {
  type: 'step';
  /** Weights in CharRnn.variables() order (internal layout). */
  weights: Float32Array[];
  x: Int32Array;
  y: Int32Array;
  T: number;
  B: number;
  /** Per layer: h (and c for LSTM), [B, H] each, row-major. */
  carry: Float32Array[];
  dropoutSeed?: number;
}

export type ReplicaReply =
  | { type: 'ready' }
  | { type: 'result'; loss: number; grads: Float32Array[]; carry: Float32Array[] }
  | { type: 'error'; message: string };

/**
 * Steps cheaper than this many FLOPs stay on one thread: each replica still issues every small
 * kernel of the step, so tiny steps gain nothing and pay the round trip (measured: 1×64 B16 T32,
 * 0.07 GFLOP, is slower on two threads; the default 1×128 B32 T64, 1.3 GFLOP, is 1.55× faster).
 */
const MIN_PARALLEL_FLOPS = 1e9;

/**
 * How many replicas to train with. `requested` (the caller's CHARRNN_TRAIN_THREADS) pins it; otherwise 2 when
 * there is a second core and the step is big enough to gain. Never more than the backend's thread
 * plan allows (threads.ts: native TensorFlow, or `oneThread`, gets 1), and the batch must split evenly.
 */
export function chooseReplicas(o: { backend: string; batchSize: number; flopsPerStep: number; requested?: number; oneThread?: boolean }): number {
  if (o.requested !== undefined && !(o.requested === 1 || o.requested === 2)) throw new Error(`training threads must be 1 or 2 (got ${o.requested})`);
  const want = o.requested;
  const cores = availableParallelism();
  if (threadPlan({ backend: o.backend, cores, oneThread: o.oneThread ?? false }).maxReplicas === 1 || o.batchSize % 2 !== 0) return 1;
  return want ?? (cores > 1 && o.flopsPerStep >= MIN_PARALLEL_FLOPS ? 2 : 1);
}

/** The replica worker's script: the bundled one beside this bundle, or a tsx shim from source. */
export function replicaWorkerUrl(): URL {
  const here = import.meta.url;
  if (here.endsWith('.ts')) return new URL('./replica-dev.mjs', here);
  // dist/functions/{main,worker}.mjs sit beside train-replica.mjs; dist/cli.mjs one level up.
  const candidates = [new URL('./train-replica.mjs', here), new URL('./functions/train-replica.mjs', here)];
  return candidates.find((u) => existsSync(fileURLToPath(u))) ?? candidates[0];
}

/** The calling thread's handle on one replica worker. One request at a time. */
export class TrainReplica {
  private pending: { resolve: (r: ReplicaReply) => void; reject: (e: Error) => void } | null = null;
  private dead: Error | null = null;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (m: ReplicaReply) => this.settle((p) => p.resolve(m)));
    worker.on('error', (e) => this.fail(new Error(`training replica failed: ${e.message}`)));
    worker.on('exit', (code) => this.fail(new Error(`training replica exited (code ${code})`)));
    // Idle workers must not keep the process alive; a pending request refs it (see request()).
    worker.unref();
  }

  static async start(init: ReplicaInit): Promise<TrainReplica> {
    const r = new TrainReplica(new Worker(replicaWorkerUrl(), { workerData: init }));
    try {
      const ready = await r.request(null);
      if (ready.type !== 'ready') throw new Error(ready.type === 'error' ? ready.message : `unexpected reply ${ready.type}`);
    } catch (e) {
      r.dispose();
      throw e;
    }
    return r;
  }

  /** Send a step and resolve with its result. */
  async step(req: ReplicaStepRequest): Promise<{ loss: number; grads: Float32Array[]; carry: Float32Array[] }> {
    const r = await this.request(req);
    if (r.type === 'error') throw new Error(`training replica: ${r.message}`);
    if (r.type !== 'result') throw new Error(`training replica: unexpected reply ${r.type}`);
    return r;
  }

  dispose(): void {
    this.fail(new Error('training replica disposed'));
    void this.worker.terminate();
  }

  private request(msg: ReplicaStepRequest | null): Promise<ReplicaReply> {
    if (this.dead) return Promise.reject(this.dead);
    if (this.pending) return Promise.reject(new Error('training replica is busy'));
    return new Promise<ReplicaReply>((resolve, reject) => {
      this.pending = { resolve, reject };
      this.worker.ref();
      if (msg) this.worker.postMessage(msg);
    });
  }

  private settle(f: (p: NonNullable<TrainReplica['pending']>) => void): void {
    const p = this.pending;
    this.pending = null;
    if (!this.dead) this.worker.unref();
    if (p) f(p);
  }

  private fail(e: Error): void {
    if (this.dead) return;
    this.dead = e;
    this.settle((p) => p.reject(e));
  }
}
