// `npx tsx test/bench/kernels.ts [--rounds N] [--configs 1x256,2x512] [--variants avx512,avx2,baseline,off|auto] [--steps N] [--json]`
// The OpenBLAS binding's kernel variants against each other and against no binding, in CPU time:
// characters per CPU second of training (one thread, B64 T100; steps after the first two), batch-1
// sampling (Sampler, after a warm-up call) and 16 streams sampled together (BatchSampler). Each
// variant runs in its own process (CHARRNN_BLAS_KERNELS=<variant>, or CHARRNN_BLAS=off; `auto`: the
// binding's own choice), the variants alternate for N rounds, and each figure is the median over the
// rounds. CPU time (process.cpuUsage, one busy thread) rather than wall time, and within a process
// the fastest of several segments (a step, 100 characters, one batch of streams): other work on a
// shared machine slows a segment down (its cache and memory traffic), never speeds it up. Measured
// on two shared cores: medians of whole runs of 1000 characters moved ±30% from round to round.
// See BENCHMARKS.md.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { BatchSampler, Trainer, initBackend, type CheckpointFiles } from '../../shared/engine/index.ts';
import { Sampler } from '../engine/sampler.ts';
import { benchCorpus, modelOf, parseConfigs, trainOf, BATCH, SEQ_LEN, type BenchConfig } from './protocol.ts';
import { Report, fmtInt, machineInfo } from './report.ts';
import { quietly } from './quiet.ts';
import { percentile, round } from './stats.ts';

const WARM_STEPS = 2;
/** Batch-1 sampling: SEGMENTS calls of SEGMENT_CHARS characters. */
const SEGMENTS = 10;
const SEGMENT_CHARS = 100;
/** STREAMS streams of STREAM_CHARS characters, SEGMENTS / 2 times. */
const STREAMS = 16;
const STREAM_CHARS = 50;

interface Figures {
  /** Training characters per CPU second. */
  train: number;
  /** Batch-1 sampled characters per CPU second. */
  sample: number;
  /** Characters per CPU second over STREAMS streams sampled together. */
  streams: number;
}

const cpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/** The least CPU time of `n` runs of `f`. */
async function fastest(n: number, f: (i: number) => Promise<void>): Promise<number> {
  let best = Infinity;
  for (let i = 0; i < n; i++) {
    const t = cpuSeconds();
    await f(i);
    best = Math.min(best, cpuSeconds() - t);
  }
  return best;
}

/** One variant, one config, in this process (the child side). */
async function measure(cfg: BenchConfig, steps: number): Promise<Figures> {
  await quietly(() => initBackend('wasm'));
  const trainer = await Trainer.create({ text: benchCorpus().text, model: modelOf(cfg), train: { ...trainOf(), evalChars: 2000 }, threads: 1 });
  let last = 0;
  let done = 0;
  let best = Infinity;
  for await (const ev of trainer.run({ steps: WARM_STEPS + steps })) {
    if (ev.type !== 'step') continue;
    const now = cpuSeconds();
    if (++done > WARM_STEPS) best = Math.min(best, now - last);
    last = now;
  }
  const train = (BATCH * SEQ_LEN) / best;
  const files: CheckpointFiles = await trainer.checkpoint();
  trainer.dispose();

  const sampler = await Sampler.load(files);
  const generate = async (seed: number, length: number) => {
    for await (const _ of sampler.generate({ length, temperature: 1, topK: 0, topP: 1, prime: '', seed })) {
      // the characters themselves do not matter
    }
  };
  await generate(1, SEGMENT_CHARS);
  const sample = SEGMENT_CHARS / (await fastest(SEGMENTS, (i) => generate(2 + i, SEGMENT_CHARS)));
  sampler.dispose();

  const batch = await BatchSampler.load(files);
  const streams = async (seed: number, length: number) => {
    const opened = Array.from({ length: STREAMS }, (_, i) => batch.open({ length, temperature: 1, topK: 0, topP: 1, prime: '', seed: seed + i }));
    await Promise.all(opened.map(async (s) => {
      for await (const _ of s) {
        // drain
      }
    }));
  };
  await streams(100, 20);
  const together = (STREAMS * STREAM_CHARS) / (await fastest(SEGMENTS / 2, (i) => streams(200 + STREAMS * i, STREAM_CHARS)));
  batch.dispose();
  return { train, sample, streams: together };
}

/** Runs this script as a child for one variant and config. */
async function child(variant: string, cfg: BenchConfig, steps: number): Promise<Figures> {
  const env: Record<string, string | undefined> = { ...process.env, CHARRNN_TRAIN_THREADS: '1' };
  delete env.CHARRNN_BLAS;
  delete env.CHARRNN_BLAS_KERNELS;
  if (variant === 'off') env.CHARRNN_BLAS = 'off';
  else if (variant !== 'auto') env.CHARRNN_BLAS_KERNELS = variant;
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', cfg.name, '--steps', String(steps)],
    { env, maxBuffer: 1 << 20, timeout: 600_000 },
  );
  return JSON.parse(stdout.trim().split('\n').pop()!) as Figures;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '2' },
      configs: { type: 'string', default: '1x256,2x512' },
      variants: { type: 'string' },
      json: { type: 'boolean', default: false },
      child: { type: 'string' },
      steps: { type: 'string' },
    },
  });
  const configs = parseConfigs(values.child ?? values.configs, (msg) => new Error(msg));
  // Fewer measured steps where a step costs seconds.
  const stepsOf = (cfg: BenchConfig) => Number(values.steps ?? (cfg.layers * cfg.hidden >= 1024 ? 3 : 6));
  if (values.child) {
    console.log(JSON.stringify(await measure(configs[0], stepsOf(configs[0]))));
    return;
  }
  let variants = values.variants?.split(',').map((v) => v.trim());
  if (!variants) {
    // What this checkout's binding runs here (an older checkout has no variants: its own choice).
    const blas = (await import('../../shared/engine/native/blas.ts')) as { blasVariants?: () => { kernels: string }[] };
    variants = [...(blas.blasVariants?.().map((b) => b.kernels) ?? ['auto']), 'off'];
  }
  const rounds = Number(values.rounds);
  const report = new Report(values.json);
  const m = machineInfo();
  report.add({
    bench: 'machine', config: '-', backend: 'wasm', figures: { ...m, corpus: benchCorpus().name, rounds },
    text: `${m.cpu} ×${m.nproc} (${m.simd}), node ${m.node}, load ${m.load1m}; ${benchCorpus().name}; ${rounds} rounds of ${variants.join(', ')}`,
  });
  for (const cfg of configs) {
    const got = new Map<string, Figures[]>(variants.map((v) => [v, []]));
    for (let r = 0; r < rounds; r++) for (const v of variants) got.get(v)!.push(await child(v, cfg, stepsOf(cfg)));
    for (const v of variants) {
      const median = (k: keyof Figures) => percentile(got.get(v)!.map((f) => f[k]), 50);
      const f = { train: median('train'), sample: median('sample'), streams: median('streams') };
      report.add({
        bench: 'kernels',
        config: cfg.name,
        backend: v,
        figures: { train_chars_per_cpu_s: round(f.train), sample_chars_per_cpu_s: round(f.sample), streams_chars_per_cpu_s: round(f.streams), streams: STREAMS },
        text: `chars per CPU second: train ${fmtInt(f.train)}, sample (batch 1) ${fmtInt(f.sample)}, ${STREAMS} streams together ${fmtInt(f.streams)}`,
      });
    }
  }
}

await main();
