// A small seeded PRNG (mulberry32) whose whole state is one uint32, so it fits in state.json.
export class Rng {
  state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    let a = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    a = Math.imul(a ^ (a >>> 15), a | 1);
    a ^= a + Math.imul(a ^ (a >>> 7), a | 61);
    return ((a ^ (a >>> 14)) >>> 0) / 4294967296;
  }

  /** A 31-bit integer, e.g. a seed for tfjs random ops. */
  int(): number {
    return Math.floor(this.next() * 0x7fffffff);
  }

  /** Fill with U(-k, k). */
  uniform(n: number, k: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = (this.next() * 2 - 1) * k;
    return out;
  }
}
