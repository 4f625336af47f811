// The server's tfjs backend and the thread plan that follows from it (shared/engine/threads.ts).
// The container entry and `charrnn serve` initialise it at startup and exit when that fails; the
// CLI's embedded server on the first train or sample, so commands that only list or read never load
// tfjs (~0.5–1 s of CPU here). Only ready() imports the engine's tfjs half.
import { availableParallelism } from 'node:os';
import type { EngineSettings } from '../shared/engine/settings.ts';
import {
  foreseeBackend, nativeAddonPresent, planOverrides, threadPlan, type BackendChoice, type BackendInfo, type ThreadPlan, type ThreadPlanInput,
} from '../shared/engine/tf-free.ts';
import { HttpError } from './errors.ts';

export interface BackendState {
  info: BackendInfo;
  plan: ThreadPlan;
  /** Candidates passed over on the way, with their loaders' error text (for the startup log). */
  skipped: BackendChoice['skipped'];
}

export interface ServerBackendOptions {
  /** The engine's settings (functions/settings.ts); also what the training and sampling threads get. Default: none (the best backend, automatic threads). */
  engine?: EngineSettings;
  /** CHARRNN_SAMPLE_THREADS, when set (Limits.sampleThreads). */
  sampleThreads?: number;
  log: (msg: string) => void;
}

export class ServerBackend {
  private state: BackendState | null = null;
  private loading: Promise<BackendState> | null = null;
  private failure: string | null = null;

  constructor(private readonly opts: ServerBackendOptions) {}

  /** The engine's settings, for the threads that load their own tfjs. */
  get engine(): EngineSettings {
    return this.opts.engine ?? {};
  }

  /** The backend and thread plan once ready, else null (nothing is started). */
  current(): BackendState | null {
    return this.state;
  }

  /** Why the last initialisation failed, while not ready. */
  get error(): string | null {
    return this.failure;
  }

  /**
   * Initialise once and resolve with the backend and plan. A failure rejects with a 503 carrying
   * the loaders' own error text; the next call tries again.
   */
  ready(): Promise<BackendState> {
    this.loading ??= this.load().then(
      (s) => {
        this.failure = null;
        return (this.state = s);
      },
      (e: unknown) => {
        this.loading = null;
        this.failure = e instanceof Error ? e.message : String(e);
        throw new HttpError(503, 'backend_unavailable', `tfjs backend unavailable: ${this.failure}`);
      },
    );
    return this.loading;
  }

  /**
   * The thread plan before tfjs is up, when no native package can load (then the backend is wasm
   * or cpu, whose plans agree): sampling threads can start alongside this thread's own tfjs, which
   * takes ~0.5 s (bundled server, spawn → first sample character: 1.22 s instead of 1.46 s at load 4,
   * bench cold). Null when only loading tells.
   */
  earlyPlan(): ThreadPlan | null {
    if (this.state) return this.state.plan;
    try {
      const backend = foreseeBackend({ preferred: this.engine.backend ?? '', requireGpu: this.engine.requireGpu ?? false }, nativeAddonPresent);
      return backend ? threadPlan(this.planInput(backend)) : null;
    } catch {
      return null; // a malformed setting: ready() reports it
    }
  }

  private planInput(backend: string): ThreadPlanInput {
    const { trainThreads, oneTfjsThread } = this.engine;
    return {
      backend,
      cores: availableParallelism(),
      ...(this.opts.sampleThreads !== undefined ? { sampleThreads: this.opts.sampleThreads } : {}),
      ...(trainThreads !== undefined ? { trainThreads } : {}),
      ...(oneTfjsThread ? { oneThread: true } : {}),
    };
  }

  private async load(): Promise<BackendState> {
    const engine = await import('../shared/engine/backend.ts');
    await engine.initBackend(this.engine);
    const info = engine.backendInfo();
    const input = this.planInput(info.backend);
    const plan = threadPlan(input);
    for (const line of planOverrides(input, plan)) this.opts.log(line);
    return { info, plan, skipped: engine.backendSkipped() };
  }
}
