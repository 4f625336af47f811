// How many threads of a process may run tfjs, per backend: the one place that rule lives (the
// server's sampling pool, its training slices and the trainer's replicas all ask here). No tfjs import.
//
// wasm/cpu: every thread loads its own tfjs instance, so training runs in a worker thread (the event
// loop stays free), sampling in up to two threads, and the trainer may add a second replica.
// Native TensorFlow: tfjs-node keeps process-wide state without locks, and two threads using it at
// once corrupt each other (tensorflow/tfjs#8388); TensorFlow spreads each op over the cores itself.
// So exactly one thread, the main one, uses tfjs: training in-process, no sampling threads, one replica.
// An explicit CHARRNN_SAMPLE_THREADS / CHARRNN_TRAIN_THREADS asking for more is overridden, and
// planOverrides() says so for the log: a shared setting must not stop a GPU instance from starting.
import { ENGINE_ENV } from './settings.ts';

export interface ThreadPlan {
  training: 'worker' | 'in-process';
  sampleThreads: number;
  maxReplicas: 1 | 2;
}

export interface ThreadPlanInput {
  /** The backend in use: 'tensorflow', 'wasm' or 'cpu'. */
  backend: string;
  /** Cores available to this process (os.availableParallelism()). */
  cores: number;
  /** CHARRNN_SAMPLE_THREADS, if set. */
  sampleThreads?: number;
  /** CHARRNN_TRAIN_THREADS, if set. */
  trainThreads?: number;
  /** CHARRNN_ONE_TFJS_THREAD: the native backends' layout on any backend. */
  oneThread?: boolean;
}

/** Backends whose tfjs instance is per thread; anything else gets one tfjs thread. */
const PER_THREAD_BACKENDS = ['wasm', 'cpu'];

export function threadPlan(o: ThreadPlanInput): ThreadPlan {
  if (o.oneThread || !PER_THREAD_BACKENDS.includes(o.backend)) return { training: 'in-process', sampleThreads: 0, maxReplicas: 1 };
  return { training: 'worker', sampleThreads: o.sampleThreads ?? Math.min(2, Math.max(1, o.cores)), maxReplicas: 2 };
}

/** What the plan overrode of the explicit settings, one sentence each (empty when nothing). */
export function planOverrides(o: ThreadPlanInput, plan: ThreadPlan = threadPlan(o)): string[] {
  const why = o.oneThread ? `${ENGINE_ENV.oneTfjsThread} is set` : `on the ${o.backend} backend one thread per process uses tfjs (tensorflow/tfjs#8388)`;
  const out: string[] = [];
  if (o.sampleThreads !== undefined && o.sampleThreads > plan.sampleThreads) {
    out.push(`${ENGINE_ENV.sampleThreads}=${o.sampleThreads} overridden: ${why}, so sampling runs on the main thread`);
  }
  if (o.trainThreads !== undefined && o.trainThreads > plan.maxReplicas) {
    out.push(`${ENGINE_ENV.trainThreads}=${o.trainThreads} overridden: ${why}, so training uses ${plan.maxReplicas} replica`);
  }
  return out;
}
