// CTC part: the alpha and beta recursions over the extended states, in
// base-2 log space (pass 2 and 3 of ctc_kernel.hpp).
//
// Tables (one item): E[t * RS + kLanes + s] = log2 y_t(class of state s)
// (ctc/emissions.hpp), A[t * RS + kLanes + s] = alpha, beta rows likewise;
// row t is stored minus the previous row's maximum (the running sums of
// those maxima are kept in double by the caller), so float values stay near
// 0.  Only the band of states alive at t (see band) is computed; the
// vectors on either side of it hold the sentinel kSent.
#pragma once

#include "ctc/ctc_common.hpp"

SEQLOSS_ISA_BEGIN
namespace ctc {

template <typename T>
struct Recursions : Common<T> {
    SEQLOSS_CTC_COMMON_NAMES;

    // log2(2^a + 2^b + 2^c), lane-wise, for the recursions.
    static inline Vec lse3(Vec a, Vec b, Vec c) {
        const Vec m01 = Ops::max(a, b), n01 = Ops::min(a, b);
        const Vec m = Ops::max(m01, c), n2 = Ops::min(m01, c);
        const Vec sum = Ops::exp2_nonpos(n01 - m) + Ops::exp2_nonpos(n2 - m) + T(1);
        return m + Ops::log2(sum);
    }

    // Band of states [lo, hi) alive at frame t (reachable and able to finish),
    // widened to whole blocks.
    static void band(int64_t t, int64_t Tn, int64_t S, int64_t& lo, int64_t& hi) {
        int64_t l = S - 2 * (Tn - t);
        if (l < 0) l = 0;
        int64_t h = 2 * t + 2;
        if (h > S) h = S;
        lo = block_down(l);
        hi = block_up(h);
    }


    static void init_row(T* row, int64_t Sp) {
        for (int64_t s = -kLanes; s < Sp + kLanes; s += kLanes) Ops::store(row + s, Ops::splat(kSent));
    }

    // The recursions of one item over its stored rows (index kLanes + s).
    struct Rows {
        const T* E;     // emissions, Tn rows
        T* A;           // alpha, Tn rows
        const T* skip;  // additive skip mask
        int64_t Tn, S, RS;

        // Alpha row t from row t-1 (stored minus mp, its predecessor's max);
        // returns the new row's max.
        SEQLOSS_INLINE T alpha_row(int64_t t, T mp) const {
            return alpha_step(t, A + (t - 1) * RS, A + t * RS, E + t * RS, mp);
        }

        // Alpha row t into cur from prev (row t-1) and e (emissions of
        // frame t): any storage of the rows.
        SEQLOSS_INLINE T alpha_step(int64_t t, const T* prev, T* cur, const T* e, T mp) const {
            int64_t lo, hi;
            band(t, Tn, S, lo, hi);
            const Vec sent = Ops::splat(kSent);
            Ops::store(cur + lo - kLanes, sent);
            Ops::store(cur + hi, sent);
            // Only whole, aligned vectors of the previous row are loaded (they
            // were stored whole, so the loads forward from the stores); the
            // s-1 and s-2 neighbours are lane shifts in registers.
            Vec pb = Ops::load(prev + lo - kLanes);
            Vec mx = sent;
            for (int64_t s = lo; s < hi; s += kLanes) {
                const Vec p0 = Ops::load(prev + s);
                const Vec a1 = Ops::shift_in1(pb, p0);
                const Vec a2 = Ops::shift_in2(pb, p0) + Ops::load(skip + s);
                const Vec r = Ops::max(lse3(p0, a1, a2) + (Ops::load(e + s) - mp), sent);
                Ops::store(cur + s, r);
                mx = Ops::max(mx, r);
                pb = p0;
            }
            return Ops::hmax(mx);
        }

        // Beta row t (into cur) from row t+1 (nxt, stored minus np); returns
        // the new row's max.
        SEQLOSS_INLINE T beta_row(int64_t t, const T* nxt, T* cur, T np) const {
            return beta_step(t, nxt, cur, E + (t + 1) * RS, np);
        }

        // Beta row t into cur from nxt (row t+1) and en (emissions of frame
        // t+1): any storage of the rows.
        SEQLOSS_INLINE T beta_step(int64_t t, const T* nxt, T* cur, const T* en, T np) const {
            int64_t lo, hi;
            band(t, Tn, S, lo, hi);
            const Vec sent = Ops::splat(kSent);
            Ops::store(cur + lo - kLanes, sent);
            Ops::store(cur + hi, sent);
            Vec n0 = Ops::load(nxt + lo);  // whole vectors only, as in alpha_row
            Vec mx = sent;
            for (int64_t s = lo; s < hi; s += kLanes) {
                const Vec n1 = Ops::load(nxt + s + kLanes);
                const Vec b0 = n0 + Ops::load(en + s);
                const Vec b1 = Ops::shift_out1(n0, n1) + Ops::load(en + s + 1);
                const Vec b2 = Ops::shift_out2(n0, n1) + Ops::load(en + s + 2) + Ops::load(skip + s + 2);
                const Vec r = Ops::max(lse3(b0, b1, b2) - np, sent);
                Ops::store(cur + s, r);
                mx = Ops::max(mx, r);
                n0 = n1;
            }
            return Ops::hmax(mx);
        }
    };
};

}  // namespace ctc
SEQLOSS_ISA_END
