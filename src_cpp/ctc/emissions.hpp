// CTC part: the extended states of an item and the gather of their
// emissions (pass 1 of ctc_kernel.hpp, after the row normaliser).
//
// For L labels lab[0, L) the S = 2 L + 1 extended states are blank, lab[0],
// blank, ..., lab[L-1], blank: cls[s] is the class of state s (padded with
// the blank to Sp = round_up(S, kLanes)), skip[kLanes + s] is 0 where the
// transition s - 2 -> s is allowed (a label differing from the previous one)
// and kSent elsewhere, lim[s] is max() on real states and kSent on padding.
// A frame's emission row is e[s] = log2 y_t(cls[s]) = expo(x[cls[s]]) - lo,
// where expo is the row softmax's exponent (RowSoftmax::expo: x log2 e - mm,
// or (x - m) log2 e for rows with a huge max m; both 0 for log-probabilities)
// and lo the log2 of the row's sum of exponentials, clamped to [kSent,
// lim[s]], written as whole vectors of e[0, Sp) plus kLanes sentinel elements
// after them.  mm and lo stay apart and the exponents are the softmax's own,
// so logits of any finite size keep their precision (with x log2 e minus the
// normaliser rounded to one number, logits of 1e7 in float32 - or 1e18 in
// float64 - lost whole units of log2 and gave a wrong finite loss).
//
// Log-probabilities (or logits below their row max) of less than kSent / log2
// e = -6.9e29 count as log 0, like -inf: the usual mask constants (-1e30,
// -inf) mean "impossible".  So does a total path log-probability below
// 0.5 kSent / log2 e = -3.4e29 (ctc_kernel.hpp's impossibility test).  An
// item whose every path needs such a value is impossible (+inf, or 0 with
// zero_infinity) where torch's float arithmetic returns a number near 1e30.
#pragma once

#include <cstdint>
#include <limits>

#include "core/fastmath.hpp"
#include "ctc/ctc_common.hpp"

SEQLOSS_ISA_BEGIN
namespace ctc {

template <typename T>
struct Emissions : Common<T> {
    SEQLOSS_CTC_COMMON_NAMES;

    // cls[0, Sp), skip[-kLanes, Sp + kLanes) (skip points at index kLanes of
    // its buffer), lim[0, Sp) of an item with labels lab[0, L).
    static void states(const int64_t* lab, int64_t L, int64_t blank, int64_t Sp, int32_t* cls,
                       T* skip, T* lim) {
        const int64_t S = 2 * L + 1;
        for (int64_t s = -kLanes; s < Sp + kLanes; ++s) skip[s] = kSent;
        for (int64_t s = 0; s < Sp; ++s) {
            cls[s] = static_cast<int32_t>(blank);
            lim[s] = s < S ? std::numeric_limits<T>::max() : kSent;
        }
        for (int64_t s = 0; s < S; ++s) {
            cls[s] = static_cast<int32_t>((s & 1) ? lab[(s - 1) / 2] : blank);
            if ((s & 1) && s >= 3 && lab[(s - 1) / 2] != lab[(s - 3) / 2]) skip[s] = 0;
        }
    }

    // The emission row e[0, Sp + kLanes) of the frame x (see above).  Whole
    // blocks: cls is padded with the blank, and lim turns the padding states
    // into the sentinel.  Each block is gathered into a register (no
    // scalar-store/vector-load stall).  Returns whether a gathered value may
    // be an inf, a NaN or of magnitude >= 2^98 (bit patterns; see used_is_bad).
    static SEQLOSS_INLINE bool gather(const T* x, const int32_t* cls, const T* lim, int64_t Sp,
                                      T m, T mm, bool exact, T lo, T* e) {
        IVec seen = Ops::isplat(0);
        for (int64_t s = 0; s < Sp; s += kLanes) {
            const Vec v = Ops::gather(x, cls + s);
            const IVec b = simd::bits<IVec>(v) & static_cast<Int>(M::kAbsMask);
            seen = simd::select<IVec>(b > seen, b, seen);
            const Vec ev = (exact ? (v - m) * kLog2e : v * kLog2e - mm) - lo;
            Ops::store(e + s, Ops::min(Ops::max(ev, Ops::splat(kSent)), Ops::load(lim + s)));
        }
        for (int64_t j = 0; j < kLanes; ++j) e[Sp + j] = kSent;
        return Ops::any_ge(seen, kBigBits);
    }

    // |x| >= 2^98 (3.2e29), as bits: rows holding one take used_is_bad's scalar check.
    static constexpr Int kBigBits = static_cast<Int>(
        sizeof(T) == 4 ? UINT64_C(0x70800000) : UINT64_C(0x4610000000000000));

    // NaN, +inf or a value >= 2^98 in a used log-probability makes the loss
    // NaN (-inf, and any value below -6.9e29, is a valid zero probability).  A
    // "log-probability" that large is no log-probability, and past it the
    // sentinel arithmetic of the recursions would no longer tell impossible
    // paths from possible ones.  Rare path, scalar.
    static bool used_is_bad(const T* x, const int32_t* cls, int64_t S) {
        bool bad = false;
        for (int64_t s = 0; s < S; ++s) {
            const T v = x[cls[s]];
            if (fm::is_nan_bits(v) || fm::is_posinf_bits(v) || v >= T(0x1p98)) bad = true;
        }
        return bad;
    }
};

}  // namespace ctc
SEQLOSS_ISA_END
