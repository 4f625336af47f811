// Corpus references: built-in names ('builtin:names'), uploads ('sha256:<hex>'), inline text (stored
// as an upload so every run names its corpus by a durable ref), and feeds ('key:feeds/<name>.txt', a
// mutable store object whose current version each slice reads). Text is loaded again per slice.
import { isBuiltinCorpus as isBuiltin, type BuiltinCorpus } from '../../shared/builtin-corpora.mjs';
import { decodeCorpus, loadBuiltinCorpus, Vocab } from '../../shared/engine/tf-free.ts';
import type { RunStore } from '../../shared/store/index.ts';
import type { CorpusVersion } from '../../shared/store/types.ts';
import { HttpError } from '../errors.ts';

export type CorpusInput = BuiltinCorpus | string | { text: string; name?: string } | { key: string };

/** Run corpus refs for feeds: 'key:' + the feed's store key. */
export const FEED_REF_PREFIX = 'key:';

export interface ResolvedCorpus {
  ref: string;
  name: string;
  text: string;
  vocabSize: number;
  /** Feeds only: the version read. */
  version?: CorpusVersion;
}

/** Resolve a CreateRunBody corpus to a stored ref and its text; validates it (422 when unusable). */
export async function resolveCorpus(s: { store: RunStore }, input: CorpusInput, displayName?: string): Promise<ResolvedCorpus> {
  if (typeof input === 'string' && isBuiltin(input)) {
    const text = loadBuiltinCorpus(input);
    return { ref: `builtin:${input}`, name: input, text, vocabSize: Vocab.fromText(text).size };
  }
  if (typeof input === 'string') {
    const text = await loadCorpusText(s.store, input);
    return { ref: input, name: displayName ?? `upload-${input.slice(7, 15)}`, text, vocabSize: Vocab.fromText(text).size };
  }
  if ('key' in input) {
    const feed = await loadFeed(s.store, input.key);
    return { ref: `${FEED_REF_PREFIX}${input.key}`, name: displayName ?? input.key.slice(input.key.lastIndexOf('/') + 1), text: feed.text, vocabSize: Vocab.fromText(feed.text).size, version: feed.version };
  }
  const vocab = Vocab.fromText(input.text); // 422 before storing anything unusable
  const { ref } = await s.store.putCorpus(new TextEncoder().encode(input.text));
  return { ref, name: input.name ?? displayName ?? 'inline', text: input.text, vocabSize: vocab.size };
}

/** A feed's current text and version; 422 when nothing is at the key or it is not UTF-8. */
export async function loadFeed(store: Pick<RunStore, 'getFeed'>, key: string): Promise<{ text: string; version: CorpusVersion }> {
  const got = await store.getFeed(key); // InvalidKeyError (400) for a key outside feeds/
  if (!got) throw new HttpError(422, 'corpus_unusable', `no feed object at ${key}: upload the text there first`, 'corpus');
  return { text: decodeCorpus(got.body), version: got.version };
}

/** The text behind a run's corpus ref. */
export async function loadCorpusText(store: Pick<RunStore, 'getCorpus' | 'getFeed'>, ref: string): Promise<string> {
  if (ref.startsWith(FEED_REF_PREFIX)) return (await loadFeed(store, ref.slice(FEED_REF_PREFIX.length))).text;
  if (ref.startsWith('builtin:')) {
    const name = ref.slice('builtin:'.length);
    if (!isBuiltin(name)) throw new HttpError(422, 'corpus_unusable', `unknown built-in corpus "${name}"`, 'corpus');
    return loadBuiltinCorpus(name);
  }
  const bytes = await store.getCorpus(ref);
  if (!bytes) throw new HttpError(422, 'corpus_unusable', `corpus ${ref} is not in the store: upload it with POST /corpora`, 'corpus');
  return decodeCorpus(bytes);
}
