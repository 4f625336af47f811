// A training worker: owns one Trainer for one slice. It never touches the store: it receives the
// corpus text and the checkpoint bytes, and posts progress and checkpoint bytes back; the server
// thread commits them. Stops on its limits, on divergence, or when told to ('stop' message).
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend, Trainer } from '../../shared/engine/index.ts';
import { EngineInputError } from '../../shared/engine/types.ts';
import type { ProgressPoint, ServerMessage, WorkerInput, WorkerMessage } from './protocol.ts';

const port = parentPort!;
const input = workerData as WorkerInput;
const abort = new AbortController();

port.on('message', (m: ServerMessage) => {
  if (m.type === 'stop') abort.abort(m.reason);
});

function post(msg: WorkerMessage) {
  port.postMessage(msg);
}

async function main() {
  const backend = await initBackend();
  const trainer = input.checkpoint
    ? await Trainer.resume({ text: input.text, checkpoint: input.checkpoint, train: input.train })
    : await Trainer.create({ text: input.text, model: input.model, train: input.train });
  try {
    post({ type: 'ready', backend, step: trainer.step, epoch: trainer.epoch, vocabSize: trainer.vocab.size, params: trainer.params });
    await trainLoop(trainer);
  } finally {
    trainer.dispose();
  }
}

async function trainLoop(trainer: Trainer) {
  const startMs = Date.now();
  const startStep = trainer.step;
  const startEpoch = trainer.epoch;
  const { steps, epochs, seconds } = input.limits;
  let lastCheckpointMs = startMs;
  // A resumed trainer's starting step is already committed; a fresh one at step 0 is not worth one.
  let lastCheckpointStep = startStep;
  let lastEval: { step: number; valLoss: number; valBpc: number } | null = null;
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

  const checkpoint = async () => {
    // Report the loss up to this step first: the slice stores a checkpoint's points with it, and a
    // point reported after the last checkpoint would never be stored.
    if (lossCount) flushTrainLoss(trainer.step, trainer.epoch);
    const files = await trainer.checkpoint();
    const step = trainer.step;
    const valLoss = lastEval && lastEval.step === step ? lastEval.valLoss : null;
    // Copied, not transferred: the engine's arrays may be views into shared or pooled buffers.
    post({ type: 'checkpoint', step, epoch: trainer.epoch, valLoss, files });
    lastCheckpointMs = Date.now();
    lastCheckpointStep = step;
  };

  if (input.evalFirst) {
    const r = await trainer.evaluate();
    lastEval = { step: trainer.step, valLoss: r.valLoss, valBpc: r.valBpc };
    progress({ step: trainer.step, epoch: trainer.epoch, valLoss: r.valLoss, valBpc: r.valBpc });
  }

  for await (const ev of trainer.run({ steps, epochs, seconds, signal: abort.signal })) {
    if (ev.type === 'step') {
      if (Number.isFinite(ev.trainLoss)) {
        lossSum += ev.trainLoss;
        lossCount++;
        lastTrainLoss = ev.trainLoss;
      }
      if (ev.charsPerSec !== undefined) lastCharsPerSec = ev.charsPerSec;
      // When an eval follows at this step, let it carry the train loss: one point per step.
      const evalDue = ev.step % input.train.evalEvery === 0;
      if (!evalDue && Date.now() - lastProgressMs >= input.progressMs) flushTrainLoss(ev.step, ev.epoch, ev.lr !== undefined ? { lr: ev.lr } : {});
    } else if (ev.type === 'eval') {
      lastEval = { step: ev.step, valLoss: ev.valLoss, valBpc: ev.valBpc };
      flushTrainLoss(ev.step, ev.epoch, { valLoss: ev.valLoss, valBpc: ev.valBpc });
    } else if (ev.type === 'diverged') {
      diverged = true;
      post({ type: 'diverged', step: ev.step, reason: ev.reason });
    } else if (ev.type === 'end') {
      endReason = ev.reason;
      break;
    }
    const evalPending = ev.type === 'step' && ev.step % input.train.evalEvery === 0;
    if (!diverged && !evalPending && Date.now() - lastCheckpointMs >= input.checkpointSeconds * 1000 && trainer.step > lastCheckpointStep) {
      await checkpoint();
    }
  }
  if (diverged) endReason = 'diverged';
  else if (abort.signal.reason === 'lease_lost') {
    // Someone else trains this run now: writing a checkpoint would race theirs.
  } else {
    if (lossCount) flushTrainLoss(trainer.step, trainer.epoch);
    if (trainer.step > lastCheckpointStep) await checkpoint();
  }
  const secondsTaken = (Date.now() - startMs) / 1000;
  post({
    type: 'end',
    step: trainer.step,
    epoch: trainer.epoch,
    reason: endReason,
    trainLoss: lastTrainLoss,
    valLoss: lastEval?.valLoss ?? null,
    valBpc: lastEval?.valBpc ?? null,
    charsPerSec: lastCharsPerSec,
    steps: trainer.step - startStep,
    seconds: secondsTaken,
  });
}

main()
  .catch((err: unknown) => {
    const e = err instanceof Error ? err : new Error(String(err));
    post({ type: 'error', name: e.name, message: e.message, ...(err instanceof EngineInputError ? { field: err.field } : {}) });
    if (!(err instanceof EngineInputError)) console.error(`training worker failed: ${e.stack ?? e.message}`);
  })
  .finally(() => port.unref()); // the 'stop' listener must not keep the thread alive
