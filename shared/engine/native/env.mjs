// The binding's names, in one place for build.mjs (plain Node, run at install), blas.ts (the
// loader) and infra/build.mjs (the bundle): its environment variables and where its file lives.
// Loads nothing (no tfjs).
//
// The one place in the engine that reads the environment itself (the rest receives its settings
// from the caller: settings.ts). Why these two stay variables: CHARRNN_BLAS is read first by the
// install script (build.mjs), whose only input is the environment, and the loader must agree with
// it; and the binding is loaded lazily by whichever thread first needs a matrix product (the
// server's, each training, replica and sampling worker, a test's), none of which has a caller to
// pass a setting through, while every thread sees the process's environment. Both are in
// functions/README.md's table.

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

/** The kernel variant `CHARRNN_BLAS_KERNELS` asks for, lower case; '' when unset. */
export function blasKernelsWanted(env = process.env) {
  return (env[BLAS_KERNELS_ENV] ?? '').trim().toLowerCase();
}
