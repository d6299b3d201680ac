// CTC part: the row normalisers of logits (pass 1 of ctc_kernel.hpp) and the
// row writers of the gradient's softmax term.
//
// A row is x[0, C), C >= kLanes (shorter rows are padded with short_row),
// read through overlapping last vectors instead of scalar tails.  All paths
// that produce the same softmax value (row_lse2_store, row_lse2_store2,
// softmax_row; copy_row_scaled and stream_row_scaled) use the same
// operations in the same order, so they give the same bits.  Streamed rows
// go out with non-temporal stores (core/simd.hpp, stream_map).
#pragma once

#include <algorithm>
#include <limits>

#include "core/fastmath.hpp"
#include "ctc/ctc_common.hpp"

SEQLOSS_ISA_BEGIN
namespace ctc {

template <typename T>
struct RowSoftmax : Common<T> {
    SEQLOSS_CTC_COMMON_NAMES;

    // Row tails.  A row with C >= kLanes ends with the overlapping vector
    // x[C - kLanes, C); `fresh` marks its lanes not covered by whole blocks.
    // (Building a vector from scalar stores would stall on store forwarding.)
    // Rows shorter than one vector are copied into a padded buffer first.
    static IVec fresh_lanes(int64_t rem) {
        return Ops::iota() >= Ops::isplat(static_cast<typename Ops::Int>(kLanes - rem));
    }

    // x padded to one vector with `fill` (only for C < kLanes).
    static const T* short_row(const T* x, int64_t C, T fill, T* buf) {
        for (int64_t j = 0; j < kLanes; ++j) buf[j] = j < C ? x[j] : fill;
        return buf;
    }

    // Max of a row, and whether it holds an inf or NaN (bit patterns), in
    // one pass with two accumulators each (the first touch of the row is
    // memory-bound: independent chains keep loads in flight); prefetches the
    // next row to be read.
    static T row_max(const T* x, int64_t C, const T* next, bool& nonfinite) {
        using Int = typename Ops::Int;
        const Int abs_mask = static_cast<Int>(M::kAbsMask);
        Vec mx0 = Ops::splat(std::numeric_limits<T>::lowest()), mx1 = mx0;
        IVec b0 = Ops::isplat(0), b1 = b0;
        int64_t c = 0;
        for (; c + 2 * kLanes <= C; c += 2 * kLanes) {
            if (next) {
                prefetch(next + c);
                if (2 * kLanes * sizeof(T) > 64) prefetch(next + c + kLanes);
            }
            const Vec v0 = Ops::load(x + c), v1 = Ops::load(x + c + kLanes);
            mx0 = Ops::max(mx0, v0);
            mx1 = Ops::max(mx1, v1);
            const IVec i0 = simd::bits<IVec>(v0) & abs_mask, i1 = simd::bits<IVec>(v1) & abs_mask;
            b0 = simd::select<IVec>(i0 > b0, i0, b0);
            b1 = simd::select<IVec>(i1 > b1, i1, b1);
        }
        for (; c < C; c += kLanes) {
            // max and the bit scan are idempotent: an overlapping last vector is fine
            const Vec v = C >= kLanes ? Ops::load(x + std::min(c, C - kLanes)) : Ops::load(x);
            mx0 = Ops::max(mx0, v);
            const IVec i0 = simd::bits<IVec>(v) & abs_mask;
            b0 = simd::select<IVec>(i0 > b0, i0, b0);
        }
        b0 = simd::select<IVec>(b1 > b0, b1, b0);
        nonfinite = Ops::any_ge(b0, static_cast<Int>(M::kInfBits));
        return Ops::hmax(Ops::max(mx0, mx1));
    }


    // A row with an inf or NaN: true when the softmax is undefined (a NaN, a
    // +inf, or every entry -inf), as in torch.  Rare path, scalar.
    static bool row_is_bad(const T* x, int64_t C) {
        bool all_neg_inf = true;
        for (int64_t c = 0; c < C; ++c) {
            if (fm::is_nan_bits(x[c]) || fm::is_posinf_bits(x[c])) return true;
            if (!fm::is_nonfinite_bits(x[c])) all_neg_inf = false;
        }
        return all_neg_inf;
    }

    // The exponent of x in a row whose max is m, in log2 units: x log2 e -
    // mm (one fused multiply-add where the level has FMA), with mm = m log2 e
    // rounded to T.  The rounding of mm shifts every exponent of the row
    // alike, so it cancels in the normalised softmax and in the emissions
    // (Emissions::gather uses the same mm); the rounding of x log2 e (no FMA)
    // is at most half an ulp of 92 while |x| < 64, as for any such logit.
    // Rows with |m| >= kExactFrom take (x - m) log2 e instead (one more
    // operation; x - m is exact near the max), so logits of any finite size
    // keep their precision.
    static constexpr T kExactFrom = T(64);
    struct Shift {
        T m;      // the row max
        T mm;     // m log2 e rounded to T
        bool exact;
    };
    static Shift shift_of(T m) {
        return {m, m * kLog2e, !(m < kExactFrom && m > -kExactFrom)};
    }
    template <bool kExact>
    static SEQLOSS_INLINE Vec expo(Vec x, Vec mv, Vec mmv) {
        if (kExact) return (x - mv) * kLog2e;
        return x * kLog2e - mmv;
    }

    // log2 of a sum of exponentials (in double).  The row's log2 normaliser
    // is mm + this (see expo); the two parts are kept apart: with m large,
    // the rounding of mm + log2 sum would swamp the small part.
    static double log2_sum(Vec acc) {
        const T s = Ops::hsum(acc);
        if (sizeof(T) == 4)  // the result is used in float: a float log2 is enough
            return static_cast<double>(fm::Math<float>::log2(static_cast<float>(s)));
        return fm::Math<double>::log2(static_cast<double>(s));
    }

    // log2 sum_c 2^expo(x_c) (the row's normaliser without its mm part, see
    // expo and log2_sum); also stores the
    // unnormalised exponentials out[c] = 2^expo(x_c) (the row
    // buffer, which pass 1 writes out scaled) and returns their sum in `sum`.
    // One code path for the loss with and without gradient, so both give the
    // same bits.  Needs C >= kLanes (callers pad shorter rows with lowest()).
    static double row_lse2_store(const T* x, int64_t C, const Shift& sh, T* out, double& sum) {
        return sh.exact ? lse2_store<true>(x, C, sh, out, sum) : lse2_store<false>(x, C, sh, out, sum);
    }
    template <bool kExact>
    static double lse2_store(const T* x, int64_t C, const Shift& sh, T* out, double& sum) {
        const Vec mv = Ops::splat(sh.m), mmv = Ops::splat(sh.mm);
        Vec acc0 = Ops::splat(0), acc1 = acc0;
        int64_t c = 0;
        for (; c + 2 * kLanes <= C; c += 2 * kLanes) {
            const Vec p0 = Ops::exp2(expo<kExact>(Ops::load(x + c), mv, mmv), kRowCut);
            const Vec p1 = Ops::exp2(expo<kExact>(Ops::load(x + c + kLanes), mv, mmv), kRowCut);
            Ops::store(out + c, p0);
            Ops::store(out + c + kLanes, p1);
            acc0 += p0;
            acc1 += p1;
        }
        for (; c + kLanes <= C; c += kLanes) {
            const Vec p = Ops::exp2(expo<kExact>(Ops::load(x + c), mv, mmv), kRowCut);
            Ops::store(out + c, p);
            acc0 += p;
        }
        if (c < C) {  // the overlapping last vector: same values rewritten
            const Vec p = Ops::exp2(expo<kExact>(Ops::load(x + C - kLanes), mv, mmv), kRowCut);
            Ops::store(out + C - kLanes, p);
            acc1 += simd::select<Vec>(fresh_lanes(C - c), p, Ops::splat(0));
        }
        const Vec acc = acc0 + acc1;
        sum = static_cast<double>(Ops::hsum(acc));
        return log2_sum(acc);
    }

    // row_max for two rows of C >= kLanes elements at once (two independent
    // dependency chains: short rows are latency-bound); no prefetch.
    static void row_max2(const T* x0, const T* x1, int64_t C, T& m0, T& m1, bool& nf0,
                         bool& nf1) {
        using Int = typename Ops::Int;
        const Int abs_mask = static_cast<Int>(M::kAbsMask);
        Vec mx0 = Ops::splat(std::numeric_limits<T>::lowest()), mx1 = mx0;
        IVec b0 = Ops::isplat(0), b1 = b0;
        for (int64_t c = 0; c < C; c += kLanes) {
            const int64_t o = std::min(c, C - kLanes);  // overlapping last vector
            const Vec v0 = Ops::load(x0 + o), v1 = Ops::load(x1 + o);
            mx0 = Ops::max(mx0, v0);
            mx1 = Ops::max(mx1, v1);
            const IVec i0 = simd::bits<IVec>(v0) & abs_mask, i1 = simd::bits<IVec>(v1) & abs_mask;
            b0 = simd::select<IVec>(i0 > b0, i0, b0);
            b1 = simd::select<IVec>(i1 > b1, i1, b1);
        }
        nf0 = Ops::any_ge(b0, static_cast<Int>(M::kInfBits));
        nf1 = Ops::any_ge(b1, static_cast<Int>(M::kInfBits));
        m0 = Ops::hmax(mx0);
        m1 = Ops::hmax(mx1);
    }

    // row_lse2_store for two rows at once, each with exactly the operations
    // (and so the bits) of row_lse2_store.
    static void row_lse2_store2(const T* x0, const T* x1, int64_t C, const Shift& s0,
                                const Shift& s1, T* out0, T* out1, double& sum0, double& sum1,
                                double& l0, double& l1) {
        if (s0.exact || s1.exact)
            lse2_store2<true>(x0, x1, C, s0, s1, out0, out1, sum0, sum1, l0, l1);
        else
            lse2_store2<false>(x0, x1, C, s0, s1, out0, out1, sum0, sum1, l0, l1);
    }
    template <bool kExact>
    static void lse2_store2(const T* x0, const T* x1, int64_t C, const Shift& s0,
                            const Shift& s1, T* out0, T* out1, double& sum0, double& sum1,
                            double& l0, double& l1) {
        const Vec mv0 = Ops::splat(s0.m), mv1 = Ops::splat(s1.m);
        const Vec mmv0 = Ops::splat(s0.mm), mmv1 = Ops::splat(s1.mm);
        Vec a00 = Ops::splat(0), a01 = a00, a10 = a00, a11 = a00;
        int64_t c = 0;
        for (; c + 2 * kLanes <= C; c += 2 * kLanes) {
            const Vec p00 = Ops::exp2(expo<kExact>(Ops::load(x0 + c), mv0, mmv0), kRowCut);
            const Vec p10 = Ops::exp2(expo<kExact>(Ops::load(x1 + c), mv1, mmv1), kRowCut);
            const Vec p01 = Ops::exp2(expo<kExact>(Ops::load(x0 + c + kLanes), mv0, mmv0), kRowCut);
            const Vec p11 = Ops::exp2(expo<kExact>(Ops::load(x1 + c + kLanes), mv1, mmv1), kRowCut);
            Ops::store(out0 + c, p00);
            Ops::store(out1 + c, p10);
            Ops::store(out0 + c + kLanes, p01);
            Ops::store(out1 + c + kLanes, p11);
            a00 += p00;
            a10 += p10;
            a01 += p01;
            a11 += p11;
        }
        for (; c + kLanes <= C; c += kLanes) {
            const Vec p0 = Ops::exp2(expo<kExact>(Ops::load(x0 + c), mv0, mmv0), kRowCut);
            const Vec p1 = Ops::exp2(expo<kExact>(Ops::load(x1 + c), mv1, mmv1), kRowCut);
            Ops::store(out0 + c, p0);
            Ops::store(out1 + c, p1);
            a00 += p0;
            a10 += p1;
        }
        if (c < C) {
            const Vec p0 = Ops::exp2(expo<kExact>(Ops::load(x0 + C - kLanes), mv0, mmv0), kRowCut);
            const Vec p1 = Ops::exp2(expo<kExact>(Ops::load(x1 + C - kLanes), mv1, mmv1), kRowCut);
            Ops::store(out0 + C - kLanes, p0);
            Ops::store(out1 + C - kLanes, p1);
            const IVec fresh = fresh_lanes(C - c);
            a01 += simd::select<Vec>(fresh, p0, Ops::splat(0));
            a11 += simd::select<Vec>(fresh, p1, Ops::splat(0));
        }
        const Vec acc0 = a00 + a01, acc1 = a10 + a11;
        sum0 = static_cast<double>(Ops::hsum(acc0));
        sum1 = static_cast<double>(Ops::hsum(acc1));
        l0 = log2_sum(acc0);
        l1 = log2_sum(acc1);
    }


    // out[c] = 2^expo(x_c) * scale, C >= kLanes: the same operations as
    // row_lse2_store + copy_row_scaled, so all paths give the same bits.
    static void softmax_row(const T* x, int64_t C, const Shift& sh, T scale, T* out) {
        if (sh.exact)
            softmax_row_t<true>(x, C, sh, scale, out);
        else
            softmax_row_t<false>(x, C, sh, scale, out);
    }
    template <bool kExact>
    static void softmax_row_t(const T* x, int64_t C, const Shift& sh, T scale, T* out) {
        const Vec mv = Ops::splat(sh.m), mmv = Ops::splat(sh.mm);
        int64_t c = 0;
        for (; c + kLanes <= C; c += kLanes)
            Ops::store(out + c, Ops::exp2(expo<kExact>(Ops::load(x + c), mv, mmv), kRowCut) * scale);
        if (c < C)  // overlapping last vector: same values rewritten
            Ops::store(out + C - kLanes,
                       Ops::exp2(expo<kExact>(Ops::load(x + C - kLanes), mv, mmv), kRowCut) * scale);
    }

    // dst[0, C) = src[0, C) with non-temporal stores where dst is aligned.
    static void stream_row(T* dst, const T* src, int64_t C) { simd::stream_copy(dst, src, C); }

    // dst[0, C) = src[0, C) * scale (normal stores)
    static void copy_row_scaled(T* dst, const T* src, int64_t C, T scale) {
        int64_t c = 0;
        for (; c + kLanes <= C; c += kLanes) Ops::store(dst + c, Ops::load(src + c) * scale);
        for (; c < C; ++c) dst[c] = src[c] * scale;
    }

    // dst[0, C) = src[0, C) * scale, streamed like stream_row (the product
    // rounds the same in a lane as in a scalar: same bits as copy_row_scaled).
    static void stream_row_scaled(T* dst, const T* src, int64_t C, T scale) {
        simd::stream_map(dst, src, C, [scale](auto v) { return v * scale; });
    }
};

}  // namespace ctc
SEQLOSS_ISA_END
