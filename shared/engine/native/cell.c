// The LSTM cell's element-wise half for sampling, one call instead of ten tfjs ops (their
// dispatch, not their arithmetic, is most of a one-row step): z = xp + hw; i, f, o = σ(z[0:3H]);
// g = tanh(z[3H:4H]); c' = f·c + i·g; h = o·tanh(c'). Every element goes through the same
// vector code (a tail is padded), so a row's bits never depend on the rows beside it. Built once
// per variant (simd.h); each lane computes the same bits in every variant.
#include <stddef.h>
#include <string.h>

#include "act.h"
#include "kernels.h"

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
