// A matrix product whose every output row has the same bits however many rows are computed
// together: each element is one fused multiply-add chain over k, in order, from 0, and FMA is
// exactly rounded, so the vector and scalar paths agree. Sampling needs that (a seeded stream's
// text must not depend on the streams batched with it); BLAS sgemm gives no such promise (its
// blocking changes with the row count). Up to 16 rows share each pass over the weights, which
// is what makes a batched step cheaper per row than one row alone. Without AVX2+FMA at build
// time, plain fmaf gives the same bits, slower.
#include "rows.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

// One row, axpy order: for each k, the whole (tile of the) row of b, read contiguously. Each
// element still gets its chain over k in order, so the bits equal the blocked paths'.
enum { TILE = 1024 };
static void row_axpy(int k, int n, const float *a, const float *b, float *c, int accumulate) {
  float tmp[TILE] __attribute__((aligned(32)));
  for (int j0 = 0; j0 < n; j0 += TILE) {
    const int w = n - j0 < TILE ? n - j0 : TILE;
    const int wv = w & ~7;
    for (int j = 0; j < w; j++) tmp[j] = 0.0f;
    int kk = 0;
    // Four k at a time: the chain stays in a register for four FMAs (same order, fewer loads).
    for (; kk + 4 <= k; kk += 4) {
      const float *b0 = b + (size_t)kk * n + j0;
      const float *b1 = b0 + n, *b2 = b1 + n, *b3 = b2 + n;
      const __m256 x0 = _mm256_broadcast_ss(a + kk), x1 = _mm256_broadcast_ss(a + kk + 1);
      const __m256 x2 = _mm256_broadcast_ss(a + kk + 2), x3 = _mm256_broadcast_ss(a + kk + 3);
      int j = 0;
      for (; j < wv; j += 8) {
        __m256 t = _mm256_load_ps(tmp + j);
        t = _mm256_fmadd_ps(x0, _mm256_loadu_ps(b0 + j), t);
        t = _mm256_fmadd_ps(x1, _mm256_loadu_ps(b1 + j), t);
        t = _mm256_fmadd_ps(x2, _mm256_loadu_ps(b2 + j), t);
        t = _mm256_fmadd_ps(x3, _mm256_loadu_ps(b3 + j), t);
        _mm256_store_ps(tmp + j, t);
      }
      for (; j < w; j++) {
        float t = tmp[j];
        t = fmaf(a[kk], b0[j], t);
        t = fmaf(a[kk + 1], b1[j], t);
        t = fmaf(a[kk + 2], b2[j], t);
        tmp[j] = fmaf(a[kk + 3], b3[j], t);
      }
    }
    for (; kk < k; kk++) {
      const float *br = b + (size_t)kk * n + j0;
      const __m256 x = _mm256_broadcast_ss(a + kk);
      int j = 0;
      for (; j < wv; j += 8) _mm256_store_ps(tmp + j, _mm256_fmadd_ps(x, _mm256_loadu_ps(br + j), _mm256_load_ps(tmp + j)));
      for (; j < w; j++) tmp[j] = fmaf(a[kk], br[j], tmp[j]);
    }
    for (int j = 0; j < w; j++) c[j0 + j] = accumulate ? tmp[j] + c[j0 + j] : tmp[j];
  }
}
// Up to ROWS rows, axpy order: each row of b (a tile of it) is read once for all of them, and each
// element's chain stays in a register for four k (the same order as every other path). The rows'
// a[k] are broadcast from memory (cheap), so any row count uses the same code.
#ifndef ROWS
#define ROWS 16
#endif
#ifndef RTILE
#define RTILE 256
#endif
static void rows_axpy(int rows, int k, int n, const float *a, const float *b, float *c, int accumulate) {
  float tmp[ROWS][RTILE] __attribute__((aligned(32)));
  // a's rows, k-quad by k-quad: rows sit k floats apart, and at k = 1024 (4 KiB) all of them fall
  // into the same L1 set; packed, one quad of every row is 64 contiguous floats.
  const int kq = k / 4;
  float *ap = malloc((size_t)kq * rows * 4 * sizeof(float));
  if (!ap) abort();
  for (int q = 0; q < kq; q++)
    for (int i = 0; i < rows; i++) memcpy(ap + ((size_t)q * rows + i) * 4, a + (size_t)i * k + 4 * q, 4 * sizeof(float));
  for (int j0 = 0; j0 < n; j0 += RTILE) {
    const int w = n - j0 < RTILE ? n - j0 : RTILE;
    const int wv = w & ~7;
    for (int i = 0; i < rows; i++)
      for (int j = 0; j < w; j++) tmp[i][j] = 0.0f;
    for (int q = 0; q < kq; q++) {
      const float *b0 = b + (size_t)4 * q * n + j0;
      const float *b1 = b0 + n, *b2 = b1 + n, *b3 = b2 + n;
      const float *aq = ap + (size_t)q * rows * 4;
      for (int j = 0; j < wv; j += 8) {
        const __m256 w0 = _mm256_loadu_ps(b0 + j), w1 = _mm256_loadu_ps(b1 + j);
        const __m256 w2 = _mm256_loadu_ps(b2 + j), w3 = _mm256_loadu_ps(b3 + j);
        for (int i = 0; i < rows; i++) {
          const float *ai = aq + 4 * i;
          __m256 t = _mm256_load_ps(tmp[i] + j);
          t = _mm256_fmadd_ps(_mm256_broadcast_ss(ai), w0, t);
          t = _mm256_fmadd_ps(_mm256_broadcast_ss(ai + 1), w1, t);
          t = _mm256_fmadd_ps(_mm256_broadcast_ss(ai + 2), w2, t);
          t = _mm256_fmadd_ps(_mm256_broadcast_ss(ai + 3), w3, t);
          _mm256_store_ps(tmp[i] + j, t);
        }
      }
      for (int j = wv; j < w; j++)
        for (int i = 0; i < rows; i++) {
          const float *ai = aq + 4 * i;
          float t = tmp[i][j];
          t = fmaf(ai[0], b0[j], t);
          t = fmaf(ai[1], b1[j], t);
          t = fmaf(ai[2], b2[j], t);
          tmp[i][j] = fmaf(ai[3], b3[j], t);
        }
    }
    for (int kk = 4 * kq; kk < k; kk++) {
      const float *br = b + (size_t)kk * n + j0;
      for (int i = 0; i < rows; i++) {
        const float xi = a[(size_t)i * k + kk];
        const __m256 x = _mm256_set1_ps(xi);
        int j = 0;
        for (; j < wv; j += 8) _mm256_store_ps(tmp[i] + j, _mm256_fmadd_ps(x, _mm256_loadu_ps(br + j), _mm256_load_ps(tmp[i] + j)));
        for (; j < w; j++) tmp[i][j] = fmaf(xi, br[j], tmp[i][j]);
      }
    }
    for (int i = 0; i < rows; i++)
      for (int j = 0; j < w; j++) c[(size_t)i * n + j0 + j] = accumulate ? tmp[i][j] + c[(size_t)i * n + j0 + j] : tmp[i][j];
  }
  free(ap);
}
#define VECTOR_COLS 8
#else
#define VECTOR_COLS 0

// One element, the same chain as every vector lane.
static void element(int k, int n, const float *a, const float *b, float *c, int accumulate) {
  float s = 0.0f;
  for (int kk = 0; kk < k; kk++) s = fmaf(a[kk], b[(size_t)kk * n], s);
  *c = accumulate ? s + *c : s;
}
#endif

void rows_gemm(int m, int n, int k, const float *a, const float *b, float *c, int accumulate) {
#if VECTOR_COLS
  if (m == 1) {
    row_axpy(k, n, a, b, c, accumulate);
    return;
  }
  for (int r = 0; r < m; r += ROWS) {
    const int rows = m - r < ROWS ? m - r : ROWS;
    rows_axpy(rows, k, n, a + (size_t)r * k, b, c + (size_t)r * n, accumulate);
  }
#else
  for (int r = 0; r < m; r++) {
    for (int j = 0; j < n; j++) element(k, n, a + (size_t)r * k, b + j, c + (size_t)r * n + j, accumulate);
  }
#endif
}
