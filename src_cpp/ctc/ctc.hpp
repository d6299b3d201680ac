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
// != blank, lengths in range); ctc_loss_* re-check cheaply before any work
// and throw std::invalid_argument (ValueError in Python, like the Python
// layer's own checks) for any bad argument; the kernel itself may throw
// std::bad_alloc.  No exception leaves an OpenMP region.
#pragma once

#include <cstdint>

#include "core/isa.hpp"

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
    // Elements readable at `targets` (every target_offsets[n] + target_lengths[n]
    // must be within it), or -1 when the caller does not say.
    int64_t n_targets = -1;
    const double* grad_scale = nullptr;  // (N,), required when grad != null
    double* losses = nullptr;            // (N,) OUT
    int64_t blank = 0;
    bool from_logits = false;
    bool zero_infinity = false;
    // The gradient buffer was used before (not fresh pages): long rows are
    // then written with non-temporal stores.  A performance hint only.
    bool grad_reused = false;
    // Table scratch the call may use, shared by the threads working at once.
    // Without a gradient an item keeps two alpha rows and a few frames of
    // emissions (O(S) memory) whatever this is; with one, an item whose two
    // (T_n, 2 L + 1) tables exceed its share keeps alpha rows every K frames
    // only and recomputes each segment on the way back (same results).
    int64_t max_memory = INT64_MAX;
    // Test hook: the longest segment the checkpointed gradient may use and
    // the checkpointed path forced when smaller than an item (0: no limit).
    int64_t max_segment = 0;
    int n_threads = 1;
};

void ctc_loss_f32(const CtcArgs& args);
void ctc_loss_f64(const CtcArgs& args);

// The kernel table of one instruction-set level (see core/dispatch.hpp).
struct CtcKernels {
    void (*run_f32)(const CtcArgs& args);
    void (*run_f64)(const CtcArgs& args);
};

// Installs the table of `level` (0 base, 1 avx2, 2 avx512); called at import.
void install_ctc_kernels(int level, const void* table);

}  // namespace seqloss

SEQLOSS_ISA_BEGIN
// This level's table (ctc_kernels.cpp, compiled into seqloss._kernels_<level>).
const CtcKernels* ctc_kernels();
SEQLOSS_ISA_END
