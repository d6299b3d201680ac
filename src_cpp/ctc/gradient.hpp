// CTC part: the gradient's posterior term (pass 3 of ctc_kernel.hpp).
//
// At frame t the state posteriors are gamma_s = 2^(A[t][s] + B[t][s] + c0),
// c0 = Oa[t] + Ob[t] - log2 p (the stored alpha and beta rows plus their
// offsets, ctc/recursions.hpp); the gradient row of the item is
//   g[c] = scale * softmax(x_t)[c] - scale * sum of gamma_s over the states s of class c
// (from_logits; with log-probabilities in, no softmax term).  The blank
// states (even s) are summed into one subtraction; the label states (odd s)
// are scattered to their classes cls[s].
#pragma once

#include <algorithm>
#include <cstdint>

#include "ctc/ctc_common.hpp"
#include "ctc/recursions.hpp"

SEQLOSS_ISA_BEGIN
namespace ctc {

template <typename T>
struct Gradient : Common<T> {
    SEQLOSS_CTC_COMMON_NAMES;
    using Rows = typename Recursions<T>::Rows;

    // The posteriors of frame t's band of states, in gam[kLanes + s].
    struct Posteriors {
        int64_t lo, hi;  // the band, whole vectors
        bool sparse;     // live[] marks the vectors with a non-zero posterior
        T blank;         // sum over the blank states
    };

    // Posteriors of the states at frame t (alpha row t of `rows`, beta row
    // bt, c0 = Oa + Ob - log2 p) into gam (offset kLanes, as the rows).
    static SEQLOSS_INLINE Posteriors posteriors(const Rows& rows, int64_t t, const T* bt, T c0,
                                                T* gam, uint8_t* live) {
        return posteriors_at(rows, t, rows.A + t * rows.RS, bt, c0, gam, live);
    }

    // The same with alpha row t at `at` (any storage of the rows).
    static SEQLOSS_INLINE Posteriors posteriors_at(const Rows& rows, int64_t t, const T* at,
                                                   const T* bt, T c0, T* gam, uint8_t* live) {
        Posteriors p;
        Recursions<T>::band(t, rows.Tn, rows.S, p.lo, p.hi);
        const int64_t lo = p.lo, hi = p.hi;
        Vec bsum = Ops::splat(0);
        Vec even;  // 1 on the blank (even) states of a block, 0 on labels
        for (int64_t j = 0; j < kLanes; ++j) even[j] = (j & 1) ? T(0) : T(1);
        // Wide bands: remember which blocks hold a non-negligible posterior
        // and scatter only those; narrow ones scatter all.
        p.sparse = hi - lo > 8 * kLanes;
        const Vec tiny = Ops::splat(kTiny), zero = Ops::splat(T(0));
        for (int64_t s = lo; s < hi; s += kLanes) {
            // Negligible posteriors are flushed to exactly 0: scaled, they
            // would be denormal numbers, whose arithmetic costs ~100 cycles
            // per operation on x86 (this was a third of the time of small
            // batches).
            Vec g = Ops::exp2_nonpos(Ops::load(at + s) + Ops::load(bt + s) + c0);
            g = simd::select<Vec>(g > tiny, g, zero);
            Ops::store(gam + s, g);
            bsum += g * even;
            if (p.sparse) live[s / kLanes] = Ops::hmax(g) > T(0);
        }
        p.blank = Ops::hsum(bsum);
        return p;
    }

    // gr[c] -= gsT * (posterior of the states of class c), for a row gr
    // that holds the scaled softmax (or zeros).
    static SEQLOSS_INLINE void subtract(T* gr, int64_t blank, const Posteriors& p, int64_t S,
                                        const T* gam, const uint8_t* live, const int32_t* cls,
                                        T gsT) {
        gr[blank] -= gsT * p.blank;
        scatter(gr, p.lo, p.hi, S, p.sparse, gam, live, cls, gsT);
    }

    // gr[class of label state s] -= scale * posterior(s) over the band.
    static void scatter(T* gr, int64_t lo, int64_t hi, int64_t S, bool sparse, const T* gam,
                        const uint8_t* live, const int32_t* cls, T gsT) {
        if (sparse) {
            for (int64_t s0 = lo; s0 < hi; s0 += kLanes) {
                if (!live[s0 / kLanes]) continue;
                const int64_t s_end = std::min(s0 + kLanes, S);
                for (int64_t s = s0 + 1; s < s_end; s += 2) {
                    const T g = gam[s];
                    if (g > T(0)) gr[cls[s]] -= gsT * g;
                }
            }
        } else {
            const int64_t s_end = std::min(hi, S);
            for (int64_t s = lo + 1; s < s_end; s += 2) gr[cls[s]] -= gsT * gam[s];
        }
    }
};

}  // namespace ctc
SEQLOSS_ISA_END
