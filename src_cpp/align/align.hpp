// CTC forced alignment: the most probable frame path (Viterbi) of each item
// that collapses to its target, with torchaudio's forced_align rules.
//
// Memory layout (all arrays C-contiguous, element strides given explicitly):
//   lp[t * stride_t + n * stride_n + c]    log-probabilities, (T, N, C)
//                                          time-major or (N, T, C)
//                                          batch-first (as CtcArgs).
//   targets[target_offsets[n] + i], i < target_lengths[n]: labels of item n.
//   input_lengths[n] <= T, target_lengths[n]: int64, non-negative, and
//   input_lengths[n] >= target_lengths[n] + repeats (checked by the caller).
//   paths[n * T + t]: OUT, int64, the class of the path at frame t; -1 for
//                     t >= input_lengths[n].
//   scores[n * T + t]: OUT, same float type as lp: lp[t][paths[n][t]] (0 for
//                     the appended star), NaN for t >= input_lengths[n].
//
// Rules (torchaudio.functional.forced_align's CPU kernel, reproduced
// exactly, in the input's float type): extended states blank, l1, blank,
// ..., lL, blank; at frame t only the states in torchaudio's window
// [start_t, end_t) hold a value (all others are -inf); a state takes the
// skip from s - 2 (a label differing from the one before it) or the move
// from s - 1 only when it is strictly greater than both other candidates,
// else it stays (torchaudio 2.9's rule: on an exact tie x1 == x2 > x0 it
// stays, which is not the best path); at the last frame the
// path ends on the last label unless the trailing blank is strictly greater.
// IEEE comparisons throughout (NaN is never greater), so inputs holding -inf
// or NaN give torchaudio's path too, including its back-pointer default for
// states outside the window (the trace moves one state up).
//
// star: -1 for none; else the class index of the wildcard token (it may
// appear in targets); star == C means an appended column of log-probability
// 0 (not stored in lp).
//
// Memory: back-pointers take 2 bits per state inside the window.  When they
// would not fit in max_memory / (threads working at once) for an item, the
// Viterbi rows are kept every K frames and each segment is recomputed on the
// way back (the last segment's back-pointers come from the first pass).
// peak_bytes (optional OUT) receives the largest scratch any item used.
#pragma once

#include <cstdint>

#include "core/isa.hpp"

namespace seqloss {

struct AlignArgs {
    const void* lp = nullptr;
    int64_t T = 0, N = 0, C = 0;
    int64_t stride_t = 0, stride_n = 0;
    const int64_t* targets = nullptr;
    const int64_t* target_offsets = nullptr;
    const int64_t* input_lengths = nullptr;
    const int64_t* target_lengths = nullptr;
    int64_t n_targets = -1;  // elements readable at targets, or -1
    int64_t blank = 0;
    int64_t star = -1;
    int64_t max_memory = int64_t(64) << 20;
    int64_t* paths = nullptr;  // (N, T) OUT
    void* scores = nullptr;    // (N, T) OUT
    int64_t* peak_bytes = nullptr;  // OUT, may be null
    // Test hook: the largest segment length the checkpointed path may use
    // (0: no limit).  Small values force many segments on small inputs.
    int64_t max_segment = 0;
    int n_threads = 1;
};

void ctc_align_f32(const AlignArgs& args);
void ctc_align_f64(const AlignArgs& args);

// The kernel table of one instruction-set level (see core/dispatch.hpp).
struct AlignKernels {
    void (*run_f32)(const AlignArgs& args);
    void (*run_f64)(const AlignArgs& args);
};

void install_align_kernels(int level, const void* table);

}  // namespace seqloss

SEQLOSS_ISA_BEGIN
const AlignKernels* align_kernels();
SEQLOSS_ISA_END
