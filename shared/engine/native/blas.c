// A Node-API binding to the system's CBLAS sgemm (OpenBLAS), plus a row-invariant product for
// sampling (rows.c): the wasm backend's matmuls run on XNNPACK's 128-bit wasm SIMD, well below
// what the CPU's own vector units reach. The operands are Float32Array views of the wasm heap, so
// nothing is copied.
#include <cblas.h>
#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>

#include "cell.h"
#include "rows.h"

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
static bool args(napi_env env, napi_callback_info info, size_t want, napi_value *argv, const char *what) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) {
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
  if (!args(env, info, 9, argv, "charrnn_blas.sgemm: 9 arguments expected")) return NULL;
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
  if (!args(env, info, 7, argv, "charrnn_blas.rowGemm: 7 arguments expected")) return NULL;
  int32_t mnk[3];
  bool accumulate;
  if (!sizes(env, argv, 3, mnk, "charrnn_blas.rowGemm: m, n, k must be non-negative integers")) return NULL;
  CHECK(napi_get_value_bool(env, argv[6], &accumulate));
  const int32_t m = mnk[0], n = mnk[1], k = mnk[2];
  float *a, *b, *c;
  if (!operands(env, argv + 3, m, n, k, &a, &b, &c)) return NULL;
  rows_gemm(m, n, k, a, b, c, accumulate);
  return NULL;
}

// lstmCell(n, H, xp, hw, c, h, cNext): the LSTM cell's element-wise half for n rows (cell.c).
static napi_value LstmCell(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  if (!args(env, info, 7, argv, "charrnn_blas.lstmCell: 7 arguments expected")) return NULL;
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
  lstm_cell(nh[0], nh[1], xp, hw, c, h_out, c_out);
  return NULL;
}

NAPI_MODULE_INIT() {
  // One BLAS thread per caller: the engine already runs one training replica per core.
  openblas_set_num_threads(1);
  napi_value fn;
  if (napi_create_function(env, "sgemm", NAPI_AUTO_LENGTH, Sgemm, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "sgemm", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "rowGemm", NAPI_AUTO_LENGTH, RowGemm, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "rowGemm", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "lstmCell", NAPI_AUTO_LENGTH, LstmCell, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "lstmCell", fn) != napi_ok) return NULL;
  return exports;
}
