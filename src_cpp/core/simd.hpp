// SIMD blocks for the kernels: one native vector of the translation unit's
// target (64 bytes with AVX-512, 32 with AVX, 16 otherwise).
//
// With GCC/clang the block is a GNU vector type of exactly the native width,
// so each operation compiles to one instruction (wider GNU vectors get their
// selects split into scalars by GCC): the same source serves every dispatch
// level, and the code does not depend on the auto-vectoriser's mood.  Other
// compilers get a plain array type with element-wise operators (same
// results, slower).
//
// The exp2/log2 here are the vector twins of fm::Math<T>::exp2/log2 (same
// polynomials, same clamping), for loops compiled with
// -ffinite-math-only: no NaN or infinity may enter them.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "core/isa.hpp"  // SEQLOSS_USE_<ISA>
#if defined(SEQLOSS_USE_SSE2) || defined(SEQLOSS_USE_AVX2) || defined(SEQLOSS_USE_AVX512F)
#include <immintrin.h>
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
// GCC 12 reports the _mm512_undefined_* placeholders inside its own AVX-512
// intrinsics as uninitialised wherever they are inlined (GCC bug 105593,
// fixed in GCC 13): hundreds of false warnings per build.  The kernel
// translation units that include this header get them switched off.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#endif


SEQLOSS_ISA_BEGIN
namespace simd {

// The target's vector width, also for the generic fallback (same lanes, same
// summation order, so the same results as the GNU-vector build).
#if defined(__AVX512F__)
#define SEQLOSS_VBYTES 64
#elif defined(__AVX__)
#define SEQLOSS_VBYTES 32
#else
#define SEQLOSS_VBYTES 16
#endif

#if (defined(__GNUC__) || defined(__clang__)) && \
    !(defined(SEQLOSS_GENERIC_SIMD) && SEQLOSS_GENERIC_SIMD)
#define SEQLOSS_GNU_VECTORS 1

template <typename T>
struct Types;
template <>
struct Types<float> {
    typedef float V __attribute__((vector_size(SEQLOSS_VBYTES)));
    typedef int32_t I __attribute__((vector_size(SEQLOSS_VBYTES)));
};
template <>
struct Types<double> {
    typedef double V __attribute__((vector_size(SEQLOSS_VBYTES)));
    typedef int64_t I __attribute__((vector_size(SEQLOSS_VBYTES)));
};

template <typename V>
inline V select(decltype(V{} < V{}) mask, V a, V b) {
    return mask ? a : b;
}
template <typename To, typename From>
inline To bits(From v) {
    return (To)v;  // reinterpretation of the same 64 bytes
}

#else  // portable fallback: element-wise operators on an array

template <typename E, int N>
struct Pack {
    E v[N];
    E& operator[](int i) { return v[i]; }
    E operator[](int i) const { return v[i]; }
#define SEQLOSS_PACK_OP(op)                                                       \
    friend Pack operator op(Pack a, Pack b) {                                     \
        for (int i = 0; i < N; ++i) a.v[i] = a.v[i] op b.v[i];                    \
        return a;                                                                 \
    }                                                                             \
    friend Pack operator op(Pack a, E b) {                                        \
        for (int i = 0; i < N; ++i) a.v[i] = a.v[i] op b;                         \
        return a;                                                                 \
    }                                                                             \
    friend Pack operator op(E a, Pack b) {                                        \
        for (int i = 0; i < N; ++i) b.v[i] = a op b.v[i];                         \
        return b;                                                                 \
    }
    SEQLOSS_PACK_OP(+)
    SEQLOSS_PACK_OP(-)
    SEQLOSS_PACK_OP(*)
    SEQLOSS_PACK_OP(/)
#undef SEQLOSS_PACK_OP
    Pack& operator+=(Pack b) { return *this = *this + b; }
};

template <typename E, int N>
struct IPack {
    E v[N];
    E& operator[](int i) { return v[i]; }
    E operator[](int i) const { return v[i]; }
#define SEQLOSS_IPACK_OP(op)                                \
    friend IPack operator op(IPack a, IPack b) {            \
        for (int i = 0; i < N; ++i) a.v[i] = a.v[i] op b.v[i]; \
        return a;                                           \
    }                                                       \
    friend IPack operator op(IPack a, E b) {                \
        for (int i = 0; i < N; ++i) a.v[i] = a.v[i] op b;   \
        return a;                                           \
    }
    SEQLOSS_IPACK_OP(&)
    SEQLOSS_IPACK_OP(|)
    SEQLOSS_IPACK_OP(^)
    SEQLOSS_IPACK_OP(+)
    SEQLOSS_IPACK_OP(-)
#undef SEQLOSS_IPACK_OP
    friend IPack operator<<(IPack a, int s) {
        for (int i = 0; i < N; ++i)
            a.v[i] = static_cast<E>(static_cast<std::make_unsigned_t<E>>(a.v[i]) << s);
        return a;
    }
    friend IPack operator>>(IPack a, int s) {
        for (int i = 0; i < N; ++i) a.v[i] >>= s;
        return a;
    }
    // lane masks: all ones where true, as GNU vector compares give
#define SEQLOSS_IPACK_CMP(op)                                                 \
    friend IPack operator op(IPack a, IPack b) {                              \
        for (int i = 0; i < N; ++i) a.v[i] = a.v[i] op b.v[i] ? E(-1) : E(0); \
        return a;                                                             \
    }
    SEQLOSS_IPACK_CMP(<)
    SEQLOSS_IPACK_CMP(>)
    SEQLOSS_IPACK_CMP(<=)
    SEQLOSS_IPACK_CMP(>=)
    SEQLOSS_IPACK_CMP(==)
    SEQLOSS_IPACK_CMP(!=)
#undef SEQLOSS_IPACK_CMP
};

template <typename T>
struct Types;
template <>
struct Types<float> {
    typedef Pack<float, SEQLOSS_VBYTES / 4> V;
    typedef IPack<int32_t, SEQLOSS_VBYTES / 4> I;
};
template <>
struct Types<double> {
    typedef Pack<double, SEQLOSS_VBYTES / 8> V;
    typedef IPack<int64_t, SEQLOSS_VBYTES / 8> I;
};

#define SEQLOSS_PACK_CMP(op)                                                          \
    template <typename E, int N>                                                      \
    inline IPack<std::conditional_t<sizeof(E) == 4, int32_t, int64_t>, N> operator op( \
        const Pack<E, N>& a, const Pack<E, N>& b) {                                   \
        IPack<std::conditional_t<sizeof(E) == 4, int32_t, int64_t>, N> m;             \
        for (int i = 0; i < N; ++i) m.v[i] = a.v[i] op b.v[i] ? -1 : 0;               \
        return m;                                                                     \
    }
SEQLOSS_PACK_CMP(<)
SEQLOSS_PACK_CMP(>)
SEQLOSS_PACK_CMP(<=)
SEQLOSS_PACK_CMP(>=)
#undef SEQLOSS_PACK_CMP

template <typename V, typename M>
inline V select(const M& mask, V a, V b) {
    for (int i = 0; i < static_cast<int>(sizeof(a.v) / sizeof(a.v[0])); ++i)
        a.v[i] = mask.v[i] ? a.v[i] : b.v[i];
    return a;
}
template <typename To, typename From>
inline To bits(From v) {
    To r;
    std::memcpy(&r, &v, sizeof(To));
    return r;
}
#endif

template <typename T>
struct Block {
    typedef typename Types<T>::V V;
    typedef typename Types<T>::I I;
    typedef std::conditional_t<sizeof(T) == 4, int32_t, int64_t> Int;
    static constexpr int N = SEQLOSS_VBYTES / static_cast<int>(sizeof(T));

    static inline V load(const T* p) {
        V v;
        std::memcpy(&v, p, sizeof(V));
        return v;
    }
    static inline void store(T* p, V v) { std::memcpy(p, &v, sizeof(V)); }
    // v[j] = base[idx[j]] (hardware gather where the target has one).
    static inline V gather(const T* base, const int32_t* idx) {
#if defined(SEQLOSS_GNU_VECTORS) && defined(SEQLOSS_USE_AVX512F)
        if constexpr (sizeof(T) == 4) {
            const __m512i i = _mm512_loadu_si512(idx);
            return (V)_mm512_i32gather_ps(i, base, 4);
        } else {
            const __m256i i = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(idx));
            return (V)_mm512_i32gather_pd(i, base, 8);
        }
#elif defined(SEQLOSS_GNU_VECTORS) && defined(SEQLOSS_USE_AVX2)
        if constexpr (sizeof(T) == 4) {
            const __m256i i = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(idx));
            return (V)_mm256_i32gather_ps(base, i, 4);
        } else {
            const __m128i i = _mm_loadu_si128(reinterpret_cast<const __m128i*>(idx));
            return (V)_mm256_i32gather_pd(base, i, 8);
        }
#else
        V v;
        for (int j = 0; j < N; ++j) v[j] = base[idx[j]];
        return v;
#endif
    }

    // Non-temporal store (p aligned to sizeof(V)); plain store elsewhere.
    // Call sfence() before other threads may read what was streamed.
    static inline void stream(T* p, V v) {
#if defined(SEQLOSS_GNU_VECTORS) && defined(SEQLOSS_USE_AVX512F)
        if constexpr (sizeof(T) == 4) _mm512_stream_ps(p, (__m512)v);
        else _mm512_stream_pd(p, (__m512d)v);
#elif defined(SEQLOSS_GNU_VECTORS) && defined(SEQLOSS_USE_AVX)
        if constexpr (sizeof(T) == 4) _mm256_stream_ps(p, (__m256)v);
        else _mm256_stream_pd(p, (__m256d)v);
#elif defined(SEQLOSS_GNU_VECTORS) && defined(SEQLOSS_USE_SSE2)
        if constexpr (sizeof(T) == 4) _mm_stream_ps(p, (__m128)v);
        else _mm_stream_pd(p, (__m128d)v);
#else
        store(p, v);
#endif
    }
    static inline void sfence() {
#if defined(SEQLOSS_USE_SSE2) || defined(SEQLOSS_USE_AVX)
        _mm_sfence();
#endif
    }

    static inline V splat(T x) {
        V v;
        for (int i = 0; i < N; ++i) v[i] = x;
        return v;
    }
    static inline I isplat(Int x) {
        I v;
        for (int i = 0; i < N; ++i) v[i] = x;
        return v;
    }
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

    // Lane shifts across two consecutive vectors, built in registers: the
    // recursions use them instead of unaligned loads of the row just
    // stored, which would defeat store-to-load forwarding.
    // [a[N-1], b[0], ..., b[N-2]]: b shifted up one lane, a's last lane in front
    static inline V shift_in1(V a, V b) {
#if defined(SEQLOSS_GNU_VECTORS) && (defined(__clang__) || __GNUC__ >= 12)
        if constexpr (N == 16)
            return __builtin_shufflevector(a, b, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30);
        else if constexpr (N == 8)
            return __builtin_shufflevector(a, b, 7, 8, 9, 10, 11, 12, 13, 14);
        else if constexpr (N == 4)
            return __builtin_shufflevector(a, b, 3, 4, 5, 6);
        else if constexpr (N == 2)
            return __builtin_shufflevector(a, b, 1, 2);
        else
            return a;  // unreachable
#else
        T buf[2 * N];
        store(buf, a);
        store(buf + N, b);
        return load(buf + N - 1);
#endif
    }
    // [a[N-2], a[N-1], b[0], ..., b[N-3]]
    static inline V shift_in2(V a, V b) {
#if defined(SEQLOSS_GNU_VECTORS) && (defined(__clang__) || __GNUC__ >= 12)
        if constexpr (N == 16)
            return __builtin_shufflevector(a, b, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29);
        else if constexpr (N == 8)
            return __builtin_shufflevector(a, b, 6, 7, 8, 9, 10, 11, 12, 13);
        else if constexpr (N == 4)
            return __builtin_shufflevector(a, b, 2, 3, 4, 5);
        else if constexpr (N == 2)
            return __builtin_shufflevector(a, b, 0, 1);
        else
            return a;  // unreachable
#else
        T buf[2 * N];
        store(buf, a);
        store(buf + N, b);
        return load(buf + N - 2);
#endif
    }
    // [a[1], ..., a[N-1], b[0]]: a shifted down one lane, b's first lane at the end
    static inline V shift_out1(V a, V b) {
#if defined(SEQLOSS_GNU_VECTORS) && (defined(__clang__) || __GNUC__ >= 12)
        if constexpr (N == 16)
            return __builtin_shufflevector(a, b, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16);
        else if constexpr (N == 8)
            return __builtin_shufflevector(a, b, 1, 2, 3, 4, 5, 6, 7, 8);
        else if constexpr (N == 4)
            return __builtin_shufflevector(a, b, 1, 2, 3, 4);
        else if constexpr (N == 2)
            return __builtin_shufflevector(a, b, 1, 2);
        else
            return a;  // unreachable
#else
        T buf[2 * N];
        store(buf, a);
        store(buf + N, b);
        return load(buf + 1);
#endif
    }
    // [a[2], ..., a[N-1], b[0], b[1]]
    static inline V shift_out2(V a, V b) {
#if defined(SEQLOSS_GNU_VECTORS) && (defined(__clang__) || __GNUC__ >= 12)
        if constexpr (N == 16)
            return __builtin_shufflevector(a, b, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17);
        else if constexpr (N == 8)
            return __builtin_shufflevector(a, b, 2, 3, 4, 5, 6, 7, 8, 9);
        else if constexpr (N == 4)
            return __builtin_shufflevector(a, b, 2, 3, 4, 5);
        else if constexpr (N == 2)
            return __builtin_shufflevector(a, b, 2, 3);
        else
            return a;  // unreachable
#else
        T buf[2 * N];
        store(buf, a);
        store(buf + N, b);
        return load(buf + 2);
#endif
    }

    // Lane indices 0, 1, ..., N-1.
    static inline I iota() {
        I v;
        for (int j = 0; j < N; ++j) v[j] = static_cast<Int>(j);
        return v;
    }

    // True when some lane of v is >= thr (signed compare).
    static inline bool any_ge(I v, Int thr) {
#if defined(SEQLOSS_GNU_VECTORS) && defined(SEQLOSS_USE_AVX512F)
        if constexpr (sizeof(T) == 4)
            return _mm512_cmpge_epi32_mask((__m512i)v, _mm512_set1_epi32(thr)) != 0;
        else
            return _mm512_cmpge_epi64_mask((__m512i)v, _mm512_set1_epi64(thr)) != 0;
#elif defined(SEQLOSS_GNU_VECTORS) && defined(SEQLOSS_USE_AVX2)
        if constexpr (sizeof(T) == 4)
            return _mm256_movemask_epi8(
                       _mm256_cmpgt_epi32((__m256i)v, _mm256_set1_epi32(thr - 1))) != 0;
        else
            return _mm256_movemask_epi8(
                       _mm256_cmpgt_epi64((__m256i)v, _mm256_set1_epi64x(thr - 1))) != 0;
#else
        bool any = false;
        for (int j = 0; j < N; ++j) any |= v[j] >= thr;
        return any;
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

    // 2^f on [-0.5, 0.5].
    static inline V poly_exp2(V f) {
        V p;
        if (sizeof(T) == 4) {
            // Estrin's scheme: a shorter dependency chain than Horner's (the
            // recursions are latency-bound for short label sequences).
            const V f2 = f * f;
            const V f4 = f2 * f2;
            const V p01 = f * T(6.931472028550421e-1) + T(1.0);
            const V p23 = f * T(5.550332471162809e-2) + T(2.402264791363012e-1);
            const V p45 = f * T(1.339887440266574e-3) + T(9.618437357674640e-3);
            const V p456 = f2 * T(1.535336188319500e-4) + p45;
            p = (p23 + f2 * p456) * f2 + p01;
            (void)f4;
        } else {
            const V a = f * T(0.6931471805599453094);
            p = splat(T(1.0 / 6227020800.0));
            p = p * a + T(1.0 / 479001600.0);
            p = p * a + T(1.0 / 39916800.0);
            p = p * a + T(1.0 / 3628800.0);
            p = p * a + T(1.0 / 362880.0);
            p = p * a + T(1.0 / 40320.0);
            p = p * a + T(1.0 / 5040.0);
            p = p * a + T(1.0 / 720.0);
            p = p * a + T(1.0 / 120.0);
            p = p * a + T(1.0 / 24.0);
            p = p * a + T(1.0 / 6.0);
            p = p * a + T(0.5);
            p = p * a + T(1.0);
            p = p * a + T(1.0);
        }
        return p;
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
        if (sizeof(T) == 4) {
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
            V p = splat(T(1.0 / 23.0));
            p = p * z2 + T(1.0 / 21.0);
            p = p * z2 + T(1.0 / 19.0);
            p = p * z2 + T(1.0 / 17.0);
            p = p * z2 + T(1.0 / 15.0);
            p = p * z2 + T(1.0 / 13.0);
            p = p * z2 + T(1.0 / 11.0);
            p = p * z2 + T(1.0 / 9.0);
            p = p * z2 + T(1.0 / 7.0);
            p = p * z2 + T(1.0 / 5.0);
            p = p * z2 + T(1.0 / 3.0);
            p = p * z2 + T(1.0);
            ln = T(2) * z * p;
        }
        return ef + ln * T(1.4426950408889634074);
    }
};

}  // namespace simd
SEQLOSS_ISA_END
