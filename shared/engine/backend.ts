// Loads the fastest tfjs backend available at run time and patches slow or missing wasm kernels.
// Order: tfjs-node-gpu → tfjs-node (native TensorFlow, optional deps that may be absent) → wasm → cpu;
// The caller's settings (CHARRNN_BACKEND, CHARRNN_REQUIRE_GPU; or a backend's name) narrow it. What to accept is decided in
// backend-choice.ts (pure, tested without libtensorflow); this file only tries the candidates.
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import {
  backendCandidates,
  chooseBackend,
  NATIVE_PACKAGES,
  type Attempt,
  type BackendChoice,
  type BackendInfo,
  type BackendRequest,
  type Candidate,
  type NativePackage,
} from './backend-choice.ts';
import type { EngineSettings } from './settings.ts';
import { nativeAddonMissing } from './native-packages.ts';
import { type Blas, blasStatus, loadBlas } from './native/blas.ts';
import { HEAP_CALL, type HeapCallAttrs, inRowInvariantMatMuls, LSTM_CELL } from './step-kernels.ts';

// The sampling step's half lives apart so that a browser can load step.ts without this file.
export { hasLstmCellKernel, LSTM_CELL, rowInvariantMatMuls } from './step-kernels.ts';

let chosen: Promise<BackendChoice> | null = null;
let choice: BackendChoice | null = null;

/**
 * Initialise the backend once (later calls keep the first choice) and return the active backend's
 * name. `settings`: the caller's (a string: just the backend's name); none = the best that loads.
 * Rejects with BackendUnavailableError, carrying each loader's error text, when nothing
 * acceptable loads (and then tries again on the next call).
 */
export async function initBackend(settings: string | Pick<EngineSettings, 'backend' | 'requireGpu'> = {}): Promise<string> {
  if (!chosen) {
    const s = typeof settings === 'string' ? { backend: settings } : settings;
    const request = { preferred: s.backend ?? '', requireGpu: s.requireGpu ?? false };
    chosen = pick(request).then(
      (c) => (choice = c),
      (e) => {
        chosen = null;
        throw e;
      },
    );
  }
  await chosen;
  return tf.getBackend();
}

/** The active backend's name ('tensorflow', 'wasm' or 'cpu'). */
export function currentBackend(): string {
  return tf.getBackend();
}

/** What this thread runs on; call after initBackend() resolved (each thread initialises its own tfjs). */
export function backendInfo(): BackendInfo {
  if (!choice) throw new Error('backendInfo() called before initBackend() succeeded');
  const { skipped: _, ...info } = choice;
  // The binding serves the wasm kernels only: on other backends it is loaded but not in use.
  const blas = blasStatus();
  return { ...info, blas: info.backend === 'wasm' && blas.on ? { on: true, kernels: blas.kernels } : { on: false, kernels: null } };
}

/** The candidates passed over on the way to the chosen backend, with their loaders' error text. */
export function backendSkipped(): BackendChoice['skipped'] {
  return choice ? [...choice.skipped] : [];
}

async function pick(request: BackendRequest): Promise<BackendChoice> {
  const attempts: Attempt[] = [];
  for (const candidate of backendCandidates(request)) {
    const a = await tryCandidate(candidate);
    attempts.push(a);
    if (a.loaded) break;
  }
  const c = chooseBackend(request, attempts);
  if (c.backend === 'wasm') installWasmKernelFixes();
  return c;
}

const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e));

async function tryCandidate(candidate: Candidate): Promise<Attempt> {
  if ((NATIVE_PACKAGES as readonly string[]).includes(candidate)) {
    const missing = nativeAddonMissing(candidate);
    if (missing) return { candidate, loaded: false, error: missing };
    try {
      // Optional dependency: a variable specifier keeps bundlers from requiring it at build time.
      const spec: NativePackage = candidate as NativePackage;
      await import(spec);
    } catch (e) {
      return { candidate, loaded: false, error: errorText(e) };
    }
    const set = await setBackend('tensorflow');
    if (!set.ok) return { candidate, loaded: false, error: set.error };
    // tfjs-node's NodeJSKernelBackend reads this from its binding once, when it is created.
    const gpu = (tf.backend() as unknown as { isUsingGpuDevice?: unknown }).isUsingGpuDevice === true;
    return { candidate, loaded: true, gpu };
  }
  const set = await setBackend(candidate);
  return set.ok ? { candidate, loaded: true } : { candidate, loaded: false, error: set.error };
}

/**
 * tf.setBackend, keeping the reason when it fails: tfjs reports a backend's failed initialisation
 * only through console.warn (engine.initializeBackend) and returns false, so the warning is caught
 * here (and still printed).
 */
async function setBackend(name: string): Promise<{ ok: true } | { ok: false; error: string }> {
  const warned: string[] = [];
  const warn = console.warn;
  console.warn = (...a: unknown[]) => {
    warned.push(a.map(String).join(' '));
    warn(...a);
  };
  try {
    if ((await tf.setBackend(name)) && tf.getBackend() === name) return { ok: true };
    return { ok: false, error: warned.at(-1)?.split('\n')[0] ?? `tf.setBackend('${name}') failed` };
  } catch (e) {
    return { ok: false, error: errorText(e) };
  } finally {
    console.warn = warn;
  }
}

// ---------------------------------------------------------------------------------------------
// wasm kernel fixes (tfjs-backend-wasm 4.22)

type WasmBackend = any;
type KernelArgs = { inputs: Record<string, tf.TensorInfo>; backend: WasmBackend; attrs: Record<string, any> };

let fixesInstalled = false;
const stockKernels = new Map<string, tf.KernelConfig>();
const addedKernels: string[] = [];

/** Whether the kernel fixes below are registered. */
export function wasmKernelFixesInstalled(): boolean {
  return fixesInstalled;
}

/**
 * (1) BatchMatMul/_FusedMatMul go to the native binding's OpenBLAS sgemm where it is built (see
 *     blasMatMul). Otherwise: with a transposed operand they fall back to a naive scalar loop on
 *     wasm (XNNPACK is only used without transposes; the fused one also drops its bias there), so
 *     materialise the transpose with the wasm Transpose kernel, then take the fast path. Every
 *     matmul gradient is transposed, so training needs this.
 * (2) Slice copies the whole input out of the heap on every call, and SplitV/Unpack slice once per
 *     output. Read through a heap view instead.
 * (3) GatherV2 row lookups, (4) the missing UnsortedSegmentSum, (5) the sampling step's fused
 *     LSTM cell and (6) native calls on heap views (native binding only): see below.
 */
export function installWasmKernelFixes(): void {
  if (fixesInstalled) return;
  const be = 'wasm';
  const transposeK = tf.getKernel('Transpose', be)!;
  const blas = loadBlas();
  for (const name of ['BatchMatMul', '_FusedMatMul']) {
    const stock = tf.getKernel(name, be);
    if (!stock) continue;
    stockKernels.set(name, stock);
    tf.unregisterKernel(name, be);
    tf.registerKernel({
      kernelName: name,
      backendName: be,
      kernelFunc: ((args: KernelArgs) => {
        const native = blas && blasMatMul(blas, args);
        if (native) return native;
        const { inputs, backend, attrs } = args;
        if (!attrs.transposeA && !attrs.transposeB) return (stock.kernelFunc as any)(args);
        const temps: tf.TensorInfo[] = [];
        const swapLast2 = (x: tf.TensorInfo): tf.TensorInfo => {
          const r = x.shape.length;
          const perm = [...Array(r).keys()];
          [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
          const out = (transposeK.kernelFunc as any)({ inputs: { x }, backend, attrs: { perm } }) as tf.TensorInfo;
          temps.push(out);
          return out;
        };
        const a = attrs.transposeA ? swapLast2(inputs.a) : inputs.a;
        const b = attrs.transposeB ? swapLast2(inputs.b) : inputs.b;
        const out = (stock.kernelFunc as any)({
          inputs: { ...inputs, a, b },
          backend,
          attrs: { ...attrs, transposeA: false, transposeB: false },
        });
        for (const t of temps) backend.disposeData(t.dataId);
        return out;
      }) as any,
    });
  }

  for (const name of ['Slice', 'SplitV', 'Unpack']) stockKernels.set(name, tf.getKernel(name, be)!);
  const stockSlice = stockKernels.get('Slice')!;
  const sliceView = (x: tf.TensorInfo, begin: number[], size: number[], backend: WasmBackend): tf.TensorInfo => {
    if (x.dtype === 'string') return (stockSlice.kernelFunc as any)({ inputs: { x }, attrs: { begin, size }, backend });
    const [b, sz] = tf.slice_util.parseSliceParams(x as tf.Tensor, begin, size);
    const out = backend.makeOutput(sz, x.dtype) as tf.TensorInfo;
    // makeOutput may grow the heap (detaching old views), so take the views afterwards.
    const xv = backend.typedArrayFromHeap(x) as Float32Array;
    const ov = backend.typedArrayFromHeap(out) as Float32Array;
    const xs = tf.util.computeStrides(x.shape);
    const total = tf.util.sizeFromShape(sz);
    if (total === 0) return out;
    if (tf.slice_util.isSliceContinous(x.shape, b, sz)) {
      const off = tf.slice_util.computeFlatOffset(b, xs);
      ov.set(xv.subarray(off, off + total));
      return out;
    }
    // Strided copy: walk every index but the last, copying contiguous rows of the last axis.
    const r = x.shape.length;
    const inner = sz[r - 1];
    const rows = total / inner;
    const idx = new Array<number>(r - 1).fill(0);
    for (let n = 0, o = 0; n < rows; n++, o += inner) {
      let off = b[r - 1];
      for (let d = 0; d < r - 1; d++) off += (b[d] + idx[d]) * xs[d];
      ov.set(xv.subarray(off, off + inner), o);
      for (let d = r - 2; d >= 0; d--) {
        if (++idx[d] < sz[d]) break;
        idx[d] = 0;
      }
    }
    return out;
  };
  const replace = (name: string, kernelFunc: (args: KernelArgs) => unknown) => {
    tf.unregisterKernel(name, be);
    tf.registerKernel({ kernelName: name, backendName: be, kernelFunc: kernelFunc as any });
  };
  replace('Slice', ({ inputs, attrs, backend }) => sliceView(inputs.x, attrs.begin, attrs.size, backend));
  replace('SplitV', ({ inputs, attrs, backend }) => {
    const { x } = inputs;
    const axis = tf.util.parseAxisParam(attrs.axis, x.shape)[0];
    const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, attrs.numOrSizeSplits, axis);
    const begin = new Array<number>(x.shape.length).fill(0);
    return sizes.map((s) => {
      const size = x.shape.slice();
      size[axis] = s;
      const o = sliceView(x, begin.slice(), size, backend);
      begin[axis] += s;
      return o;
    });
  });
  replace('Unpack', ({ inputs, attrs, backend }) => {
    const { value } = inputs;
    let axis: number = attrs.axis;
    if (axis < 0) axis += value.shape.length;
    const outShape = value.shape.filter((_, i) => i !== axis);
    const begin = new Array<number>(value.shape.length).fill(0);
    const size = value.shape.slice();
    size[axis] = 1;
    const outs: tf.TensorInfo[] = [];
    for (let i = 0; i < value.shape[axis]; i++) {
      begin[axis] = i;
      outs.push(sliceView(value, begin.slice(), size, backend));
    }
    return outs.map(({ dataId, dtype }) => ({ dataId, dtype, shape: outShape }));
  });

  // (3) GatherV2 along axis 0 (a row lookup: the model's one-hot input layer) loops per element on
  //     wasm (140 ms for 6400 rows of 1024); copying whole rows through heap views takes ~3 ms.
  const stockGather = tf.getKernel('GatherV2', be)!;
  stockKernels.set('GatherV2', stockGather);
  replace('GatherV2', (args) => {
    const { inputs, attrs, backend } = args;
    const { x, indices } = inputs;
    const axis = tf.util.parseAxisParam(attrs.axis, x.shape)[0];
    if (axis !== 0 || (attrs.batchDims ?? 0) !== 0 || x.dtype === 'string' || x.dtype === 'complex64' || indices.dtype !== 'int32') {
      return (stockGather.kernelFunc as any)(args);
    }
    const rows = x.shape[0];
    const rowSize = tf.util.sizeFromShape(x.shape.slice(1));
    const idx = backend.typedArrayFromHeap(indices) as Int32Array;
    for (let i = 0; i < idx.length; i++) if (!(idx[i] >= 0 && idx[i] < rows)) return (stockGather.kernelFunc as any)(args);
    const out = backend.makeOutput([...indices.shape, ...x.shape.slice(1)], x.dtype) as tf.TensorInfo;
    const iv = backend.typedArrayFromHeap(indices) as Int32Array; // re-read: makeOutput may move the heap
    const xv = backend.typedArrayFromHeap(x) as Float32Array;
    const ov = backend.typedArrayFromHeap(out) as Float32Array;
    for (let i = 0; i < iv.length; i++) ov.set(xv.subarray(iv[i] * rowSize, (iv[i] + 1) * rowSize), i * rowSize);
    return out;
  });

  // (4) UnsortedSegmentSum is missing on wasm; it is the gradient of a row gather (one-hot input,
  //     embeddings). A scatter-add over heap views; registered only if the backend lacks it.
  if (!tf.getKernel('UnsortedSegmentSum', be)) {
    addedKernels.push('UnsortedSegmentSum');
    tf.registerKernel({
      kernelName: 'UnsortedSegmentSum',
      backendName: be,
      kernelFunc: (({ inputs, attrs, backend }: KernelArgs) => {
        const { x, segmentIds } = inputs;
        const n: number = attrs.numSegments;
        if (x.dtype !== 'float32' && x.dtype !== 'int32') throw new Error(`UnsortedSegmentSum: unsupported dtype ${x.dtype}`);
        const rowSize = tf.util.sizeFromShape(x.shape.slice(segmentIds.shape.length));
        const out = backend.makeOutput([n, ...x.shape.slice(segmentIds.shape.length)], x.dtype) as tf.TensorInfo;
        const xv = backend.typedArrayFromHeap(x) as Float32Array;
        const sv = backend.typedArrayFromHeap(segmentIds) as Int32Array;
        const ov = backend.typedArrayFromHeap(out) as Float32Array;
        ov.fill(0);
        for (let i = 0; i < sv.length; i++) {
          const s = sv[i];
          if (s < 0 || s >= n) continue; // like TensorFlow: out-of-range ids are dropped
          const src = i * rowSize;
          const dst = s * rowSize;
          for (let k = 0; k < rowSize; k++) ov[dst + k] += xv[src + k];
        }
        return out;
      }) as any,
    });
  }
  // (5) The sampling step's LSTM cell in one native call, where the binding is built (step.ts).
  if (blas && !tf.getKernel(LSTM_CELL, be)) {
    addedKernels.push(LSTM_CELL);
    tf.registerKernel({
      kernelName: LSTM_CELL,
      backendName: be,
      kernelFunc: (({ inputs, backend }: KernelArgs) => {
        const { xp, hw, c } = inputs;
        const [n, H] = c.shape;
        const h = backend.makeOutput([n, H], 'float32') as tf.TensorInfo;
        const cNext = backend.makeOutput([n, H], 'float32') as tf.TensorInfo;
        const view = (t: tf.TensorInfo) => backend.typedArrayFromHeap(t) as Float32Array;
        blas.lstmCell(n, H, view(xp), view(hw), view(c), view(h), view(cNext));
        return [h, cNext];
      }) as any,
    });
  }
  // (6) Native code over heap views (step-kernels.ts's heapCall), where the binding is built: the
  //     fused training layers (fused.ts).
  if (blas && !tf.getKernel(HEAP_CALL, be)) {
    addedKernels.push(HEAP_CALL);
    tf.registerKernel({
      kernelName: HEAP_CALL,
      backendName: be,
      kernelFunc: (({ inputs, backend, attrs }: KernelArgs) => {
        const { outputs, run } = attrs as HeapCallAttrs;
        const outs = outputs.map(([, shape]) => backend.makeOutput(shape, 'float32') as tf.TensorInfo);
        // Views after every makeOutput: each may grow the heap, which detaches older views.
        const views: Record<string, Float32Array | Int32Array> = {};
        for (const [name, t] of Object.entries(inputs)) views[name] = backend.typedArrayFromHeap(t);
        outputs.forEach(([name], i) => (views[name] = backend.typedArrayFromHeap(outs[i]) as Float32Array));
        run(views, blas);
        return outs;
      }) as any,
    });
  }
  fixesInstalled = true;
}

/** Matmuls smaller than this stay on XNNPACK: below it the call costs more than the vector width saves. */
const BLAS_MIN_MACS = 1 << 15;

/**
 * BatchMatMul/_FusedMatMul through the system BLAS, straight on the wasm heap; null when the case
 * is not one it handles (non-float32, an activation, a bias that is not one row, uneven batches, a
 * matrix-vector product outside rowInvariantMatMuls), and the caller takes the wasm path.
 */
function blasMatMul(blas: Blas, { inputs, backend, attrs }: KernelArgs): tf.TensorInfo | null {
  const { a, b, bias, preluActivationWeights } = inputs;
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || preluActivationWeights) return null;
  if (attrs.activation && attrs.activation !== 'linear') return null;
  const ra = a.shape.length;
  const rb = b.shape.length;
  if (ra < 2 || rb < 2) return null;
  const ta = !!attrs.transposeA;
  const tb = !!attrs.transposeB;
  const m = ta ? a.shape[ra - 1] : a.shape[ra - 2];
  const k = ta ? a.shape[ra - 2] : a.shape[ra - 1];
  const n = tb ? b.shape[rb - 2] : b.shape[rb - 1];
  if ((tb ? b.shape[rb - 1] : b.shape[rb - 2]) !== k) return null; // let the stock kernel word the error
  const rowwise = inRowInvariantMatMuls();
  // Row by row, the choice must not depend on m (the number of rows).
  if (rowwise ? ta || tb : m < 2 || m * n * k < BLAS_MIN_MACS) return null;
  const batchA = tf.util.sizeFromShape(a.shape.slice(0, -2));
  const batchB = tf.util.sizeFromShape(b.shape.slice(0, -2));
  if (batchA !== batchB && batchA !== 1 && batchB !== 1) return null;
  if (bias && (bias.dtype !== 'float32' || tf.util.sizeFromShape(bias.shape) !== n)) return null;
  const batchShape = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const batch = tf.util.sizeFromShape(batchShape);
  if (batch !== Math.max(batchA, batchB)) return null;

  const out = backend.makeOutput([...batchShape, m, n], 'float32') as tf.TensorInfo;
  // Views after makeOutput: it may grow the heap, which detaches older views.
  const av = backend.typedArrayFromHeap(a) as Float32Array;
  const bv = backend.typedArrayFromHeap(b) as Float32Array;
  const ov = backend.typedArrayFromHeap(out) as Float32Array;
  if (bias) {
    const biasv = backend.typedArrayFromHeap(bias) as Float32Array;
    for (let r = 0; r < batch * m; r++) ov.set(biasv, r * n);
  }
  const beta = bias ? 1 : 0;
  const sa = m * k;
  const sb = k * n;
  const so = m * n;
  for (let i = 0; i < batch; i++) {
    const ai = batchA === 1 ? 0 : i;
    const bi = batchB === 1 ? 0 : i;
    const bMat = bv.subarray(bi * sb, bi * sb + sb);
    if (rowwise) {
      blas.rowGemm(m, n, k, av.subarray(ai * sa, ai * sa + sa), bMat, ov.subarray(i * so, i * so + so), beta === 1);
    } else {
      blas.sgemm(ta, tb, m, n, k, av.subarray(ai * sa, ai * sa + sa), bMat, ov.subarray(i * so, i * so + so), beta);
    }
  }
  return out;
}

/** Restore the stock wasm kernels (tests compare fixed against stock results). */
export function uninstallWasmKernelFixes(): void {
  if (!fixesInstalled) return;
  for (const [name, cfg] of stockKernels) {
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel(cfg);
  }
  for (const name of addedKernels) tf.unregisterKernel(name, 'wasm');
  stockKernels.clear();
  addedKernels.length = 0;
  fixesInstalled = false;
}
