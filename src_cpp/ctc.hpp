// CTC loss and gradient (Graves et al. 2006), log-space forward-backward.
//
// Memory layout (all arrays C-contiguous, element strides given explicitly):
//   acts[t * stride_t + n * stride_n + c]   (T, N, C) with stride_t = N*C,
//                                           stride_n = C  (time-major), or
//                                           (N, T, C) with stride_t = C,
//                                           stride_n = T*C (batch-first).
//   grad  has exactly the layout of acts (same strides), or is null.
//   targets[target_offsets[n] + i], i < target_lengths[n]: labels of item n
//   (int64; a padded (N, S) array has target_offsets[n] = n * S).
//   input_lengths[n] <= T, target_lengths[n]: int64, non-negative.
//   losses[n]: OUT, -log p(target_n | acts_n) in natural log (+inf when no
//   alignment exists, NaN when a used input value is NaN or +inf).
//   grad_scale[n]: factor applied to item n's gradient (the reduction's
//   d loss / d loss_n); the gradient is w.r.t. acts:
//     from_logits = false: d loss_n / d acts = -posterior(t, c) (true partial
//       derivative w.r.t. the log-probabilities; acts are used as given);
//     from_logits = true: acts are logits, softmax is fused in, and
//       d loss_n / d acts = softmax(acts[t]) - posterior(t, c).
//   Frames t >= input_lengths[n] get zero gradient.  An impossible item gets
//   a zero gradient when zero_infinity, else NaN on frames t < input_length
//   (torch's behaviour).  A NaN item gets NaN on frames t < input_length.
//
// The arguments must have been validated by the caller (labels in [0, C) and
// != blank, lengths in range); the kernel re-checks cheaply and throws
// std::invalid_argument before doing any work if they are not.
#pragma once

#include <cstdint>

namespace seqloss {

struct CtcArgs {
    const void* acts = nullptr;
    void* grad = nullptr;  // may be null: loss only
    int64_t T = 0, N = 0, C = 0;
    int64_t stride_t = 0, stride_n = 0;
    const int64_t* targets = nullptr;
    const int64_t* target_offsets = nullptr;
    const int64_t* input_lengths = nullptr;
    const int64_t* target_lengths = nullptr;
    const double* grad_scale = nullptr;  // (N,), required when grad != null
    double* losses = nullptr;            // (N,) OUT
    int64_t blank = 0;
    bool from_logits = false;
    bool zero_infinity = false;
    // The gradient buffer was used before (not fresh pages): long rows are
    // then written with non-temporal stores.  A performance hint only.
    bool grad_reused = false;
    int n_threads = 1;
};

void ctc_loss_f32(const CtcArgs& args);
void ctc_loss_f64(const CtcArgs& args);

// Kernel variants (one per instruction-set level), chosen by ctc_loss_*.
#define SEQLOSS_DECLARE_CTC_VARIANT(ns)          \
    namespace ns {                               \
    void ctc_run_f32(const CtcArgs& args);       \
    void ctc_run_f64(const CtcArgs& args);       \
    }
SEQLOSS_DECLARE_CTC_VARIANT(base)
SEQLOSS_DECLARE_CTC_VARIANT(avx2)
SEQLOSS_DECLARE_CTC_VARIANT(avx512)
#undef SEQLOSS_DECLARE_CTC_VARIANT

}  // namespace seqloss
