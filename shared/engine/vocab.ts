// The character vocabulary: Unicode code points (not UTF-16 units), sorted by code point.
import { EngineInputError } from './types.ts';

export type Ids = Uint16Array | Uint32Array;

export class Vocab {
  /** id → character (one code point each). */
  readonly chars: readonly string[];
  private readonly index: Map<number, number>;

  constructor(chars: readonly string[]) {
    this.chars = chars;
    this.index = new Map(chars.map((ch, i) => [ch.codePointAt(0)!, i]));
  }

  /** The sorted set of distinct code points of `text`. Rejects empty and single-character corpora. */
  static fromText(text: string): Vocab {
    if (text.length === 0) throw new EngineInputError('corpus is empty: provide some text to train on', 'corpus');
    const seen = new Set<number>();
    for (const ch of text) seen.add(ch.codePointAt(0)!);
    if (seen.size < 2) {
      throw new EngineInputError('corpus has only one distinct character: a model needs at least two to predict', 'corpus');
    }
    return new Vocab([...seen].sort((a, b) => a - b).map((cp) => String.fromCodePoint(cp)));
  }

  static fromJSON(json: { chars: string[] }): Vocab {
    return new Vocab(json.chars);
  }

  toJSON(): { chars: string[] } {
    return { chars: [...this.chars] };
  }

  get size(): number {
    return this.chars.length;
  }

  has(ch: string): boolean {
    const cp = ch.codePointAt(0);
    return cp !== undefined && this.index.has(cp) && String.fromCodePoint(cp).length === ch.length;
  }

  /** Id of one character, or undefined. */
  id(ch: string): number | undefined {
    return this.index.get(ch.codePointAt(0)!);
  }

  /** Distinct characters of `text` outside the vocabulary, in order of first appearance. */
  missing(text: string): string[] {
    const out = new Set<string>();
    for (const ch of text) if (!this.index.has(ch.codePointAt(0)!)) out.add(ch);
    return [...out];
  }

  /** Text → ids. Throws EngineInputError('corpus') naming any characters outside the vocabulary. */
  encode(text: string, field = 'corpus'): Ids {
    const buf = this.size <= 0x10000 ? new Uint16Array(text.length) : new Uint32Array(text.length);
    let n = 0;
    for (const ch of text) {
      const id = this.index.get(ch.codePointAt(0)!);
      if (id === undefined) {
        const miss = this.missing(text);
        throw new EngineInputError(
          `${field} has ${miss.length} character(s) outside the vocabulary: ${formatChars(miss)}`,
          field,
        );
      }
      buf[n++] = id;
    }
    return buf.slice(0, n);
  }

  decode(ids: ArrayLike<number>): string {
    let s = '';
    for (let i = 0; i < ids.length; i++) s += this.chars[ids[i]];
    return s;
  }
}

/**
 * The one prime check (a sample's prime, a run's samplePrime): EngineInputError(`field`), a 400
 * over HTTP, naming the characters of `prime` outside the vocabulary.
 */
export function checkPrime(vocab: Vocab, prime: string, field = 'prime'): void {
  const missing = vocab.missing(prime);
  if (missing.length) throw new EngineInputError(`${field}: ${formatChars(missing)} not in this run's vocabulary`, field);
}

/** A short, readable list of characters for error messages (JSON-quoted, at most 10). */
export function formatChars(chars: string[]): string {
  const shown = chars.slice(0, 10).map((c) => JSON.stringify(c)).join(', ');
  return chars.length > 10 ? `${shown} and ${chars.length - 10} more` : shown;
}
