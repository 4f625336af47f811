// An LSTM or GRU layer over a whole training window in one call each way, so that no JavaScript runs
// inside the time loop, and the head (output layer and loss) the same way: fused.ts is the
// TypeScript side, cells.ts and model.ts the tfjs twins they are tested against. Before, each time
// step was a dozen tfjs ops each way, and their dispatch, allocation and element-wise kernels cost as
// much as the recurrent product itself.
//
// Layer forward: (1) the input projection of all T·B rows, bias included, written where the gates
//   will be; (2) for a group of streams, step after step (a one-hot input's projection, a row
//   gather, is done here): the recurrent product added in place, and one vectorised pass over the
//   gates (gates.c) that leaves the activated gates, c and h.
// Layer backward: (1) for a group of streams, from the last step to the first: one pass turns the
//   step's gates into the pre-activations' gradient dz in place, and one product carries dh to the
//   step before; (2) per block of gate columns, the weight gradients as products over all T·B rows
//   (dWh, dWx; a scatter-add of dz rows into dWx for one-hot input) and the bias gradient's column
//   sums; per block of rows, dx (dense input). The products over all rows keep a block of weights in
//   L2 for many rows; done step by step inside the time loop instead, a dense layer's Wx (4 MiB at
//   2x512) would stream from L3 once per group of streams and step.
// The products are the variant's (seq.h): on AVX-512 its register blocks (rows.c), else sgemm.
//
// Threads: the work of a call is cut into chunks whose boundaries depend only on the shapes (8
// streams: streams are independent through time; blocks of columns or rows for the rest), and the
// threads take the next chunk as they come free. Each chunk is computed the same way by whichever
// thread runs it, so results do not depend on the thread count nor on timing, and a helper that
// the OS has descheduled (a busy machine) delays a call by a chunk, not by its share.
#include "seq.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

// ------------------------------------------------------------------------------ helper threads

typedef void chunk_fn(void *ctx, int chunk);

#define MAX_THREADS 16

// A calling thread's helpers (thread-local: a second training replica or a sampling thread calling
// the binding at the same time has its own). Every job wakes every helper.
typedef struct {
  int helpers;
  pthread_t thread[MAX_THREADS - 1];
  pthread_mutex_t mu;
  pthread_cond_t go, done;
  unsigned long generation;
  int pending, stop;
  // The job: chunks [0, chunks) of fn, taken in order through `next` by the caller and the first
  // `joining` helpers.
  chunk_fn *fn;
  void *ctx;
  int chunks, joining;
  atomic_int next;
} pool;

typedef struct {
  pool *p;
  int index;          // 1, 2, …
  unsigned long seen; // the generation when it was started: it runs the jobs after it
} helper_arg;

static __thread pool *tls_pool;

static void drain(pool *p, chunk_fn *fn, void *ctx, int chunks) {
  for (int i; (i = atomic_fetch_add(&p->next, 1)) < chunks;) fn(ctx, i);
}

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
    chunk_fn *fn = p->fn;
    void *ctx = p->ctx;
    const int chunks = p->chunks, joins = a.index <= p->joining;
    pthread_mutex_unlock(&p->mu);
    if (joins) drain(p, fn, ctx, chunks);
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
  return p->helpers > 0 ? p : NULL;
}

// fn(ctx, i) for every chunk i in [0, chunks), on this thread and up to threads − 1 helpers; returns
// when all are done. Without helpers (none could start) this thread runs them all: the same results.
static void run_chunks(int threads, int chunks, chunk_fn *fn, void *ctx) {
  if (threads > MAX_THREADS) threads = MAX_THREADS;
  if (threads > chunks) threads = chunks;
  pool *p = threads > 1 ? pool_with(threads - 1) : NULL;
  if (!p) {
    for (int i = 0; i < chunks; i++) fn(ctx, i);
    return;
  }
  pthread_mutex_lock(&p->mu);
  p->fn = fn;
  p->ctx = ctx;
  p->chunks = chunks;
  p->joining = threads - 1;
  atomic_store(&p->next, 0);
  p->pending = p->helpers;
  p->generation++;
  pthread_cond_broadcast(&p->go);
  pthread_mutex_unlock(&p->mu);
  drain(p, fn, ctx, chunks);
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

// ------------------------------------------------------------------------------ chunks

// Streams per chunk of the time loops: the register blocks' row count (rows.c), which runs as fast
// on 8 rows as on 32 (8×2048×512: 189 GFLOP/s, 64×2048×512: 184).
#define STREAMS 8
// Gate columns per chunk of the weight gradients: four of the register blocks' 48 columns. Each
// chunk reads its columns of dz once, and the products' left operand once.
#define COLUMNS 192
// Rows per chunk of the products over T·B rows and of the head.
#define ROWS 256

static int chunks_of(int n, int size) { return (n + size - 1) / size; }

// Chunk i of [0, n) by `size`: [*lo, *hi).
static void chunk(int n, int size, int i, int *lo, int *hi) {
  *lo = i * size;
  *hi = *lo + size < n ? *lo + size : n;
}

// ------------------------------------------------------------------------------ layers

static int gate_count(const seq_layer *l) { return l->lstm ? 4 : 3; }

// Rows [r0, r1) of a one-hot input's projection: gates = rows of Wx, plus bias.
static void gather(const seq_layer *l, int r0, int r1) {
  const int GH = gate_count(l) * l->H;
  for (int r = r0; r < r1; r++) {
    float *g = l->gates + (size_t)r * GH;
    const float *w = l->wx + (size_t)l->ids[r] * GH;
    for (int j = 0; j < GH; j++) g[j] = w[j] + l->bias[j];
  }
}

// (1) Rows [r0, r1) of a dense input's projection: gates = x·Wx + bias.
static void forward_rows(void *ctx, int i) {
  const seq_layer *l = ctx;
  const int GH = gate_count(l) * l->H;
  int r0, r1;
  chunk(l->T * l->B, ROWS, i, &r0, &r1);
  for (int r = r0; r < r1; r++) memcpy(l->gates + (size_t)r * GH, l->bias, sizeof(float) * GH);
  l->k->big(0, r1 - r0, GH, l->in, l->x + (size_t)r0 * l->in, l->in, l->wx, GH, l->gates + (size_t)r0 * GH, GH, 1);
}

// (2) A group of streams [b0, b1) through every step.
static void forward_streams(void *ctx, int i) {
  const seq_layer *l = ctx;
  const seq_kernels *k = l->k;
  const int B = l->B, H = l->H, GH = gate_count(l) * H;
  int b0, b1;
  chunk(B, STREAMS, i, &b0, &b1);
  const int n = b1 - b0;
  for (int t = 0; t < l->T; t++) {
    const size_t row = (size_t)t * B + b0, prev = row - B;
    const float *hp = t ? l->hs + prev * H : l->h0 + (size_t)b0 * H;
    float *g = l->gates + row * GH;
    // One-hot input: the step's projection here, where the rows stay in cache for what follows.
    if (l->ids) gather(l, (int)row, (int)row + n);
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

void seq_forward(const seq_layer *l) {
  if (!l->ids) run_chunks(l->threads, chunks_of(l->T * l->B, ROWS), forward_rows, (void *)l);
  run_chunks(l->threads, chunks_of(l->B, STREAMS), forward_streams, (void *)l);
}

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

static void backward_transpose(void *ctx, int i) {
  const backward_ctx *c = ctx;
  const seq_layer *l = c->l;
  const int GH = gate_count(l) * l->H;
  int j0, j1;
  chunk(GH, COLUMNS, i, &j0, &j1);
  transpose(l->wh, l->H, GH, c->wht, j0, j1);
  if (c->wxt) transpose(l->wx, l->in, GH, c->wxt, j0, j1);
}

// (1) A group of streams [b0, b1), from the last step to the first.
static void backward_streams(void *ctx, int i) {
  const backward_ctx *c = ctx;
  const seq_layer *l = c->l;
  const seq_kernels *k = l->k;
  const int B = l->B, H = l->H, GH = gate_count(l) * H;
  int b0, b1;
  chunk(B, STREAMS, i, &b0, &b1);
  const int n = b1 - b0;
  float *dh = c->scratch + (size_t)b0 * H;        // dh carried to the step before
  float *aux = c->scratch + ((size_t)B + b0) * H; // LSTM: dc; GRU: drh
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

// (2) Gate columns [j0, j1) of dWh, dWx and db, over all T·B rows; after them, rows of dx.
static void backward_columns(void *ctx, int i) {
  const backward_ctx *c = ctx;
  const seq_layer *l = c->l;
  const seq_kernels *k = l->k;
  const int B = l->B, H = l->H, GH = gate_count(l) * H, TB = l->T * B;
  const int column_chunks = chunks_of(GH, COLUMNS);
  int j0, j1;
  if (i >= column_chunks) {
    chunk(TB, ROWS, i - column_chunks, &j0, &j1);
    k->big(0, j1 - j0, l->in, GH, l->gates + (size_t)j0 * GH, GH, c->wxt, l->in, l->dx + (size_t)j0 * l->in, l->in, 0);
    return;
  }
  chunk(GH, COLUMNS, i, &j0, &j1);
  const int w = j1 - j0;
  // dWh = Aᵀ·dz, A = the recurrent products' left operand at each step: the state before it (h0,
  // then hs shifted by one step), or r·h_prev for the GRU candidate's columns.
  const int split = l->lstm ? j1 : (j1 < 2 * H ? j1 : j0 > 2 * H ? j0 : 2 * H);
  if (split > j0) {
    k->big(1, H, split - j0, B, l->h0, H, l->gates + j0, GH, l->dwh + j0, GH, 0);
    if (l->T > 1) k->big(1, H, split - j0, TB - B, l->hs, H, l->gates + (size_t)B * GH + j0, GH, l->dwh + j0, GH, 1);
  }
  if (j1 > split) k->big(1, H, j1 - split, TB, l->rh, H, l->gates + split, GH, l->dwh + split, GH, 0);
  float *db = l->db + j0;
  memset(db, 0, sizeof(float) * w);
  if (l->ids) {
    // One-hot input: dWx's rows are sums of dz rows (a scatter-add), and every dz row lands in one
    // of them, so db is the sum of dWx's V rows rather than of dz's T·B.
    for (int v = 0; v < l->in; v++) memset(l->dwx + (size_t)v * GH + j0, 0, sizeof(float) * w);
    for (int r = 0; r < TB; r++) {
      float *d = l->dwx + (size_t)l->ids[r] * GH + j0;
      const float *g = l->gates + (size_t)r * GH + j0;
      for (int j = 0; j < w; j++) d[j] += g[j];
    }
    for (int v = 0; v < l->in; v++) {
      const float *d = l->dwx + (size_t)v * GH + j0;
      for (int j = 0; j < w; j++) db[j] += d[j];
    }
  } else {
    for (int r = 0; r < TB; r++) {
      const float *g = l->gates + (size_t)r * GH + j0;
      for (int j = 0; j < w; j++) db[j] += g[j];
    }
    k->big(1, l->in, w, TB, l->x, l->in, l->gates + j0, GH, l->dwx + j0, GH, 0);
  }
}

int seq_backward(const seq_layer *l) {
  const int H = l->H, GH = gate_count(l) * H;
  const size_t wxt = l->dx ? (size_t)GH * l->in : 0;
  backward_ctx c = {l, malloc(sizeof(float) * ((size_t)GH * H + wxt + (size_t)2 * l->B * H)), NULL, NULL};
  if (!c.wht) return -1;
  c.wxt = l->dx ? c.wht + (size_t)GH * H : NULL;
  c.scratch = c.wht + (size_t)GH * H + wxt;
  run_chunks(l->threads, chunks_of(GH, COLUMNS), backward_transpose, &c);
  run_chunks(l->threads, chunks_of(l->B, STREAMS), backward_streams, &c);
  run_chunks(l->threads, chunks_of(GH, COLUMNS) + (l->dx ? chunks_of(l->T * l->B, ROWS) : 0), backward_columns, &c);
  free(c.wht);
  return 0;
}

// ------------------------------------------------------------------------------ head

typedef struct {
  const seq_head *h;
  double *chunk_loss; // forward: per chunk of rows
  float *wt;          // backward: [V, H], W transposed, for dx
} head_ctx;

static void head_forward_rows(void *ctx, int i) {
  const head_ctx *c = ctx;
  const seq_head *h = c->h;
  int r0, r1;
  chunk(h->N, ROWS, i, &r0, &r1);
  const int n = r1 - r0;
  float *z = h->probs + (size_t)r0 * h->V;
  for (int r = 0; r < n; r++) memcpy(z + (size_t)r * h->V, h->bias, sizeof(float) * h->V);
  h->k->big(0, n, h->V, h->H, h->x + (size_t)r0 * h->H, h->H, h->w, h->V, z, h->V, 1);
  double row_loss[ROWS], sum = 0;
  h->k->xent_fwd(n, h->V, z, h->targets + r0, row_loss);
  for (int r = 0; r < n; r++) sum += row_loss[r];
  c->chunk_loss[i] = sum;
}

int seq_head_forward(const seq_head *h) {
  const int chunks = chunks_of(h->N, ROWS);
  head_ctx c = {h, malloc(sizeof(double) * chunks), NULL};
  if (!c.chunk_loss) return -1;
  run_chunks(h->threads, chunks, head_forward_rows, &c);
  double sum = 0;
  for (int i = 0; i < chunks; i++) sum += c.chunk_loss[i]; // in chunk order: the same bits every time
  h->loss[0] = (float)(h->mean ? sum / h->N : sum);
  free(c.chunk_loss);
  return 0;
}

// (1) Rows: the logits' gradient in place, then dx = dlogits·Wᵀ.
static void head_backward_rows(void *ctx, int i) {
  const head_ctx *c = ctx;
  const seq_head *h = c->h;
  int r0, r1;
  chunk(h->N, ROWS, i, &r0, &r1);
  float *p = h->probs + (size_t)r0 * h->V;
  h->k->xent_bwd(r1 - r0, h->V, p, h->targets + r0, h->mean ? h->dloss / h->N : h->dloss);
  h->k->big(0, r1 - r0, h->H, h->V, p, h->V, c->wt, h->H, h->dx + (size_t)r0 * h->H, h->H, 0);
}

// (2) Chunks of dW's rows (dW = xᵀ·dlogits), and the last one db.
static void head_backward_weights(void *ctx, int i) {
  const head_ctx *c = ctx;
  const seq_head *h = c->h;
  if (i == chunks_of(h->H, COLUMNS)) {
    memset(h->db, 0, sizeof(float) * h->V);
    for (int r = 0; r < h->N; r++) {
      const float *g = h->probs + (size_t)r * h->V;
      for (int j = 0; j < h->V; j++) h->db[j] += g[j];
    }
    return;
  }
  int i0, i1;
  chunk(h->H, COLUMNS, i, &i0, &i1);
  h->k->big(1, i1 - i0, h->V, h->N, h->x + i0, h->H, h->probs, h->V, h->dw + (size_t)i0 * h->V, h->V, 0);
}

int seq_head_backward(const seq_head *h) {
  head_ctx c = {h, NULL, malloc(sizeof(float) * (size_t)h->V * h->H)};
  if (!c.wt) return -1;
  transpose(h->w, h->H, h->V, c.wt, 0, h->V);
  run_chunks(h->threads, chunks_of(h->N, ROWS), head_backward_rows, &c);
  run_chunks(h->threads, chunks_of(h->H, COLUMNS) + 1, head_backward_weights, &c);
  free(c.wt);
  return 0;
}

// ------------------------------------------------------------------------------ a product

typedef struct {
  const seq_kernels *k;
  int trans_a, m, n, kk, accumulate;
  const float *a, *b;
  float *c;
} product_ctx;

static void product_rows(void *ctx, int i) {
  const product_ctx *p = ctx;
  int r0, r1;
  chunk(p->m, ROWS, i, &r0, &r1);
  const int lda = p->trans_a ? p->m : p->kk;
  const float *a = p->trans_a ? p->a + r0 : p->a + (size_t)r0 * lda;
  p->k->big(p->trans_a, r1 - r0, p->n, p->kk, a, lda, p->b, p->n, p->c + (size_t)r0 * p->n, p->n, p->accumulate);
}

void seq_product(const seq_kernels *k, int threads, int trans_a, int m, int n, int kk, const float *a, const float *b, float *c, int accumulate) {
  product_ctx p = {k, trans_a, m, n, kk, accumulate, a, b, c};
  run_chunks(threads, chunks_of(m, ROWS), product_rows, &p);
}
