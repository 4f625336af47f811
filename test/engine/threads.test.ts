// threadPlan: how many threads may run tfjs, per backend (the one place that rule lives).
import { describe, expect, it } from 'vitest';
import { planOverrides, threadPlan } from '../../shared/engine/threads.ts';

describe('threadPlan', () => {
  it('native TensorFlow: one tfjs thread (training in-process, no sampling threads, one replica)', () => {
    const one = { training: 'in-process', sampleThreads: 0, maxReplicas: 1 };
    expect(threadPlan({ backend: 'tensorflow', cores: 8 })).toEqual(one);
    // Explicit settings asking for more are overridden, and the override is reported for the log.
    const asked = { backend: 'tensorflow', cores: 8, sampleThreads: 4, trainThreads: 2 };
    expect(threadPlan(asked)).toEqual(one);
    expect(planOverrides(asked)).toEqual([
      'CHARRNN_SAMPLE_THREADS=4 overridden: on the tensorflow backend one thread per process uses tfjs (tensorflow/tfjs#8388), so sampling runs on the main thread',
      'CHARRNN_TRAIN_THREADS=2 overridden: on the tensorflow backend one thread per process uses tfjs (tensorflow/tfjs#8388), so training uses 1 replica',
    ]);
    // Settings that agree with the plan are not worth a line.
    expect(planOverrides({ backend: 'tensorflow', cores: 8, sampleThreads: 0, trainThreads: 1 })).toEqual([]);
  });

  it('wasm and cpu: a training worker, min(2, cores) sampling threads unless set, up to two replicas', () => {
    for (const backend of ['wasm', 'cpu']) {
      expect(threadPlan({ backend, cores: 2 })).toEqual({ training: 'worker', sampleThreads: 2, maxReplicas: 2 });
      expect(threadPlan({ backend, cores: 16 })).toEqual({ training: 'worker', sampleThreads: 2, maxReplicas: 2 });
      expect(threadPlan({ backend, cores: 1 }).sampleThreads).toBe(1);
      expect(threadPlan({ backend, cores: 2, sampleThreads: 0 }).sampleThreads).toBe(0);
      expect(threadPlan({ backend, cores: 2, sampleThreads: 5, trainThreads: 2 }).sampleThreads).toBe(5);
      expect(planOverrides({ backend, cores: 2, sampleThreads: 5, trainThreads: 2 })).toEqual([]);
    }
  });

  it('an unknown backend gets the safe single-thread plan', () => {
    expect(threadPlan({ backend: 'webgl', cores: 4 })).toEqual({ training: 'in-process', sampleThreads: 0, maxReplicas: 1 });
  });
});

describe('threadPlan with CHARRNN_ONE_TFJS_THREAD', () => {
  it('gives any backend the native layout, and says what it overrode', () => {
    const one = { training: 'in-process', sampleThreads: 0, maxReplicas: 1 };
    expect(threadPlan({ backend: 'wasm', cores: 2, oneThread: true })).toEqual(one);
    expect(planOverrides({ backend: 'wasm', cores: 2, oneThread: true, sampleThreads: 2 })).toEqual([
      'CHARRNN_SAMPLE_THREADS=2 overridden: CHARRNN_ONE_TFJS_THREAD is set, so sampling runs on the main thread',
    ]);
  });
});
