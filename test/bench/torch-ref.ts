// The PyTorch reference (/work/shared/bench/ref_torch.py: one JSON line on stdout) and the sgemm
// peak probe (peak.py), run on the same configs in the same bench run. Debian's torch needs OpenBLAS
// (pthread build), else it is 13× slower (reference BLAS). Each figure runs with PyTorch's best
// thread setting for it (/work/shared/bench/README.md, measured there: training 33.8k chars/s with 2
// BLAS threads × 1 torch thread, 27.7k with 1 × 2; sampling 4.3k with 1 × 2, 3.7k with 2 × 1), so
// training and sampling are two runs. The process environment passes through, OPENBLAS_CORETYPE
// included: the binding and PyTorch load the same OpenBLAS with the same kernels.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const PYTHON = '/usr/bin/python3';
const OPENBLAS_DIR = '/usr/lib/x86_64-linux-gnu/openblas-pthread';

/** PyTorch's best thread setting per figure: OpenBLAS threads × torch threads (never more than the 2 cores). */
export const TORCH_BEST = {
  train: { blasThreads: 2, torchThreads: 1 },
  sample: { blasThreads: 1, torchThreads: 2 },
} as const;
type Figure = keyof typeof TORCH_BEST;

export interface TorchResult {
  train: { steps: number; chars_per_sec: number; steady_chars_per_sec: number | null; first_step_ms: number; final_train_loss_last10?: number };
  val: { loss_nats: number; chars: number };
  /** With --val-carried-streams: val read as contiguous streams, the state carried (charrnn's way). */
  val_carried?: { loss_nats: number; chars: number; streams: number };
  sample?: { chars_per_sec: number; first_char_ms: number }[];
  env: { torch: string; num_threads: number; blas_libs?: string[] };
  /** Peak resident set of the whole run (kB, getrusage), from the wrapper below. */
  maxrss_kb?: number;
}

function torchEnv(blasThreads: number): NodeJS.ProcessEnv {
  return {
    ...process.env,
    OPENBLAS_NUM_THREADS: String(blasThreads),
    ...(existsSync(OPENBLAS_DIR) ? { LD_LIBRARY_PATH: OPENBLAS_DIR } : {}),
  };
}

/** null if torch is usable, else why not (one line). */
export function torchUnavailable(script: string, python = PYTHON): string | null {
  if (!existsSync(script)) return `${script} not found`;
  if (!existsSync(python)) return `${python} not found`;
  const r = spawnSync(python, ['-c', 'import torch'], { env: torchEnv(1), encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) return `${python} -c "import torch" failed: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`;
  if (!existsSync(OPENBLAS_DIR)) return `${OPENBLAS_DIR} missing (install libopenblas0-pthread; reference BLAS would be 13× slower)`;
  return null;
}

// Runs a script as __main__ and reports its peak resident set on stderr when it exits.
const MAXRSS_MARK = 'charrnn-bench maxrss_kb';
const WRAPPER = [
  'import atexit, resource, runpy, sys',
  `atexit.register(lambda: sys.stderr.write('${MAXRSS_MARK} %d\\n' % resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))`,
  'sys.argv = sys.argv[1:]',
  "runpy.run_path(sys.argv[0], run_name='__main__')",
].join('\n');

/** A reference script with PyTorch's best setting for `figure`; its last stdout line parsed as JSON. */
async function runScript<T>(python: string, script: string, args: string[], figure: Figure): Promise<T & { maxrss_kb?: number }> {
  const best = TORCH_BEST[figure];
  const child = spawn(python, ['-c', WRAPPER, script, ...args, '--threads', String(best.torchThreads)], {
    env: torchEnv(best.blasThreads),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let maxrss: number | undefined;
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-4000);
    const m = new RegExp(`${MAXRSS_MARK} (\\d+)`).exec(err);
    if (m) maxrss = Number(m[1]);
  });
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  const last = out.trim().split('\n').pop() ?? '';
  if (code !== 0 || !last.startsWith('{')) throw new Error(`${script} exited ${code}: ${err.trim().split('\n').pop() ?? ''}`);
  return { ...(JSON.parse(last) as T), maxrss_kb: maxrss };
}

export interface TorchRun {
  layers: number;
  hidden: number;
  batch: number;
  seqLen: number;
  budget: number;
  valChars: number;
  sampleChars: number;
  data: string;
  /** Adam's learning rate (ref_torch.py's default 2e-3 when absent). */
  lr?: number;
  /** Stop after this many steps even inside the budget (equal characters instead of equal time). */
  maxSteps?: number;
  /** Also read val as N streams with the state carried (charrnn's evaluate()); 0/absent = off. */
  valCarriedStreams?: number;
  /** The interpreter with torch (default PYTHON). */
  python?: string;
}

/** Training (and validation) with PyTorch's best training setting; no sampling. */
export function runTorchTraining(script: string, o: TorchRun): Promise<TorchResult> {
  const extra = [
    ...(o.lr !== undefined ? ['--lr', String(o.lr)] : []),
    ...(o.maxSteps !== undefined ? ['--max-steps', String(o.maxSteps)] : []),
    ...(o.valCarriedStreams ? ['--val-carried-streams', String(o.valCarriedStreams)] : []),
  ];
  return runScript<TorchResult>(o.python ?? PYTHON, script, [...shapeArgs(o), '--budget', String(o.budget), '--val-chars', String(o.valChars), '--val-max-s', '600', '--sample-chars', '0', ...extra], 'train');
}

/** Batch-1 sampling with PyTorch's best sampling setting, after one training step. */
export function runTorchSampling(script: string, o: TorchRun): Promise<TorchResult> {
  return runScript<TorchResult>(o.python ?? PYTHON, script, [...shapeArgs(o), '--max-steps', '1', '--val-chars', String(o.seqLen), '--sample-chars', String(o.sampleChars)], 'sample');
}

function shapeArgs(o: TorchRun): string[] {
  return ['--B', String(o.batch), '--T', String(o.seqLen), '--H', String(o.hidden), '--L', String(o.layers), '--data', o.data];
}

export interface PeakResult {
  /** Best GFLOP/s of torch.mm over the square sizes, and the library that ran it. */
  gflops: number;
  blas_libs: string[];
}

/** peak.py: torch.mm's float32 peak on both cores (the training setting: OpenBLAS on 2 threads). */
export async function runPeak(script: string, python = PYTHON): Promise<PeakResult> {
  const r = await runScript<{ square: Record<string, { torch_mm: { gflops_best: number } }>; blas_libs: string[] }>(
    python, script, ['--sizes', '1024,2048', '--min-time', '2'], 'train');
  return { gflops: Math.max(...Object.values(r.square).map((s) => s.torch_mm.gflops_best)), blas_libs: r.blas_libs };
}
