// The HTTP API's request and response shapes: the one source of truth used by the Hono
// validators (functions/), the OpenAPI document, and the typed client the TUI and CLI use.
// Static bounds here are sanity limits; per-instance caps (CHARRNN_MAX_*) are applied by functions/.
import { z } from 'zod';
import { BUILTIN_CORPORA } from '../builtin-corpora.mjs';
import { AUTO_DEFAULT_SECONDS, describePresets, PRESETS } from '../presets.ts';
import { RUN_ID_MAX, RUN_ID_PATTERN, RUN_ID_RULE } from '../run-id.ts';
import type * as Stored from '../run-types.ts';

export { BUILTIN_CORPORA, PRESETS };

/** A run id: what goes in URLs and store keys (the rule: shared/run-id.ts). */
export const RunId = z
  .string()
  .min(1)
  .max(RUN_ID_MAX)
  .regex(RUN_ID_PATTERN, RUN_ID_RULE)
  .meta({ description: 'Run id', example: 'moby-small' });

const posInt = (max: number) => z.number().int().min(1).max(max);

// Sampling settings, the same rules for POST /sample and for the samples a run takes while training.
const Temperature = z.number().min(0).max(100);
const Prime = z.string().max(10_000);
const Seed = z.number().int().min(0).max(2 ** 31 - 1);
const SampleLength = posInt(1_000_000);

/** Every hyperparameter, all optional: unspecified ones come from the preset, then the defaults. */
export const RunConfigInput = z
  .object({
    preset: z.enum(PRESETS).optional().meta({ description: `Size preset (default auto): ${describePresets()}` }),
    budgetSeconds: z
      .number()
      .gt(0)
      .max(30 * 24 * 3600)
      .optional()
      .meta({ description: `How long you plan to train the run, in seconds; auto sizes the model for it (default ${AUTO_DEFAULT_SECONDS})` }),
    cell: z.enum(['lstm', 'gru']).optional(),
    layers: posInt(8).optional(),
    hidden: posInt(2048).optional(),
    dropout: z.number().min(0).max(0.9).optional(),
    embedding: posInt(1024).nullable().optional().meta({ description: 'Embedding size; null = one-hot input' }),
    seqLen: posInt(1000).optional(),
    batchSize: posInt(1024).optional(),
    lr: z.number().gt(0).max(1).optional(),
    lrDecay: z.number().gt(0).max(1).optional(),
    lrDecayAfter: z.number().int().min(0).max(1_000_000).optional(),
    amsgrad: z.boolean().optional(),
    gradClip: z.number().min(0).max(1e6).optional(),
    evalEvery: posInt(1_000_000).optional(),
    evalChars: z.number().int().min(0).max(100_000_000).optional(),
    divergenceFactor: z.number().min(1).max(1e6).optional(),
    seed: Seed.optional(),
    sampleEvery: z
      .number()
      .int()
      .min(0)
      .max(1_000_000)
      .optional()
      .meta({ description: 'Samples while training: every N steps; 0 = none; default: at every validation' }),
    sampleLength: SampleLength.optional().meta({ description: 'Characters per sample while training (default 200)' }),
    sampleSeed: Seed.optional().meta({ description: 'Seed of every sample while training (fixed, so samples differ only as the model learns)' }),
    sampleTemperature: Temperature.optional().meta({ description: 'Temperature of the samples while training (default 0.8)' }),
    samplePrime: Prime.optional().meta({ description: "Text each sample while training starts from; must be in the corpus's vocabulary" }),
  })
  .strict();
export type RunConfigInput = z.infer<typeof RunConfigInput>;

/** Mirrors validateFeedKey in shared/store/keys.ts (which the store enforces too). */
export const FeedKey = z
  .string()
  .max(256)
  .regex(/^feeds\/(?:[A-Za-z0-9][A-Za-z0-9._-]*\/)*[A-Za-z0-9][A-Za-z0-9._-]*\.txt$/, "a feed key looks like feeds/<name>.txt (letters, digits, '.', '_', '-')")
  .refine((k) => !k.includes('..'), "a feed key must not contain '..'")
  .meta({ description: 'Store key of a feed corpus', example: 'feeds/news.txt' });

export const CorpusInput = z.union([
  z.enum(BUILTIN_CORPORA).meta({ description: 'A built-in corpus' }),
  z
    .string()
    .regex(/^sha256:[0-9a-f]{64}$/, 'a corpus reference looks like sha256:<64 hex digits> (from POST /corpora)')
    .meta({ description: 'A corpus uploaded with POST /corpora' }),
  z.object({ text: z.string().min(1), name: z.string().min(1).max(200).optional() }).strict().meta({ description: 'Inline corpus text' }),
  z
    .object({ key: FeedKey })
    .strict()
    .meta({ description: 'A feed: a mutable object under feeds/ in the run store; each retrain tick trains on its current version' }),
]);

export const CreateRunBody = z
  .object({
    corpus: CorpusInput,
    name: z.string().min(1).max(200).optional(),
    id: RunId.optional(),
    /** Display name for an uploaded (sha256:) corpus, e.g. the file name. */
    corpusName: z.string().min(1).max(200).optional().meta({ description: 'Display name of an uploaded corpus' }),
    config: RunConfigInput.optional(),
  })
  .strict();
export type CreateRunBody = z.infer<typeof CreateRunBody>;

export const ModelConfigOut = z.object({
  cell: z.enum(['lstm', 'gru']),
  layers: z.number(),
  hidden: z.number(),
  dropout: z.number(),
  embedding: z.number().nullable(),
}) satisfies z.ZodType<Stored.ModelConfig>;
export const TrainConfigOut = z.object({
  seqLen: z.number(),
  batchSize: z.number(),
  lr: z.number(),
  lrDecay: z.number(),
  lrDecayAfter: z.number(),
  amsgrad: z.boolean(),
  gradClip: z.number(),
  evalEvery: z.number(),
  evalChars: z.number(),
  divergenceFactor: z.number(),
  seed: z.number(),
}) satisfies z.ZodType<Stored.TrainConfig>;

/** The samples a run takes while training (null every: at every validation; 0: none). */
export const SampleConfigOut = z.object({
  every: z.number().nullable(),
  length: z.number(),
  seed: z.number(),
  temperature: z.number(),
  prime: z.string(),
}) satisfies z.ZodType<Stored.TrainingSampleConfig>;

export const Run = z.object({
  id: z.string(),
  name: z.string(),
  corpus: z.string(),
  corpusName: z.string(),
  model: ModelConfigOut,
  train: TrainConfigOut,
  sample: SampleConfigOut,
  status: z.enum(['idle', 'training', 'failed']),
  step: z.number(),
  epoch: z.number(),
  latestValLoss: z.number().nullable(),
  bestValLoss: z.number().nullable(),
  error: z.string().optional(),
  vocabSize: z.number().optional(),
  params: z.number().optional(),
  sizing: z.string().optional().meta({ description: 'Which size the run has and why, in one line (e.g. what auto chose for the corpus and budget)' }),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type Run = z.infer<typeof Run>;

export const RunList = z.object({ runs: z.array(Run) });

export const CorpusUploaded = z.object({ ref: z.string(), chars: z.number(), vocabSize: z.number(), bytes: z.number() });

export const TrainBody = z
  .object({
    steps: posInt(10_000_000).optional(),
    epochs: z.number().gt(0).max(10_000).optional(),
    maxSeconds: z.number().gt(0).max(24 * 3600).optional().meta({ description: 'Wall-time budget; capped below the platform request limit' }),
    checkpointSeconds: z.number().gt(0).max(3600).optional(),
  })
  .strict();
export type TrainBody = z.infer<typeof TrainBody>;

export const MetricPoint = z.object({
  step: z.number(),
  epoch: z.number(),
  trainLoss: z.number().optional(),
  valLoss: z.number().optional(),
  valBpc: z.number().optional(),
  lr: z.number().optional(),
  charsPerSec: z.number().optional(),
  time: z.number(),
  sample: z
    .object({ step: z.number(), text: z.string() })
    .optional()
    .meta({ description: 'Text generated from the weights at this step while training (excludes the prime)' }),
  /** Which invocation wrote it. */
  segment: z.string().optional(),
}) satisfies z.ZodType<Stored.MetricPoint>;
/** One definition: shared/run-types.ts (the schema above is checked against it). */
export type MetricPoint = Stored.MetricPoint;

/** The tfjs backend a server runs on (the engine's backendInfo(), shared/engine/backend-choice.ts). */
export const BackendName = z.enum(['tensorflow', 'wasm', 'cpu']);
/** What computes: in /healthz and in every training progress event. */
export const BackendInUse = z.object({
  backend: BackendName,
  device: z.enum(['gpu', 'cpu']).meta({ description: 'gpu only when the tensorflow backend runs on a GPU device' }),
  blas: z.object({
    on: z.boolean().meta({ description: 'wasm matrix products run on the OpenBLAS binding' }),
    kernels: z.string().nullable().meta({ description: "the binding's kernel variant, when it reports one" }),
  }),
});
export type BackendInUse = z.infer<typeof BackendInUse>;

/** SSE `progress` event data while training. */
export const TrainProgress = MetricPoint.extend(BackendInUse.shape).extend({
  runId: z.string(),
  etaSeconds: z.number().nullable(),
});
export type TrainProgress = z.infer<typeof TrainProgress>;

/** JSON reply of a train slice, and the SSE `done` event's data. */
export const TrainSummary = z.object({
  runId: z.string(),
  step: z.number(),
  epoch: z.number(),
  trainLoss: z.number().nullable(),
  valLoss: z.number().nullable(),
  valBpc: z.number().nullable(),
  bestValLoss: z.number().nullable(),
  charsPerSec: z.number().nullable(),
  steps: z.number().meta({ description: 'Steps trained in this slice' }),
  seconds: z.number(),
  stopReason: z.enum(['steps', 'epochs', 'seconds', 'aborted', 'diverged', 'shutdown']),
  checkpointStep: z.number(),
  backend: z.string(),
});
export type TrainSummary = z.infer<typeof TrainSummary>;

/** POST /runs/:id/retrain: one scheduled tick, bounded like a train slice (none → the default slice seconds). */
export const RetrainBody = TrainBody.pick({ steps: true, epochs: true, maxSeconds: true }).strict();
export type RetrainBody = z.infer<typeof RetrainBody>;

/** What one retrain tick did: stored as runs/<id>/retrains/<time>.json and returned by the route. */
export const RetrainReport = z.object({
  id: z.string().meta({ description: 'Report id: its start time (sortable) and a random suffix' }),
  runId: z.string(),
  idempotencyKey: z.string().nullable(),
  startedAt: z.string(),
  finishedAt: z.string(),
  budget: z.object({ steps: z.number().optional(), epochs: z.number().optional(), maxSeconds: z.number().optional() }),
  corpus: z.object({
    ref: z.string(),
    version: z.string().nullable().meta({ description: 'sha256:<hex> of the feed bytes trained on (null for other corpora)' }),
    etag: z.string().nullable(),
    changed: z.boolean().meta({ description: 'The feed differs from the version the run last trained on' }),
    addedChars: z.array(z.string()).meta({ description: 'Characters new to the vocabulary (the model was extended)' }),
  }),
  outcome: z.enum(['promoted', 'kept', 'rejected', 'failed']).meta({
    description: 'promoted: validation loss improved, best moved; kept: trained (latest moved) but best stayed; rejected: nothing changed (reason says why); failed: training failed',
  }),
  promoted: z.boolean(),
  reason: z.string(),
  fromStep: z.number().nullable().meta({ description: 'Step of the best checkpoint training started from (null: an untrained model)' }),
  step: z.number().meta({ description: "The run's latest step after the tick" }),
  steps: z.number().meta({ description: 'Steps trained in this tick' }),
  beforeValLoss: z.number().nullable().meta({ description: "Best checkpoint's loss on the current validation split, before training" }),
  afterValLoss: z.number().nullable().meta({ description: 'Loss of the trained model on the same split' }),
  vocabSize: z.object({ before: z.number(), after: z.number() }),
  stopReason: TrainSummary.shape.stopReason.nullable(),
});
export type RetrainReport = z.infer<typeof RetrainReport>;

export const RetrainList = z.object({ retrains: z.array(RetrainReport) });

export const CheckpointSelector = z
  .union([z.enum(['latest', 'best']), z.number().int().min(0)])
  .meta({ description: "'latest', 'best' or a step number" });

export const SampleBody = z
  .object({
    length: SampleLength.default(200),
    temperature: Temperature.default(1),
    topK: z.number().int().min(0).max(1_000_000).default(0),
    topP: z.number().gt(0).max(1).default(1),
    prime: Prime.default(''),
    seed: Seed.optional(),
    checkpoint: CheckpointSelector.default('latest'),
  })
  .strict();
export type SampleBody = z.input<typeof SampleBody>;

/** GET /runs/:id/export?checkpoint=…: which checkpoint the site carries. */
export const ExportQuery = z.object({
  checkpoint: z
    .string()
    .regex(/^(latest|best|\d{1,15})$/, 'use latest, best or a step number')
    .optional()
    .meta({ description: "'latest' (default), 'best' or a step number" }),
});

export const SampleResult = z.object({ text: z.string(), seed: z.number(), step: z.number(), checkpoint: z.string() });
/** SSE event data while sampling: the next characters. */
export const SampleChunk = z.object({ text: z.string() });

export const MetricsResponse = z.object({ points: z.array(MetricPoint) });

export const Health = BackendInUse.extend({
  ok: z.literal(true),
  ready: z.literal(true),
  version: z.string(),
});

/** 503 from /healthz until the backend is ready (a startup probe waits for 200). */
export const HealthNotReady = z.object({
  ok: z.literal(false),
  ready: z.literal(false),
  version: z.string(),
  error: z.string().optional().meta({ description: 'why the backend failed to initialise, when it did' }),
});

export const ApiError = z.object({
  error: z.object({
    code: z.string().meta({ example: 'validation_failed' }),
    message: z.string(),
    field: z.string().optional(),
  }),
});
export type ApiError = z.infer<typeof ApiError>;
