// The activations the kernels share (cell.c for sampling, gates.c for training), in the vector
// operations of the variant being compiled (simd.h): e^x, σ and tanh, each lane exactly the same
// sequence of IEEE operations at any width, so every variant gives the same bits.
#ifndef CHARRNN_ACT_H
#define CHARRNN_ACT_H

#include "simd.h"

// e^x (Cephes expf: range reduction by ln 2, degree-5 polynomial; ~1 ulp on the clamped range).
static inline vec vexp(vec x) {
  x = MIN(MAX(x, SET1(-87.3f)), SET1(88.3f));
  vec n = FLOOR(FMA(x, SET1(1.44269504088896341f), SET1(0.5f)));
  x = SUB(SUB(x, MUL(n, SET1(0.693359375f))), MUL(n, SET1(-2.12194440e-4f)));
  vec p = SET1(1.9875691500e-4f);
  p = FMA(p, x, SET1(1.3981999507e-3f));
  p = FMA(p, x, SET1(8.3334519073e-3f));
  p = FMA(p, x, SET1(4.1665795894e-2f));
  p = FMA(p, x, SET1(1.6666665459e-1f));
  p = FMA(p, x, SET1(5.0000001201e-1f));
  p = ADD(FMA(p, MUL(x, x), x), SET1(1.0f));
  return MUL(p, pow2i(n));
}
static inline vec vsigmoid(vec x) { return DIV(SET1(1.0f), ADD(SET1(1.0f), vexp(SUB(SET1(0.0f), x)))); }
// As 2σ(2x) − 1, which is also how the engine's tfjs ops compute tanh on wasm (cells.ts).
static inline vec vtanh(vec x) { return SUB(MUL(SET1(2.0f), vsigmoid(MUL(SET1(2.0f), x))), SET1(1.0f)); }

#endif
