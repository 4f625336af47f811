// The kernels built once per variant (simd.h): rows.c, cell.c and gates.c compiled as
// rows_gemm_avx512, lstm_cell_avx2, … . blas.c chooses among them at load time by what the CPU
// supports.
#ifndef CHARRNN_KERNELS_H
#define CHARRNN_KERNELS_H

#include <stdint.h>

// c[m×n] = a[m×k]·b[k×n] (+ c when accumulate), row strides lda, ldb, ldc; row r's bits do not
// depend on m.
typedef void rows_gemm_fn(int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c, int ldc, int accumulate);
// c[m×n] = op(a)·b (+ c when accumulate), op(a) = a, or aᵀ when trans_a (a stored [k, m]); row
// strides lda, ldb, ldc. AVX-512 only (rows.c); the other variants use sgemm.
typedef void gemm_fn(int trans_a, int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c, int ldc, int accumulate);
// h, c' of an LSTM cell (gates i, f, o, g) for n rows from xp + hw ([n, 4H]) and c ([n, H]).
typedef void lstm_cell_fn(int n, int H, const float *xp, const float *hw, const float *c, float *h_out, float *c_out);

// The training layers' element-wise passes (gates.c), one time step of n rows each. Gate rows are
// [n, G·H] (LSTM i, f, o, g; GRU z, r, h̃), state rows [n, H].
// LSTM forward: z's pre-activations become σ(i), σ(f), σ(o), tanh(g) in place; c = f·c_prev + i·g;
// h = o·tanh(c).
typedef void lstm_fwd_fn(int n, int H, float *z, const float *c_prev, float *c, float *h);
// LSTM backward: the activated gates g become dz (the pre-activations' gradient) in place, from
// dh = dhs + dh_next (dh_next NULL: dhs alone) and dc, the cell gradient from the step after
// (zeros after the last), which becomes dc·f, the one for the step before.
typedef void lstm_bwd_fn(int n, int H, float *g, const float *c_prev, const float *c, const float *dhs, const float *dh_next, float *dc);
// GRU forward, before the candidate's product: σ over z, r in place; rh = r·h_prev.
typedef void gru_fwd_zr_fn(int n, int H, float *g, const float *h_prev, float *rh);
// GRU forward, after it: tanh over the candidate in place; h = h̃ + z·(h_prev − h̃).
typedef void gru_fwd_h_fn(int n, int H, float *g, const float *h_prev, float *h);
// GRU backward, before the candidate's product: dh = dhs + carry (carry ignored when last); carry
// becomes dh·z; the z and h̃ blocks become their pre-activations' gradients.
typedef void gru_bwd_a_fn(int n, int H, float *g, const float *h_prev, const float *dhs, float *carry, int last);
// GRU backward, after it (drh = the gradient of r·h_prev): the r block becomes its pre-activation's
// gradient; carry += drh·r.
typedef void gru_bwd_b_fn(int n, int H, float *g, const float *h_prev, const float *drh, float *carry);

// Softmax cross-entropy over n rows of V logits (the head, seq.c): forward, z becomes softmax in place and
// loss[r] the row's loss; backward, the softmax p becomes (p − onehot(target))·scale in place.
typedef void xent_fwd_fn(int n, int V, float *z, const int32_t *targets, double *loss);
typedef void xent_bwd_fn(int n, int V, float *p, const int32_t *targets, float scale);

#define DECLARE_KERNELS(variant)                   \
  rows_gemm_fn rows_gemm_##variant;                \
  lstm_cell_fn lstm_cell_##variant;                \
  lstm_fwd_fn lstm_fwd_##variant;                  \
  lstm_bwd_fn lstm_bwd_##variant;                  \
  gru_fwd_zr_fn gru_fwd_zr_##variant;              \
  gru_fwd_h_fn gru_fwd_h_##variant;                \
  gru_bwd_a_fn gru_bwd_a_##variant;                \
  gru_bwd_b_fn gru_bwd_b_##variant;                \
  xent_fwd_fn xent_fwd_##variant;                  \
  xent_bwd_fn xent_bwd_##variant;

#if defined(__x86_64__)
DECLARE_KERNELS(avx512)
gemm_fn gemm_avx512;
DECLARE_KERNELS(avx2)
#endif
DECLARE_KERNELS(baseline)

#endif
