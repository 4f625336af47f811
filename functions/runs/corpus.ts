// Corpus references: built-in names ('builtin:names'), uploads ('sha256:<hex>'), inline text (stored
// as an upload so every run names its corpus by a durable ref). Text is loaded again per slice.
import { BUILTIN_CORPORA } from '../../shared/api/schemas.ts';
import { decodeCorpus, loadBuiltinCorpus, Vocab } from '../../shared/engine/index.ts';
import type { RunStore } from '../../shared/store/index.ts';
import { HttpError } from '../errors.ts';
import type { Services } from '../services.ts';

type Builtin = (typeof BUILTIN_CORPORA)[number];
export type CorpusInput = Builtin | string | { text: string; name?: string };

export interface ResolvedCorpus {
  ref: string;
  name: string;
  text: string;
  vocabSize: number;
}

const isBuiltin = (s: string): s is Builtin => (BUILTIN_CORPORA as readonly string[]).includes(s);

/** Resolve a CreateRunBody corpus to a stored ref and its text; validates it (422 when unusable). */
export async function resolveCorpus(s: Services, input: CorpusInput, displayName?: string): Promise<ResolvedCorpus> {
  if (typeof input === 'string' && isBuiltin(input)) {
    const text = loadBuiltinCorpus(input);
    return { ref: `builtin:${input}`, name: input, text, vocabSize: Vocab.fromText(text).size };
  }
  if (typeof input === 'string') {
    const text = await loadCorpusText(s.store, input);
    return { ref: input, name: displayName ?? `upload-${input.slice(7, 15)}`, text, vocabSize: Vocab.fromText(text).size };
  }
  const vocab = Vocab.fromText(input.text); // 422 before storing anything unusable
  const { ref } = await s.store.putCorpus(new TextEncoder().encode(input.text));
  return { ref, name: input.name ?? displayName ?? 'inline', text: input.text, vocabSize: vocab.size };
}

/** The text behind a run's corpus ref. */
export async function loadCorpusText(store: Pick<RunStore, 'getCorpus'>, ref: string): Promise<string> {
  if (ref.startsWith('builtin:')) {
    const name = ref.slice('builtin:'.length);
    if (!isBuiltin(name)) throw new HttpError(422, 'corpus_unusable', `unknown built-in corpus "${name}"`, 'corpus');
    return loadBuiltinCorpus(name);
  }
  const bytes = await store.getCorpus(ref);
  if (!bytes) throw new HttpError(422, 'corpus_unusable', `corpus ${ref} is not in the store: upload it with POST /corpora`, 'corpus');
  return decodeCorpus(bytes);
}
