// Fused softmax / log-softmax / NLL / cross-entropy kernels (pure C++17).
//
// Memory layout (all arrays C-contiguous, row-major):
//   x, logits, log_probs   (N, C)  element (n, c) at  x[n * C + c]
//   probs (prob. targets)  (N, C)  same layout as the logits
//   targets                (N,)    int64 class indices in [0, C) or ignore_index
//   weight                 (C,)    per-class weights (>= 0), or nullptr for all ones
//   grad                   (N, C)  output, same layout as the logits
//   loss_rows              (N,)    output per-row losses (reduction "none" only)
// N = n_rows, C = n_classes.  The Python layer moves the class axis last and
// validates everything (targets in range, weight length, ...) before calling
// in; these functions re-check cheaply and throw std::invalid_argument
// (ValueError in Python, like the Python layer's own checks), never from
// inside an OpenMP region.
//
// Semantics are torch.nn.functional.cross_entropy / nll_loss exactly
// (weighted mean, ignore_index, label_smoothing mixed as torch mixes it, with
// weights; probability targets).  `grad` is the gradient of the *reduced*
// loss (for reduction "none": of the sum of the per-row losses), times
// grad_scale.  Per-row losses are reduced in row order in double, so results
// are bit-identical for any thread count.
//
// Algorithm: one read pass per row computes max and sum of exponentials
// (online log-sum-exp over L1-sized chunks, base-2 polynomial exp), plus the
// dot products that label smoothing / probability targets need; one more pass
// writes the gradient (softmax - target distribution) * weight / normaliser.
// Rows holding +-inf or NaN take an IEEE (non fast-math) scalar path with
// torch's results.
#pragma once

#include <cstdint>

#include "core/isa.hpp"
#include "core/reduce.hpp"

namespace seqloss {

namespace detail {
struct CeCoef;
}

template <typename T>
struct CeArgs {
    const T* logits = nullptr;        // (N, C)
    int64_t n_rows = 0;               // N
    int64_t n_classes = 0;            // C
    const int64_t* targets = nullptr; // (N,) class indices, or nullptr with probs
    const T* probs = nullptr;         // (N, C) probability targets, or nullptr
    const T* weight = nullptr;        // (C,) or nullptr
    int64_t ignore_index = -100;      // index targets only
    double label_smoothing = 0.0;     // in [0, 1]
    Reduction reduction = Reduction::Mean;
    T* grad = nullptr;                // (N, C) output, or nullptr for the loss only
    bool grad_reused = false;         // grad is a reused buffer (not fresh pages): large
                                      // gradients are then written with streaming stores
    double grad_scale = 1.0;          // multiplies the gradient
    T* loss_rows = nullptr;           // (N,) output, required for Reduction::None
    int n_threads = 1;
    // IEEE path of one row (set by cross_entropy() to ce_row_ieee<T>)
    double (*ieee_row)(const CeArgs& a, const detail::CeCoef& k, int64_t row, T* g) = nullptr;
};

// Cross-entropy of logits (log_softmax fused).  Returns the reduced loss
// (meaningless for Reduction::None, which writes loss_rows).
template <typename T>
double cross_entropy(const CeArgs<T>& a);

// NLL of log-probabilities (probs must be nullptr, label_smoothing 0).
// Gradient w.r.t. the log-probabilities: zero except -w[y] / normaliser at y.
template <typename T>
double nll_loss(const CeArgs<T>& a);

// y = log_softmax(x) (log=true) or softmax(x) (log=false) along rows;
// y may alias x.
template <typename T>
void softmax_rows(const T* x, T* y, int64_t n_rows, int64_t n_classes, bool log,
                  int n_threads);

// Process-wide tuning knobs for benchmarks (not thread-safe); each returns
// the previous value, a negative argument only queries.
//   kTuneStreamMinBytes: reused gradients of at least this many bytes are
//     written with non-temporal stores (fresh pages never are: the kernel
//     has just zeroed them into the cache).
//   kTunePrefetch: 1 = prefetch the next row while writing the gradient.
enum TuneKnob : int { kTuneStreamMinBytes = 0, kTunePrefetch = 1 };
int64_t softmax_tune(int knob, int64_t value);

namespace detail {

// Per-row coefficients shared by the fast (fast-math, vectorised) kernels and
// the IEEE slow path.  For an index-target row with target y:
//   loss_row = c1 * w[y] * (lse - x[y]) + c2 * (lse * S_w - sum_c w[c] x[c])
//   grad[c]  = p[c] * (c1 w[y] + c2 S_w) - c2 w[c] - [c == y] c1 w[y]
// For probability targets q (q' = (1 - eps) q + eps / C):
//   loss_row = c1 * sum_c w[c] q'[c] (lse - x[c])
//   grad[c]  = c1 * (p[c] * sum_c' w[c'] q'[c'] - w[c] q'[c])
// (the gradient terms are then multiplied by grad_scale).
struct CeCoef {
    double c1 = 1.0;      // nll part scale (1 - eps) / D1, or 1 / D for probs
    double c2 = 0.0;      // smoothing part scale eps / (C * D2)
    double eps = 0.0;     // label smoothing
    double sum_w = 0.0;   // S_w = sum of the class weights (C without weights)
    double gscale = 1.0;  // grad_scale
    bool need_dot = false;  // row needs sum_c w[c] x[c] (smoothing, probs)
    bool stream = false;    // write the gradient with non-temporal stores
    bool prefetch = true;   // prefetch the next row's logits during pass 2
};

}  // namespace detail

// The IEEE scalar path for one row (softmax_ieee.cpp: compiled once, into
// seqloss._softmax, without fast-math), which the per-level row kernels are
// handed as pointers: rows holding +-inf or NaN, and non-finite
// coefficients.  ce_row_ieee returns the row's contribution to the reduced
// loss and writes the gradient row when g != nullptr.
template <typename T>
double ce_row_ieee(const CeArgs<T>& a, const detail::CeCoef& k, int64_t row, T* g);
// IEEE softmax / log-softmax of one row.
template <typename T>
void softmax_row_ieee(const T* x, T* y, int64_t n_classes, bool log);
template <typename T>
using SoftmaxRowIeee = void (*)(const T* x, T* y, int64_t n_classes, bool log);

// The kernel table of one instruction-set level (see core/dispatch.hpp).
// ce_rows_* write the gradient rows (if a.grad) and contrib[n] = row n's
// contribution to the reduced loss (c1/c2 already applied); ignored rows get
// 0 and a zero gradient.  force_ieee sends every non-ignored row through the
// IEEE path.  softmax_rows_* run the row kernel on nt threads.
struct SoftmaxKernels {
    void (*ce_rows_f32)(const CeArgs<float>& a, const detail::CeCoef& k, double* contrib,
                        bool force_ieee);
    void (*ce_rows_f64)(const CeArgs<double>& a, const detail::CeCoef& k, double* contrib,
                        bool force_ieee);
    void (*softmax_rows_f32)(const float* x, float* y, int64_t n, int64_t c, bool log, int nt,
                             SoftmaxRowIeee<float> ieee_row);
    void (*softmax_rows_f64)(const double* x, double* y, int64_t n, int64_t c, bool log,
                             int nt, SoftmaxRowIeee<double> ieee_row);
};

// Installs the table of `level` (0 base, 1 avx2, 2 avx512); called at import.
void install_softmax_kernels(int level, const void* table);


}  // namespace seqloss

SEQLOSS_ISA_BEGIN

// This level's table (softmax_kernels.cpp, compiled into seqloss._kernels_<level>).
const SoftmaxKernels* softmax_kernels();

SEQLOSS_ISA_END

