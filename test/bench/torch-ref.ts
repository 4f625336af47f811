// The PyTorch reference (/work/shared/bench/ref_torch.py style: one JSON line on stdout), run on the
// same configs in the same bench run. Debian's torch needs OpenBLAS (pthread build) and
// OPENBLAS_NUM_THREADS=1, else it is 13× (reference BLAS) or 2.6× (oversubscribed) slower.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const PYTHON = '/usr/bin/python3';
const OPENBLAS_DIR = '/usr/lib/x86_64-linux-gnu/openblas-pthread';

export interface TorchResult {
  train: { steps: number; chars_per_sec: number; steady_chars_per_sec: number | null; first_step_ms: number };
  val: { loss_nats: number; chars: number };
  sample?: { chars_per_sec: number; first_char_ms: number }[];
  env: { torch: string; num_threads: number; blas_libs?: string[] };
}

function torchEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    OPENBLAS_NUM_THREADS: '1',
    ...(existsSync(OPENBLAS_DIR) ? { LD_LIBRARY_PATH: OPENBLAS_DIR } : {}),
  };
}

/** null if torch is usable, else why not (one line). */
export function torchUnavailable(script: string): string | null {
  if (!existsSync(script)) return `${script} not found`;
  if (!existsSync(PYTHON)) return `${PYTHON} not found`;
  const r = spawnSync(PYTHON, ['-c', 'import torch'], { env: torchEnv(), encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) return `${PYTHON} -c "import torch" failed: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`;
  if (!existsSync(OPENBLAS_DIR)) return `${OPENBLAS_DIR} missing (install libopenblas0-pthread; reference BLAS would be 13× slower)`;
  return null;
}

export async function runTorch(
  script: string,
  o: { layers: number; hidden: number; batch: number; seqLen: number; budget: number; valChars: number; sampleChars: number; data: string },
): Promise<TorchResult> {
  const args = [
    script,
    '--B', String(o.batch), '--T', String(o.seqLen), '--H', String(o.hidden), '--L', String(o.layers),
    '--budget', String(o.budget), '--threads', '2', '--val-chars', String(o.valChars), '--val-max-s', '60',
    '--sample-chars', String(o.sampleChars), '--data', o.data,
  ];
  const child = spawn(PYTHON, args, { env: torchEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  const last = out.trim().split('\n').pop() ?? '';
  if (code !== 0 || !last.startsWith('{')) throw new Error(`ref_torch.py exited ${code}: ${err.trim().split('\n').pop() ?? ''}`);
  return JSON.parse(last) as TorchResult;
}
