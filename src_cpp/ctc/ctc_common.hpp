// Shared types and constants of the CTC kernel's parts (ctc/row_softmax.hpp,
// ctc/emissions.hpp, ctc/recursions.hpp, ctc/gradient.hpp, ctc/ctc_kernel.hpp),
// all included by the one per-ISA translation unit ctc_kernels.cpp.
//
// Values are base-2 logarithms; a row of S = 2 L + 1 extended states (L
// labels) is stored padded to Sp = round_up(S, kLanes) elements with kLanes
// sentinel elements on either side (row stride RS = Sp + 2 kLanes, state s at
// index kLanes + s), so every loop over states runs on whole vectors.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/fastmath.hpp"
#include "core/simd_math.hpp"

SEQLOSS_ISA_BEGIN
namespace ctc {

template <typename T>
struct Common {
    using M = fm::Math<T>;
    using UInt = typename M::UInt;
    using Ops = simd::Block<T>;   // vector operations of this level
    using Vec = typename Ops::V;  // one native vector of T
    using IVec = typename Ops::I; // the integer vector of the same lanes
    using Int = typename Ops::Int;
    static constexpr int64_t kLanes = Ops::N;  // elements of T per vector
    static constexpr T kSent = T(-1e30);       // log2 of "impossible"
    static constexpr T kLog2e = T(fm::kLog2e);
    // Softmax terms below 2^kRowCut are exactly 0: scaled by the gradient
    // factor they would otherwise become denormals (slow) - and they are far
    // below the rounding of the row sum anyway.
    static constexpr T kRowCut = sizeof(T) == 4 ? T(-100) : T(-1000);
    // Posteriors below this are flushed to 0 (not scattered; no denormals).
    static constexpr T kTiny = sizeof(T) == 4 ? T(1e-12) : T(1e-280);

    static inline T vmax(T x, T y) { return x > y ? x : y; }
    static int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }
    // kLanes is a power of two: block rounding with masks
    static_assert((kLanes & (kLanes - 1)) == 0, "block width must be a power of two");
    static int64_t block_down(int64_t v) { return v & ~(kLanes - 1); }
    static int64_t block_up(int64_t v) { return (v + kLanes - 1) & ~(kLanes - 1); }

    static inline void prefetch_bytes(const char* p, bool write) {
#if defined(__GNUC__) || defined(__clang__)
        if (write)
            __builtin_prefetch(p, 1, 3);
        else
            __builtin_prefetch(p, 0, 3);
#else
        (void)p, (void)write;
#endif
    }

    static inline void prefetch(const T* p) {
#if defined(__GNUC__) || defined(__clang__)
        __builtin_prefetch(p, 0, 3);
#else
        (void)p;
#endif
    }

};

// The names of Common<T> inside a part's class template.
#define SEQLOSS_CTC_COMMON_NAMES            \
    using Base = ctc::Common<T>;            \
    using typename Base::M;                 \
    using typename Base::UInt;              \
    using typename Base::Ops;               \
    using typename Base::Vec;               \
    using typename Base::IVec;              \
    using typename Base::Int;               \
    using Base::kLanes;                     \
    using Base::kSent;                      \
    using Base::kLog2e;                     \
    using Base::kRowCut;                    \
    using Base::kTiny;                      \
    using Base::vmax;                       \
    using Base::round_up;                   \
    using Base::block_down;                 \
    using Base::block_up;                   \
    using Base::prefetch;                   \
    using Base::prefetch_bytes

}  // namespace ctc
SEQLOSS_ISA_END
