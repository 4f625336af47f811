// Run records as the API shows them: creation (ids, config, limits), listing, deletion.
import { randomBytes } from 'node:crypto';
import type { CreateRunBody, Run } from '../../shared/api/schemas.ts';
import { autoSize, checkCorpusFits, checkPrime, countParams, formatChars, resolveConfig, resolveSampleConfig, Vocab } from '../../shared/engine/tf-free.ts';
import type { ModelConfig, TrainingSampleConfig } from '../../shared/engine/types.ts';
import type { LoadedCheckpoint } from '../../shared/store/index.ts';
import type { CheckpointRef, RunRecord } from '../../shared/store/types.ts';
import { RUN_ID_MAX, runIdFromName } from '../../shared/run-id.ts';
import { HttpError } from '../errors.ts';
import type { Services } from '../services.ts';
import { resolveCorpus } from './corpus.ts';
import { checkpointMissing, sampleConfigOf } from './record.ts';

export async function createRun(s: Services, body: CreateRunBody): Promise<Run> {
  const input = body.config ?? {};
  const sample = resolveSampleConfig(input);
  if (sample.length > s.limits.maxSampleLength) {
    // The default fits any server: it shrinks to the limit; an explicit length over it is refused.
    if (input.sampleLength === undefined) sample.length = s.limits.maxSampleLength;
    else throw new HttpError(400, 'limit_exceeded', `config.sampleLength: ${sample.length} exceeds this server's limit of ${s.limits.maxSampleLength}`, 'config.sampleLength');
  }
  checkModelLimits(s, resolveConfig(input).model); // an explicit size over the limits: 400 before the corpus is read
  const corpusDisplay = typeof body.corpus === 'object' && 'text' in body.corpus ? body.corpus.name : body.corpusName;
  const corpus = await resolveCorpus(s, body.corpus, corpusDisplay);
  if (sample.prime) checkPrime(Vocab.fromText(corpus.text), sample.prime, 'config.samplePrime');
  let chars = 0;
  for (const _ of corpus.text) chars++;
  const auto = autoSize({ corpusChars: chars, vocabSize: corpus.vocabSize, budgetSeconds: input.budgetSeconds, limits: s.limits });
  const { model, train, sizing } = resolveConfig(input, auto);
  checkModelLimits(s, model);
  checkCorpusFits(Math.floor(chars * 0.9), train.batchSize, train.seqLen); // 422 now, not at the first slice
  const params = countParams(model, corpus.vocabSize);
  if (params > s.limits.maxParams) {
    throw new HttpError(400, 'limit_exceeded', `config: ${params} parameters exceeds this server's limit of ${s.limits.maxParams}; use fewer layers or a smaller hidden size`, 'config');
  }
  const id = body.id ?? (body.name && runIdFromName(body.name)) ?? '';
  const runId = id || `${runIdFromName(corpus.name) || 'corpus'}-${randomBytes(3).toString('hex')}`.slice(-RUN_ID_MAX);
  const now = new Date(s.now()).toISOString();
  const record: RunRecord = {
    id: runId,
    name: body.name ?? runId,
    corpus: corpus.ref,
    corpusName: corpus.name,
    model: { ...model },
    train: { ...train },
    sample: { ...sample },
    status: 'idle',
    step: 0,
    epoch: 0,
    latestValLoss: null,
    bestValLoss: null,
    vocabSize: corpus.vocabSize,
    params,
    sizing,
    ...(corpus.version ? { corpusVersion: corpus.version } : {}),
    createdAt: now,
    updatedAt: now,
  };
  const created = await s.store.createRun(record);
  return toRunView(created ?? record, false);
}

function checkModelLimits(s: Services, model: ModelConfig) {
  if (model.layers > s.limits.maxLayers) {
    throw new HttpError(400, 'limit_exceeded', `config.layers: ${model.layers} exceeds this server's limit of ${s.limits.maxLayers}`, 'config.layers');
  }
  if (model.hidden > s.limits.maxHidden) {
    throw new HttpError(400, 'limit_exceeded', `config.hidden: ${model.hidden} exceeds this server's limit of ${s.limits.maxHidden}`, 'config.hidden');
  }
}

/** The run's checkpoint `ref`, or the 404/409 of checkpointMissing. */
export async function requireCheckpoint(s: Services, runId: string, ref: CheckpointRef): Promise<LoadedCheckpoint> {
  const loaded = await s.store.loadCheckpoint(runId, ref);
  if (!loaded) throw checkpointMissing(runId, ref);
  return loaded;
}

/** A run that exists, or 404. */
export async function requireRun(s: Services, id: string): Promise<RunRecord> {
  const run = await s.store.getRun(id);
  if (!run) throw new HttpError(404, 'not_found', `no run "${id}"`);
  return run;
}

export async function getRunView(s: Services, id: string): Promise<Run> {
  const run = await requireRun(s, id);
  return toRunView(run, await isTraining(s, run));
}

export async function listRunViews(s: Services): Promise<Run[]> {
  const runs = await s.store.listRuns();
  return Promise.all(runs.map(async (r) => toRunView(r, await isTraining(s, r))));
}

export async function deleteRun(s: Services, id: string): Promise<void> {
  const run = await requireRun(s, id);
  if (await isTraining(s, run)) throw new HttpError(409, 'training_in_progress', `run "${id}" is training: wait for the slice to end, then delete it`);
  s.samplers.forgetRun(id);
  await s.store.deleteRun(id);
}

/** A run counts as training while someone holds an unexpired lease on it (a crashed slice's
 * 'training' status is not trusted once its lease has lapsed). */
async function isTraining(s: Services, run: RunRecord): Promise<boolean> {
  if (s.trainings.isActive(run.id)) return true;
  if (run.status !== 'training') return false;
  const lease = await s.store.readLease(run.id);
  return !!lease && lease.expiresAt > s.now();
}

function toRunView(r: RunRecord, training: boolean): Run {
  const status = training ? 'training' : r.status === 'training' ? 'idle' : r.status;
  return {
    id: r.id,
    name: r.name,
    corpus: r.corpus,
    corpusName: r.corpusName,
    model: r.model,
    train: r.train,
    sample: sampleConfigOf(r),
    status,
    step: r.step,
    epoch: r.epoch,
    latestValLoss: r.latestValLoss,
    bestValLoss: r.bestValLoss,
    ...(r.error !== undefined && status === 'failed' ? { error: r.error } : {}),
    ...(r.vocabSize !== undefined ? { vocabSize: r.vocabSize } : {}),
    ...(r.params !== undefined ? { params: r.params } : {}),
    ...(r.sizing !== undefined ? { sizing: r.sizing } : {}),
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}
