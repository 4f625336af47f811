// Shared setup for the retrain tests: corpora written here, a tiny model, request helpers.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/** A step takes milliseconds on two cores; lr high enough that 30 steps visibly learn. */
export const TINY = { preset: 'tiny', hidden: 32, seqLen: 16, batchSize: 8, evalEvery: 1000, evalChars: 2000, lr: 0.01 } as const;

/** Plain English-ish text (~3.4k chars) over a small alphabet. */
export const ENGLISH = [
  'the cat sat on the mat and the dog sat on the log. ',
  'a bird in the hand is worth two in the bush. ',
  'the sun rose over the hill and the farmer went to the field. ',
  'she sells sea shells by the sea shore. ',
].join('').repeat(16);

/** Same alphabet, other text: for "the feed moved on" without new characters. */
export const ENGLISH_2 = [
  'the farmer sat by the fire and the dog slept on the mat. ',
  'two birds sang on the hill at the end of the day. ',
].join('').repeat(30);

export async function tempDir(): Promise<{ url: string; dir: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'charrnn-retrain-'));
  return { url: pathToFileURL(dir).href, dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export const post = (body: unknown, headers: Record<string, string> = {}) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});
