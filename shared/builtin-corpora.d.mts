// Types for builtin-corpora.mjs.
export type BuiltinCorpus = 'moby-dick' | 'names';
export declare const BUILTIN_CORPUS_FILES: Readonly<Record<BuiltinCorpus, string>>;
export declare const BUILTIN_CORPORA: readonly ['moby-dick', 'names'];
export declare function isBuiltinCorpus(name: string): name is BuiltinCorpus;
