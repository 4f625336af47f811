// The training layers' element-wise passes (seq.c runs them once per time step and thread): the
// gate nonlinearities, the cell update and their derivatives, each one vectorised pass over a
// step's rows instead of a dozen tfjs ops; and the head's softmax cross-entropy. Built once per variant (simd.h); a ragged tail goes
// through the same vector code masked, so every variant computes the same bits.
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "act.h"
#include "kernels.h"

// Over the H columns of a row: j the column, w the lanes in use (LANES but at the tail).
#define COLUMNS(H, j, w) for (int j = 0, w = (H) < LANES ? (H) : LANES; j < (H); j += LANES, w = (H) - j < LANES ? (H) - j : LANES)
#define LD(p, w) ((w) == LANES ? LOAD(p) : LOAD_PART(p, w))
#define ST(p, v, w) ((w) == LANES ? STORE(p, v) : STORE_PART(p, v, w))

// s − s², σ's derivative from its value.
static inline vec dsig(vec s) { return SUB(s, MUL(s, s)); }
// 1 − y², tanh's derivative from its value.
static inline vec dtanh(vec y) { return SUB(SET1(1.0f), MUL(y, y)); }

void KERNEL(lstm_fwd)(int n, int H, float *z, const float *c_prev, float *c, float *h) {
  for (int r = 0; r < n; r++) {
    float *zr = z + (size_t)r * 4 * H;
    const float *cp = c_prev + (size_t)r * H;
    float *cr = c + (size_t)r * H, *hr = h + (size_t)r * H;
    COLUMNS(H, j, w) {
      const vec i = vsigmoid(LD(zr + j, w)), f = vsigmoid(LD(zr + H + j, w)), o = vsigmoid(LD(zr + 2 * H + j, w));
      const vec g = vtanh(LD(zr + 3 * H + j, w));
      const vec cn = ADD(MUL(f, LD(cp + j, w)), MUL(i, g));
      ST(zr + j, i, w);
      ST(zr + H + j, f, w);
      ST(zr + 2 * H + j, o, w);
      ST(zr + 3 * H + j, g, w);
      ST(cr + j, cn, w);
      ST(hr + j, MUL(o, vtanh(cn)), w);
    }
  }
}

void KERNEL(lstm_bwd)(int n, int H, float *g, const float *c_prev, const float *c, const float *dhs, const float *dh_next, float *dc) {
  for (int r = 0; r < n; r++) {
    float *gr = g + (size_t)r * 4 * H;
    const size_t o = (size_t)r * H;
    COLUMNS(H, j, w) {
      vec dh = LD(dhs + o + j, w);
      if (dh_next) dh = ADD(dh, LD(dh_next + o + j, w));
      const vec i = LD(gr + j, w), f = LD(gr + H + j, w), og = LD(gr + 2 * H + j, w), gg = LD(gr + 3 * H + j, w);
      const vec tc = vtanh(LD(c + o + j, w)); // as the forward pass computed it: same bits
      const vec d = ADD(MUL(MUL(dh, og), dtanh(tc)), LD(dc + o + j, w));
      ST(gr + j, MUL(MUL(d, gg), dsig(i)), w);
      ST(gr + H + j, MUL(MUL(d, LD(c_prev + o + j, w)), dsig(f)), w);
      ST(gr + 2 * H + j, MUL(MUL(dh, tc), dsig(og)), w);
      ST(gr + 3 * H + j, MUL(MUL(d, i), dtanh(gg)), w);
      ST(dc + o + j, MUL(d, f), w);
    }
  }
}

void KERNEL(gru_fwd_zr)(int n, int H, float *g, const float *h_prev, float *rh) {
  for (int r = 0; r < n; r++) {
    float *gr = g + (size_t)r * 3 * H;
    const size_t o = (size_t)r * H;
    COLUMNS(H, j, w) {
      const vec z = vsigmoid(LD(gr + j, w)), rr = vsigmoid(LD(gr + H + j, w));
      ST(gr + j, z, w);
      ST(gr + H + j, rr, w);
      ST(rh + o + j, MUL(rr, LD(h_prev + o + j, w)), w);
    }
  }
}

void KERNEL(gru_fwd_h)(int n, int H, float *g, const float *h_prev, float *h) {
  for (int r = 0; r < n; r++) {
    float *gr = g + (size_t)r * 3 * H;
    const size_t o = (size_t)r * H;
    COLUMNS(H, j, w) {
      const vec hh = vtanh(LD(gr + 2 * H + j, w));
      ST(gr + 2 * H + j, hh, w);
      ST(h + o + j, ADD(hh, MUL(LD(gr + j, w), SUB(LD(h_prev + o + j, w), hh))), w);
    }
  }
}

void KERNEL(gru_bwd_a)(int n, int H, float *g, const float *h_prev, const float *dhs, float *carry, int last) {
  for (int r = 0; r < n; r++) {
    float *gr = g + (size_t)r * 3 * H;
    const size_t o = (size_t)r * H;
    COLUMNS(H, j, w) {
      vec dh = LD(dhs + o + j, w);
      if (!last) dh = ADD(dh, LD(carry + o + j, w));
      const vec z = LD(gr + j, w), hh = LD(gr + 2 * H + j, w);
      ST(carry + o + j, MUL(dh, z), w);
      ST(gr + j, MUL(MUL(dh, SUB(LD(h_prev + o + j, w), hh)), dsig(z)), w);
      ST(gr + 2 * H + j, MUL(SUB(dh, MUL(dh, z)), dtanh(hh)), w);
    }
  }
}

void KERNEL(gru_bwd_b)(int n, int H, float *g, const float *h_prev, const float *drh, float *carry) {
  for (int r = 0; r < n; r++) {
    float *gr = g + (size_t)r * 3 * H;
    const size_t o = (size_t)r * H;
    COLUMNS(H, j, w) {
      const vec rr = LD(gr + H + j, w), d = LD(drh + o + j, w);
      ST(gr + H + j, MUL(MUL(d, LD(h_prev + o + j, w)), dsig(rr)), w);
      ST(carry + o + j, ADD(LD(carry + o + j, w), MUL(d, rr)), w);
    }
  }
}

// Softmax cross-entropy over rows of V logits: each row becomes its softmax in place, and loss[r] =
// log Σ e^(z − max) + max − z[target]. The max and the sum run in index order (the sum in double), so
// every variant gives the same bits.
void KERNEL(xent_fwd)(int n, int V, float *z, const int32_t *targets, double *loss) {
  for (int r = 0; r < n; r++) {
    float *zr = z + (size_t)r * V;
    float mx = zr[0];
    for (int j = 1; j < V; j++) mx = zr[j] > mx ? zr[j] : mx;
    const double zt = zr[targets[r]];
    COLUMNS(V, j, w) ST(zr + j, vexp(SUB(LD(zr + j, w), SET1(mx))), w);
    double s = 0;
    for (int j = 0; j < V; j++) s += zr[j];
    const float inv = (float)(1.0 / s);
    COLUMNS(V, j, w) ST(zr + j, MUL(LD(zr + j, w), SET1(inv)), w);
    loss[r] = log(s) + mx - zt;
  }
}

// Its gradient: each softmax row p becomes (p − onehot(target))·scale in place.
void KERNEL(xent_bwd)(int n, int V, float *p, const int32_t *targets, float scale) {
  for (int r = 0; r < n; r++) {
    float *pr = p + (size_t)r * V;
    pr[targets[r]] -= 1.0f;
    COLUMNS(V, j, w) ST(pr + j, MUL(LD(pr + j, w), SET1(scale)), w);
  }
}
