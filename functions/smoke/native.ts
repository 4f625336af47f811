// The GPU, its driver and the libraries libtensorflow needs, seen from outside TensorFlow: what
// nvidia-smi reports, what the dynamic linker resolves, and what TensorFlow will dlopen.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { firstLine, type Outcome } from './checks.ts';

const run = promisify(execFile);
const TOOL_TIMEOUT_MS = 30_000;

/**
 * libtensorflow 2.9.1's GPU code. TensorFlow's release builds use TF_CUDA_COMPUTE_CAPABILITIES =
 * sm_35,sm_50,sm_60,sm_70,sm_75,compute_80, where compute_80 means sm_80 SASS plus compute_80 PTX.
 * SASS runs on the same major version at an equal or higher minor (sm_80 on an L4, 8.9); anything
 * newer (an H100 is 9.0) runs the PTX, which the driver JIT-compiles when CUDA starts.
 */
const SASS: readonly (readonly [number, number])[] = [[3, 5], [5, 0], [6, 0], [7, 0], [7, 5], [8, 0]];
const PTX: readonly [number, number] = [8, 0];

/**
 * The CUDA 11.2 / cuDNN 8 libraries TensorFlow 2.9 opens with dlopen at run time (sonames from
 * stream_executor's dso_loader with the versions of a CUDA 11.2 build). ldd of libtensorflow does
 * not list them; a missing one makes TensorFlow skip the GPU and run on the CPU.
 */
export const CUDA_DLOPEN_LIBS = [
  'libcuda.so.1', // the driver's, mounted by the NVIDIA container toolkit
  'libcudart.so.11.0',
  'libcublas.so.11',
  'libcublasLt.so.11',
  'libcufft.so.10',
  'libcurand.so.10',
  'libcusolver.so.11',
  'libcusparse.so.11',
  'libcudnn.so.8',
] as const;

/** How libtensorflow 2.9.1's kernels run on a GPU of compute capability `cc` ("8.9"). */
export function gpuCodePath(cc: string): { ok: boolean; note: string } {
  const m = /^(\d+)\.(\d+)$/.exec(cc.trim());
  if (!m) return { ok: true, note: `compute capability "${cc}" not understood` };
  const [major, minor] = [Number(m[1]), Number(m[2])];
  const sass = SASS.filter(([a, b]) => a === major && b <= minor).pop();
  if (sass) return { ok: true, note: `runs libtensorflow's sm_${sass.join('')} code natively` };
  if (major > PTX[0] || (major === PTX[0] && minor > PTX[1])) {
    const cache = process.env.CUDA_CACHE_PATH ?? '~/.nv/ComputeCache';
    return { ok: true, note: `no SASS for ${cc} in libtensorflow 2.9.1: the driver JIT-compiles its compute_80 PTX at first start (cached in ${cache})` };
  }
  return { ok: false, note: `compute capability ${cc} is older than libtensorflow 2.9.1 supports (3.5)` };
}

function isMissing(e: unknown): boolean {
  return (e as NodeJS.ErrnoException)?.code === 'ENOENT';
}

export async function checkGpu(): Promise<Outcome> {
  let csv: string;
  let withCc = true;
  try {
    csv = (await run('nvidia-smi', ['--query-gpu=name,driver_version,compute_cap', '--format=csv,noheader'], { timeout: TOOL_TIMEOUT_MS })).stdout;
  } catch (e) {
    if (isMissing(e)) {
      return { result: 'FAIL', detail: 'nvidia-smi not found: no NVIDIA driver visible (in a container: docker run --gpus all, NVIDIA Container Toolkit)' };
    }
    // Drivers before 510 reject the compute_cap field; ask again without it.
    try {
      csv = (await run('nvidia-smi', ['--query-gpu=name,driver_version', '--format=csv,noheader'], { timeout: TOOL_TIMEOUT_MS })).stdout;
      withCc = false;
    } catch (again) {
      return { result: 'FAIL', detail: `nvidia-smi failed: ${firstLine(again)}` };
    }
  }
  const gpus = csv.trim().split('\n').filter(Boolean).map((l) => l.split(',').map((f) => f.trim()));
  if (gpus.length === 0) return { result: 'FAIL', detail: 'nvidia-smi lists no GPU' };
  const [name, driver, cc] = gpus[0];
  const code = withCc ? gpuCodePath(cc) : { ok: true, note: 'compute capability not reported by this driver' };
  const more = gpus.length > 1 ? ` (+${gpus.length - 1} more GPU${gpus.length > 2 ? 's' : ''}; TensorFlow uses GPU 0)` : '';
  return {
    result: code.ok ? 'pass' : 'FAIL',
    detail: `${name}, driver ${driver}${withCc ? `, compute ${cc}` : ''}: ${code.note}${more}`,
  };
}

/** tfjs-node-gpu's addon and the libtensorflow it loads, as installed next to this code. */
function nativeFiles(): { files: string[]; problem?: string } {
  let pkg: string;
  try {
    pkg = dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-node-gpu/package.json'));
  } catch {
    return { files: [], problem: '@tensorflow/tfjs-node-gpu is not installed' };
  }
  const lib = join(pkg, 'lib');
  const napi = existsSync(lib) ? readdirSync(lib).filter((d) => d.startsWith('napi-v')) : [];
  const binding = napi.map((d) => join(lib, d, 'tfjs_binding.node')).find((f) => existsSync(f));
  const files = [binding ?? join(lib, 'napi-v*', 'tfjs_binding.node'), join(pkg, 'deps/lib/libtensorflow.so.2'), join(pkg, 'deps/lib/libtensorflow_framework.so.2')];
  const absent = files.filter((f) => !existsSync(f));
  return absent.length ? { files, problem: `missing: ${absent.join(', ')}` } : { files };
}

/** soname → path, from the dynamic linker's cache and LD_LIBRARY_PATH (what dlopen searches). */
async function resolvable(): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  for (const dir of (process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean)) {
    for (const so of CUDA_DLOPEN_LIBS) if (!found.has(so) && existsSync(join(dir, so))) found.set(so, join(dir, so));
  }
  let cache = '';
  for (const ldconfig of ['ldconfig', '/sbin/ldconfig']) {
    try {
      cache = (await run(ldconfig, ['-p'], { timeout: TOOL_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 })).stdout;
      break;
    } catch (e) {
      if (!isMissing(e)) throw e;
    }
  }
  for (const m of cache.matchAll(/^\s*(\S+) \(([^)]*)\) => (\S+)$/gm)) {
    if (m[2].includes('x86-64') || m[2].includes('AArch64')) if (!found.has(m[1])) found.set(m[1], m[3]);
  }
  return found;
}

export async function checkCudaLibraries(): Promise<Outcome> {
  const { files, problem } = nativeFiles();
  if (problem) return { result: 'FAIL', detail: problem };
  const unresolved: string[] = [];
  for (const f of files) {
    const { stdout } = await run('ldd', [f], { timeout: TOOL_TIMEOUT_MS });
    for (const l of stdout.split('\n')) if (l.includes('not found')) unresolved.push(`${basename(f)}: ${l.trim()}`);
  }
  const found = await resolvable();
  const absent = CUDA_DLOPEN_LIBS.filter((so) => !found.has(so));
  const bad = [...unresolved, ...(absent.length ? [`not in ldconfig -p or LD_LIBRARY_PATH: ${absent.join(', ')}`] : [])];
  if (bad.length) return { result: 'FAIL', detail: bad.join('; ') };
  return {
    result: 'pass',
    detail: `ldd: ${files.map((f) => basename(f)).join(', ')} fully resolved; dlopen: ${CUDA_DLOPEN_LIBS.length}/${CUDA_DLOPEN_LIBS.length} found (cuDNN ${found.get('libcudnn.so.8')})`,
  };
}
