// One scheduled retrain tick: under the run's lease, read the corpus at its current version, start
// from the `best` checkpoint (its vocabulary extended if the corpus gained characters), measure it
// on the current validation split, train for the bounded budget, and move `best` to every
// checkpoint whose validation beats that measurement (the last one is measured at the end).
// `latest` always moves to the newest committed training state.
// Every tick that got the lease (or was refused for its corpus) leaves a report; an
// Idempotency-Key makes a repeated tick answer with the first one's report.
import type { RetrainBody, RetrainReport, TrainProgress, TrainSummary } from '../../shared/api/schemas.ts';
import { extendVocab, renumberCheckpoint } from '../../shared/engine/checkpoint-edit.ts';
import { checkCorpusFits, countParams, formatChars, readCheckpointInfo, Vocab } from '../../shared/engine/tf-free.ts';
import { EngineInputError, type CheckpointFiles } from '../../shared/engine/types.ts';
import type { CheckpointPointer, CorpusVersion, RunRecord } from '../../shared/store/types.ts';
import { HttpError } from '../errors.ts';
import { FEED_REF_PREFIX, loadCorpusText, loadFeed } from '../runs/corpus.ts';
import { requireRun } from '../runs/service.ts';
import type { Services } from '../services.ts';
import { newReportId, RetrainRecords } from './records.ts';

/** The corpus cannot be trained on by this run: the tick reports why and changes nothing else. */
export class RetrainRejected extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RetrainRejected';
  }
}

export interface TickResult {
  report: RetrainReport;
  /** True when this answers a repeated Idempotency-Key without training. */
  replayed: boolean;
}

/** Ticks in flight on this instance, by run and key: a repeat waits for the first and shares its result. */
const inflight = new WeakMap<Services, Map<string, Promise<TickResult>>>();

const fmt = (x: number | null) => (x === null ? 'n/a' : x.toFixed(4));

/** The HTTP status a report answers with: rejected ticks are the caller's to fix (422). */
export function reportStatus(report: RetrainReport): 200 | 422 {
  return report.outcome === 'rejected' ? 422 : 200;
}

export async function retrain(s: Services, runId: string, body: RetrainBody, key: string | null): Promise<TickResult> {
  if (!key) {
    await requireRun(s, runId);
    return { report: await tick(s, runId, body, null), replayed: false };
  }
  let running = inflight.get(s);
  if (!running) inflight.set(s, (running = new Map()));
  const memo = `${runId}\n${key}`;
  const same = running.get(memo);
  if (same) return { report: (await same).report, replayed: true };
  // Registered before the first await, so a concurrent repeat on this instance finds it.
  const p = keyed(s, runId, body, key);
  running.set(memo, p);
  try {
    return await p;
  } finally {
    running.delete(memo);
  }
}

async function keyed(s: Services, runId: string, body: RetrainBody, key: string): Promise<TickResult> {
  await requireRun(s, runId);
  const records = new RetrainRecords(s.store);
  const existing = await records.readKey(runId, key);
  if (existing?.record.state === 'done' && existing.record.reportId) {
    const report = await records.getReport(runId, existing.record.reportId);
    if (report) return { report, replayed: true };
  }
  if (existing?.record.state === 'running') {
    // Another instance holds the run for this key; once its lease lapses (it died), the key is free again.
    const lease = await s.store.readLease(runId);
    if (lease && lease.expiresAt > s.now()) {
      throw new HttpError(409, 'retrain_in_progress', `a retrain of "${runId}" with this Idempotency-Key is still running; retry later for its report`);
    }
  }
  return { report: await tick(s, runId, body, key, existing?.etag), replayed: false };
}

interface Prepared {
  corpus: RetrainReport['corpus'];
  version: CorpusVersion | null;
  vocabBefore: number;
  vocabAfter: number;
  /** The best checkpoint trained from (null: none yet, a fresh model). */
  best: CheckpointPointer | null;
  fromStep: number | null;
  startStep: number;
}

async function tick(s: Services, runId: string, body: RetrainBody, key: string | null, staleKeyEtag?: string): Promise<RetrainReport> {
  await s.backend.ready(); // before anything is written: an unusable backend changes nothing
  const records = new RetrainRecords(s.store);
  const started = s.now();
  const id = newReportId(started);
  const budget = {
    ...(body.steps !== undefined ? { steps: body.steps } : {}),
    ...(body.epochs !== undefined ? { epochs: body.epochs } : {}),
    ...(body.maxSeconds !== undefined ? { maxSeconds: body.maxSeconds } : {}),
  };
  let prep: Prepared | null = null;
  let before: number | null = null;
  const base = (run: Pick<RunRecord, 'corpus' | 'step'>) => ({
    id,
    runId,
    idempotencyKey: key,
    startedAt: new Date(started).toISOString(),
    budget,
    corpus: prep?.corpus ?? { ref: run.corpus, version: null, etag: null, changed: false, addedChars: [] },
    fromStep: prep?.fromStep ?? null,
    vocabSize: { before: prep?.vocabBefore ?? 0, after: prep?.vocabAfter ?? 0 },
  });
  const finish = async (report: RetrainReport) => {
    await records.saveReport(report);
    if (key) await records.finishKey(runId, key, report.id, report.startedAt);
    return report;
  };

  let slice;
  try {
    slice = await s.trainings.start(runId, body, {
      evalFirst: true,
      onProgress: (p: TrainProgress) => {
        if (before === null && p.valLoss !== undefined && prep && p.step === prep.startStep) before = p.valLoss;
      },
      prepare: async (run) => {
        const r = await prepare(s, run);
        prep = r.prepared;
        return r.inputs;
      },
    });
  } catch (e) {
    const reason = rejectionReason(e);
    if (reason === null) throw e; // 404, 409 training, 503…: nothing happened, nothing to report
    const run = await requireRun(s, runId);
    const vocabSize = (run as { vocabSize?: number }).vocabSize ?? 0;
    return finish({
      ...base(run),
      finishedAt: new Date(s.now()).toISOString(),
      outcome: 'rejected',
      promoted: false,
      reason,
      step: run.step,
      steps: 0,
      beforeValLoss: null,
      afterValLoss: null,
      stopReason: null,
      vocabSize: { before: vocabSize, after: vocabSize },
    });
  }
  const p = prep as Prepared | null;
  if (!p) throw new Error('retrain: the slice started without preparing its inputs');
  if (key && !(await records.claimKey(runId, { key, state: 'running', startedAt: new Date(started).toISOString() }, staleKeyEtag))) {
    // Lost a create race on another instance: the lease makes that one fail with 409, so go on.
    s.log(`retrain ${runId}: key record already present; continuing under the lease`);
  }

  let summary: TrainSummary;
  try {
    summary = await slice.done;
  } catch (e) {
    const run = await s.store.getRun(runId);
    const message = e instanceof Error ? e.message.split('\n')[0] : String(e);
    await records
      .saveReport({
        ...base(run ?? { corpus: p.corpus.ref, step: p.startStep }),
        finishedAt: new Date(s.now()).toISOString(),
        outcome: 'failed',
        promoted: false,
        reason: `training failed: ${message}`,
        step: run?.step ?? p.startStep,
        steps: 0,
        beforeValLoss: before,
        afterValLoss: null,
        stopReason: null,
      })
      .catch((err: unknown) => s.log(`retrain ${runId}: could not write the failure report: ${String(err)}`));
    // A failed tick is not an answer: the scheduler's retry should run it again.
    if (key) await records.releaseKey(runId, key).catch(() => {});
    throw e;
  }

  // The slice moved best itself whenever a validation beat `before` (see SliceOptions.evalFirst).
  const evaluatedAtEnd = summary.stopReason === 'steps' || summary.stopReason === 'epochs' || summary.stopReason === 'seconds';
  const after = evaluatedAtEnd || summary.stopReason === 'diverged' ? summary.valLoss : null;
  const bestNow = await s.store.readPointer(runId, 'best');
  const promoted = bestNow !== null && bestNow.step > p.startStep && (p.best === null || bestNow.files[0] !== p.best.files[0]);
  const bestStep = p.best?.step ?? null;
  const keptAt = bestStep === null ? 'there is still no best checkpoint' : `best stays at step ${bestStep}`;
  let reason: string;
  if (promoted) {
    reason = `validation loss improved from ${fmt(before)} to ${fmt(bestNow.valLoss)}: best is now step ${bestNow.step}`;
  } else if (summary.stopReason === 'diverged') {
    reason = `training diverged (val ${fmt(after)}); ${keptAt}`;
  } else if (!evaluatedAtEnd) {
    reason = `the slice stopped early (${summary.stopReason}) before its final evaluation; ${keptAt}`;
  } else if (summary.steps === 0) {
    reason = `no steps fit in the budget; ${keptAt}`;
  } else {
    reason = `validation loss did not improve (${fmt(before)} before, ${fmt(after)} after); ${keptAt}, latest is step ${summary.checkpointStep}`;
  }
  if (p.version && summary.checkpointStep > p.startStep) await s.store.updateRun(runId, { corpusVersion: p.version });

  return finish({
    ...base({ corpus: p.corpus.ref, step: summary.checkpointStep }),
    finishedAt: new Date(s.now()).toISOString(),
    outcome: promoted ? 'promoted' : 'kept',
    promoted,
    reason,
    step: summary.checkpointStep,
    steps: summary.steps,
    beforeValLoss: before,
    afterValLoss: after,
    stopReason: summary.stopReason,
  });
}

/** Under the lease: the corpus now, and the best checkpoint made ready for it. */
async function prepare(s: Services, run: RunRecord): Promise<{ prepared: Prepared; inputs: { text: string; checkpoint?: CheckpointFiles; best?: CheckpointPointer } }> {
  let text: string;
  let version: CorpusVersion | null = null;
  if (run.corpus.startsWith(FEED_REF_PREFIX)) {
    const feed = await loadFeed(s.store, run.corpus.slice(FEED_REF_PREFIX.length));
    text = feed.text;
    version = feed.version;
  } else {
    text = await loadCorpusText(s.store, run.corpus);
  }
  const corpus: RetrainReport['corpus'] = {
    ref: run.corpus,
    version: version?.sha256 ?? null,
    etag: version?.etag ?? null,
    changed: !!version && run.corpusVersion?.sha256 !== version.sha256,
    addedChars: [],
  };
  const textVocab = Vocab.fromText(text); // empty or one-character corpora are refused here
  let chars = 0;
  for (const _ of text) chars++;
  checkCorpusFits(Math.floor(chars * 0.9), run.train.batchSize, run.train.seqLen);

  const bestPointer = await s.store.readPointer(run.id, 'best');
  const loaded = (await s.store.loadCheckpoint(run.id, 'best')) ?? (await s.store.loadCheckpoint(run.id, 'latest'));
  if (!loaded) {
    const params = countParams(run.model, textVocab.size);
    if (params > s.limits.maxParams) throw new RetrainRejected(`the model over this corpus would have ${params} parameters, over this server's limit of ${s.limits.maxParams}`);
    return {
      prepared: { corpus, version, vocabBefore: textVocab.size, vocabAfter: textVocab.size, best: null, fromStep: null, startStep: run.step },
      inputs: { text },
    };
  }
  let files = loaded.files as CheckpointFiles;
  const info = readCheckpointInfo(files);
  const vocab = new Vocab(info.vocab);
  // Sorted, so the same new text always grows the same vocabulary.
  const added = [...vocab.missing(text)].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
  if (added.length) {
    const params = countParams(info.model, vocab.size + added.length);
    if (params > s.limits.maxParams) {
      throw new RetrainRejected(
        `the corpus adds ${added.length} new character(s) (${formatChars(added)}); the extended model would have ${params} parameters, over this server's limit of ${s.limits.maxParams}`,
      );
    }
    files = extendVocab(files, added);
    corpus.addedChars = added;
  }
  // Branching from an older best: keep counting from latest, so steps (and metrics) stay monotonic.
  const latest = await s.store.readPointer(run.id, 'latest');
  if (latest && latest.step > info.step) files = renumberCheckpoint(files, latest.step);
  return {
    prepared: {
      corpus,
      version,
      vocabBefore: vocab.size,
      vocabAfter: vocab.size + added.length,
      best: bestPointer && bestPointer.step === loaded.step ? bestPointer : null,
      fromStep: info.step,
      startStep: Math.max(info.step, latest?.step ?? 0),
    },
    // The checkpoint trained from is the bar: re-measured on today's split before any step.
    inputs: { text, checkpoint: files, best: bestPointer && bestPointer.step === loaded.step ? bestPointer : loaded.pointer },
  };
}

/** Why the corpus cannot be trained on (the tick is reported as rejected), or null for other errors. */
function rejectionReason(e: unknown): string | null {
  if (e instanceof RetrainRejected) return e.message;
  if (e instanceof EngineInputError && (e.field === 'corpus' || e.field.startsWith('corpus.'))) return e.message;
  if (e instanceof HttpError && e.status === 422) return e.message;
  return null;
}
