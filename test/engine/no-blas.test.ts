// Under CHARRNN_BLAS=off (the wasm-only project in vitest.config.ts) the engine runs without the
// native binding, as on a machine without OpenBLAS; in the default project the binding is in use.
import { describe, expect, it } from 'vitest';
import { hasLstmCellKernel, initBackend } from '../../shared/engine/backend.ts';
import { loadBlas } from '../../shared/engine/native/blas.ts';

describe('native binding switch', () => {
  it('CHARRNN_BLAS=off leaves the engine on its wasm kernels', async () => {
    expect(await initBackend('wasm')).toBe('wasm');
    const off = process.env.CHARRNN_BLAS === 'off';
    expect(loadBlas() === null).toBe(off);
    expect(hasLstmCellKernel()).toBe(!off);
  });
});
