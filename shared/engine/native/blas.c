// A Node-API binding to the system's CBLAS sgemm (OpenBLAS): the wasm backend's matmuls run on
// XNNPACK's 128-bit wasm SIMD, about half of what the CPU's own vector units reach. The operands
// are Float32Array views of the wasm heap, so nothing is copied.
#include <cblas.h>
#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>

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

// sgemm(transA, transB, m, n, k, a, b, c, beta): c[m×n] = op(a)·op(b) + beta·c, row-major.
static napi_value Sgemm(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value argv[9];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 9) {
    napi_throw_error(env, NULL, "charrnn_blas.sgemm: 9 arguments expected");
    return NULL;
  }
  bool ta, tb;
  int32_t m, n, k;
  double beta;
  CHECK(napi_get_value_bool(env, argv[0], &ta));
  CHECK(napi_get_value_bool(env, argv[1], &tb));
  CHECK(napi_get_value_int32(env, argv[2], &m));
  CHECK(napi_get_value_int32(env, argv[3], &n));
  CHECK(napi_get_value_int32(env, argv[4], &k));
  CHECK(napi_get_value_double(env, argv[8], &beta));
  if (m < 0 || n < 0 || k < 0) {
    napi_throw_range_error(env, NULL, "charrnn_blas.sgemm: negative size");
    return NULL;
  }
  float *a = f32(env, argv[5], (size_t)m * k, "charrnn_blas.sgemm: a is not a Float32Array of m*k");
  if (!a) return NULL;
  float *b = f32(env, argv[6], (size_t)k * n, "charrnn_blas.sgemm: b is not a Float32Array of k*n");
  if (!b) return NULL;
  float *c = f32(env, argv[7], (size_t)m * n, "charrnn_blas.sgemm: c is not a Float32Array of m*n");
  if (!c) return NULL;
  if (m == 0 || n == 0) return NULL;
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, a,
              ta ? m : k, b, tb ? k : n, (float)beta, c, n);
  return NULL;
}

// sgemv(m, n, a, x, y, beta): y[n] = x[m]·a[m×n] + beta·y (a row-major): one row of a batch, always
// computed the same way, however many rows the batch has.
static napi_value Sgemv(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 6) {
    napi_throw_error(env, NULL, "charrnn_blas.sgemv: 6 arguments expected");
    return NULL;
  }
  int32_t m, n;
  double beta;
  CHECK(napi_get_value_int32(env, argv[0], &m));
  CHECK(napi_get_value_int32(env, argv[1], &n));
  CHECK(napi_get_value_double(env, argv[5], &beta));
  if (m < 0 || n < 0) {
    napi_throw_range_error(env, NULL, "charrnn_blas.sgemv: negative size");
    return NULL;
  }
  float *a = f32(env, argv[2], (size_t)m * n, "charrnn_blas.sgemv: a is not a Float32Array of m*n");
  if (!a) return NULL;
  float *x = f32(env, argv[3], (size_t)m, "charrnn_blas.sgemv: x is not a Float32Array of m");
  if (!x) return NULL;
  float *y = f32(env, argv[4], (size_t)n, "charrnn_blas.sgemv: y is not a Float32Array of n");
  if (!y) return NULL;
  if (n == 0) return NULL;
  cblas_sgemv(CblasRowMajor, CblasTrans, m, n, 1.0f, a, n, x, 1, (float)beta, y, 1);
  return NULL;
}

NAPI_MODULE_INIT() {
  // One BLAS thread per caller: the engine already runs one training replica per core.
  openblas_set_num_threads(1);
  napi_value fn;
  if (napi_create_function(env, "sgemm", NAPI_AUTO_LENGTH, Sgemm, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "sgemm", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "sgemv", NAPI_AUTO_LENGTH, Sgemv, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "sgemv", fn) != napi_ok) return NULL;
  return exports;
}
