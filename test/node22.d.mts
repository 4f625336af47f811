// Types for node22.mjs (imported by the vitest config, its pool, the tests and the benchmarks).
export declare const NODE22_VERSION: string;
export declare const NODE22_DIR: string;
export declare const NODE22_BIN: string;
export declare function node22(): string;
