// Corpus decoding, vocabulary, config resolution and the batch layout (no tfjs needed).
import { describe, expect, it } from 'vitest';
import { checkCorpusFits, countParams, decodeCorpus, EngineInputError, loadBuiltinCorpus, resolveConfig, splitCorpus, Vocab } from '../../shared/engine/index.ts';
import { evalWindows, TrainBatches } from '../../shared/engine/batches.ts';

const catchErr = (f: () => unknown): EngineInputError => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(EngineInputError);
    return e as EngineInputError;
  }
  throw new Error('expected an EngineInputError');
};

describe('vocabulary', () => {
  const text = 'naïve café 🎉🐳 日本語のテキスト e\u0301 a\u0308 🎉 end';

  it('round-trips non-ASCII text by code point (emoji, CJK, combining marks)', () => {
    const v = Vocab.fromText(text);
    const ids = v.encode(text);
    expect(ids.length).toBe([...text].length); // code points, not UTF-16 units
    expect(v.decode(ids)).toBe(text);
    expect(v.has('🎉')).toBe(true);
    expect(v.has('\u0301')).toBe(true); // the combining mark is its own symbol
    expect(v.has('x')).toBe(false);
    expect(v.chars).toContain('🐳');
    expect(v.chars.every((c) => [...c].length === 1)).toBe(true);
    // sorted by code point
    const cps = v.chars.map((c) => c.codePointAt(0)!);
    expect([...cps].sort((a, b) => a - b)).toEqual(cps);
    expect(ids).toBeInstanceOf(Uint16Array);
  });

  it('serialises, and reports missing characters', () => {
    const v = Vocab.fromText(text);
    const back = Vocab.fromJSON(JSON.parse(JSON.stringify(v)));
    expect(back.decode(back.encode(text))).toBe(text);
    expect(v.missing('café 🦄 xyz 🦄')).toEqual(['🦄', 'x', 'y', 'z']);
    const e = catchErr(() => v.encode('🦄'));
    expect(e.field).toBe('corpus');
    expect(e.message).toContain('🦄');
  });

  it('uses 32-bit ids for vocabularies beyond 65536 symbols', () => {
    const chars = Array.from({ length: 70000 }, (_, i) => String.fromCodePoint(0x4e00 + i));
    const v = new Vocab(chars);
    const ids = v.encode(chars[69999] + chars[0]);
    expect(ids).toBeInstanceOf(Uint32Array);
    expect([...ids]).toEqual([69999, 0]);
  });

  it('rejects empty and single-character corpora', () => {
    expect(catchErr(() => Vocab.fromText('')).message).toMatch(/empty/);
    const e = catchErr(() => Vocab.fromText('aaaa'));
    expect(e.field).toBe('corpus');
    expect(e.message).toMatch(/one distinct character/);
  });
});

describe('corpus', () => {
  it('decodes strict UTF-8 and reports the offset of the first bad byte', () => {
    const ok = new TextEncoder().encode('héllo 🎉');
    expect(decodeCorpus(ok)).toBe('héllo 🎉');
    const bad = new Uint8Array([0x61, 0x62, 0xc3, 0x28, 0x63]); // 0xC3 needs a continuation byte
    const e = catchErr(() => decodeCorpus(bad));
    expect(e.field).toBe('corpus');
    expect(e.message).toBe('corpus is not valid UTF-8 (byte offset 2)');
    expect(catchErr(() => decodeCorpus(new Uint8Array([0x61, 0xf0, 0x9f]))).message).toContain('byte offset 1'); // truncated
    expect(catchErr(() => decodeCorpus(new Uint8Array([0xed, 0xa0, 0x80]))).message).toContain('byte offset 0'); // surrogate
    expect(catchErr(() => decodeCorpus(new Uint8Array([0x41, 0xc0, 0x80]))).message).toContain('byte offset 1'); // overlong
  });

  it('loads the built-in corpora', () => {
    const names = loadBuiltinCorpus('names');
    expect(names.startsWith('Aaren\n')).toBe(true);
    const moby = loadBuiltinCorpus('moby-dick');
    expect(moby.length).toBeGreaterThan(1_000_000);
    expect(moby).toContain('Call me Ishmael');
  });

  it('splits 90/10', () => {
    const ids = new Uint16Array(1000).map((_, i) => i);
    const { train, val } = splitCorpus(ids);
    expect(train.length).toBe(900);
    expect(val[0]).toBe(900);
    expect(val.length).toBe(100);
  });

  it('rejects a corpus shorter than one batch with what to change', () => {
    const e = catchErr(() => checkCorpusFits(100, 4, 32));
    expect(e.field).toBe('corpus');
    expect(e.message).toMatch(/lower batchSize or seqLen/);
    expect(() => checkCorpusFits(129, 4, 32)).not.toThrow();
  });
});

describe('config', () => {
  it('applies presets, defaults and explicit overrides', () => {
    const d = resolveConfig({});
    expect(d.model).toEqual({ cell: 'lstm', layers: 1, hidden: 128, dropout: 0, embedding: null });
    expect(d.train).toMatchObject({ seqLen: 64, batchSize: 32, lr: 2e-3, lrDecay: 0.97, lrDecayAfter: 10, gradClip: 5, evalEvery: 100, divergenceFactor: 3, seed: 1337, amsgrad: false });
    expect(resolveConfig({ preset: 'large' }).model).toMatchObject({ layers: 2, hidden: 512 });
    expect(resolveConfig({ preset: 'tiny' }).model).toMatchObject({ layers: 1, hidden: 64 });
    const o = resolveConfig({ preset: 'medium', hidden: 300, cell: 'gru', embedding: 16, lr: 0.01, seed: 7 });
    expect(o.model).toEqual({ cell: 'gru', layers: 2, hidden: 300, dropout: 0, embedding: 16 });
    expect(o.train.lr).toBe(0.01);
    expect(o.train.seed).toBe(7);
  });

  it('counts parameters', () => {
    // one-hot LSTM 1×128, V=65: 4·128·(65+128+1) + 128·65 + 65
    expect(countParams({ cell: 'lstm', layers: 1, hidden: 128, dropout: 0, embedding: null }, 65)).toBe(4 * 128 * 194 + 128 * 65 + 65);
    expect(countParams({ cell: 'gru', layers: 2, hidden: 8, dropout: 0, embedding: 4 }, 10)).toBe(10 * 4 + 3 * 8 * 13 + 3 * 8 * 17 + 8 * 10 + 10);
  });
});

describe('batches', () => {
  const ids = new Uint16Array(1000).map((_, i) => i % 997);
  const B = 4;
  const T = 10;
  const b = new TrainBatches(ids, B, T);
  const at = (x: Int32Array, t: number, s: number) => x[t * B + s];

  it('cuts B contiguous streams, each window continuing the previous one', () => {
    expect(b.streamLen).toBe(Math.floor(999 / 4));
    expect(b.windowsPerEpoch).toBe(Math.floor(b.streamLen / T));
    for (let w = 0; w + 1 < b.windowsPerEpoch; w++) {
      const cur = b.window(w);
      const nxt = b.window(w + 1);
      for (let s = 0; s < B; s++) {
        // the next window starts right after this window's last input
        expect(at(nxt.x, 0, s)).toBe(at(cur.x, T - 1, s) + 1);
        expect(at(nxt.x, 0, s)).toBe(at(cur.y, T - 1, s));
        expect(at(cur.x, 0, s)).toBe(s * b.streamLen + w * T);
      }
    }
  });

  it('targets are the inputs shifted by one on every time step', () => {
    const win = b.window(3);
    for (let s = 0; s < B; s++) for (let t = 0; t < T; t++) expect(ids[at(win.x, t, s) + 1]).toBe(at(win.y, t, s));
    for (let t = 0; t + 1 < T; t++) expect(at(win.y, t, 1)).toBe(at(win.x, t + 1, 1));
  });

  it('never reads past the data and restarts streams at the epoch boundary', () => {
    const last = b.window(b.windowsPerEpoch - 1);
    expect(Math.max(...last.y)).toBeLessThan(ids.length);
    expect(() => b.window(b.windowsPerEpoch)).toThrow(RangeError);
    expect(b.window(0).x).toEqual(new TrainBatches(ids, B, T).window(0).x);
  });

  it('evaluation windows cover the split in order, capped', () => {
    const val = new Uint16Array(95).map((_, i) => i);
    const wins = evalWindows(val, 4, 10, 0);
    const targets = wins.reduce((a, w) => a + w.x.length, 0);
    expect(targets).toBe(4 * Math.floor(94 / 4));
    expect(wins[wins.length - 1].T).toBe(23 - 20); // 23 chars per stream: 10 + 10 + 3
    for (const w of wins) for (let i = 0; i < w.x.length; i++) expect(w.y[i]).toBe(w.x[i] + 1);
    const capped = evalWindows(val, 4, 10, 40);
    expect(capped.reduce((a, w) => a + w.x.length, 0)).toBe(40);
  });
});
