// The engine's own training loop on a small model: 50 steps on the active backend against the same
// 50 steps on wasm, then checkpoint → resume → continue.
//
// The wasm reference runs in a child process (this program again, --reference-losses): the engine
// picks its backend once per process, and only picking wasm installs its kernel fixes, so a process
// of its own is what production's wasm path looks like. It also keeps wasm's heap out of a process
// that holds libtensorflow and CUDA.
import { spawn } from 'node:child_process';
import { initBackend, loadBuiltinCorpus, resolveConfig, Trainer } from '../../shared/engine/index.ts';
import { fmt, maxAbsDiff, TOLERANCES, type Backend, type Outcome } from './checks.ts';

export const TRAIN_STEPS = 50;
const RESUME_STEPS = 20;
/** 1×64 on `names`, B16 T32: milliseconds a step anywhere. One training thread, as native TensorFlow uses. */
const CONFIG = resolveConfig({ preset: 'tiny', seqLen: 32, batchSize: 16, evalEvery: 1000, evalChars: 2000, seed: 1234 });
const CORPUS = 'names';

async function newTrainer(backend: Backend): Promise<Trainer> {
  await initBackend(backend);
  return Trainer.create({ text: loadBuiltinCorpus(CORPUS), ...CONFIG, threads: 1 });
}

/** The train losses of `steps` more steps (fewer if training stops early, e.g. diverges). */
async function runSteps(trainer: Trainer, steps: number): Promise<number[]> {
  const losses: number[] = [];
  for await (const ev of trainer.run({ steps })) if (ev.type === 'step') losses.push(ev.trainLoss);
  return losses;
}

/** The reference child's whole job: the losses of TRAIN_STEPS fresh steps, as one JSON line. */
export async function printReferenceLosses(backend: Backend, steps: number): Promise<void> {
  const trainer = await newTrainer(backend);
  const losses = await runSteps(trainer, steps);
  trainer.dispose();
  process.stdout.write(`${JSON.stringify({ backend, losses })}\n`);
}

/** Runs `self --reference-losses N --backend wasm` and returns its losses. */
function wasmReference(self: string[], steps: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...self, '--reference-losses', String(steps), '--backend', 'wasm'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      try {
        if (code !== 0) throw new Error(`exit ${code}`);
        resolve((JSON.parse(last) as { losses: number[] }).losses);
      } catch (e) {
        reject(new Error(`wasm reference failed (${e instanceof Error ? e.message : e}): ${err.trim().split('\n').slice(-3).join(' / ')}`));
      }
    });
  });
}

const allFinite = (xs: number[]) => xs.every((x) => Number.isFinite(x));

export class TrainingChecks {
  private trainer: Trainer | null = null;

  /** `self`: how to run this program again (node's execArgv and script). */
  constructor(
    private readonly backend: Backend,
    private readonly self: string[],
  ) {}

  async train(): Promise<Outcome> {
    const reference = wasmReference(this.self, TRAIN_STEPS); // runs while we train
    reference.catch(() => {}); // awaited below
    this.trainer = await newTrainer(this.backend);
    const losses = await runSteps(this.trainer, TRAIN_STEPS);
    const ref = await reference;
    if (losses.length !== TRAIN_STEPS || !allFinite(losses)) {
      return { result: 'FAIL', detail: `${losses.length}/${TRAIN_STEPS} steps, losses ${losses.slice(-3).map(fmt).join(', ')}` };
    }
    const drop = losses[0] - losses[TRAIN_STEPS - 1];
    const diff = maxAbsDiff(losses, ref);
    const ok = drop >= TOLERANCES.trainLossDrop && diff <= TOLERANCES.trainLossAbs;
    return {
      result: ok ? 'pass' : 'FAIL',
      detail:
        `1×64 LSTM on ${CORPUS}: loss ${fmt(losses[0])} → ${fmt(losses[TRAIN_STEPS - 1])} (drop ≥ ${TOLERANCES.trainLossDrop}); ` +
        `max |Δ| vs wasm ${fmt(diff)} (≤ ${TOLERANCES.trainLossAbs})`,
    };
  }

  async resume(): Promise<Outcome> {
    if (!this.trainer) {
      this.trainer = await newTrainer(this.backend);
      await runSteps(this.trainer, TRAIN_STEPS);
    }
    const original = this.trainer;
    const files = await original.checkpoint();
    const bytes = Object.values(files).reduce((n, f) => n + f.byteLength, 0);
    const resumed = await Trainer.resume({ text: loadBuiltinCorpus(CORPUS), checkpoint: files, threads: 1 });
    try {
      const from = resumed.step;
      if (from !== original.step) return { result: 'FAIL', detail: `resumed at step ${from}, checkpointed at ${original.step}` };
      const uninterrupted = await runSteps(original, RESUME_STEPS);
      const continued = await runSteps(resumed, RESUME_STEPS);
      if (continued.length !== RESUME_STEPS || !allFinite(continued) || resumed.step !== from + RESUME_STEPS) {
        return { result: 'FAIL', detail: `after resume: ${continued.length}/${RESUME_STEPS} steps, step ${resumed.step}, losses ${continued.slice(-3).map(fmt).join(', ')}` };
      }
      // Exact on wasm/cpu (the engine's resume guarantee); GPU kernels are not bit-reproducible.
      const tol = this.backend === 'tensorflow' ? TOLERANCES.resumeLossAbs.native : TOLERANCES.resumeLossAbs.deterministic;
      const diff = maxAbsDiff(continued, uninterrupted);
      return {
        result: diff <= tol ? 'pass' : 'FAIL',
        detail: `checkpoint at step ${from} (${(bytes / 1024).toFixed(0)} KiB) → resume → step ${resumed.step}; max |Δ| vs the uninterrupted run ${fmt(diff)} (≤ ${fmt(tol)})`,
      };
    } finally {
      resumed.dispose();
    }
  }

  dispose(): void {
    this.trainer?.dispose();
    this.trainer = null;
  }
}
