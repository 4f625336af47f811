// Types for infra/build.mjs, so TypeScript tests can import its constants.
/** Bundle entry points: output path under the out dir (without .mjs) → source file. */
export declare const ENTRIES: Record<string, string>;
export declare function bundle(opts?: { outdir?: string; native?: boolean; sourcemap?: boolean }): Promise<{ path: string; bytes: number }[]>;
/** esbuild settings shared by every Node bundle of the repository (the deployable, the source CLI's cache). */
export declare const NODE_BUNDLE: import('esbuild').BuildOptions;
/** The exported page's sources, relative to the repository root. */
export declare const PAGE_SOURCES: { entry: string; html: string };
/** Bundles the exported page's script (functions/export/page/page.ts) for browsers. */
export declare function buildPage(opts: { outfile: string; write?: boolean }): Promise<import('esbuild').BuildResult<{ metafile: true }>>;
