// Corpus text in: strict UTF-8 decoding, the built-in corpora, and the train/validation split.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { BUILTIN_CORPORA, BUILTIN_CORPUS_FILES, type BuiltinCorpus } from '../builtin-corpora.mjs';
import { EngineInputError } from './types.ts';

export type { BuiltinCorpus };

/** Decode bytes as UTF-8, rejecting invalid sequences with the byte offset of the first one. */
export function decodeCorpus(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new EngineInputError(`corpus is not valid UTF-8 (byte offset ${firstInvalidUtf8(bytes)})`, 'corpus');
  }
}

/** Offset of the first byte that starts an invalid UTF-8 sequence (bytes.length if none). */
function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i];
    let n = 0;
    let min = 0;
    if (c < 0x80) { i++; continue; }
    else if (c >= 0xc2 && c <= 0xdf) { n = 1; min = 0x80; }
    else if (c >= 0xe0 && c <= 0xef) { n = 2; min = 0x800; }
    else if (c >= 0xf0 && c <= 0xf4) { n = 3; min = 0x10000; }
    else return i;
    if (i + n >= b.length) return i; // truncated sequence at the end
    let cp = c & (0x3f >> n);
    for (let k = 1; k <= n; k++) {
      const d = b[i + k];
      if ((d & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (d & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += n + 1;
  }
  return b.length;
}

/** Text of a built-in corpus, read from its npm package. */
export function loadBuiltinCorpus(name: BuiltinCorpus): string {
  const spec = BUILTIN_CORPUS_FILES[name];
  if (!spec) throw new EngineInputError(`unknown built-in corpus "${name}": use ${BUILTIN_CORPORA.join(' or ')}`, 'corpus');
  const file = createRequire(import.meta.url).resolve(spec);
  return decodeCorpus(readFileSync(file));
}

/** nanoGPT-style split: the first 90% trains, the last 10% validates. Works on code-point ids. */
export function splitCorpus<T extends { length: number; subarray(a: number, b?: number): T }>(ids: T, trainFraction = 0.9): { train: T; val: T } {
  const n = Math.floor(ids.length * trainFraction);
  return { train: ids.subarray(0, n), val: ids.subarray(n) };
}
