// An LSTM or GRU layer over a whole training window in one call each way, so that no JavaScript runs
// inside the time loop; and the head (output layer and loss) in one call each way (see fused.ts, the TypeScript side, and cells.ts, the tfjs twin it is tested
// against). Before, each time step was a dozen tfjs ops forward and as many backward, and their
// dispatch, allocation and element-wise kernels cost as much as the recurrent product itself.
//
// Forward:  (1) the input projection for all T steps at once: one sgemm (a row gather for one-hot
//               input), bias included, written where the gates will be;
//           (2) per step, the recurrent product added in place (the variant's register-blocked
//               kernel, rows.c: 150-167 GFLOP/s on 32 rows where sgemm reaches 80-110, because
//               sgemm repacks the weights every call) and one vectorised pass over the gates
//               (gates.c), which leaves the activated gates, c and h.
// Backward: (1) per step, backwards: one pass turns the step's gates into the pre-activations'
//               gradient dz in place, and one product carries dh to the step before;
//           (2) the weight gradients as one product over all T·B rows each (dWh, dWx), the bias
//               gradient as column sums, dx as one product (dense input) or dWx as a scatter-add of
//               dz rows (one-hot input).
// The big products (the input projection, (2)) go to the variant's `big` (seq.h).
// Threads: streams are independent through time, so (1) and (2) of the forward pass and (1) of the
// backward pass split the B streams between threads with no synchronisation inside the time loop;
// the big products of (2) split their output columns or rows. Every output element is computed by
// one thread in a fixed order, so results do not depend on timing, only on the thread count
// (which decides the row counts sgemm sees).
#include "seq.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>


// ------------------------------------------------------------------------------ helper threads

typedef void task_fn(void *ctx, int part, int parts);

#define MAX_PARTS 16

// A calling thread's helpers (thread-local: a second training replica or a sampling thread calling
// the binding at the same time has its own). Each job wakes every helper; helper i runs part i.
typedef struct {
  int helpers;
  pthread_t thread[MAX_PARTS - 1];
  pthread_mutex_t mu;
  pthread_cond_t go, done;
  unsigned long generation;
  int pending, stop;
  task_fn *fn;
  void *ctx;
  int parts;
} pool;

typedef struct {
  pool *p;
  int index;
  unsigned long seen; // the generation when it was started: it runs the jobs after it
} helper_arg;

static __thread pool *tls_pool;

static void *helper_main(void *arg) {
  helper_arg a = *(helper_arg *)arg;
  free(arg);
  pool *p = a.p;
  unsigned long seen = a.seen;
  pthread_mutex_lock(&p->mu);
  for (;;) {
    while (p->generation == seen && !p->stop) pthread_cond_wait(&p->go, &p->mu);
    if (p->stop) break;
    seen = p->generation;
    task_fn *fn = p->fn;
    void *ctx = p->ctx;
    const int parts = p->parts;
    pthread_mutex_unlock(&p->mu);
    if (a.index < parts) fn(ctx, a.index, parts);
    pthread_mutex_lock(&p->mu);
    if (--p->pending == 0) pthread_cond_signal(&p->done);
  }
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

// This thread's pool with at least `helpers` helpers, or NULL when none can be started.
static pool *pool_with(int helpers) {
  pool *p = tls_pool;
  if (!p) {
    p = calloc(1, sizeof *p);
    if (!p) return NULL;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->go, NULL);
    pthread_cond_init(&p->done, NULL);
    tls_pool = p;
  }
  while (p->helpers < helpers) {
    helper_arg *a = malloc(sizeof *a);
    if (!a) break;
    a->p = p;
    a->index = p->helpers + 1;
    pthread_mutex_lock(&p->mu);
    a->seen = p->generation;
    const int ok = pthread_create(&p->thread[p->helpers], NULL, helper_main, a) == 0;
    if (ok) p->helpers++;
    pthread_mutex_unlock(&p->mu);
    if (!ok) {
      free(a);
      break;
    }
  }
  return p->helpers >= helpers ? p : NULL;
}

// fn(ctx, part, parts) for every part, part 0 on this thread; returns when all are done. Without
// helpers (none could start) the parts run here one after another: the same work, the same results.
static void parallel(int parts, task_fn *fn, void *ctx) {
  if (parts > MAX_PARTS) parts = MAX_PARTS;
  pool *p = parts > 1 ? pool_with(parts - 1) : NULL;
  if (!p) {
    for (int i = 0; i < parts; i++) fn(ctx, i, parts);
    return;
  }
  pthread_mutex_lock(&p->mu);
  p->fn = fn;
  p->ctx = ctx;
  p->parts = parts;
  p->pending = p->helpers;
  p->generation++;
  pthread_cond_broadcast(&p->go);
  pthread_mutex_unlock(&p->mu);
  fn(ctx, 0, parts);
  pthread_mutex_lock(&p->mu);
  while (p->pending) pthread_cond_wait(&p->done, &p->mu);
  pthread_mutex_unlock(&p->mu);
}

void seq_threads_stop(void) {
  pool *p = tls_pool;
  if (!p) return;
  pthread_mutex_lock(&p->mu);
  p->stop = 1;
  pthread_cond_broadcast(&p->go);
  pthread_mutex_unlock(&p->mu);
  for (int i = 0; i < p->helpers; i++) pthread_join(p->thread[i], NULL);
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->go);
  pthread_cond_destroy(&p->done);
  free(p);
  tls_pool = NULL;
}

// Part `part` of `parts` of [0, n): [*lo, *hi), the boundaries rounded to multiples of `align`.
static void share(int n, int part, int parts, int align, int *lo, int *hi) {
  const long a = ((long)n * part / parts) / align * align;
  const long b = part + 1 == parts ? n : ((long)n * (part + 1) / parts) / align * align;
  *lo = (int)a;
  *hi = (int)(b < a ? a : b);
}

// Column blocks of 16 floats (one AVX-512 vector, a cache line) keep a thread's columns aligned.
#define COL_ALIGN 16

// ------------------------------------------------------------------------------ forward

static int gate_count(const seq_layer *l) { return l->lstm ? 4 : 3; }

// (1) Rows [r0, r1) of the input projection: gates = x·Wx + bias (ids: rows of Wx, plus bias).
static void project(const seq_layer *l, int r0, int r1) {
  const int GH = gate_count(l) * l->H;
  for (int r = r0; r < r1; r++) {
    float *g = l->gates + (size_t)r * GH;
    if (l->ids) {
      const float *w = l->wx + (size_t)l->ids[r] * GH;
      for (int j = 0; j < GH; j++) g[j] = w[j] + l->bias[j];
    } else {
      memcpy(g, l->bias, sizeof(float) * GH);
    }
  }
  if (!l->ids && r1 > r0) l->k->big(0, r1 - r0, GH, l->in, l->x + (size_t)r0 * l->in, l->in, l->wx, GH, l->gates + (size_t)r0 * GH, GH, 1);
}

static void forward_project(void *ctx, int part, int parts) {
  const seq_layer *l = ctx;
  int r0, r1;
  share(l->T * l->B, part, parts, 1, &r0, &r1);
  project(l, r0, r1);
}

// (2) Streams [b0, b1) through every step.
static void forward_steps(void *ctx, int part, int parts) {
  const seq_layer *l = ctx;
  const seq_kernels *k = l->k;
  const int B = l->B, H = l->H, GH = gate_count(l) * H;
  int b0, b1;
  share(B, part, parts, 1, &b0, &b1);
  const int n = b1 - b0;
  if (n <= 0) return;
  for (int t = 0; t < l->T; t++) {
    const size_t row = (size_t)t * B + b0, prev = row - B;
    const float *hp = t ? l->hs + prev * H : l->h0 + (size_t)b0 * H;
    float *g = l->gates + row * GH;
    if (l->lstm) {
      k->gemm(n, GH, H, hp, H, l->wh, GH, g, GH, 1);
      k->lstm_fwd(n, H, g, t ? l->cs + prev * H : l->c0 + (size_t)b0 * H, l->cs + row * H, l->hs + row * H);
    } else {
      // z, r from h; then the candidate from r·h.
      k->gemm(n, 2 * H, H, hp, H, l->wh, GH, g, GH, 1);
      k->gru_fwd_zr(n, H, g, hp, l->rh + row * H);
      k->gemm(n, H, H, l->rh + row * H, H, l->wh + 2 * H, GH, g + 2 * H, GH, 1);
      k->gru_fwd_h(n, H, g, hp, l->hs + row * H);
    }
  }
  const size_t last = ((size_t)(l->T - 1) * B + b0) * H;
  memcpy(l->h_last + (size_t)b0 * H, l->hs + last, sizeof(float) * n * H);
  if (l->lstm) memcpy(l->c_last + (size_t)b0 * H, l->cs + last, sizeof(float) * n * H);
}

static int parts_of(const seq_layer *l, int n) {
  const int t = l->threads < 1 ? 1 : l->threads > MAX_PARTS ? MAX_PARTS : l->threads;
  return n < t ? (n < 1 ? 1 : n) : t;
}

void seq_forward(const seq_layer *l) {
  parallel(parts_of(l, l->T * l->B), forward_project, (void *)l);
  parallel(parts_of(l, l->B), forward_steps, (void *)l);
}

// ------------------------------------------------------------------------------ backward

typedef struct {
  const seq_layer *l;
  float *wht;     // [G·H, H]: Wh transposed, so dh's product reads it row by row
  float *wxt;     // [G·H, in]: Wx transposed, for dx (dense input)
  float *scratch; // [2, B, H]: per stream, dh of the step after (GRU: the carry) and dc (GRU: drh)
} backward_ctx;

// Columns [j0, j1) of w ([rows, cols]) as rows of wt ([cols, rows]).
static void transpose(const float *w, int rows, int cols, float *wt, int j0, int j1) {
  for (int i = 0; i < rows; i++)
    for (int j = j0; j < j1; j++) wt[(size_t)j * rows + i] = w[(size_t)i * cols + j];
}

static void backward_transpose(void *ctx, int part, int parts) {
  const backward_ctx *c = ctx;
  const seq_layer *l = c->l;
  const int GH = gate_count(l) * l->H;
  int j0, j1;
  share(GH, part, parts, 1, &j0, &j1);
  transpose(l->wh, l->H, GH, c->wht, j0, j1);
  if (c->wxt) transpose(l->wx, l->in, GH, c->wxt, j0, j1);
}

// (1) Streams [b0, b1), from the last step to the first.
static void backward_steps(void *ctx, int part, int parts) {
  const backward_ctx *c = ctx;
  const seq_layer *l = c->l;
  const seq_kernels *k = l->k;
  const int B = l->B, H = l->H, GH = gate_count(l) * H;
  int b0, b1;
  share(B, part, parts, 1, &b0, &b1);
  const int n = b1 - b0;
  if (n <= 0) return;
  float *dh = c->scratch + (size_t)b0 * H;            // dh carried to the step before
  float *aux = c->scratch + ((size_t)B + b0) * H;     // LSTM: dc; GRU: drh
  memset(aux, 0, sizeof(float) * n * H);
  for (int t = l->T - 1; t >= 0; t--) {
    const size_t row = (size_t)t * B + b0, prev = row - B;
    float *g = l->gates + row * GH;
    const float *dhs = l->dhs + row * H;
    if (l->lstm) {
      k->lstm_bwd(n, H, g, t ? l->cs + prev * H : l->c0 + (size_t)b0 * H, l->cs + row * H, dhs, t == l->T - 1 ? NULL : dh, aux);
      if (t) k->gemm(n, H, GH, g, GH, c->wht, H, dh, H, 0);
    } else {
      const float *hp = t ? l->hs + prev * H : l->h0 + (size_t)b0 * H;
      k->gru_bwd_a(n, H, g, hp, dhs, dh, t == l->T - 1);
      k->gemm(n, H, H, g + 2 * H, GH, c->wht + (size_t)2 * H * H, H, aux, H, 0); // d(r·h) = dh̃·Whhᵀ
      k->gru_bwd_b(n, H, g, hp, aux, dh);
      if (t) k->gemm(n, H, 2 * H, g, GH, c->wht, H, dh, H, 1); // + dzr·Wzrᵀ
    }
  }
}

// dW[:, j0:j1] = Aᵀ·dz[:, j0:j1] over every row, A = the products' left operand at each step: the
// state before it (h0, then hs shifted by one step), or r·h_prev for the GRU candidate's columns.
static void weight_grad(const seq_layer *l, int j0, int j1) {
  const int B = l->B, H = l->H, GH = gate_count(l) * H, TB = l->T * B;
  const int split = l->lstm ? j1 : (j1 < 2 * H ? j1 : j0 > 2 * H ? j0 : 2 * H);
  if (split > j0) {
    l->k->big(1, H, split - j0, B, l->h0, H, l->gates + j0, GH, l->dwh + j0, GH, 0);
    if (l->T > 1) l->k->big(1, H, split - j0, TB - B, l->hs, H, l->gates + (size_t)B * GH + j0, GH, l->dwh + j0, GH, 1);
  }
  if (j1 > split) l->k->big(1, H, j1 - split, TB, l->rh, H, l->gates + split, GH, l->dwh + split, GH, 0);
}

// (2) Columns [j0, j1) of dWh, dWx, db, and rows [r0, r1) of dx.
static void backward_weights(void *ctx, int part, int parts) {
  const backward_ctx *c = ctx;
  const seq_layer *l = c->l;
  const int H = l->H, GH = gate_count(l) * H, TB = l->T * l->B;
  int j0, j1, r0, r1;
  share(GH, part, parts, COL_ALIGN, &j0, &j1);
  share(TB, part, parts, 1, &r0, &r1);
  if (j1 > j0) {
    weight_grad(l, j0, j1);
    const int w = j1 - j0;
    float *db = l->db + j0;
    memset(db, 0, sizeof(float) * w);
    for (int r = 0; r < TB; r++) {
      const float *g = l->gates + (size_t)r * GH + j0;
      for (int j = 0; j < w; j++) db[j] += g[j];
    }
    if (l->ids) {
      for (int v = 0; v < l->in; v++) memset(l->dwx + (size_t)v * GH + j0, 0, sizeof(float) * w);
      for (int r = 0; r < TB; r++) {
        float *d = l->dwx + (size_t)l->ids[r] * GH + j0;
        const float *g = l->gates + (size_t)r * GH + j0;
        for (int j = 0; j < w; j++) d[j] += g[j];
      }
    } else {
      l->k->big(1, l->in, w, TB, l->x, l->in, l->gates + j0, GH, l->dwx + j0, GH, 0);
    }
  }
  if (l->dx && r1 > r0) l->k->big(0, r1 - r0, l->in, GH, l->gates + (size_t)r0 * GH, GH, c->wxt, l->in, l->dx + (size_t)r0 * l->in, l->in, 0);
}

int seq_backward(const seq_layer *l) {
  const int H = l->H, GH = gate_count(l) * H;
  const size_t wxt = l->dx ? (size_t)GH * l->in : 0;
  backward_ctx c = {l, malloc(sizeof(float) * ((size_t)GH * H + wxt + (size_t)2 * l->B * H)), NULL, NULL};
  if (!c.wht) return -1;
  c.wxt = l->dx ? c.wht + (size_t)GH * H : NULL;
  c.scratch = c.wht + (size_t)GH * H + wxt;
  parallel(parts_of(l, GH), backward_transpose, &c);
  parallel(parts_of(l, l->B), backward_steps, &c);
  parallel(parts_of(l, GH / COL_ALIGN > 0 ? GH / COL_ALIGN : 1), backward_weights, &c);
  free(c.wht);
  return 0;
}

// ------------------------------------------------------------------------------ head

typedef struct {
  const seq_head *h;
  double *part_loss; // [MAX_PARTS]
  float *wt;         // [V, H]: W transposed, for dx
} head_ctx;

static void head_forward_rows(void *ctx, int part, int parts) {
  const head_ctx *c = ctx;
  const seq_head *h = c->h;
  int r0, r1;
  share(h->N, part, parts, 1, &r0, &r1);
  const int n = r1 - r0;
  c->part_loss[part] = 0;
  if (n <= 0) return;
  float *z = h->probs + (size_t)r0 * h->V;
  for (int r = 0; r < n; r++) memcpy(z + (size_t)r * h->V, h->bias, sizeof(float) * h->V);
  h->k->big(0, n, h->V, h->H, h->x + (size_t)r0 * h->H, h->H, h->w, h->V, z, h->V, 1);
  double row_loss[256], sum = 0;
  for (int r = 0; r < n; r += 256) {
    const int m = n - r < 256 ? n - r : 256;
    h->k->xent_fwd(m, h->V, z + (size_t)r * h->V, h->targets + r0 + r, row_loss);
    for (int i = 0; i < m; i++) sum += row_loss[i];
  }
  c->part_loss[part] = sum;
}

static int head_parts(const seq_head *h, int n) {
  const int t = h->threads < 1 ? 1 : h->threads > MAX_PARTS ? MAX_PARTS : h->threads;
  return n < t ? (n < 1 ? 1 : n) : t;
}

int seq_head_forward(const seq_head *h) {
  double part_loss[MAX_PARTS];
  head_ctx c = {h, part_loss, NULL};
  const int parts = head_parts(h, h->N);
  parallel(parts, head_forward_rows, &c);
  double sum = 0;
  for (int p = 0; p < parts; p++) sum += part_loss[p]; // in part order: the same bits every time
  h->loss[0] = (float)(h->mean ? sum / h->N : sum);
  return 0;
}

// (1) Rows: the logits' gradient in place, then dx = dlogits·Wᵀ.
static void head_backward_rows(void *ctx, int part, int parts) {
  const head_ctx *c = ctx;
  const seq_head *h = c->h;
  int r0, r1;
  share(h->N, part, parts, 1, &r0, &r1);
  if (r1 <= r0) return;
  float *p = h->probs + (size_t)r0 * h->V;
  h->k->xent_bwd(r1 - r0, h->V, p, h->targets + r0, h->mean ? h->dloss / h->N : h->dloss);
  h->k->big(0, r1 - r0, h->H, h->V, p, h->V, c->wt, h->H, h->dx + (size_t)r0 * h->H, h->H, 0);
}

// (2) Rows [i0, i1) of dW = xᵀ·dlogits, columns [j0, j1) of db.
static void head_backward_weights(void *ctx, int part, int parts) {
  const head_ctx *c = ctx;
  const seq_head *h = c->h;
  int i0, i1, j0, j1;
  share(h->H, part, parts, 1, &i0, &i1);
  share(h->V, part, parts, 1, &j0, &j1);
  if (i1 > i0) h->k->big(1, i1 - i0, h->V, h->N, h->x + i0, h->H, h->probs, h->V, h->dw + (size_t)i0 * h->V, h->V, 0);
  if (j1 > j0) {
    float *db = h->db;
    for (int j = j0; j < j1; j++) db[j] = 0;
    for (int r = 0; r < h->N; r++) {
      const float *g = h->probs + (size_t)r * h->V;
      for (int j = j0; j < j1; j++) db[j] += g[j];
    }
  }
}

int seq_head_backward(const seq_head *h) {
  head_ctx c = {h, NULL, malloc(sizeof(float) * (size_t)h->V * h->H)};
  if (!c.wt) return -1;
  transpose(h->w, h->H, h->V, c.wt, 0, h->V);
  parallel(head_parts(h, h->N), head_backward_rows, &c);
  parallel(head_parts(h, h->H), head_backward_weights, &c);
  free(c.wt);
  return 0;
}
