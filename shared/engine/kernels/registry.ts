// The bookkeeping of the wasm kernel overrides: each file of this folder replaces or adds kernels
// through these two calls, which remember the stock ones so that uninstallWasmKernelFixes() can put
// them back (kernels.test.ts compares the fixed kernels with the stock ones).
import * as tf from '@tensorflow/tfjs';

export const WASM = 'wasm';

// tfjs-backend-wasm's BackendWasm is not exported as a type; the kernels use makeOutput,
// typedArrayFromHeap and disposeData.
export type WasmBackend = any;
export type KernelArgs = { inputs: Record<string, tf.TensorInfo>; backend: WasmBackend; attrs: Record<string, any> };
export type KernelFn = (args: KernelArgs) => unknown;

const stockKernels = new Map<string, tf.KernelConfig>();
const addedKernels: string[] = [];

/**
 * Replace the wasm backend's kernel `name` with `make(stock)`, keeping the stock kernel for
 * restoreStockKernels(). Does nothing when the backend has no such kernel.
 */
export function override(name: string, make: (stock: tf.KernelConfig) => KernelFn): void {
  const stock = tf.getKernel(name, WASM);
  if (!stock) return;
  stockKernels.set(name, stock);
  tf.unregisterKernel(name, WASM);
  tf.registerKernel({ kernelName: name, backendName: WASM, kernelFunc: make(stock) as any });
}

/** Register a kernel the wasm backend lacks; nothing if it has one by that name. */
export function add(name: string, kernelFunc: KernelFn): void {
  if (tf.getKernel(name, WASM)) return;
  addedKernels.push(name);
  tf.registerKernel({ kernelName: name, backendName: WASM, kernelFunc: kernelFunc as any });
}

/** Put every replaced kernel back and remove the added ones. */
export function restoreStockKernels(): void {
  for (const [name, cfg] of stockKernels) {
    tf.unregisterKernel(name, WASM);
    tf.registerKernel(cfg);
  }
  for (const name of addedKernels) tf.unregisterKernel(name, WASM);
  stockKernels.clear();
  addedKernels.length = 0;
}

/** A stock kernel's function, called with the kernel arguments (tfjs types it loosely). */
export function callKernel(cfg: tf.KernelConfig, args: KernelArgs): any {
  return (cfg.kernelFunc as any)(args);
}
