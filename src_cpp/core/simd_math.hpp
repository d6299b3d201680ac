// SIMD arithmetic on one native vector (core/simd.hpp): max/min,
// horizontal reductions as fixed halving trees (deterministic), and the
// base-2 exponential and logarithm.  Block<T> = Lanes<T> + these.
//
// The exp2/log2 here share their polynomial coefficients and range
// reduction with the scalar fm::Math<T>::exp2/log2 (core/fastmath.hpp), for
// loops compiled with -ffinite-math-only: no NaN or infinity may enter them.
// The float polynomials are evaluated with Estrin's scheme here (a shorter
// dependency chain for the latency-bound CTC recursions) and with Horner's in
// the scalar versions (which the auto-vectoriser takes); each scheme's
// rounding is part of the kernels' results, so both stay.
#pragma once

#include "core/fastmath.hpp"
#include "core/simd.hpp"

SEQLOSS_ISA_BEGIN
namespace simd {

template <typename T>
struct Block : Lanes<T> {
    using Base = Lanes<T>;
    using typename Base::V;
    using typename Base::I;
    using typename Base::Int;
    using Base::N;
    using Base::load;
    using Base::store;
    using Base::splat;
    using Base::isplat;

    // max/min of finite values: one instruction (GCC does not turn the
    // vector select into vmaxps by itself).
    static inline V max(V a, V b) {
#if defined(SEQLOSS_GNU_VECTORS) && defined(SEQLOSS_USE_AVX512F)
        if constexpr (sizeof(T) == 4) return (V)_mm512_max_ps((__m512)a, (__m512)b);
        else return (V)_mm512_max_pd((__m512d)a, (__m512d)b);
#elif defined(SEQLOSS_GNU_VECTORS) && defined(SEQLOSS_USE_AVX)
        if constexpr (sizeof(T) == 4) return (V)_mm256_max_ps((__m256)a, (__m256)b);
        else return (V)_mm256_max_pd((__m256d)a, (__m256d)b);
#elif defined(SEQLOSS_GNU_VECTORS) && defined(SEQLOSS_USE_SSE2)
        if constexpr (sizeof(T) == 4) return (V)_mm_max_ps((__m128)a, (__m128)b);
        else return (V)_mm_max_pd((__m128d)a, (__m128d)b);
#else
        return select<V>(a > b, a, b);
#endif
    }
    static inline V min(V a, V b) {
#if defined(SEQLOSS_GNU_VECTORS) && defined(SEQLOSS_USE_AVX512F)
        if constexpr (sizeof(T) == 4) return (V)_mm512_min_ps((__m512)a, (__m512)b);
        else return (V)_mm512_min_pd((__m512d)a, (__m512d)b);
#elif defined(SEQLOSS_GNU_VECTORS) && defined(SEQLOSS_USE_AVX)
        if constexpr (sizeof(T) == 4) return (V)_mm256_min_ps((__m256)a, (__m256)b);
        else return (V)_mm256_min_pd((__m256d)a, (__m256d)b);
#elif defined(SEQLOSS_GNU_VECTORS) && defined(SEQLOSS_USE_SSE2)
        if constexpr (sizeof(T) == 4) return (V)_mm_min_ps((__m128)a, (__m128)b);
        else return (V)_mm_min_pd((__m128d)a, (__m128d)b);
#else
        return select<V>(a < b, a, b);
#endif
    }
    // Horizontal max / sum as a halving tree (log2(N) dependent steps
    // instead of N - 1: these sit on the per-row critical paths).  The order
    // is fixed, so results are deterministic.
    static inline T hmax(V a) {
        reduce_tree(a, [](V x, V y) { return max(x, y); });
        return a[0];
    }
    static inline T hsum(V a) {
        reduce_tree(a, [](V x, V y) { return x + y; });
        return a[0];
    }

    // Lane 0 of the result combines all lanes; other lanes are don't-care.
    template <typename Op>
    static inline void reduce_tree(V& a, Op op) {
#if defined(SEQLOSS_GNU_VECTORS) && (defined(__clang__) || __GNUC__ >= 12)
        if constexpr (N == 16) {
            a = op(a, __builtin_shufflevector(a, a, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3,
                                              4, 5, 6, 7));
        }
        if constexpr (N >= 8) {
            if constexpr (N == 16)
                a = op(a, __builtin_shufflevector(a, a, 4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15,
                                                  8, 9, 10, 11));
            else
                a = op(a, __builtin_shufflevector(a, a, 4, 5, 6, 7, 0, 1, 2, 3));
        }
        if constexpr (N >= 4) {
            if constexpr (N == 16)
                a = op(a, __builtin_shufflevector(a, a, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9,
                                                  14, 15, 12, 13));
            else if constexpr (N == 8)
                a = op(a, __builtin_shufflevector(a, a, 2, 3, 0, 1, 6, 7, 4, 5));
            else
                a = op(a, __builtin_shufflevector(a, a, 2, 3, 0, 1));
        }
        if constexpr (N == 16)
            a = op(a, __builtin_shufflevector(a, a, 1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13,
                                              12, 15, 14));
        else if constexpr (N == 8)
            a = op(a, __builtin_shufflevector(a, a, 1, 0, 3, 2, 5, 4, 7, 6));
        else if constexpr (N == 4)
            a = op(a, __builtin_shufflevector(a, a, 1, 0, 3, 2));
        else
            a = op(a, __builtin_shufflevector(a, a, 1, 0));
#else
        T buf[N];
        store(buf, a);
        for (int w = N / 2; w >= 1; w /= 2)
            for (int i = 0; i < w; ++i) {
                V x = splat(buf[i]), y = splat(buf[i + w]);
                buf[i] = op(x, y)[0];
            }
        a = load(buf);
#endif
    }

    // Small integers (|e| < 2^22) to floating point without a conversion
    // instruction (AVX2 has none for int64): the magic-number trick.
    static inline V small_int_to_float(I e) {
        const T magic = sizeof(T) == 4 ? T(12582912.0) : T(6755399441055744.0);
        return bits<V>(e + bits<I>(splat(magic))) - magic;
    }

    // 2^x, exactly 0 below the smallest normal exponent.
    // With `cut` (>= the smallest exponent), exactly 0 below 2^cut: callers
    // that scale the result use a higher cut so that no product is a
    // denormal number (whose arithmetic is very slow on x86).
    static inline V exp2(V x, T cut = sizeof(T) == 4 ? T(-125) : T(-1022)) {
#if defined(SEQLOSS_GNU_VECTORS) && defined(SEQLOSS_USE_AVX512F)
        if constexpr (sizeof(T) == 4) {  // see exp2_nonpos
            const V xc = min(max(x, splat(T(-125))), splat(T(126)));
            const V n = (V)_mm512_roundscale_ps((__m512)xc, _MM_FROUND_TO_NEAREST_INT |
                                                                 _MM_FROUND_NO_EXC);
            const V r = (V)_mm512_scalef_ps((__m512)poly_exp2(xc - n), (__m512)n);
            return select<V>(x < splat(cut), splat(T(0)), r);
        }
#endif
        const T lo = sizeof(T) == 4 ? T(-126) : T(-1022);
        const T hi = -lo;
        V xc = max(x, splat(lo));
        xc = min(xc, splat(hi));
        const T magic = sizeof(T) == 4 ? T(12582912.0) : T(6755399441055744.0);
        V t = xc + magic;
        V n = t - magic;
        V f = xc - n;
        I ni = bits<I>(t) - bits<I>(splat(magic));
        const V p = poly_exp2(f);
        const int shift = sizeof(T) == 4 ? 23 : 52;
        V r = bits<V>(bits<I>(p) + (ni << shift));
        return select<V>(x < splat(cut > lo ? cut : lo), splat(T(0)), r);
    }

    // 2^x for x <= 0 where results below 2^-126 (2^-1022) only need to be
    // tiny, not zero: the log-sum-exp terms and the posteriors.  No select,
    // no upper clamp.
    static inline V exp2_nonpos(V x) {
#if defined(SEQLOSS_GNU_VECTORS) && defined(SEQLOSS_USE_AVX512F)
        if constexpr (sizeof(T) == 4) {
            // AVX-512: round, polynomial, vscalefps (fewer instructions).
            // Clamped at -125 so that p * 2^n stays a normal number.
            const V xc = max(x, splat(T(-125)));
            const V n = (V)_mm512_roundscale_ps((__m512)xc, _MM_FROUND_TO_NEAREST_INT |
                                                                 _MM_FROUND_NO_EXC);
            return (V)_mm512_scalef_ps((__m512)poly_exp2(xc - n), (__m512)n);
        }
#endif
        const T lo = sizeof(T) == 4 ? T(-126) : T(-1022);
        const V xc = max(x, splat(lo));
        const T magic = sizeof(T) == 4 ? T(12582912.0) : T(6755399441055744.0);
        const V t = xc + magic;
        const V f = xc - (t - magic);
        const I ni = bits<I>(t) - bits<I>(splat(magic));
        const int shift = sizeof(T) == 4 ? 23 : 52;
        return bits<V>(bits<I>(poly_exp2(f)) + (ni << shift));
    }

    // 2^f on [-0.5, 0.5] (core/fastmath.hpp): Estrin's scheme for float,
    // Horner's for double.
    static inline V poly_exp2(V f) {
        if constexpr (sizeof(T) == 4)
            return fm::Exp2Poly<float>::estrin(f);
        else
            return fm::Exp2Poly<double>::horner(f);
    }

    // log2(y) for finite normal y > 0.
    static inline V log2(V y) {
#if defined(SEQLOSS_GNU_VECTORS) && defined(SEQLOSS_USE_AVX512F)
        if constexpr (sizeof(T) == 4) {
            // AVX-512: y = m 2^k with m in [0.75, 1.5) from vgetmantps; k is
            // vgetexpps's floor(log2 y), plus 1 when the mantissa was halved.
            const __m512 yv = (__m512)y;
            const __m512 m = _mm512_getmant_ps(yv, _MM_MANT_NORM_p75_1p5, _MM_MANT_SIGN_src);
            __m512 k = _mm512_getexp_ps(yv);
            k = _mm512_mask_add_ps(k, _mm512_cmp_ps_mask(m, _mm512_set1_ps(1.0f), _CMP_LT_OQ), k,
                                   _mm512_set1_ps(1.0f));
            // ln(1 + x), x in [-0.25, 0.5): x - x^2/2 + x^3 P(x), P least-squares fit
            // (max error 3e-9), evaluated with Estrin's scheme.
            const V x = (V)m - T(1);
            const V x2 = x * x;
            const V x4 = x2 * x2;
            const V q01 = x * T(-0.2500002682209015) + T(0.33333519101142883);
            const V q23 = x * T(-0.166470006108284) + T(0.19987940788269043);
            const V q45 = x * T(-0.13197018206119537) + T(0.14516352117061615);
            const V q67 = x * T(-0.04316854849457741) + T(0.10325246304273605);
            const V p = (q67 * x2 + q45) * x4 + (q23 * x2 + q01);
            const V ln = x + (x2 * x * p - T(0.5) * x2);
            return ln * T(1.4426950408889634074) + (V)k;
        }
#endif
        I b = bits<I>(y);
        I e, mant;
        if (sizeof(T) == 4) {
            e = ((b >> 23) & Int(0xff)) - Int(127);
            mant = (b & Int(0x007fffff)) | Int(0x3f800000);
        } else {
            e = ((b >> 52) & Int(0x7ff)) - Int(1023);
            mant = (b & Int(0x000fffffffffffffll)) | Int(0x3ff0000000000000ll);
        }
        V m = bits<V>(mant);  // [1, 2)
        auto big = m > splat(T(1.4142135623730951));
        m = select<V>(big, m * T(0.5), m);
        V ef = small_int_to_float(e) + select<V>(big, splat(T(1)), splat(T(0)));
        V ln;
        if constexpr (sizeof(T) == 4) {
            // Cephes logf polynomial, evaluated with Estrin's scheme.
            const V x = m - T(1);
            const V z = x * x;
            const V z2 = z * z;
            const V q01 = x * T(-2.4999993993e-1) + T(3.3333331174e-1);
            const V q23 = x * T(-1.6668057665e-1) + T(2.0000714765e-1);
            const V q45 = x * T(-1.2420140846e-1) + T(1.4249322787e-1);
            const V q67 = x * T(-1.1514610310e-1) + T(1.1676998740e-1);
            const V q8 = splat(T(7.0376836292e-2));
            const V lo = q23 * z + q01;
            const V hi = (q8 * z + q67) * z + q45;
            const V p = hi * z2 + lo;
            ln = x + (x * z * p - T(0.5) * z);
        } else {
            V z = (m - T(1)) / (m + T(1));
            V z2 = z * z;
            const V p = fm::log2_series(z2);
            ln = T(2) * z * p;
        }
        return ef + ln * T(1.4426950408889634074);
    }
};

}  // namespace simd
SEQLOSS_ISA_END
