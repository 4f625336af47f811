// Types for infra/build.mjs, so TypeScript tests can import its constants.
/** Bundle entry points: output path under the out dir (without .mjs) → source file. */
export declare const ENTRIES: Record<string, string>;
export declare function bundle(opts?: { outdir?: string; native?: boolean; sourcemap?: boolean }): Promise<{ path: string; bytes: number }[]>;
