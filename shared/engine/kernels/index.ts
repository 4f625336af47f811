// The wasm backend's kernel work (tfjs-backend-wasm 4.22), one file per kernel: fixes for stock
// kernels that are slow or missing, and, where the native binding is built, kernels that run native
// code on the wasm heap. backend.ts calls installWasmKernelFixes() once wasm is chosen; why each
// kernel is here, with its measurement: README.md.
import { loadBlas } from '../native/blas.ts';
import { declareSigmoidTanh } from '../step-kernels.ts';
import { installHeapCall } from './heap-call.ts';
import { installLstmCell } from './lstm-cell.ts';
import { installMatMuls } from './matmul.ts';
import { installRowGather } from './gather.ts';
import { restoreStockKernels, WASM } from './registry.ts';
import { installSegmentSum } from './segment-sum.ts';
import { installSliceViews } from './slice.ts';

let installed = false;

/** Whether the kernels of this folder are registered. */
export function wasmKernelFixesInstalled(): boolean {
  return installed;
}

/** Register this folder's wasm kernels (once; loads the native binding if it is built). */
export function installWasmKernelFixes(): void {
  if (installed) return;
  const blas = loadBlas();
  installMatMuls(blas);
  installSliceViews();
  installRowGather();
  installSegmentSum();
  if (blas) {
    installLstmCell(blas);
    installHeapCall(blas);
  }
  // wasm's Tanh is scalar libm, ~10× slower than its vectorised Sigmoid (234 µs vs 25 µs on
  // [64, 256]): training computes tanh as 2σ(2x) − 1 here (cells.ts). A fact of the backend, not of
  // these kernels, so uninstalling leaves it.
  declareSigmoidTanh(WASM);
  installed = true;
}

/** Restore the stock wasm kernels (tests compare fixed against stock results). */
export function uninstallWasmKernelFixes(): void {
  if (!installed) return;
  restoreStockKernels();
  installed = false;
}
