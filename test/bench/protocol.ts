// The benchmarks' shared protocol (bench.ts, kernels.ts): /work/shared/bench/BASELINE.md's batch,
// window and optimiser, its corpus when it is beside the checkout, and the LAYERSxHIDDEN configs.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_MODEL, DEFAULT_TRAIN, loadBuiltinCorpus, type ModelConfig, type TrainConfig } from '../../shared/engine/index.ts';
import { trainFlopsPerChar } from '../../shared/presets.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TINYSHAKESPEARE = path.resolve(ROOT, '../shared/data/tinyshakespeare.txt');

/** The protocol of /work/shared/bench (BASELINE.md): B 64, T 100, Adam lr 2e-3, clip 5. */
export const BATCH = 64;
export const SEQ_LEN = 100;
/** Validation characters after training (ours and torch's; both cap their eval). */
export const VAL_CHARS = 20_000;

export interface BenchConfig {
  name: string;
  layers: number;
  hidden: number;
}

/** `1x256,2x512` → configs; a malformed item throws (via `fail`) naming it. */
export function parseConfigs(list: string, fail: (message: string) => Error): BenchConfig[] {
  return list.split(',').map((s) => {
    const m = /^(\d+)x(\d+)$/.exec(s.trim());
    if (!m || +m[1] < 1 || +m[2] < 1) throw fail(`--configs: "${s}" is not LAYERSxHIDDEN (e.g. 2x512)`);
    return { name: s.trim(), layers: +m[1], hidden: +m[2] };
  });
}

export interface BenchCorpus {
  name: string;
  text: string;
  file: string | null;
}

/** tinyshakespeare from ../shared/data when present, else the built-in Moby Dick. */
export function benchCorpus(): BenchCorpus {
  if (existsSync(TINYSHAKESPEARE)) return { name: 'tinyshakespeare', text: readFileSync(TINYSHAKESPEARE, 'utf8'), file: TINYSHAKESPEARE };
  return { name: 'moby-dick', text: loadBuiltinCorpus('moby-dick'), file: null };
}

export function modelOf(cfg: BenchConfig): ModelConfig {
  return { ...DEFAULT_MODEL, cell: 'lstm', layers: cfg.layers, hidden: cfg.hidden, dropout: 0, embedding: null };
}

export function trainOf(): TrainConfig {
  // evalEvery out of reach: the only eval is the one after the budget, outside the timed steps.
  return { ...DEFAULT_TRAIN, batchSize: BATCH, seqLen: SEQ_LEN, lr: 2e-3, gradClip: 5, evalEvery: 1_000_000, evalChars: VAL_CHARS, seed: 1 };
}

/** Training FLOPs per character as ref_torch.py counts them (shared/presets.ts, which `auto` plans with). */
export function flopsPerChar(cfg: BenchConfig, vocabSize: number): number {
  return trainFlopsPerChar(cfg.layers, cfg.hidden, vocabSize);
}
