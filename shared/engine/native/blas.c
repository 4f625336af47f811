// A Node-API binding to the system's CBLAS sgemm (OpenBLAS), plus a row-invariant product for
// sampling (rows.c) and the sampling step's LSTM cell (cell.c): the wasm backend's matmuls run on
// XNNPACK's 128-bit wasm SIMD, well below what the CPU's own vector units reach. The operands are
// Float32Array views of the wasm heap, so nothing is copied.
//
// One build runs on any CPU of its architecture: OpenBLAS picks its own kernels at run time, and
// rows.c / cell.c are compiled once per variant (kernels.h); `variants` lists those this CPU can
// run, best first, and blas.ts chooses one.
#include <cblas.h>
#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>

#include "kernels.h"

typedef struct {
  const char *name;
  bool (*runs)(void);
  rows_gemm_fn *rows_gemm;
  lstm_cell_fn *lstm_cell;
} variant;

#if defined(__x86_64__)
// __builtin_cpu_supports also checks that the OS saves the vector registers (XCR0).
static bool runs_avx512(void) { return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }
static bool runs_avx2(void) { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }
#endif
static bool runs_anywhere(void) { return true; }

// Best first.
static const variant VARIANTS[] = {
#if defined(__x86_64__)
    {"avx512", runs_avx512, rows_gemm_avx512, lstm_cell_avx512},
    {"avx2", runs_avx2, rows_gemm_avx2, lstm_cell_avx2},
#endif
    {"baseline", runs_anywhere, rows_gemm_baseline, lstm_cell_baseline},
};
#define VARIANT_COUNT (sizeof VARIANTS / sizeof VARIANTS[0])

void openblas_set_num_threads(int);

#define CHECK(call)                                                             \
  if ((call) != napi_ok) {                                                      \
    napi_throw_error(env, NULL, "charrnn_blas: bad arguments");                 \
    return NULL;                                                                \
  }

static float *f32(napi_env env, napi_value v, size_t need, const char *name) {
  bool is_ta = false;
  napi_typedarray_type type;
  size_t length = 0;
  void *data = NULL;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta ||
      napi_get_typedarray_info(env, v, &type, &length, &data, NULL, NULL) != napi_ok ||
      type != napi_float32_array) {
    napi_throw_type_error(env, NULL, name);
    return NULL;
  }
  if (length < need) {
    napi_throw_range_error(env, NULL, name);
    return NULL;
  }
  return (float *)data;
}

// The arguments of a call, or a thrown error (false) when there are fewer than `want`.
// `data`, when given, receives the function's variant (its napi_create_function data).
static bool args(napi_env env, napi_callback_info info, size_t want, napi_value *argv, const variant **data, const char *what) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, (void **)data) != napi_ok || argc < want) {
    napi_throw_error(env, NULL, what);
    return false;
  }
  return true;
}

static bool sizes(napi_env env, napi_value *argv, int count, int32_t *out, const char *what) {
  for (int i = 0; i < count; i++) {
    if (napi_get_value_int32(env, argv[i], &out[i]) != napi_ok || out[i] < 0) {
      napi_throw_range_error(env, NULL, what);
      return false;
    }
  }
  return true;
}

// The operands of an m×k by k×n product into m×n (argv: a, b, c), each checked for its length.
static bool operands(napi_env env, napi_value *argv, int32_t m, int32_t n, int32_t k, float **a, float **b, float **c) {
  return (*a = f32(env, argv[0], (size_t)m * k, "charrnn_blas: a is not a Float32Array of m*k")) != NULL &&
         (*b = f32(env, argv[1], (size_t)k * n, "charrnn_blas: b is not a Float32Array of k*n")) != NULL &&
         (*c = f32(env, argv[2], (size_t)m * n, "charrnn_blas: c is not a Float32Array of m*n")) != NULL;
}

// sgemm(transA, transB, m, n, k, a, b, c, beta): c[m×n] = op(a)·op(b) + beta·c, row-major.
static napi_value Sgemm(napi_env env, napi_callback_info info) {
  napi_value argv[9];
  if (!args(env, info, 9, argv, NULL, "charrnn_blas.sgemm: 9 arguments expected")) return NULL;
  bool ta, tb;
  int32_t mnk[3];
  double beta;
  CHECK(napi_get_value_bool(env, argv[0], &ta));
  CHECK(napi_get_value_bool(env, argv[1], &tb));
  CHECK(napi_get_value_double(env, argv[8], &beta));
  if (!sizes(env, argv + 2, 3, mnk, "charrnn_blas.sgemm: m, n, k must be non-negative integers")) return NULL;
  const int32_t m = mnk[0], n = mnk[1], k = mnk[2];
  float *a, *b, *c;
  if (!operands(env, argv + 5, m, n, k, &a, &b, &c)) return NULL;
  if (m == 0 || n == 0) return NULL;
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, a,
              ta ? m : k, b, tb ? k : n, (float)beta, c, n);
  return NULL;
}

// rowGemm(m, n, k, a, b, c, accumulate): c[m×n] = a·b (+ c), row-major, each row's bits
// independent of m (rows.c).
static napi_value RowGemm(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  const variant *kernels;
  if (!args(env, info, 7, argv, &kernels, "charrnn_blas.rowGemm: 7 arguments expected")) return NULL;
  int32_t mnk[3];
  bool accumulate;
  if (!sizes(env, argv, 3, mnk, "charrnn_blas.rowGemm: m, n, k must be non-negative integers")) return NULL;
  CHECK(napi_get_value_bool(env, argv[6], &accumulate));
  const int32_t m = mnk[0], n = mnk[1], k = mnk[2];
  float *a, *b, *c;
  if (!operands(env, argv + 3, m, n, k, &a, &b, &c)) return NULL;
  kernels->rows_gemm(m, n, k, a, b, c, accumulate);
  return NULL;
}

// lstmCell(n, H, xp, hw, c, h, cNext): the LSTM cell's element-wise half for n rows (cell.c).
static napi_value LstmCell(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  const variant *kernels;
  if (!args(env, info, 7, argv, &kernels, "charrnn_blas.lstmCell: 7 arguments expected")) return NULL;
  int32_t nh[2];
  if (!sizes(env, argv, 2, nh, "charrnn_blas.lstmCell: n, H must be non-negative integers")) return NULL;
  const size_t rows = (size_t)nh[0], H = (size_t)nh[1];
  float *xp = f32(env, argv[2], rows * 4 * H, "charrnn_blas.lstmCell: xp is not a Float32Array of n*4H");
  if (!xp) return NULL;
  float *hw = f32(env, argv[3], rows * 4 * H, "charrnn_blas.lstmCell: hw is not a Float32Array of n*4H");
  if (!hw) return NULL;
  float *c = f32(env, argv[4], rows * H, "charrnn_blas.lstmCell: c is not a Float32Array of n*H");
  if (!c) return NULL;
  float *h_out = f32(env, argv[5], rows * H, "charrnn_blas.lstmCell: h is not a Float32Array of n*H");
  if (!h_out) return NULL;
  float *c_out = f32(env, argv[6], rows * H, "charrnn_blas.lstmCell: cNext is not a Float32Array of n*H");
  if (!c_out) return NULL;
  kernels->lstm_cell(nh[0], nh[1], xp, hw, c, h_out, c_out);
  return NULL;
}

static bool set_function(napi_env env, napi_value obj, const char *name, napi_callback cb, const variant *data) {
  napi_value fn;
  return napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, (void *)data, &fn) == napi_ok &&
         napi_set_named_property(env, obj, name, fn) == napi_ok;
}

static bool set_string(napi_env env, napi_value obj, const char *key, const char *value) {
  napi_value s;
  return napi_create_string_utf8(env, value, NAPI_AUTO_LENGTH, &s) == napi_ok && napi_set_named_property(env, obj, key, s) == napi_ok;
}

// exports: sgemm; variants: [{name, rowGemm, lstmCell}] this CPU runs, best first; built: every
// variant's name.
NAPI_MODULE_INIT() {
  // One BLAS thread per caller: the engine already runs one training replica per core.
  openblas_set_num_threads(1);
#if defined(__x86_64__)
  __builtin_cpu_init();
#endif
  napi_value variants, built, v, name;
  if (!set_function(env, exports, "sgemm", Sgemm, NULL)) return NULL;
  if (napi_create_array(env, &variants) != napi_ok || napi_create_array(env, &built) != napi_ok) return NULL;
  uint32_t runnable = 0;
  for (uint32_t i = 0; i < VARIANT_COUNT; i++) {
    const variant *k = &VARIANTS[i];
    if (napi_create_string_utf8(env, k->name, NAPI_AUTO_LENGTH, &name) != napi_ok || napi_set_element(env, built, i, name) != napi_ok) return NULL;
    if (!k->runs()) continue;
    if (napi_create_object(env, &v) != napi_ok || !set_string(env, v, "name", k->name) ||
        !set_function(env, v, "rowGemm", RowGemm, k) || !set_function(env, v, "lstmCell", LstmCell, k) ||
        napi_set_element(env, variants, runnable++, v) != napi_ok)
      return NULL;
  }
  if (napi_set_named_property(env, exports, "variants", variants) != napi_ok || napi_set_named_property(env, exports, "built", built) != napi_ok) return NULL;
  return exports;
}
