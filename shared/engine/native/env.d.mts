// Types for env.mjs (imported by blas.ts and the tests).
export declare const BLAS_ENV: 'CHARRNN_BLAS';
export declare const BLAS_KERNELS_ENV: 'CHARRNN_BLAS_KERNELS';
export declare const ADDON_FILE: string;
export declare const BUILT_ADDON: string;
export declare const BUNDLED_ADDON: string;
export declare function blasSwitchedOff(env?: Record<string, string | undefined>): boolean;
export declare function blasKernelsWanted(env?: Record<string, string | undefined>): string;
