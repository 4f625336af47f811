// A matrix product whose every output row has the same bits however many rows are computed
// together: each element is one fused multiply-add chain over k, in order, from 0, and FMA is
// exactly rounded, so the vector and scalar paths agree. Sampling needs that (a seeded stream's
// text must not depend on the streams batched with it); BLAS sgemm gives no such promise (its
// blocking changes with the row count). Rows go four at a time where they can, sharing each
// weight load, which is what makes a batched step cheaper per row than one row alone.
#include "rows.h"

#include <math.h>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

// y = acc, or acc + y_old: the same add in every path.
static inline void store8(float *y, __m256 acc, int accumulate) {
  _mm256_storeu_ps(y, accumulate ? _mm256_add_ps(acc, _mm256_loadu_ps(y)) : acc);
}

// Four rows × 16 columns.
static void block4x16(int k, int n, const float *a, int lda, const float *b, float *c, int accumulate) {
  __m256 acc[4][2];
  for (int i = 0; i < 4; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
  for (int kk = 0; kk < k; kk++) {
    const __m256 w0 = _mm256_loadu_ps(b + (size_t)kk * n);
    const __m256 w1 = _mm256_loadu_ps(b + (size_t)kk * n + 8);
    for (int i = 0; i < 4; i++) {
      const __m256 x = _mm256_broadcast_ss(a + (size_t)i * lda + kk);
      acc[i][0] = _mm256_fmadd_ps(x, w0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(x, w1, acc[i][1]);
    }
  }
  for (int i = 0; i < 4; i++) {
    store8(c + (size_t)i * n, acc[i][0], accumulate);
    store8(c + (size_t)i * n + 8, acc[i][1], accumulate);
  }
}

// One row, axpy order: for each k, the whole (tile of the) row of b, read contiguously. Each
// element still gets its chain over k in order, so the bits equal the blocked paths'.
enum { TILE = 1024 };
static void row_axpy(int k, int n, const float *a, const float *b, float *c, int accumulate) {
  float tmp[TILE] __attribute__((aligned(32)));
  for (int j0 = 0; j0 < n; j0 += TILE) {
    const int w = n - j0 < TILE ? n - j0 : TILE;
    const int wv = w & ~7;
    for (int j = 0; j < w; j++) tmp[j] = 0.0f;
    for (int kk = 0; kk < k; kk++) {
      const float *br = b + (size_t)kk * n + j0;
      const __m256 x = _mm256_broadcast_ss(a + kk);
      int j = 0;
      for (; j < wv; j += 8) _mm256_store_ps(tmp + j, _mm256_fmadd_ps(x, _mm256_loadu_ps(br + j), _mm256_load_ps(tmp + j)));
      for (; j < w; j++) tmp[j] = fmaf(a[kk], br[j], tmp[j]);
    }
    for (int j = 0; j < w; j++) c[j0 + j] = accumulate ? tmp[j] + c[j0 + j] : tmp[j];
  }
}
#define VECTOR_COLS 8
#else
#define VECTOR_COLS 0
#endif

// One element, the same chain as every vector lane.
static inline void element(int k, int n, const float *a, const float *b, float *c, int accumulate) {
  float s = 0.0f;
  for (int kk = 0; kk < k; kk++) s = fmaf(a[kk], b[(size_t)kk * n], s);
  *c = accumulate ? s + *c : s;
}

void rows_gemm(int m, int n, int k, const float *a, const float *b, float *c, int accumulate) {
  int r = 0;
#if VECTOR_COLS
  // Blocks of four rows: column panel by column panel, so each panel of b (k × 16) stays in L1
  // while every block of rows uses it.
  const int m4 = m & ~3;
  int j = 0;
  for (; j + 16 <= n; j += 16) {
    for (int r4 = 0; r4 < m4; r4 += 4) block4x16(k, n, a + (size_t)r4 * k, k, b + j, c + (size_t)r4 * n + j, accumulate);
  }
  for (int r4 = 0; r4 < m4; r4++) {
    for (int jj = j; jj < n; jj++) element(k, n, a + (size_t)r4 * k, b + jj, c + (size_t)r4 * n + jj, accumulate);
  }
  for (r = m4; r < m; r++) row_axpy(k, n, a + (size_t)r * k, b, c + (size_t)r * n, accumulate);
#else
  for (; r < m; r++) {
    for (int j = 0; j < n; j++) element(k, n, a + (size_t)r * k, b + j, c + (size_t)r * n + j, accumulate);
  }
#endif
}
