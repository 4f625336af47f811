// The LSTM cell's element-wise half for sampling, one call instead of ten tfjs ops (their
// dispatch, not their arithmetic, is most of a one-row step): z = xp + hw; i, f, o = σ(z[0:3H]);
// g = tanh(z[3H:4H]); c' = f·c + i·g; h = o·tanh(c'). Every element goes through the same
// vector code (a tail is padded), so a row's bits never depend on the rows beside it. Built once
// per variant (simd.h); each lane computes the same bits in every variant.
#include <stddef.h>
#include <string.h>

#include "kernels.h"
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
static inline vec vtanh(vec x) { return SUB(MUL(SET1(2.0f), vsigmoid(MUL(SET1(2.0f), x))), SET1(1.0f)); }

// LANES elements at column j of one row (z rows have 4H entries, c/h rows H).
static inline void lanes(const float *xp, const float *hw, const float *c, float *h_out, float *c_out, int H, int j) {
  const vec i = vsigmoid(ADD(LOAD(xp + j), LOAD(hw + j)));
  const vec f = vsigmoid(ADD(LOAD(xp + H + j), LOAD(hw + H + j)));
  const vec o = vsigmoid(ADD(LOAD(xp + 2 * H + j), LOAD(hw + 2 * H + j)));
  const vec g = vtanh(ADD(LOAD(xp + 3 * H + j), LOAD(hw + 3 * H + j)));
  const vec cn = ADD(MUL(f, LOAD(c + j)), MUL(i, g));
  STORE(c_out + j, cn);
  STORE(h_out + j, MUL(o, vtanh(cn)));
}

void KERNEL(lstm_cell)(int n, int H, const float *xp, const float *hw, const float *c, float *h_out, float *c_out) {
  for (int r = 0; r < n; r++) {
    const float *xr = xp + (size_t)r * 4 * H, *hr = hw + (size_t)r * 4 * H, *cr = c + (size_t)r * H;
    float *ho = h_out + (size_t)r * H, *co = c_out + (size_t)r * H;
    int j = 0;
    for (; j + LANES <= H; j += LANES) lanes(xr, hr, cr, ho, co, H, j);
    if (j < H) {
      // The tail through the same vector code, padded with zeros.
      float px[4 * LANES] = {0}, ph[4 * LANES] = {0}, pc[LANES] = {0}, oh[LANES], oc[LANES];
      const int t = H - j;
      for (int q = 0; q < 4; q++) {
        memcpy(px + q * LANES, xr + q * H + j, t * sizeof(float));
        memcpy(ph + q * LANES, hr + q * H + j, t * sizeof(float));
      }
      memcpy(pc, cr + j, t * sizeof(float));
      lanes(px, ph, pc, oh, oc, LANES, 0);
      memcpy(ho + j, oh, t * sizeof(float));
      memcpy(co + j, oc, t * sizeof(float));
    }
  }
}
