// `npm run bench [-- --budget S --json --only train,sample,serve,cold,ckpt,best,samples,page,torch --configs 1x256,2x512]`
// Measures, on this machine and in one run: training throughput, batch-1 sampling, 32 concurrent
// streams through the HTTP server, cold starts (a fresh server process, and the CLI's `runs` and
// `sample`), checkpoint save/load, and the PyTorch reference on the same configs (with ours/torch
// ratios). See BENCHMARKS.md. The bundle's cold starts run on the images' Node (test/node22.mjs);
// everything else on the Node running this script (`node test/node22.mjs npm run bench` for 22).
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import {
  DEFAULT_MODEL, DEFAULT_TRAIN, DEFAULT_TRAINING_SAMPLES, Trainer, currentBackend, initBackend, loadBuiltinCorpus, type CheckpointFiles,
} from '../../shared/engine/index.ts';
import { Sampler } from '../engine/sampler.ts';
import { blasStatus } from '../../shared/engine/native/blas.ts';
import { FileObjectStore, RunStore, type RunRecord } from '../../shared/store/index.ts';
import { readLimits } from '../../functions/settings.ts';
import { startServer } from '../../functions/server.ts';
import { childEnv, spawnServer } from './child-server.ts';
import { timeCommand, timeRepeated, type Until } from './cli-cold.ts';
import { BATCH, benchCorpus, flopsPerChar, modelOf, parseConfigs, ROOT, SEQ_LEN, trainOf, VAL_CHARS, type BenchConfig, type BenchCorpus } from './protocol.ts';
import { peakRssMiB, resetPeakRss } from './memory.ts';
import { Report, fmtInt, fmtMs, machineInfo } from './report.ts';
import { quietly } from './quiet.ts';
import { streamSample } from './sample-stream.ts';
import { mean, percentile, round } from './stats.ts';
import { PYTHON, runPeak, runTorchSampling, runTorchTraining, TORCH_BEST, torchUnavailable } from './torch-ref.ts';
import { blasVariants } from '../../shared/engine/native/blas.ts';
import { NODE22_BIN, NODE22_VERSION, node22 } from '../node22.mjs';

const REF_TORCH = path.resolve(ROOT, '../shared/bench/ref_torch.py');
const PEAK_PY = path.resolve(ROOT, '../shared/bench/peak.py');

const MEASURES = ['train', 'sample', 'serve', 'cold', 'ckpt', 'best', 'samples', 'page', 'torch'] as const;
type Measure = (typeof MEASURES)[number];

/** Steps left out of the steady-state figure (compilation, allocation, first-touch). */
const WARM_STEPS = 3;
const SAMPLE_CHARS = 2000;
const STREAMS = 32;
/** Fresh CLI processes per cold figure (median and min are reported). */
const CLI_REPEATS = 7;
/** The bundle's cold starts run on the Node the images run (test/node22.mjs), whatever Node runs the bench. */
const BUNDLE_NODE = NODE22_BIN;
const nodeVersion = (node: string) => (node === NODE22_BIN ? `v${NODE22_VERSION}` : process.version);

interface Options {
  budget: number;
  json: boolean;
  only: Set<Measure>;
  configs: BenchConfig[];
  /** The Python with torch for the reference (--python). */
  python: string;
}

/** What one config's measurements hand to the next ones. */
interface ConfigState {
  cfg: BenchConfig;
  trainer?: Trainer;
  files?: CheckpointFiles;
  runId?: string;
  ours: { trainSteady?: number; train?: number; sample?: number; firstCharMs?: number; peakRssMiB?: number; flopsPerChar?: number };
}

interface Ctx {
  opts: Options;
  report: Report;
  backend: string;
  corpus: BenchCorpus;
  store: RunStore;
  storeUrl: string;
  corpusRef?: string;
  /** sgemm peaks on both cores, GFLOP/s (measurePeak): peak.py's torch.mm, and the binding's own products. */
  peak?: { torch: number | null; binding: number | null };
}

// ---------------------------------------------------------------------------------------------
// options

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      budget: { type: 'string', default: '60' },
      json: { type: 'boolean', default: false },
      only: { type: 'string' },
      configs: { type: 'string', default: '1x256,2x512' },
      python: { type: 'string', default: PYTHON },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(`usage: npm run bench -- [--budget S] [--json] [--only ${MEASURES.join(',')}] [--configs 1x256,2x512] [--python ${PYTHON}]`);
    process.exit(0);
  }
  const budget = Number(values.budget);
  if (!(budget > 0)) throw new UsageError(`--budget must be a positive number of seconds, got "${values.budget}"`);
  const only = new Set<Measure>();
  for (const m of (values.only ?? MEASURES.join(',')).split(',').map((s) => s.trim()).filter(Boolean)) {
    if (!(MEASURES as readonly string[]).includes(m)) throw new UsageError(`--only: unknown measurement "${m}"; use ${MEASURES.join(', ')}`);
    only.add(m as Measure);
  }
  const configs = parseConfigs(values.configs, (msg) => new UsageError(msg));
  return { budget, json: values.json, only, configs, python: values.python };
}

class UsageError extends Error {}

// ---------------------------------------------------------------------------------------------
// measurements (one function each)

/** Training chars/s over a wall budget; steady = without the first WARM_STEPS steps. */
async function measureTrain(ctx: Ctx, st: ConfigState): Promise<void> {
  // Peak RSS from here to the end of training: the process as it trains this config.
  const fromHere = resetPeakRss();
  const trainer = await Trainer.create({ text: ctx.corpus.text, model: modelOf(st.cfg), train: trainOf() });
  st.trainer = trainer;
  const stepEnds: number[] = [];
  let valLoss: number | null = null;
  const t0 = performance.now();
  for await (const ev of trainer.run({ seconds: ctx.opts.budget })) {
    if (ev.type === 'step') stepEnds.push(performance.now());
    else if (ev.type === 'eval') valLoss = ev.valLoss;
  }
  const steps = stepEnds.length;
  const trainS = ((stepEnds.at(-1) ?? t0) - t0) / 1000;
  const perStep = BATCH * SEQ_LEN;
  const cps = steps ? (perStep * steps) / trainS : NaN;
  const steady = steps > WARM_STEPS ? (perStep * (steps - WARM_STEPS)) / ((stepEnds[steps - 1] - stepEnds[WARM_STEPS - 1]) / 1000) : NaN;
  const firstStepMs = steps ? stepEnds[0] - t0 : NaN;
  const rss = peakRssMiB();
  const flops = flopsPerChar(st.cfg, trainer.vocab.size);
  st.ours.train = cps;
  st.ours.trainSteady = steady;
  st.ours.peakRssMiB = rss;
  st.ours.flopsPerChar = flops;
  ctx.report.add({
    bench: 'train',
    config: st.cfg.name,
    backend: ctx.backend,
    figures: {
      corpus: ctx.corpus.name, steps, seconds: round(trainS, 2), chars_per_sec: round(cps), steady_chars_per_sec: round(steady),
      first_step_ms: round(firstStepMs), val_loss: valLoss === null ? null : round(valLoss, 4), val_chars: VAL_CHARS, params: trainer.params,
      threads: trainer.threads, gflops_effective: round((steady * flops) / 1e9), peak_rss_mib: round(rss), peak_rss_since: fromHere ? 'create' : 'process start',
    },
    text:
      `${fmtInt(steady)} chars/s steady (${fmtInt(cps)} overall, ${trainer.threads} thread${trainer.threads > 1 ? 's' : ''}), ${steps} steps in ${trainS.toFixed(1)} s, first step ${fmtMs(firstStepMs)}, ` +
      `val ${valLoss?.toFixed(3) ?? '-'} nats/char; ${((steady * flops) / 1e9).toFixed(1)} effective GFLOP/s; peak RSS ${fmtInt(rss)} MiB` +
      `${fromHere ? '' : ' (since the process started)'}`,
  });
}

/** A model to sample from when training was not measured: two untimed steps. */
async function untimedTrainer(ctx: Ctx, st: ConfigState): Promise<Trainer> {
  const trainer = await Trainer.create({ text: ctx.corpus.text, model: modelOf(st.cfg), train: { ...trainOf(), evalChars: 2000 } });
  for await (const _ of trainer.run({ steps: 2 })) {
    // only the weights matter
  }
  return trainer;
}

/** trainer.checkpoint() + RunStore.saveCheckpoint (file store), then loadCheckpoint + Sampler.load. */
async function measureCheckpoint(ctx: Ctx, st: ConfigState, trainer: Trainer): Promise<void> {
  const runId = await ensureRun(ctx, st, trainer);
  const t0 = performance.now();
  const files = await trainer.checkpoint();
  const t1 = performance.now();
  await ctx.store.saveCheckpoint(runId, trainer.step, files, { valLoss: trainer.lastValLoss, epoch: trainer.epoch });
  const t2 = performance.now();
  const loaded = await ctx.store.loadCheckpoint(runId, 'latest');
  const t3 = performance.now();
  const sampler = await Sampler.load(loaded!.files as CheckpointFiles);
  const t4 = performance.now();
  sampler.dispose();
  st.files = files;
  const bytes = Object.values(files).reduce((n, b) => n + b.byteLength, 0);
  const [serialise, save, load, samplerLoad] = [t1 - t0, t2 - t1, t3 - t2, t4 - t3];
  ctx.report.add({
    bench: 'ckpt',
    config: st.cfg.name,
    backend: ctx.backend,
    figures: {
      bytes, serialise_ms: round(serialise), store_save_ms: round(save), save_ms: round(serialise + save),
      store_load_ms: round(load), sampler_load_ms: round(samplerLoad), load_ms: round(load + samplerLoad),
    },
    text:
      `save ${fmtMs(serialise + save)} (serialise ${fmtMs(serialise)} + store ${fmtMs(save)}), load ${fmtMs(load + samplerLoad)} ` +
      `(store ${fmtMs(load)} + Sampler.load ${fmtMs(samplerLoad)}), ${(bytes / 2 ** 20).toFixed(2)} MiB`,
  });
}

/**
 * What the best-checkpoint rule (functions/training/loop.ts) costs at the shipped defaults (preset
 * small, B 32, T 64, evalEvery 100, evalChars 20k, checkpointSeconds 30, moby-dick): a validation
 * before every periodic checkpoint, and a checkpoint after every validation that improves (worst
 * case: all of them, as early in a run). The training thread pays the validation and the
 * serialisation; the store write runs on the server thread meanwhile.
 */
async function measureBestRule(ctx: Ctx): Promise<void> {
  const checkpointSeconds = readLimits({}).defaultCheckpointSeconds;
  const trainer = await defaultTrainer();
  try {
    const steps = Math.max(20, Math.round(ctx.opts.budget * 5));
    const t0 = performance.now();
    for await (const ev of trainer.run({ steps })) void ev; // the final validation runs too: timed below
    const evalStart = performance.now();
    await trainer.evaluate();
    const t1 = performance.now();
    const stepMs = (evalStart - t0 - (t1 - evalStart)) / steps;
    const evalMs = t1 - evalStart;
    const files = await trainer.checkpoint();
    const t2 = performance.now();
    const now = new Date().toISOString();
    const runId = 'bench-best-rule';
    await ctx.store.createRun({
      id: runId, name: runId, corpus: 'builtin:moby-dick', corpusName: 'moby-dick', model: { ...DEFAULT_MODEL }, train: { ...DEFAULT_TRAIN },
      status: 'idle', step: 0, epoch: 0, latestValLoss: null, bestValLoss: null, createdAt: now, updatedAt: now,
    });
    const t3 = performance.now();
    await ctx.store.saveCheckpoint(runId, trainer.step, files, { valLoss: 1, epoch: trainer.epoch });
    const saveMs = performance.now() - t3;
    const serialiseMs = t2 - t1;
    const interval = DEFAULT_TRAIN.evalEvery * stepMs;
    const periodic = evalMs / (checkpointSeconds * 1000);
    const improving = serialiseMs / interval;
    ctx.report.add({
      bench: 'best',
      config: `default (${DEFAULT_MODEL.layers}x${DEFAULT_MODEL.hidden}, B${DEFAULT_TRAIN.batchSize} T${DEFAULT_TRAIN.seqLen})`,
      backend: ctx.backend,
      figures: {
        step_ms: round(stepMs), validation_ms: round(evalMs), serialise_ms: round(serialiseMs), store_save_ms: round(saveMs),
        periodic_validation_pct: round(periodic * 100, 2), improving_commit_pct: round(improving * 100, 2),
      },
      text:
        `step ${fmtMs(stepMs)}, validation ${fmtMs(evalMs)}, checkpoint serialise ${fmtMs(serialiseMs)} (+ store ${fmtMs(saveMs)} on the server thread); ` +
        `cost: validating each periodic checkpoint ${(periodic * 100).toFixed(2)}% of training, committing every improving validation ` +
        `(one per ${DEFAULT_TRAIN.evalEvery} steps at most) ${(improving * 100).toFixed(2)}%`,
    });
  } finally {
    trainer.dispose();
  }
}

/**
 * What samples while training (functions/training/loop.ts) cost at the shipped defaults (preset
 * small, B 32, T 64, moby-dick): Trainer.sample with the default settings (200 characters, at every
 * validation, so once per evalEvery steps), against the trainer's own time per step (its
 * charsPerSec, validations left out) in the same process, under the same load.
 */
async function measureSamples(ctx: Ctx): Promise<void> {
  const trainer = await defaultTrainer();
  try {
    const steps = Math.max(20, Math.round(ctx.opts.budget * 3));
    let charsPerSec = NaN;
    for await (const ev of trainer.run({ steps })) if (ev.type === 'step' && ev.charsPerSec) charsPerSec = ev.charsPerSec;
    const stepMs = (DEFAULT_TRAIN.batchSize * DEFAULT_TRAIN.seqLen * 1000) / charsPerSec;
    const { length, temperature, prime, seed } = DEFAULT_TRAINING_SAMPLES;
    const opts = { length, temperature, topK: 0, topP: 1, prime, seed };
    await trainer.sample(opts); // warm
    const times: number[] = [];
    for (let i = 0; i < 9; i++) {
      const t0 = performance.now();
      await trainer.sample(opts);
      times.push(performance.now() - t0);
    }
    const sampleMs = percentile(times, 50);
    const pct = (sampleMs / (DEFAULT_TRAIN.evalEvery * stepMs)) * 100;
    ctx.report.add({
      bench: 'samples',
      config: `default (${DEFAULT_MODEL.layers}x${DEFAULT_MODEL.hidden}, B${DEFAULT_TRAIN.batchSize} T${DEFAULT_TRAIN.seqLen})`,
      backend: ctx.backend,
      figures: {
        step_ms: round(stepMs, 2), sample_chars: length, sample_ms: round(sampleMs, 2), sample_ms_max: round(Math.max(...times), 2),
        every_steps: DEFAULT_TRAIN.evalEvery, cost_pct: round(pct, 2),
      },
      text:
        `step ${fmtMs(stepMs)}, a ${length}-character sample ${fmtMs(sampleMs)} (median of ${times.length}, max ${fmtMs(Math.max(...times))}); ` +
        `one per validation (every ${DEFAULT_TRAIN.evalEvery} steps): ${pct.toFixed(2)}% of training time`,
    });
  } finally {
    trainer.dispose();
  }
}

/**
 * The exported page (functions/export/site.ts) in headless chromium (test/support/chromium.ts),
 * from file://, on the default preset: time until the page is ready (script and
 * weights parsed, model built), and chars/s of a 2000-character generation at temperature 1.
 */
async function measurePage(ctx: Ctx): Promise<void> {
  const { chromiumMissing, launchChromium } = await import('../support/chromium.ts');
  const missing = chromiumMissing();
  if (missing) {
    ctx.report.note(`page skipped: ${missing}`);
    return;
  }
  const [{ pageAssets, siteFiles }, { SITE_FILES }] = await Promise.all([
    import('../../functions/export/site.ts'),
    import('../../functions/export/page/site.mjs'),
  ]);
  const trainer = await defaultTrainer();
  const dir = await mkdtemp(path.join(tmpdir(), 'charrnn-bench-page-'));
  try {
    const files = siteFiles({ run: { id: 'bench', name: 'bench' }, checkpoint: 'latest', files: await trainer.checkpoint() }, await pageAssets());
    for (const [name, bytes] of Object.entries(files)) await writeFile(path.join(dir, name), bytes);
    const browser = await launchChromium(path.join(dir, 'profile'));
    try {
      const page = browser.pages()[0] ?? (await browser.newPage());
      const t0 = performance.now();
      await page.goto(pathToFileURL(path.join(dir, SITE_FILES.html)).href);
      await page.waitForFunction(() => document.body.dataset.state === 'ready', null, { timeout: 120_000 });
      const readyMs = performance.now() - t0;
      const rates: number[] = [];
      for (const seed of [1, 2, 3]) {
        for (const [name, value] of Object.entries({ temperature: '1', length: String(SAMPLE_CHARS), seed: String(seed) })) await page.fill(`input[name=${name}]`, value);
        await page.click('#generate');
        await page.waitForFunction(() => document.body.dataset.state === 'done', null, { timeout: 300_000 });
        rates.push(Number(/\((\d+)\/s\)/.exec((await page.textContent('#status')) ?? '')?.[1]));
      }
      const cps = percentile(rates, 50);
      ctx.report.add({
        bench: 'page',
        config: `default (${DEFAULT_MODEL.layers}x${DEFAULT_MODEL.hidden})`,
        backend: 'chromium, tfjs cpu',
        figures: { ready_ms: round(readyMs), chars: SAMPLE_CHARS, chars_per_sec: cps, script_kib: round(files[SITE_FILES.script].length / 1024), model_js_kib: round(files[SITE_FILES.model].length / 1024) },
        text: `ready ${fmtMs(readyMs)} after opening from file://; ${fmtInt(cps)} chars/s (median of 3 × ${SAMPLE_CHARS}, temperature 1)`,
      });
    } finally {
      await browser.close();
    }
  } finally {
    trainer.dispose();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The shipped defaults on moby-dick, past its first steps (compilation, allocation). */
async function defaultTrainer(): Promise<Trainer> {
  const trainer = await Trainer.create({ text: loadBuiltinCorpus('moby-dick'), model: DEFAULT_MODEL, train: DEFAULT_TRAIN });
  for await (const ev of trainer.run({ steps: WARM_STEPS })) void ev;
  return trainer;
}

/** Batch-1 sampling from the in-memory checkpoint: chars/s and time to first char of a warm call. */
async function measureSampling(ctx: Ctx, st: ConfigState): Promise<void> {
  const sampler = await Sampler.load(st.files!);
  const run = async (seed: number) => {
    const t0 = performance.now();
    let first = NaN;
    let n = 0;
    for await (const chunk of sampler.generate({ length: SAMPLE_CHARS, temperature: 1, topK: 0, topP: 1, prime: '', seed })) {
      if (n === 0) first = performance.now() - t0;
      n += chunk.length;
    }
    return { first, cps: (n * 1000) / (performance.now() - t0) };
  };
  const cold = await run(1);
  const warm = await run(2);
  sampler.dispose();
  st.ours.sample = warm.cps;
  st.ours.firstCharMs = warm.first;
  ctx.report.add({
    bench: 'sample',
    config: st.cfg.name,
    backend: ctx.backend,
    figures: { chars: SAMPLE_CHARS, chars_per_sec: round(warm.cps), first_char_ms: round(warm.first, 2), cold_first_char_ms: round(cold.first, 2) },
    text: `${fmtInt(warm.cps)} chars/s, first char ${fmtMs(warm.first)} warm (${fmtMs(cold.first)} first call), batch 1, ${SAMPLE_CHARS} chars`,
  });
}

/** One stream, then STREAMS concurrent ones, through startServer over a real socket. */
async function measureServe(ctx: Ctx, st: ConfigState): Promise<void> {
  const limits = readLimits({}, { maxSampleStreams: STREAMS * 2 });
  const server = await startServer({ port: 0, host: '127.0.0.1', store: ctx.store, token: '', limits, log: () => {} });
  try {
    const runId = st.runId!;
    const warmup = await streamSample(server.url, runId, { length: 10, seed: 0 }); // loads the sampler into the cache
    if (!warmup.ok) throw new Error(`warm-up sample failed: ${warmup.error}`);
    const single = await streamSample(server.url, runId, { length: SAMPLE_CHARS, seed: 1 });
    if (!single.ok) throw new Error(`single stream failed: ${single.error}`);
    const singleCps = (single.chars * 1000) / single.totalMs;
    // Size each stream so the concurrent phase takes about min(budget, 30) s if streams share one core.
    const length = Math.max(200, Math.min(4000, Math.round((singleCps * Math.min(ctx.opts.budget, 30)) / STREAMS)));
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    const t0 = performance.now();
    const results = await Promise.all(Array.from({ length: STREAMS }, (_, i) => streamSample(server.url, runId, { length, seed: 100 + i })));
    const wallS = (performance.now() - t0) / 1000;
    loop.disable();
    const stallMs = loop.max / 1e6;
    const ok = results.filter((r) => r.ok);
    const chars = results.reduce((n, r) => n + r.chars, 0);
    const aggregate = chars / wallS;
    const ttfc = ok.map((r) => r.firstCharMs);
    const failed = results.length - ok.length;
    ctx.report.add({
      bench: 'serve',
      config: st.cfg.name,
      backend: ctx.backend,
      figures: {
        streams: STREAMS, length, ok: ok.length, failed, aggregate_chars_per_sec: round(aggregate), p95_first_char_ms: round(percentile(ttfc, 95)),
        p50_first_char_ms: round(percentile(ttfc, 50)), max_first_char_ms: round(Math.max(...ttfc)), mean_stream_chars_per_sec: round(mean(results.map((r) => (r.chars * 1000) / r.totalMs))),
        single_chars_per_sec: round(singleCps), single_first_char_ms: round(single.firstCharMs, 2), ratio_aggregate_to_single: round(aggregate / singleCps, 2),
        event_loop_delay_max_ms: round(stallMs),
        ...(failed ? { first_error: results.find((r) => !r.ok)!.error! } : {}),
      },
      text:
        `${STREAMS} streams × ${length}: ${fmtInt(aggregate)} chars/s aggregate, p95 first char ${fmtMs(percentile(ttfc, 95))}` +
        `${failed ? `, ${failed} FAILED` : ''}; 1 stream ${fmtInt(singleCps)} chars/s, first char ${fmtMs(single.firstCharMs)} (×${(aggregate / singleCps).toFixed(2)}); event loop max ${fmtMs(stallMs)}`,
    });
  } finally {
    await server.close(1000);
  }
}

/** A fresh node process serving the first streamed character from the store: the CLI from source
 * (tsx), and the production bundle (infra/build.mjs) built into a temp dir. */
async function measureCold(ctx: Ctx, st: ConfigState, bundleDir: string | null): Promise<void> {
  const variants: { name: string; args: string[]; env: Record<string, string>; node: string }[] = [
    {
      name: 'cli',
      args: [path.join(ROOT, 'functions/bin/charrnn.js'), 'serve', '--port', '0', '--host', '127.0.0.1', '--store', ctx.storeUrl],
      env: {},
      node: process.execPath,
    },
  ];
  if (bundleDir) {
    variants.push({ name: 'bundle', args: [path.join(bundleDir, 'functions/main.mjs')], env: { PORT: '0', HOST: '127.0.0.1', CHARRNN_STORE: ctx.storeUrl }, node: BUNDLE_NODE });
  }
  for (const v of variants) {
    if (v.name === 'cli') await timeCommand([v.args[0], '--version'], childEnv({}), 'exit'); // builds the source bin's cache after a change
    const server = await spawnServer(v.args, childEnv(v.env), v.node);
    try {
      const requestAt = performance.now();
      const r = await streamSample(server.url, st.runId!, { length: 20, seed: 1 });
      if (!r.ok) throw new Error(`cold sample (${v.name}) failed: ${r.error}; server log: ${server.logTail()}`);
      const firstChar = requestAt - server.spawnedAt + r.firstCharMs;
      ctx.report.add({
        bench: 'cold',
        config: st.cfg.name,
        backend: ctx.backend,
        figures: { variant: v.name, node: nodeVersion(v.node), spawn_to_first_char_ms: round(firstChar), spawn_to_listening_ms: round(server.listenMs), request_to_first_char_ms: round(r.firstCharMs) },
        text: `${v.name} (node ${nodeVersion(v.node)}): spawn → first SSE char ${fmtMs(firstChar)} (listening at ${fmtMs(server.listenMs)}, then request → char ${fmtMs(r.firstCharMs)})`,
      });
    } finally {
      await server.stop();
    }
  }
}

/** The CLI as a user runs it (embedded API on the bench store): from source (functions/bin/charrnn.js) and the bundle's cli.mjs. */
function cliVariants(bundleDir: string | null): { name: string; bin: string; node: string }[] {
  return [
    { name: 'source', bin: path.join(ROOT, 'functions/bin/charrnn.js'), node: process.execPath },
    ...(bundleDir ? [{ name: 'bundle', bin: path.join(bundleDir, 'cli.mjs'), node: BUNDLE_NODE }] : []),
  ];
}

/** CLI_REPEATS fresh processes of `charrnn <args>` per variant: median and min ms to `until`. */
async function measureCli(ctx: Ctx, config: string, command: string, args: string[], until: Until, bundleDir: string | null): Promise<void> {
  const env = childEnv({});
  delete env.CHARRNN_API_URL;
  for (const v of cliVariants(bundleDir)) {
    const argv = [v.bin, ...args, '--store', ctx.storeUrl];
    await timeRepeated(argv, env, until, 1, v.node); // the source bin builds its cache on a first run after a change
    const ms = await timeRepeated(argv, env, until, CLI_REPEATS, v.node);
    const [median, min] = [percentile(ms, 50), Math.min(...ms)];
    const what = until === 'exit' ? 'spawn → exit' : 'spawn → first character';
    ctx.report.add({
      bench: 'cold',
      config,
      backend: ctx.backend,
      figures: { variant: `cli-${v.name}`, node: nodeVersion(v.node), command, until, median_ms: round(median), min_ms: round(min), repeats: CLI_REPEATS },
      text: `charrnn ${command} (${v.name}, node ${nodeVersion(v.node)}): ${what} median ${fmtMs(median)}, min ${fmtMs(min)} over ${CLI_REPEATS}`,
    });
  }
}

/** `charrnn runs` on the bench store, topped up to a few runs (records only: listing reads no checkpoint). */
async function measureCliRuns(ctx: Ctx, bundleDir: string | null): Promise<void> {
  const runs = await ctx.store.listRuns();
  if (!runs.length) throw new Error('no run in the bench store to copy');
  for (let i = runs.length; i < 4; i++) await ctx.store.createRun({ ...runs[0], id: `cold-${i}`, name: `cold ${i}` });
  await measureCli(ctx, '-', 'runs', ['runs'], 'exit', bundleDir);
}

/**
 * The sgemm peak on both cores, in this run: peak.py (torch.mm over OpenBLAS, 2 threads: PyTorch's
 * training setting), and the binding's own products (the training layers' kernels and threads) on a
 * 2048³ product, best of 5. Training's effective GFLOP/s are reported as fractions of these.
 */
async function measurePeak(ctx: Ctx): Promise<void> {
  const torch = await runPeak(PEAK_PY, ctx.opts.python).then((r) => r.gflops, (e: unknown) => {
    ctx.report.note(`peak.py failed: ${e instanceof Error ? e.message : String(e)}`);
    return null;
  });
  let binding: number | null = null;
  const blas = blasStatus().on ? blasVariants().find((v) => v.kernels === blasStatus().kernels) : undefined;
  if (blas) {
    const n = 2048;
    const a = Float32Array.from({ length: n * n }, (_, i) => ((i * 7) % 13) / 13 - 0.5);
    const b = Float32Array.from({ length: n * n }, (_, i) => ((i * 5) % 11) / 11 - 0.5);
    const c = new Float32Array(n * n);
    let best = Infinity;
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      blas.gemm(availableParallelism(), false, n, n, n, a, b, c, false);
      best = Math.min(best, performance.now() - t);
    }
    binding = (2 * n ** 3) / best / 1e6;
  }
  ctx.peak = { torch, binding };
  const openblas = blasStatus().openblas;
  ctx.report.add({
    bench: 'peak',
    config: '-',
    backend: ctx.backend,
    figures: { torch_mm_gflops: torch === null ? null : round(torch), binding_gflops: binding === null ? null : round(binding), openblas },
    text:
      `sgemm peak on ${availableParallelism()} cores: peak.py (torch.mm, OpenBLAS ${TORCH_BEST.train.blasThreads} threads) ${torch === null ? '-' : torch.toFixed(0)} GFLOP/s, ` +
      `the binding's products (${blasStatus().kernels ?? 'off'}) ${binding === null ? '-' : binding.toFixed(0)} GFLOP/s; OpenBLAS kernels ${openblas ?? '-'}`,
  });
}

/**
 * ref_torch.py on the same config and budget, training and sampling each with PyTorch's best thread
 * setting (TORCH_BEST); ratios are ours / torch (>1 = we are faster; for memory, <1 = we use less).
 */
async function measureTorch(ctx: Ctx, st: ConfigState): Promise<void> {
  const run = {
    layers: st.cfg.layers, hidden: st.cfg.hidden, batch: BATCH, seqLen: SEQ_LEN, budget: ctx.opts.budget,
    valChars: VAL_CHARS, sampleChars: SAMPLE_CHARS, data: ctx.corpus.file!, python: ctx.opts.python,
  };
  const r = await runTorchTraining(REF_TORCH, run);
  const s = await runTorchSampling(REF_TORCH, run);
  const steady = r.train.steady_chars_per_sec ?? r.train.chars_per_sec;
  const sample = s.sample?.[0];
  const ratio = (a: number | undefined, b: number | undefined | null, digits = 2) =>
    a !== undefined && b !== undefined && b !== null && Number.isFinite(a) && b > 0 ? round(a / b, digits) : null;
  // Steady against steady when both ran past the warm-up steps, else overall against overall.
  const bothSteady = r.train.steady_chars_per_sec !== null && Number.isFinite(st.ours.trainSteady ?? NaN);
  const trainRatio = bothSteady ? ratio(st.ours.trainSteady, steady) : ratio(st.ours.train, r.train.chars_per_sec);
  const sampleRatio = ratio(st.ours.sample, sample?.chars_per_sec);
  const torchRss = r.maxrss_kb === undefined ? undefined : r.maxrss_kb / 1024;
  const rssRatio = ratio(st.ours.peakRssMiB, torchRss);
  // Effective GFLOP/s (ref_torch.py's count) as fractions of the peaks measured in this run.
  const flops = st.ours.flopsPerChar;
  const gflops = (cps: number | undefined) => (cps !== undefined && flops !== undefined ? (cps * flops) / 1e9 : undefined);
  const oursGflops = gflops(bothSteady ? st.ours.trainSteady : st.ours.train);
  const torchGflops = gflops(bothSteady ? steady : r.train.chars_per_sec);
  const peakTorch = ctx.peak?.torch ?? null;
  const peakBest = Math.max(ctx.peak?.torch ?? 0, ctx.peak?.binding ?? 0) || null;
  const pct = (x: number | undefined, peak: number | null) => (x !== undefined && peak ? round((100 * x) / peak) : null);
  ctx.report.add({
    bench: 'torch',
    config: st.cfg.name,
    backend: `torch ${r.env.torch}`,
    figures: {
      steps: r.train.steps, chars_per_sec: r.train.chars_per_sec, steady_chars_per_sec: steady, first_step_ms: r.train.first_step_ms,
      val_loss: r.val.loss_nats, train_threads: `${TORCH_BEST.train.blasThreads}x${TORCH_BEST.train.torchThreads}`,
      train_peak_rss_mib: torchRss === undefined ? null : round(torchRss),
      sample_chars_per_sec: sample?.chars_per_sec ?? null, first_char_ms: sample?.first_char_ms ?? null,
      sample_threads: `${TORCH_BEST.sample.blasThreads}x${TORCH_BEST.sample.torchThreads}`,
      ratio_train_ours_over_torch: trainRatio, ratio_sample_ours_over_torch: sampleRatio, ratio_rss_ours_over_torch: rssRatio,
      ours_pct_of_peak_py: pct(oursGflops, peakTorch), torch_pct_of_peak_py: pct(torchGflops, peakTorch),
      ours_pct_of_best_peak: pct(oursGflops, peakBest), torch_pct_of_best_peak: pct(torchGflops, peakBest),
    },
    text:
      `train ${fmtInt(steady)} chars/s steady (OpenBLAS ${TORCH_BEST.train.blasThreads} × torch ${TORCH_BEST.train.torchThreads} threads), ${r.train.steps} steps, ` +
      `val ${r.val.loss_nats.toFixed(3)}, peak RSS ${fmtInt(torchRss ?? NaN)} MiB; sampling ${fmtInt(sample?.chars_per_sec ?? NaN)} chars/s, ` +
      `first char ${fmtMs(sample?.first_char_ms ?? NaN)} (${TORCH_BEST.sample.blasThreads} × ${TORCH_BEST.sample.torchThreads}) | ours/torch: train ${trainRatio ?? '-'}×, ` +
      `sampling ${sampleRatio ?? '-'}×, peak RSS ${rssRatio ?? '-'}× | % of sgemm peak (peak.py; best of peak.py and the binding): ` +
      `ours ${pct(oursGflops, peakTorch) ?? '-'}% (${pct(oursGflops, peakBest) ?? '-'}%), torch ${pct(torchGflops, peakTorch) ?? '-'}% (${pct(torchGflops, peakBest) ?? '-'}%)`,
  });
}

// ---------------------------------------------------------------------------------------------
// plumbing

/** The config's run in the bench store (created once, on the bench corpus). */
async function ensureRun(ctx: Ctx, st: ConfigState, trainer: Trainer): Promise<string> {
  if (st.runId) return st.runId;
  ctx.corpusRef ??= (await ctx.store.putCorpus(ctx.corpus.text)).ref;
  const now = new Date().toISOString();
  const record: RunRecord = {
    id: `bench-${st.cfg.name}`, name: `bench ${st.cfg.name}`, corpus: ctx.corpusRef, corpusName: ctx.corpus.name,
    model: { ...trainer.modelConfig }, train: { ...trainer.trainConfig }, status: 'idle', step: 0, epoch: 0,
    latestValLoss: null, bestValLoss: null, createdAt: now, updatedAt: now,
  };
  await ctx.store.createRun(record);
  st.runId = record.id;
  return record.id;
}

/** Model, checkpoint files and a stored checkpoint, for whatever later measurements need. */
async function prepareModel(ctx: Ctx, st: ConfigState): Promise<void> {
  const { only } = ctx.opts;
  const needsModel = ['sample', 'serve', 'cold', 'ckpt'].some((m) => only.has(m as Measure));
  if (only.has('train')) await measureTrain(ctx, st);
  if (!needsModel) return;
  const trainer = st.trainer ?? (await untimedTrainer(ctx, st));
  st.trainer = trainer;
  if (only.has('ckpt')) await measureCheckpoint(ctx, st, trainer);
  else {
    st.files = await trainer.checkpoint();
    if (only.has('serve') || only.has('cold')) {
      await ctx.store.saveCheckpoint(await ensureRun(ctx, st, trainer), trainer.step, st.files, { valLoss: trainer.lastValLoss, epoch: trainer.epoch });
    }
  }
}

/** The production bundle (infra/build.mjs) in a temp dir, for the cold-start variant that deploys. */
async function buildBundle(dir: string, report: Report): Promise<string | null> {
  try {
    const { bundle } = (await import(pathToFileURL(path.join(ROOT, 'infra/build.mjs')).href)) as typeof import('../../infra/build.mjs');
    await bundle({ outdir: dir });
    return dir;
  } catch (e) {
    report.note(`cold start from the bundle skipped: build failed: ${e instanceof Error ? e.message : String(e)}`);
    return null;
  }
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const report = new Report(opts.json);
  const backend = await quietly(() => initBackend());
  const tmp = await mkdtemp(path.join(tmpdir(), 'charrnn-bench-'));
  const storeDir = path.join(tmp, 'store');
  const ctx: Ctx = {
    opts, report, backend, corpus: benchCorpus(),
    store: new RunStore(new FileObjectStore(storeDir)), storeUrl: pathToFileURL(storeDir).href,
  };
  const m = machineInfo();
  const blas = blasStatus();
  const blasText = blas.on ? `OpenBLAS binding, ${blas.kernels} kernels, OpenBLAS's own ${blas.openblas}` : `no OpenBLAS binding (${blas.reason})`;
  report.add({
    bench: 'machine', config: '-', backend: currentBackend(), figures: { ...m, corpus: ctx.corpus.name, budget_s: opts.budget, blas: blas.kernels ?? 'off', openblas: blas.openblas },
    text: `${m.cpu} ×${m.nproc} (${m.simd}), ${m.memGiB} GiB, node ${m.node}, load ${m.load1m}; ${ctx.corpus.name}, budget ${opts.budget} s; ${blasText}`,
  });
  if (m.load1m > 1) report.note(`load average ${m.load1m} on ${m.nproc} cores: the machine is busy, treat these numbers as a smoke check only`);
  let failures = 0;
  const attempt = async (what: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (e) {
      failures++;
      report.note(`${what} failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  };
  try {
    if (opts.only.has('cold')) node22(); // the bundle's Node (BUNDLE_NODE), fetched on first use
    const bundleDir = opts.only.has('cold') ? await buildBundle(path.join(tmp, 'dist'), report) : null;
    const states: ConfigState[] = opts.configs.map((cfg) => ({ cfg, ours: {} }));
    for (const st of states) {
      await attempt(`${st.cfg.name} model`, () => prepareModel(ctx, st));
      if (opts.only.has('sample') && st.files) await attempt(`${st.cfg.name} sample`, () => measureSampling(ctx, st));
      if (opts.only.has('serve') && st.runId) await attempt(`${st.cfg.name} serve`, () => measureServe(ctx, st));
      if (opts.only.has('cold') && st.runId) {
        await attempt(`${st.cfg.name} cold`, () => measureCold(ctx, st, bundleDir));
        await attempt(`${st.cfg.name} cold cli sample`, () =>
          measureCli(ctx, st.cfg.name, 'sample', ['sample', '--run', st.runId!, '--length', '20', '--seed', '1'], 'first-output', bundleDir),
        );
      }
      st.trainer?.dispose();
      st.trainer = undefined;
    }
    if (opts.only.has('cold')) await attempt('cold cli runs', () => measureCliRuns(ctx, bundleDir));
    if (opts.only.has('best')) await attempt('best rule', () => measureBestRule(ctx));
    if (opts.only.has('samples')) await attempt('samples while training', () => measureSamples(ctx));
    if (opts.only.has('page')) await attempt('exported page', () => measurePage(ctx));
    if (opts.only.has('torch')) {
      const why = ctx.corpus.file ? torchUnavailable(REF_TORCH, ctx.opts.python) : 'tinyshakespeare not found (the reference reads it from a file)';
      if (why) report.note(`torch reference skipped: ${why}`);
      else {
        await attempt('peak', () => measurePeak(ctx));
        for (const st of states) await attempt(`${st.cfg.name} torch`, () => measureTorch(ctx, st));
      }
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  process.exit(failures ? 1 : 0);
}

main().catch((e: unknown) => {
  console.error(`bench: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(2);
});
