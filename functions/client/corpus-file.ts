// A local text file to use as a run's corpus, read the same way by the CLI (--corpus PATH) and the
// TUI (New run, "local file…"): its bytes as they are (the server checks the UTF-8, so a bad byte
// is its 422, not a silent replacement here) and its base name, which the run shows as its corpus.
// The upload itself is uploadCorpus (../client.ts).
import { readFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';

export interface CorpusFile {
  /** Absolute path. */
  path: string;
  /** The name the run shows (corpusName). */
  name: string;
  bytes: Uint8Array;
}

/** A file that cannot be read; the message names it and why. */
export class CorpusFileError extends Error {
  override name = 'CorpusFileError';
}

export async function readCorpusFile(file: string): Promise<CorpusFile> {
  const path = resolve(file);
  try {
    return { path, name: basename(path), bytes: await readFile(path) };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CorpusFileError(code === 'ENOENT' ? `no such file: ${path}` : `cannot read ${path} (${code ?? 'error'})`);
  }
}
