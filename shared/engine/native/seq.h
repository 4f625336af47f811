// The training layers over a whole window (seq.c): an LSTM or GRU layer's forward pass over T time
// steps and its backward pass (BPTT), each one call, with its input projection; and the head (the
// output layer and the loss). Split between threads.
#ifndef CHARRNN_SEQ_H
#define CHARRNN_SEQ_H

#include <stdint.h>

#include "kernels.h"

// The kernels of one variant that the layers use. gemm: the recurrent products (c = a·b + c when
// accumulating); big: the products over all T·B rows. A variant without fast ones of its own gets
// sgemm wrappers (blas.c).
typedef struct {
  rows_gemm_fn *gemm;
  gemm_fn *big;
  lstm_fwd_fn *lstm_fwd;
  lstm_bwd_fn *lstm_bwd;
  gru_fwd_zr_fn *gru_fwd_zr;
  gru_fwd_h_fn *gru_fwd_h;
  gru_bwd_a_fn *gru_bwd_a;
  gru_bwd_b_fn *gru_bwd_b;
  xent_fwd_fn *xent_fwd;
  xent_bwd_fn *xent_bwd;
} seq_kernels;

// One layer, time-major: row t·B + b is stream b at step t. G gates: 4 (LSTM i, f, o, g) or 3 (GRU
// z, r, h̃). The input is one-hot ids ([T·B], each < in) or x ([T·B, in]).
typedef struct {
  const seq_kernels *k;
  int lstm, T, B, H, in, threads;
  const int32_t *ids;
  const float *x;
  const float *wx, *bias, *wh; // [in, G·H], [G·H], [H, G·H]
  const float *h0, *c0;        // [B, H] (c0: LSTM)
  // Forward: written. Backward: read (gates is overwritten with the pre-activations' gradient).
  float *gates; // [T·B, G·H] activated gates
  float *cs;    // [T·B, H] LSTM cell states
  float *rh;    // [T·B, H] GRU r·h_prev
  float *hs;    // [T·B, H] outputs
  // Forward: the final state [B, H].
  float *h_last, *c_last;
  // Backward.
  const float *dhs;              // [T·B, H] the outputs' gradient
  float *dx, *dwx, *db, *dwh;    // [T·B, in] (dense input only), [in, G·H], [G·H], [H, G·H]
} seq_layer;

void seq_forward(const seq_layer *l);
// 0, or -1 when scratch memory could not be allocated.
int seq_backward(const seq_layer *l);

// The head: logits = x·W + bias over N rows, and their mean (or summed) softmax cross-entropy.
typedef struct {
  const seq_kernels *k;
  int N, H, V, threads, mean;
  const float *x, *w, *bias; // [N, H], [H, V], [V]
  const int32_t *targets;    // [N], each < V
  float *probs;              // [N, V] forward: the softmax; backward: overwritten with the logits' gradient
  float *loss;               // forward: [1]
  float dloss;               // backward: the loss's gradient
  float *dx, *dw, *db;       // backward: [N, H], [H, V], [V]
} seq_head;

// 0, or -1 when scratch memory could not be allocated.
int seq_head_forward(const seq_head *h);
int seq_head_backward(const seq_head *h);

// c[m×n] = op(a)·b (+ c when accumulating), op(a) = a [m, k] or aᵀ (a [k, m]), with the layers'
// products and threads (benchmarks measure what they reach).
void seq_product(const seq_kernels *k, int threads, int trans_a, int m, int n, int kk, const float *a, const float *b, float *c, int accumulate);

// Stops this thread's helper threads (at the end of a Node environment).
void seq_threads_stop(void);

#endif
