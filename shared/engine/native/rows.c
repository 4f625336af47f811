// A matrix product whose every output row has the same bits however many rows are computed
// together: each element is one fused multiply-add chain over k, in order, from 0 (then + c when
// accumulating), and FMA is exactly rounded, so every path below, and every variant (simd.h),
// gives the same bits. Sampling needs that (a seeded stream's text must not depend on the streams
// batched with it); BLAS sgemm gives no such promise (its blocking changes with the row count).
// Batched rows share each pass over the weights, which is what makes a batched step cheaper per
// row than one row alone.
//
// Row strides (lda, ldb, ldc) let the training kernels (seq.c) address a thread's rows or a GRU's
// gate block in place.
//
// Paths (µs measured on the AVX-512 machine of BENCHMARKS.md, CPU time, best of 5):
// - one row: axpy order (row_axpy), b read contiguously; 256×1024 in ~11 µs on AVX-512 and AVX2.
// - AVX-512, rows in registers (rows_registers): 8 rows × 3 vectors of columns stay in zmm
//   registers for the whole chain; 16×256×1024 in ~60 µs (~150-190 GFLOP/s), where the L1 tile
//   below takes ~125 µs at 8 lanes and ~63 at 16.
// - AVX2 and baseline, an L1 tile (rows_tile): 16 ymm registers hold too few accumulators (4×3
//   took 150-160 µs on 16×256×1024, the tile ~120).
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "simd.h"

// A k-major copy of rows r..r+R of a (ap[kk·R + i]): rows sit k floats apart (4 KiB at k = 1024,
// all in one L1 set); packed, the values one step broadcasts are side by side.
static void pack(int R, int k, const float *a, int lda, float *ap) {
  for (int kk = 0; kk < k; kk++)
    for (int i = 0; i < R; i++) ap[(size_t)kk * R + i] = a[(size_t)i * lda + kk];
}

static float *scratch(size_t floats) {
  float *p = malloc(floats ? floats * sizeof(float) : 1);
  if (!p) abort();
  return p;
}

// One row, axpy order: b is read row after row, contiguously (what bounds a one-row step is reading
// b), into a tile of accumulators in L1, each loaded and stored once per four k.
enum { TILE = 1024 };
static void row_axpy(int k, int n, const float *a, const float *b, int ldb, float *c, int accumulate) {
  vec tmp[TILE / LANES];
  for (int j0 = 0; j0 < n; j0 += TILE) {
    const int w = n - j0 < TILE ? n - j0 : TILE;
    const int whole = w / LANES, part = w % LANES;
    for (int v = 0; v < whole + (part > 0); v++) tmp[v] = SET1(0.0f);
    int kk = 0;
    for (; kk + 4 <= k; kk += 4) {
      const float *b0 = b + (size_t)kk * ldb + j0, *b1 = b0 + ldb, *b2 = b1 + ldb, *b3 = b2 + ldb;
      const vec x0 = SET1(a[kk]), x1 = SET1(a[kk + 1]), x2 = SET1(a[kk + 2]), x3 = SET1(a[kk + 3]);
      for (int v = 0; v < whole; v++) {
        const int j = v * LANES;
        tmp[v] = FMA(x3, LOAD(b3 + j), FMA(x2, LOAD(b2 + j), FMA(x1, LOAD(b1 + j), FMA(x0, LOAD(b0 + j), tmp[v]))));
      }
      if (part) {
        const int j = whole * LANES;
        tmp[whole] = FMA(x3, LOAD_PART(b3 + j, part),
                         FMA(x2, LOAD_PART(b2 + j, part), FMA(x1, LOAD_PART(b1 + j, part), FMA(x0, LOAD_PART(b0 + j, part), tmp[whole]))));
      }
    }
    for (; kk < k; kk++) {
      const float *bk = b + (size_t)kk * ldb + j0;
      const vec x = SET1(a[kk]);
      for (int v = 0; v < whole; v++) tmp[v] = FMA(x, LOAD(bk + v * LANES), tmp[v]);
      if (part) tmp[whole] = FMA(x, LOAD_PART(bk + whole * LANES, part), tmp[whole]);
    }
    float *cj = c + j0;
    for (int v = 0; v < whole; v++) STORE(cj + v * LANES, accumulate ? ADD(tmp[v], LOAD(cj + v * LANES)) : tmp[v]);
    if (part) STORE_PART(cj + whole * LANES, accumulate ? ADD(tmp[whole], LOAD_PART(cj + whole * LANES, part)) : tmp[whole], part);
  }
}

#if defined(KERNELS_AVX512)
// R rows × C vectors of columns: R·C accumulators plus C loaded vectors fit 32 zmm registers.
#define ROW_BLOCK 8
#define COL_VECS 3

// R rows (packed) × C vectors at column j, the last one `part` lanes wide (LANES when whole). Inlined
// with constant R and C and unrolled, so acc lives in registers (objdump: no spills).
static inline __attribute__((always_inline)) void block(const int R, const int C, int k, const float *ap, const float *b, int ldb,
                                                        float *c, int ldc, int j, int part, int accumulate) {
  vec acc[ROW_BLOCK][COL_VECS];
#pragma GCC unroll 16
  for (int i = 0; i < R; i++)
#pragma GCC unroll 16
    for (int v = 0; v < C; v++) acc[i][v] = SET1(0.0f);
  const float *bk = b + j;
  for (int kk = 0; kk < k; kk++, bk += ldb) {
    vec bv[COL_VECS];
#pragma GCC unroll 16
    for (int v = 0; v < C; v++) bv[v] = v == C - 1 && part < LANES ? LOAD_PART(bk + v * LANES, part) : LOAD(bk + v * LANES);
    const float *ak = ap + (size_t)kk * R;
#pragma GCC unroll 16
    for (int i = 0; i < R; i++) {
      const vec x = SET1(ak[i]);
#pragma GCC unroll 16
      for (int v = 0; v < C; v++) acc[i][v] = FMA(x, bv[v], acc[i][v]);
    }
  }
#pragma GCC unroll 16
  for (int i = 0; i < R; i++) {
    float *ci = c + (size_t)i * ldc + j;
#pragma GCC unroll 16
    for (int v = 0; v < C; v++) {
      const int whole = !(v == C - 1 && part < LANES);
      vec r = acc[i][v];
      if (accumulate) r = ADD(r, whole ? LOAD(ci + v * LANES) : LOAD_PART(ci + v * LANES, part));
      if (whole) STORE(ci + v * LANES, r);
      else STORE_PART(ci + v * LANES, r, part);
    }
  }
}

// All n columns of R rows: blocks of C vectors, then single vectors, then a partial one.
static inline __attribute__((always_inline)) void columns(const int R, int k, int n, const float *ap, const float *b, int ldb, float *c,
                                                          int ldc, int accumulate) {
  const int whole = n / LANES, part = n % LANES;
  int v = 0;
  for (; v + COL_VECS <= whole; v += COL_VECS) block(R, COL_VECS, k, ap, b, ldb, c, ldc, v * LANES, LANES, accumulate);
  for (; v < whole; v++) block(R, 1, k, ap, b, ldb, c, ldc, v * LANES, LANES, accumulate);
  if (part) block(R, 1, k, ap, b, ldb, c, ldc, whole * LANES, part, accumulate);
}

// R ≤ ROW_BLOCK rows (packed) across n columns, with R a constant in each call so block() unrolls.
static void row_block(int R, int k, int n, const float *ap, const float *b, int ldb, float *c, int ldc, int accumulate) {
  switch (R) {
    case 1: columns(1, k, n, ap, b, ldb, c, ldc, accumulate); break;
    case 2: columns(2, k, n, ap, b, ldb, c, ldc, accumulate); break;
    case 3: columns(3, k, n, ap, b, ldb, c, ldc, accumulate); break;
    case 4: columns(4, k, n, ap, b, ldb, c, ldc, accumulate); break;
    case 5: columns(5, k, n, ap, b, ldb, c, ldc, accumulate); break;
    case 6: columns(6, k, n, ap, b, ldb, c, ldc, accumulate); break;
    case 7: columns(7, k, n, ap, b, ldb, c, ldc, accumulate); break;
    default: columns(ROW_BLOCK, k, n, ap, b, ldb, c, ldc, accumulate); break;
  }
}

static void rows_registers(int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c, int ldc, int accumulate) {
  float *ap = scratch((size_t)k * (m < ROW_BLOCK ? m : ROW_BLOCK));
  for (int r = 0; r < m; r += ROW_BLOCK) {
    const int R = m - r < ROW_BLOCK ? m - r : ROW_BLOCK;
    pack(R, k, a + (size_t)r * lda, lda, ap);
    row_block(R, k, n, ap, b, ldb, c + (size_t)r * ldc, ldc, accumulate);
  }
  free(ap);
}
#define ROWS_BATCHED rows_registers

// ------------------------------------------------------------------------------ training products
// The big products of training (seq.c: the input projection, the weight gradients, dx), with the
// same register blocks, cache-blocked: the product is taken KC rows of b at a time (the partial sums
// added into c), over column panels of NC, so that a panel of b (KC×NC floats, 384 KiB) stays in L2
// while every 8-row block of a (packed, 8 KiB, in L1) passes over it. Row-invariance is not needed
// here (each element is a sum of chunks). Why not OpenBLAS's sgemm: with its AVX-512 kernels it
// does as well, but a build or a setting that runs its AVX2 ones (OPENBLAS_CORETYPE=Haswell here)
// reaches about half: BENCHMARKS.md.
enum { KC = 256, NC = 8 * COL_VECS * LANES };

// Rows r..r+R of op(a) packed k-major, when a is stored transposed ([k, m]: column r of a is row r of op(a)).
static void pack_transposed(int R, int k, const float *a, int lda, float *ap) {
  for (int kk = 0; kk < k; kk++) memcpy(ap + (size_t)kk * R, a + (size_t)kk * lda, sizeof(float) * R);
}

void KERNEL(gemm)(int trans_a, int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c, int ldc, int accumulate) {
  float ap[KC * ROW_BLOCK];
  for (int j0 = 0; j0 < n; j0 += NC) {
    const int nc = n - j0 < NC ? n - j0 : NC;
    for (int k0 = 0; k0 < k; k0 += KC) {
      const int kc = k - k0 < KC ? k - k0 : KC;
      const int acc = accumulate || k0 > 0;
      const float *bk = b + (size_t)k0 * ldb + j0;
      for (int r = 0; r < m; r += ROW_BLOCK) {
        const int R = m - r < ROW_BLOCK ? m - r : ROW_BLOCK;
        if (trans_a) pack_transposed(R, kc, a + (size_t)k0 * lda + r, lda, ap);
        else pack(R, kc, a + (size_t)r * lda + k0, lda, ap);
        row_block(R, kc, nc, ap, bk, ldb, c + (size_t)r * ldc + j0, ldc, acc);
      }
    }
  }
}

#else
// Up to TILE_ROWS rows, axpy order over a tile of columns kept in L1: each vector of b's rows
// k..k+3 is loaded once for all the rows, each row's accumulators loaded and stored once per four k.
#define TILE_ROWS 16
#define RTILE 256
static void tile(int rows, int k, int n, const float *ap, const float *b, int ldb, float *c, int ldc, int accumulate) {
  vec tmp[TILE_ROWS][RTILE / LANES];
  for (int j0 = 0; j0 < n; j0 += RTILE) {
    const int w = n - j0 < RTILE ? n - j0 : RTILE;
    const int whole = w / LANES, part = w % LANES, nv = whole + (part > 0);
    for (int i = 0; i < rows; i++)
      for (int v = 0; v < nv; v++) tmp[i][v] = SET1(0.0f);
    int kk = 0;
    for (; kk + 4 <= k; kk += 4) {
      const float *b0 = b + (size_t)kk * ldb + j0, *b1 = b0 + ldb, *b2 = b1 + ldb, *b3 = b2 + ldb;
      const float *ak = ap + (size_t)kk * rows;
      for (int v = 0; v < nv; v++) {
        const int j = v * LANES;
        vec w0, w1, w2, w3;
        if (v < whole) w0 = LOAD(b0 + j), w1 = LOAD(b1 + j), w2 = LOAD(b2 + j), w3 = LOAD(b3 + j);
        else w0 = LOAD_PART(b0 + j, part), w1 = LOAD_PART(b1 + j, part), w2 = LOAD_PART(b2 + j, part), w3 = LOAD_PART(b3 + j, part);
        for (int i = 0; i < rows; i++) {
          tmp[i][v] = FMA(SET1(ak[3 * rows + i]), w3,
                          FMA(SET1(ak[2 * rows + i]), w2, FMA(SET1(ak[rows + i]), w1, FMA(SET1(ak[i]), w0, tmp[i][v]))));
        }
      }
    }
    for (; kk < k; kk++) {
      const float *bk = b + (size_t)kk * ldb + j0;
      for (int i = 0; i < rows; i++) {
        const vec x = SET1(ap[(size_t)kk * rows + i]);
        for (int v = 0; v < nv; v++) tmp[i][v] = FMA(x, v < whole ? LOAD(bk + v * LANES) : LOAD_PART(bk + v * LANES, part), tmp[i][v]);
      }
    }
    for (int i = 0; i < rows; i++) {
      float *ci = c + (size_t)i * ldc + j0;
      for (int v = 0; v < whole; v++) STORE(ci + v * LANES, accumulate ? ADD(tmp[i][v], LOAD(ci + v * LANES)) : tmp[i][v]);
      if (part) STORE_PART(ci + whole * LANES, accumulate ? ADD(tmp[i][whole], LOAD_PART(ci + whole * LANES, part)) : tmp[i][whole], part);
    }
  }
}

static void rows_tile(int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c, int ldc, int accumulate) {
  float *ap = scratch((size_t)k * (m < TILE_ROWS ? m : TILE_ROWS));
  for (int r = 0; r < m; r += TILE_ROWS) {
    const int R = m - r < TILE_ROWS ? m - r : TILE_ROWS;
    pack(R, k, a + (size_t)r * lda, lda, ap);
    tile(R, k, n, ap, b, ldb, c + (size_t)r * ldc, ldc, accumulate);
  }
  free(ap);
}
#define ROWS_BATCHED rows_tile
#endif

void KERNEL(rows_gemm)(int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c, int ldc, int accumulate) {
  if (m == 1) row_axpy(k, n, a, b, ldb, c, accumulate);
  else ROWS_BATCHED(m, n, k, a, lda, b, ldb, c, ldc, accumulate);
}
