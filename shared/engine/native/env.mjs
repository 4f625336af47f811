// The binding's names, in one place for build.mjs (plain Node, run at install), blas.ts (the
// loader) and infra/build.mjs (the bundle): its environment variables and where its file lives.
// Loads nothing (no tfjs).

/** `off` (or 0, false): build nothing at install, and use no binding at run time. */
export const BLAS_ENV = 'CHARRNN_BLAS';
/** Force a kernel variant (avx512, avx2, baseline); unset or `auto`: the best this CPU runs. */
export const BLAS_KERNELS_ENV = 'CHARRNN_BLAS_KERNELS';

/** The addon's file name. */
export const ADDON_FILE = 'charrnn_blas.node';
/** Where node-gyp puts it, relative to this directory (the source tree). */
export const BUILT_ADDON = `build/Release/${ADDON_FILE}`;
/** Where infra/build.mjs puts it, relative to the bundle's out dir: beside the bundles that import the engine. */
export const BUNDLED_ADDON = `functions/native/${ADDON_FILE}`;

/** Whether `CHARRNN_BLAS` switches the binding off. */
export function blasSwitchedOff(env = process.env) {
  return ['off', '0', 'false'].includes((env[BLAS_ENV] ?? '').trim().toLowerCase());
}
