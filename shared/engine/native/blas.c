// A Node-API binding to the system's OpenBLAS sgemm, plus a row-invariant product for sampling
// (rows.c), the sampling step's LSTM cell (cell.c) and whole LSTM/GRU training layers (seq.c,
// gates.c): the wasm backend's matmuls run on XNNPACK's 128-bit wasm SIMD, well below what the
// CPU's own vector units reach. The operands are Float32Array views of the wasm heap, so nothing is
// copied.
//
// One build runs on any CPU of its architecture: OpenBLAS picks its own kernels at run time, and
// rows.c / cell.c / gates.c are compiled once per variant (kernels.h); `variants`
// lists those this CPU can run, best first, and blas.ts chooses one.
#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cblas.h>

#include "kernels.h"
#include "seq.h"

typedef struct {
  const char *name;
  bool (*runs)(void);
  rows_gemm_fn *rows_gemm;
  lstm_cell_fn *lstm_cell;
  seq_kernels seq;
} variant;

// Training's products through sgemm, for variants whose own are slower.
static void sgemm_rows(int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c, int ldc, int accumulate) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, lda, b, ldb, accumulate ? 1.0f : 0.0f, c, ldc);
}
static void sgemm_big(int trans_a, int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c, int ldc, int accumulate) {
  if (m <= 0 || n <= 0) return;
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, lda, b, ldb, accumulate ? 1.0f : 0.0f, c, ldc);
}

#define SEQ_KERNELS(v, gemm, big) \
  {gemm, big, lstm_fwd_##v, lstm_bwd_##v, gru_fwd_zr_##v, gru_fwd_h_##v, gru_bwd_a_##v, gru_bwd_b_##v, xent_fwd_##v, xent_bwd_##v}

#if defined(__x86_64__)
// __builtin_cpu_supports also checks that the OS saves the vector registers (XCR0).
static bool runs_avx512(void) { return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }
static bool runs_avx2(void) { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }
#endif
static bool runs_anywhere(void) { return true; }

// Best first. Training's products: AVX-512's register blocks beat sgemm on the recurrent ones (32
// rows: 32×256×1024 in 111 against 195 µs) and match its AVX-512 kernels on the big ones (rows.c);
// AVX2's L1 tile and the baseline's scalar FMA do not.
static const variant VARIANTS[] = {
#if defined(__x86_64__)
    {"avx512", runs_avx512, rows_gemm_avx512, lstm_cell_avx512, SEQ_KERNELS(avx512, rows_gemm_avx512, gemm_avx512)},
    {"avx2", runs_avx2, rows_gemm_avx2, lstm_cell_avx2, SEQ_KERNELS(avx2, sgemm_rows, sgemm_big)},
#endif
    {"baseline", runs_anywhere, rows_gemm_baseline, lstm_cell_baseline, SEQ_KERNELS(baseline, sgemm_rows, sgemm_big)},
};
#define VARIANT_COUNT (sizeof VARIANTS / sizeof VARIANTS[0])

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
  kernels->rows_gemm(m, n, k, a, k, b, n, c, n, accumulate);
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

// ------------------------------------------------------------------------------ training layers

// Properties of the argument object of seqForward/seqBackward, each checked (a thrown error and
// false otherwise).
static bool prop(napi_env env, napi_value obj, const char *key, napi_value *v, bool *present) {
  bool has = false;
  if (napi_has_named_property(env, obj, key, &has) != napi_ok || (has && napi_get_named_property(env, obj, key, v) != napi_ok)) {
    napi_throw_error(env, NULL, "charrnn_blas: bad arguments");
    return false;
  }
  napi_valuetype type = napi_undefined;
  if (has) napi_typeof(env, *v, &type);
  *present = has && type != napi_undefined && type != napi_null;
  return true;
}

static bool prop_int(napi_env env, napi_value obj, const char *key, int32_t *out) {
  napi_value v;
  bool present;
  if (!prop(env, obj, key, &v, &present)) return false;
  if (!present || napi_get_value_int32(env, v, out) != napi_ok || *out < 0) {
    char msg[96];
    snprintf(msg, sizeof msg, "charrnn_blas: %s must be a non-negative integer", key);
    napi_throw_range_error(env, NULL, msg);
    return false;
  }
  return true;
}

// A typed array of `type` holding at least `need` elements; *out NULL when absent and optional.
static bool prop_array(napi_env env, napi_value obj, const char *key, napi_typedarray_type type, size_t need, bool optional, void **out) {
  napi_value v;
  bool present;
  *out = NULL;
  if (!prop(env, obj, key, &v, &present)) return false;
  if (!present && optional) return true;
  char msg[128];
  bool is_ta = false;
  napi_typedarray_type t;
  size_t length = 0;
  if (!present || napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta || napi_get_typedarray_info(env, v, &t, &length, out, NULL, NULL) != napi_ok ||
      t != type) {
    snprintf(msg, sizeof msg, "charrnn_blas: %s is not a%s", key, type == napi_float32_array ? " Float32Array" : "n Int32Array");
    napi_throw_type_error(env, NULL, msg);
    *out = NULL;
    return false;
  }
  if (length < need) {
    snprintf(msg, sizeof msg, "charrnn_blas: %s holds %zu elements, fewer than %zu", key, length, need);
    napi_throw_range_error(env, NULL, msg);
    *out = NULL;
    return false;
  }
  return true;
}

#define F32(key, need, optional, field)                                                               \
  if (!prop_array(env, obj, key, napi_float32_array, need, optional, (void **)&(field))) return NULL;

// The one argument of a layer or head call (an object), and the function's variant.
static bool one_object(napi_env env, napi_callback_info info, const char *what, napi_value *obj, const variant **kernels) {
  char msg[64];
  snprintf(msg, sizeof msg, "charrnn_blas.%s: 1 argument expected", what);
  return args(env, info, 1, obj, kernels, msg);
}

// The layer's shape, input and weights, common to both directions.
static bool layer_args(napi_env env, napi_value obj, const variant *kernels, seq_layer *l) {
  memset(l, 0, sizeof *l);
  l->k = &kernels->seq;
  napi_value cell;
  bool present;
  char name[8] = "";
  if (!prop(env, obj, "cell", &cell, &present)) return false;
  if (present) napi_get_value_string_utf8(env, cell, name, sizeof name, NULL);
  if (strcmp(name, "lstm") && strcmp(name, "gru")) {
    napi_throw_type_error(env, NULL, "charrnn_blas: cell must be 'lstm' or 'gru'");
    return false;
  }
  l->lstm = !strcmp(name, "lstm");
  int32_t T, B, H, in, threads;
  if (!prop_int(env, obj, "T", &T) || !prop_int(env, obj, "B", &B) || !prop_int(env, obj, "H", &H) || !prop_int(env, obj, "in", &in) ||
      !prop_int(env, obj, "threads", &threads))
    return false;
  if (!T || !B || !H || !in) {
    napi_throw_range_error(env, NULL, "charrnn_blas: T, B, H and in must be positive");
    return false;
  }
  l->T = T, l->B = B, l->H = H, l->in = in, l->threads = threads;
  const size_t TB = (size_t)T * B, GH = (size_t)(l->lstm ? 4 : 3) * H;
  void *p;
  if (!prop_array(env, obj, "ids", napi_int32_array, TB, true, &p)) return false;
  l->ids = p;
  if (!prop_array(env, obj, "x", napi_float32_array, TB * in, true, &p)) return false;
  l->x = p;
  if (!l->ids == !l->x) {
    napi_throw_type_error(env, NULL, "charrnn_blas: give the input as ids or as x, not both");
    return false;
  }
  if (l->ids)
    for (size_t r = 0; r < TB; r++)
      if (l->ids[r] < 0 || l->ids[r] >= in) {
        napi_throw_range_error(env, NULL, "charrnn_blas: an id is outside [0, in)");
        return false;
      }
  struct { const char *key; size_t need; bool want; const float **field; } fields[] = {
      {"wx", (size_t)in * GH, true, &l->wx},     {"wh", (size_t)H * GH, true, &l->wh}, {"h0", (size_t)B * H, true, &l->h0},
      {"c0", (size_t)B * H, l->lstm, &l->c0},    {"hs", TB * H, true, (const float **)&l->hs}, {"gates", TB * GH, true, (const float **)&l->gates},
      {"cs", TB * H, l->lstm, (const float **)&l->cs}, {"rh", TB * H, !l->lstm, (const float **)&l->rh},
  };
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
    if (!fields[i].want) continue;
    if (!prop_array(env, obj, fields[i].key, napi_float32_array, fields[i].need, false, &p)) return false;
    *fields[i].field = p;
  }
  return true;
}

// seqForward({cell, T, B, H, in, threads, ids | x, wx, bias, wh, h0, c0?, gates, cs?, rh?, hs, hLast,
// cLast?}): the layer over the window (seq.h). LSTM: c0, cs, cLast; GRU: rh.
static napi_value SeqForward(napi_env env, napi_callback_info info) {
  napi_value obj;
  const variant *kernels;
  seq_layer l;
  if (!one_object(env, info, "seqForward", &obj, &kernels) || !layer_args(env, obj, kernels, &l)) return NULL;
  const size_t GH = (size_t)(l.lstm ? 4 : 3) * l.H, BH = (size_t)l.B * l.H;
  F32("bias", GH, false, l.bias);
  F32("hLast", BH, false, l.h_last);
  F32("cLast", BH, !l.lstm, l.c_last);
  if (l.lstm && !l.c_last) return NULL;
  seq_forward(&l);
  return NULL;
}

// seqBackward({…the forward's arguments but bias, hLast, cLast…, dhs, dx?, dwx, db, dwh}): the
// gradients of the window (gates is overwritten); dx only for an x input.
static napi_value SeqBackward(napi_env env, napi_callback_info info) {
  napi_value obj;
  const variant *kernels;
  seq_layer l;
  if (!one_object(env, info, "seqBackward", &obj, &kernels) || !layer_args(env, obj, kernels, &l)) return NULL;
  const size_t TB = (size_t)l.T * l.B, GH = (size_t)(l.lstm ? 4 : 3) * l.H;
  F32("dhs", TB * l.H, false, l.dhs);
  F32("dx", TB * l.in, true, l.dx);
  if (l.x && !l.dx) {
    napi_throw_type_error(env, NULL, "charrnn_blas: dx is required with an x input");
    return NULL;
  }
  F32("dwx", (size_t)l.in * GH, false, l.dwx);
  F32("db", GH, false, l.db);
  F32("dwh", (size_t)l.H * GH, false, l.dwh);
  if (seq_backward(&l)) napi_throw_error(env, NULL, "charrnn_blas.seqBackward: out of memory");
  return NULL;
}

// gemm(threads, transA, m, n, k, a, b, c, accumulate): c[m×n] = op(a)·b (+ c), row-major, with the
// training layers' products and threads (seq.c).
static napi_value Gemm(napi_env env, napi_callback_info info) {
  napi_value argv[9];
  const variant *kernels;
  if (!args(env, info, 9, argv, &kernels, "charrnn_blas.gemm: 9 arguments expected")) return NULL;
  int32_t threads, mnk[3];
  bool ta, accumulate;
  CHECK(napi_get_value_bool(env, argv[1], &ta));
  CHECK(napi_get_value_bool(env, argv[8], &accumulate));
  if (!sizes(env, argv, 1, &threads, "charrnn_blas.gemm: threads must be a non-negative integer") ||
      !sizes(env, argv + 2, 3, mnk, "charrnn_blas.gemm: m, n, k must be non-negative integers"))
    return NULL;
  float *a, *b, *c;
  if (!operands(env, argv + 5, mnk[0], mnk[1], mnk[2], &a, &b, &c)) return NULL;
  seq_product(&kernels->seq, threads, ta, mnk[0], mnk[1], mnk[2], a, b, c, accumulate);
  return NULL;
}

// The head's arguments (seq.h's seq_head), common to both directions.
static bool head_args(napi_env env, napi_value obj, const variant *kernels, seq_head *h) {
  memset(h, 0, sizeof *h);
  h->k = &kernels->seq;
  int32_t N, H, V, threads;
  if (!prop_int(env, obj, "N", &N) || !prop_int(env, obj, "H", &H) || !prop_int(env, obj, "V", &V) || !prop_int(env, obj, "threads", &threads)) return false;
  if (!N || !H || !V) {
    napi_throw_range_error(env, NULL, "charrnn_blas: N, H and V must be positive");
    return false;
  }
  napi_value v;
  bool present, mean = false;
  if (!prop(env, obj, "mean", &v, &present)) return false;
  if (!present || napi_get_value_bool(env, v, &mean) != napi_ok) {
    napi_throw_type_error(env, NULL, "charrnn_blas: mean must be a boolean");
    return false;
  }
  h->N = N, h->H = H, h->V = V, h->threads = threads, h->mean = mean;
  void *p;
  if (!prop_array(env, obj, "targets", napi_int32_array, (size_t)N, false, &p)) return false;
  h->targets = p;
  for (int r = 0; r < N; r++)
    if (h->targets[r] < 0 || h->targets[r] >= V) {
      napi_throw_range_error(env, NULL, "charrnn_blas: a target is outside [0, V)");
      return false;
    }
  if (!prop_array(env, obj, "x", napi_float32_array, (size_t)N * H, false, &p)) return false;
  h->x = p;
  if (!prop_array(env, obj, "w", napi_float32_array, (size_t)H * V, false, &p)) return false;
  h->w = p;
  if (!prop_array(env, obj, "probs", napi_float32_array, (size_t)N * V, false, &p)) return false;
  h->probs = p;
  return true;
}

// headForward({N, H, V, threads, mean, x, w, bias, targets, probs, loss}): logits = x·w + bias, probs
// their softmax, loss[0] the mean (or summed) cross-entropy against targets.
static napi_value HeadForward(napi_env env, napi_callback_info info) {
  napi_value obj;
  const variant *kernels;
  seq_head h;
  if (!one_object(env, info, "headForward", &obj, &kernels) || !head_args(env, obj, kernels, &h)) return NULL;
  F32("bias", (size_t)h.V, false, h.bias);
  F32("loss", 1, false, h.loss);
  if (seq_head_forward(&h)) napi_throw_error(env, NULL, "charrnn_blas.headForward: out of memory");
  return NULL;
}

// headBackward({N, H, V, threads, mean, x, w, targets, probs, dloss, dx, dw, db}): the gradients for
// the loss's gradient dloss[0] (probs is overwritten).
static napi_value HeadBackward(napi_env env, napi_callback_info info) {
  napi_value obj;
  const variant *kernels;
  seq_head h;
  if (!one_object(env, info, "headBackward", &obj, &kernels) || !head_args(env, obj, kernels, &h)) return NULL;
  float *dloss;
  F32("dloss", 1, false, dloss);
  h.dloss = dloss[0];
  F32("dx", (size_t)h.N * h.H, false, h.dx);
  F32("dw", (size_t)h.H * h.V, false, h.dw);
  F32("db", (size_t)h.V, false, h.db);
  if (seq_head_backward(&h)) napi_throw_error(env, NULL, "charrnn_blas.headBackward: out of memory");
  return NULL;
}

// At the end of a Node environment (the main thread's, or a worker's): its helper threads.
static void stop_threads(void *arg) {
  (void)arg;
  seq_threads_stop();
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

// exports: sgemm, openblasCore (the kernels OpenBLAS chose: "Haswell", "SkylakeX", …); variants:
// [{name, rowGemm, lstmCell, seqForward, seqBackward, headForward, headBackward, gemm}] this CPU runs, best
// first; built: every variant's name.
void openblas_set_num_threads(int);
char *openblas_get_corename(void);

NAPI_MODULE_INIT() {
  // One BLAS thread per caller: the binding splits its own work between threads (seq.c), and a
  // second training replica or the sampling threads call it too.
  openblas_set_num_threads(1);
#if defined(__x86_64__)
  __builtin_cpu_init();
#endif
  napi_value variants, built, v, name;
  if (!set_function(env, exports, "sgemm", Sgemm, NULL) || !set_string(env, exports, "openblasCore", openblas_get_corename())) return NULL;
  if (napi_add_env_cleanup_hook(env, stop_threads, NULL) != napi_ok) return NULL;
  if (napi_create_array(env, &variants) != napi_ok || napi_create_array(env, &built) != napi_ok) return NULL;
  uint32_t runnable = 0;
  for (uint32_t i = 0; i < VARIANT_COUNT; i++) {
    const variant *k = &VARIANTS[i];
    if (napi_create_string_utf8(env, k->name, NAPI_AUTO_LENGTH, &name) != napi_ok || napi_set_element(env, built, i, name) != napi_ok) return NULL;
    if (!k->runs()) continue;
    if (napi_create_object(env, &v) != napi_ok || !set_string(env, v, "name", k->name) ||
        !set_function(env, v, "rowGemm", RowGemm, k) || !set_function(env, v, "lstmCell", LstmCell, k) ||
        !set_function(env, v, "seqForward", SeqForward, k) || !set_function(env, v, "seqBackward", SeqBackward, k) ||
        !set_function(env, v, "headForward", HeadForward, k) || !set_function(env, v, "headBackward", HeadBackward, k) ||
        !set_function(env, v, "gemm", Gemm, k) ||
        napi_set_element(env, variants, runnable++, v) != napi_ok)
      return NULL;
  }
  if (napi_set_named_property(env, exports, "variants", variants) != napi_ok || napi_set_named_property(env, exports, "built", built) != napi_ok) return NULL;
  return exports;
}
