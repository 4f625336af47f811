// One training slice's loop, on whichever thread runs tfjs: a worker thread (worker.ts, wasm/cpu)
// or the server's own thread (native TensorFlow, where one thread per process uses tfjs). It never
// touches the store: it receives the corpus text and the checkpoint bytes, and posts progress and
// checkpoint bytes to the server side, which commits them. Stops on its limits, on divergence, or
// when told to ('stop' message).
//
// When it checkpoints (the rule behind `best`):
//  - every checkpoint carries a validation loss measured at its own step, so the store can tell
//    whether it is the run's best; a periodic checkpoint (every checkpointSeconds) validates first;
//  - a validation that beats the run's best is committed at once, so `best` always points at it;
//  - the slice's last checkpoint carries its last validation.
// Exceptions: a shutdown checkpoint skips the validation (the grace period is short), and nothing
// is written after a lost lease (another trainer owns the run) or a divergence (the last good
// state was already offered by the final validation).
//
// Samples (input.sample): at every validation by default, or every N steps, the trainer generates
// text from its current weights (Trainer.sample reads them and nothing else, so losses and
// checkpoints are the same with samples on or off) and the point at that step carries it.
import { backendInfo, initBackend, Trainer } from '../../shared/engine/index.ts';
import { EngineInputError } from '../../shared/engine/types.ts';
import type { ProgressPoint, ServerMessage, WorkerInput, WorkerMessage } from './protocol.ts';

/** The two ends a slice loop talks through: a worker's parentPort, or an in-process channel. */
export interface SlicePort {
  postMessage(msg: WorkerMessage): void;
  on(event: 'message', listener: (m: ServerMessage) => void): unknown;
}

/** Runs the slice to its end; every outcome, errors included, is posted to `port`. */
export async function runSlice(input: WorkerInput, port: SlicePort): Promise<void> {
  const abort = new AbortController();
  port.on('message', (m: ServerMessage) => {
    if (m.type === 'stop') abort.abort(m.reason);
  });
  const post = (msg: WorkerMessage) => port.postMessage(msg);
  try {
    const engine = input.engine ?? {};
    await initBackend(engine);
    const { backend, device, blas } = backendInfo();
    const threads = { ...(engine.trainThreads !== undefined ? { threads: engine.trainThreads } : {}), oneThread: engine.oneTfjsThread ?? false };
    const trainer = input.checkpoint
      ? await Trainer.resume({ text: input.text, checkpoint: input.checkpoint, train: input.train, ...threads })
      : await Trainer.create({ text: input.text, model: input.model, train: input.train, ...threads });
    try {
      post({ type: 'ready', using: { backend, device, blas }, step: trainer.step, epoch: trainer.epoch, vocabSize: trainer.vocab.size, params: trainer.params });
      await trainLoop(trainer, input, abort.signal, post);
    } finally {
      trainer.dispose();
    }
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    post({ type: 'error', name: e.name, message: e.message, ...(err instanceof EngineInputError ? { field: err.field } : {}) });
    if (!(err instanceof EngineInputError)) console.error(`training failed: ${e.stack ?? e.message}`);
  }
}

async function trainLoop(trainer: Trainer, input: WorkerInput, signal: AbortSignal, post: (msg: WorkerMessage) => void) {
  const startMs = Date.now();
  const startStep = trainer.step;
  const startEpoch = trainer.epoch;
  const { steps, epochs, seconds } = input.limits;
  let lastCheckpointMs = startMs;
  // A resumed trainer's starting step is already committed; a fresh one at step 0 is not worth one.
  let lastCheckpointStep = startStep;
  // The run's best validation loss so far: a validation below it is committed at once.
  let best = input.bestValLoss;
  // Written by recordEval (a closure), so TypeScript would narrow reads below to null: read via evalNow().
  let lastEval: { step: number; valLoss: number; valBpc: number } | null = null;
  const evalNow = () => lastEval;
  let lastTrainLoss: number | null = null;
  let lastCharsPerSec: number | null = null;
  let lossSum = 0;
  let lossCount = 0;
  let lastProgressMs = 0;
  let diverged = false;
  let endReason: 'steps' | 'epochs' | 'seconds' | 'aborted' | 'diverged' = 'aborted';

  const eta = (step: number, epoch: number, now: number): number | null => {
    const elapsed = (now - startMs) / 1000;
    const done = step - startStep;
    const candidates: number[] = [];
    if (seconds !== undefined) candidates.push(Math.max(0, seconds - elapsed));
    if (done > 0 && elapsed > 0) {
      if (steps !== undefined) candidates.push(((startStep + steps - step) * elapsed) / done);
      const epochsDone = epoch - startEpoch;
      if (epochs !== undefined && epochsDone > 0) candidates.push(((startEpoch + epochs - epoch) * elapsed) / epochsDone);
    }
    return candidates.length ? Math.max(0, Math.min(...candidates)) : null;
  };

  const progress = (p: Omit<ProgressPoint, 'etaSeconds' | 'time'>) => {
    const now = Date.now();
    const point: ProgressPoint = { ...p, time: now, etaSeconds: eta(p.step, p.epoch, now) };
    lastProgressMs = now;
    post({ type: 'progress', point });
  };

  let lastReported: { step: number; trainLoss: number | undefined } = { step: -1, trainLoss: undefined };
  const flushTrainLoss = (step: number, epoch: number, extra: Partial<ProgressPoint> = {}) => {
    // Report the mean loss since the last report: smoother curves, fewer points. An eval right
    // after a report at the same step repeats that report's loss, so every point has one.
    const trainLoss = lossCount ? lossSum / lossCount : step === lastReported.step ? lastReported.trainLoss : undefined;
    lossSum = 0;
    lossCount = 0;
    lastReported = { step, trainLoss };
    progress({ step, epoch, ...(trainLoss !== undefined ? { trainLoss } : {}), ...(lastCharsPerSec !== null ? { charsPerSec: lastCharsPerSec } : {}), ...extra });
  };

  const { sample: sampling } = input;
  let lastSampleStep = -1;
  /** The sample due at the trainer's current step, if any: at every validation (default) or every N steps. */
  const sampleAt = async (validated: boolean): Promise<Partial<ProgressPoint>> => {
    const step = trainer.step;
    const due = sampling.every === null ? validated : sampling.every > 0 && step % sampling.every === 0;
    if (!due || step === lastSampleStep) return {};
    lastSampleStep = step;
    const { length, temperature, prime, seed } = sampling;
    return { sample: { step, text: await trainer.sample({ length, temperature, topK: 0, topP: 1, prime, seed }) } };
  };

  /** A validation the trainer ran (scheduled or at its end), or one run here before a checkpoint. */
  const recordEval = async (step: number, epoch: number, r: { valLoss: number; valBpc: number }) => {
    lastEval = { step, valLoss: r.valLoss, valBpc: r.valBpc };
    flushTrainLoss(step, epoch, { valLoss: r.valLoss, valBpc: r.valBpc, ...(await sampleAt(true)) });
  };
  const validateNow = async () => recordEval(trainer.step, trainer.epoch, await trainer.evaluate());
  const improves = (valLoss: number) => Number.isFinite(valLoss) && (best === null || valLoss < best);

  /** Commit the current state; it carries the validation loss when one was measured at this step. */
  const checkpoint = async () => {
    // Report the loss up to this step first: the slice stores a checkpoint's points with it, and a
    // point reported after the last checkpoint would never be stored.
    if (lossCount) flushTrainLoss(trainer.step, trainer.epoch);
    const files = await trainer.checkpoint();
    const step = trainer.step;
    const valLoss = lastEval && lastEval.step === step ? lastEval.valLoss : null;
    if (valLoss !== null && improves(valLoss)) best = valLoss;
    // Copied, not transferred: the engine's arrays may be views into shared or pooled buffers.
    post({ type: 'checkpoint', step, epoch: trainer.epoch, valLoss, files });
    lastCheckpointMs = Date.now();
    lastCheckpointStep = step;
  };
  const checkpointDue = () => Date.now() - lastCheckpointMs >= input.checkpointSeconds * 1000 && trainer.step > lastCheckpointStep;

  if (input.evalFirst) {
    // Retrain's "before": the starting weights on today's validation split are the bar to beat.
    await validateNow();
    best = evalNow()!.valLoss;
  }

  for await (const ev of trainer.run({ steps, epochs, seconds, signal })) {
    if (ev.type === 'step') {
      if (Number.isFinite(ev.trainLoss)) {
        lossSum += ev.trainLoss;
        lossCount++;
        lastTrainLoss = ev.trainLoss;
      }
      if (ev.charsPerSec !== undefined) lastCharsPerSec = ev.charsPerSec;
      // When an eval follows at this step, let it carry the train loss (one point per step), and
      // any checkpoint due waits for it.
      const evalDue = ev.step % input.train.evalEvery === 0;
      if (evalDue) continue;
      if (checkpointDue()) {
        // The validation's point carries the train loss too: one point per step.
        await validateNow();
        await checkpoint();
      } else {
        const sample = await sampleAt(false);
        if (sample.sample || Date.now() - lastProgressMs >= input.progressMs) flushTrainLoss(ev.step, ev.epoch, { ...(ev.lr !== undefined ? { lr: ev.lr } : {}), ...sample });
      }
    } else if (ev.type === 'eval') {
      await recordEval(ev.step, ev.epoch, ev);
      if (trainer.step > lastCheckpointStep && (improves(ev.valLoss) || checkpointDue())) await checkpoint();
    } else if (ev.type === 'diverged') {
      diverged = true;
      post({ type: 'diverged', step: ev.step, reason: ev.reason });
    } else if (ev.type === 'end') {
      endReason = ev.reason;
      break;
    }
  }
  if (diverged) endReason = 'diverged';
  else if (signal.reason === 'lease_lost') {
    // Someone else trains this run now: writing a checkpoint would race theirs.
  } else {
    if (lossCount) flushTrainLoss(trainer.step, trainer.epoch);
    if (trainer.step > lastCheckpointStep) {
      // A slice stopped early (a client's stop) validates here; the trainer already did at a
      // limit. A shutdown has seconds to commit, so it skips the validation.
      if (evalNow()?.step !== trainer.step && signal.reason !== 'shutdown') await validateNow();
      await checkpoint();
    }
  }
  const secondsTaken = (Date.now() - startMs) / 1000;
  const final = evalNow();
  post({
    type: 'end',
    step: trainer.step,
    epoch: trainer.epoch,
    reason: endReason,
    trainLoss: lastTrainLoss,
    valLoss: final?.valLoss ?? null,
    valBpc: final?.valBpc ?? null,
    charsPerSec: lastCharsPerSec,
    steps: trainer.step - startStep,
    seconds: secondsTaken,
  });
}
