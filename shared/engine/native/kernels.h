// The kernels built once per variant (simd.h): rows.c and cell.c compiled as rows_gemm_avx512,
// lstm_cell_avx2, … . blas.c chooses among them at load time by what the CPU supports.
#ifndef CHARRNN_KERNELS_H
#define CHARRNN_KERNELS_H

// c[m×n] = a[m×k]·b[k×n] (+ c when accumulate), row-major; row r's bits do not depend on m.
typedef void rows_gemm_fn(int m, int n, int k, const float *a, const float *b, float *c, int accumulate);
// h, c' of an LSTM cell (gates i, f, o, g) for n rows from xp + hw ([n, 4H]) and c ([n, H]).
typedef void lstm_cell_fn(int n, int H, const float *xp, const float *hw, const float *c, float *h_out, float *c_out);

#define DECLARE_KERNELS(variant)                   \
  rows_gemm_fn rows_gemm_##variant;                \
  lstm_cell_fn lstm_cell_##variant;

#if defined(__x86_64__)
DECLARE_KERNELS(avx512)
DECLARE_KERNELS(avx2)
#endif
DECLARE_KERNELS(baseline)

#endif
