// The vector operations rows.c and cell.c are written in, for the variant a translation unit is
// compiled as: binding.gyp builds both files once per variant, each time with that variant's -m
// flags and -DKERNELS_<NAME>; blas.c picks one at load time (kernels.h). Every operation here is
// IEEE single precision, exactly rounded (FMA included, -ffp-contract=off keeps the compiler from
// fusing the rest), so a lane computes the same bits at any width: only speed differs.
#ifndef CHARRNN_SIMD_H
#define CHARRNN_SIMD_H

#include <stddef.h>

#define KERNEL_CAT(a, b) a##_##b
#define KERNEL_NAME(a, b) KERNEL_CAT(a, b)

#if defined(KERNELS_AVX512)
#include <immintrin.h>
#define KERNEL(name) KERNEL_NAME(name, avx512)
typedef __m512 vec;
#define LANES 16
#define LOAD(p) _mm512_loadu_ps(p)
#define STORE(p, v) _mm512_storeu_ps(p, v)
// The first t lanes (masked lanes are neither read nor written, so a tail never runs off an array).
#define LOAD_PART(p, t) _mm512_maskz_loadu_ps((__mmask16)((1u << (t)) - 1), p)
#define STORE_PART(p, v, t) _mm512_mask_storeu_ps(p, (__mmask16)((1u << (t)) - 1), v)
#define SET1(x) _mm512_set1_ps(x)
#define ADD(a, b) _mm512_add_ps(a, b)
#define SUB(a, b) _mm512_sub_ps(a, b)
#define MUL(a, b) _mm512_mul_ps(a, b)
#define DIV(a, b) _mm512_div_ps(a, b)
#define FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define MIN(a, b) _mm512_min_ps(a, b)
#define MAX(a, b) _mm512_max_ps(a, b)
#define FLOOR(a) _mm512_roundscale_ps(a, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC)
// 2^n for integral n in [-126, 127], by building the exponent bits.
static inline vec pow2i(vec n) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(_mm512_cvttps_epi32(n), _mm512_set1_epi32(127)), 23));
}

#elif defined(KERNELS_AVX2)
#include <immintrin.h>
#define KERNEL(name) KERNEL_NAME(name, avx2)
typedef __m256 vec;
#define LANES 8
#define LOAD(p) _mm256_loadu_ps(p)
#define STORE(p, v) _mm256_storeu_ps(p, v)
static inline __m256i part_mask(int t) { return _mm256_cmpgt_epi32(_mm256_set1_epi32(t), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)); }
#define LOAD_PART(p, t) _mm256_maskload_ps(p, part_mask(t))
#define STORE_PART(p, v, t) _mm256_maskstore_ps(p, part_mask(t), v)
#define SET1(x) _mm256_set1_ps(x)
#define ADD(a, b) _mm256_add_ps(a, b)
#define SUB(a, b) _mm256_sub_ps(a, b)
#define MUL(a, b) _mm256_mul_ps(a, b)
#define DIV(a, b) _mm256_div_ps(a, b)
#define FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define MIN(a, b) _mm256_min_ps(a, b)
#define MAX(a, b) _mm256_max_ps(a, b)
#define FLOOR(a) _mm256_floor_ps(a)
static inline vec pow2i(vec n) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_cvttps_epi32(n), _mm256_set1_epi32(127)), 23));
}

#elif defined(KERNELS_BASELINE)
// Plain C for any CPU: one lane. Without FMA hardware fmaf is glibc's exact software fused
// multiply-add, so the bits still match the vector variants (slower).
#include <math.h>
#define KERNEL(name) KERNEL_NAME(name, baseline)
typedef float vec;
#define LANES 1
#define LOAD(p) (*(p))
#define STORE(p, v) (*(p) = (v))
#define LOAD_PART(p, t) (*(p))
#define STORE_PART(p, v, t) (*(p) = (v))
#define SET1(x) (x)
#define ADD(a, b) ((a) + (b))
#define SUB(a, b) ((a) - (b))
#define MUL(a, b) ((a) * (b))
#define DIV(a, b) ((a) / (b))
#define FMA(a, b, c) fmaf(a, b, c)
// As minps/maxps: the second operand when the comparison is false.
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define FLOOR(a) floorf(a)
static inline vec pow2i(vec n) { return ldexpf(1.0f, (int)n); }

#else
#error "compile with -DKERNELS_AVX512, -DKERNELS_AVX2 or -DKERNELS_BASELINE (binding.gyp does)"
#endif

#endif
