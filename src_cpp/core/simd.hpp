// SIMD vectors for the kernels: one native vector of the translation unit's
// target (64 bytes with AVX-512, 32 with AVX, 16 otherwise), and its memory
// and lane operations (load/store/gather/stream, lane shifts); the
// arithmetic is in core/simd_math.hpp.
//
// With GCC/clang the vector is a GNU vector type of exactly the native
// width, so each operation compiles to one instruction (wider GNU vectors
// get their selects split into scalars by GCC): the same source serves every
// dispatch level, and the code does not depend on the auto-vectoriser's
// mood.  Other compilers, and every compiler under SEQLOSS_GENERIC_SIMD=1
// (core/isa.hpp), get a plain array type (Pack / IPack) with element-wise
// operators and no intrinsics (same results, slower).
#pragma once


#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

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

// Element-wise binary operators of an array-backed pack (Pack, IPack):
// pack op pack, pack op scalar, and (with BOTH) scalar op pack.
#define SEQLOSS_ELEMENTWISE_OP(P, op)                                 \
    friend P operator op(P a, P b) {                                  \
        for (int i = 0; i < N; ++i) a.v[i] = a.v[i] op b.v[i];        \
        return a;                                                     \
    }                                                                 \
    friend P operator op(P a, E b) {                                  \
        for (int i = 0; i < N; ++i) a.v[i] = a.v[i] op b;             \
        return a;                                                     \
    }
#define SEQLOSS_ELEMENTWISE_OP_BOTH(P, op)                            \
    SEQLOSS_ELEMENTWISE_OP(P, op)                                     \
    friend P operator op(E a, P b) {                                  \
        for (int i = 0; i < N; ++i) b.v[i] = a op b.v[i];             \
        return b;                                                     \
    }

template <typename E, int N>
struct Pack {
    E v[N];
    E& operator[](int i) { return v[i]; }
    E operator[](int i) const { return v[i]; }
    SEQLOSS_ELEMENTWISE_OP_BOTH(Pack, +)
    SEQLOSS_ELEMENTWISE_OP_BOTH(Pack, -)
    SEQLOSS_ELEMENTWISE_OP_BOTH(Pack, *)
    SEQLOSS_ELEMENTWISE_OP_BOTH(Pack, /)
    Pack& operator+=(Pack b) { return *this = *this + b; }
};

template <typename E, int N>
struct IPack {
    E v[N];
    E& operator[](int i) { return v[i]; }
    E operator[](int i) const { return v[i]; }
    SEQLOSS_ELEMENTWISE_OP(IPack, &)
    SEQLOSS_ELEMENTWISE_OP(IPack, |)
    SEQLOSS_ELEMENTWISE_OP(IPack, ^)
    SEQLOSS_ELEMENTWISE_OP(IPack, +)
    SEQLOSS_ELEMENTWISE_OP(IPack, -)
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
#undef SEQLOSS_ELEMENTWISE_OP_BOTH
#undef SEQLOSS_ELEMENTWISE_OP

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
SEQLOSS_PACK_CMP(==)
SEQLOSS_PACK_CMP(!=)
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

// Orders non-temporal stores before what follows (call it before other
// threads may read what was streamed).
inline void stream_fence() {
#if defined(SEQLOSS_USE_SSE2) || defined(SEQLOSS_USE_AVX)
    _mm_sfence();
#endif
}

// Memory and lane operations on one native vector of T (Lanes<T>); the
// arithmetic (max/min, reductions, exp2/log2) is in core/simd_math.hpp,
// whose Block<T> extends this.
template <typename T>
struct Lanes {
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
    static inline void sfence() { stream_fence(); }

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

    // Lane shifts across two consecutive vectors, built in registers: the
    // recursions use them instead of unaligned loads of the row just
    // stored, which would defeat store-to-load forwarding.
    // window<K>(a, b) = lanes K .. K+N-1 of the concatenation [a, b].
    template <int K>
    static inline V window(V a, V b) {
#if defined(SEQLOSS_GNU_VECTORS) && (defined(__clang__) || __GNUC__ >= 12)
        return window_lanes<K>(a, b, std::make_integer_sequence<int, N>{});
#else
        T buf[2 * N];
        store(buf, a);
        store(buf + N, b);
        return load(buf + K);
#endif
    }
    // [a[N-1], b[0], ..., b[N-2]]: b shifted up one lane, a's last lane in front
    static inline V shift_in1(V a, V b) { return window<N - 1>(a, b); }
    // [a[N-2], a[N-1], b[0], ..., b[N-3]]
    static inline V shift_in2(V a, V b) { return window<N - 2>(a, b); }
    // [a[1], ..., a[N-1], b[0]]: a shifted down one lane, b's first lane at the end
    static inline V shift_out1(V a, V b) { return window<1>(a, b); }
    // [a[2], ..., a[N-1], b[0], b[1]]
    static inline V shift_out2(V a, V b) { return window<2>(a, b); }

#if defined(SEQLOSS_GNU_VECTORS) && (defined(__clang__) || __GNUC__ >= 12)
    template <int K, int... J>
    static inline V window_lanes(V a, V b, std::integer_sequence<int, J...>) {
        return __builtin_shufflevector(a, b, (K + J)...);
    }
#endif

    // Lane indices 0, 1, ..., N-1.
    static inline I iota() {
        I v;
        for (int j = 0; j < N; ++j) v[j] = static_cast<Int>(j);
        return v;
    }

    // Bit j set where lane j of the mask m (all ones / all zeros per lane,
    // as comparisons give) is set.
    static inline uint64_t mask_bits(I m) {
#if defined(SEQLOSS_GNU_VECTORS) && defined(SEQLOSS_USE_AVX512F)
        if constexpr (sizeof(T) == 4)
            return static_cast<uint64_t>(_mm512_movepi32_mask((__m512i)m));
        else
            return static_cast<uint64_t>(_mm512_movepi64_mask((__m512i)m));
#elif defined(SEQLOSS_GNU_VECTORS) && defined(SEQLOSS_USE_AVX)
        if constexpr (sizeof(T) == 4)
            return static_cast<uint64_t>(_mm256_movemask_ps(_mm256_castsi256_ps((__m256i)m)));
        else
            return static_cast<uint64_t>(_mm256_movemask_pd(_mm256_castsi256_pd((__m256i)m)));
#elif defined(SEQLOSS_GNU_VECTORS) && defined(SEQLOSS_USE_SSE2)
        if constexpr (sizeof(T) == 4)
            return static_cast<uint64_t>(_mm_movemask_ps(_mm_castsi128_ps((__m128i)m)));
        else
            return static_cast<uint64_t>(_mm_movemask_pd(_mm_castsi128_pd((__m128i)m)));
#else
        uint64_t b = 0;
        for (int j = 0; j < N; ++j) b |= static_cast<uint64_t>(m[j] != 0) << j;
        return b;
#endif
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
};

// dst[i] = f(src[i]) for i < n, with non-temporal stores where dst is
// vector aligned (a plain copy before and after): for large outputs not read
// again soon, streaming skips the read-for-ownership of every destination
// line.  f maps T -> T and V -> V alike (e.g. a product with a scale, which
// rounds the same in a lane as in a scalar).  Call Lanes<T>::sfence() before
// other threads may read what was streamed.
template <typename T, typename F>
inline void stream_map(T* dst, const T* src, int64_t n, F f) {
    using Ops = Lanes<T>;
    using V = typename Ops::V;
    int64_t i = 0;
    while (i < n && (reinterpret_cast<std::uintptr_t>(dst + i) % sizeof(V)) != 0) {
        dst[i] = f(src[i]);
        ++i;
    }
    for (; i + Ops::N <= n; i += Ops::N) Ops::stream(dst + i, f(Ops::load(src + i)));
    for (; i < n; ++i) dst[i] = f(src[i]);
}

// dst[0, n) = src[0, n), streamed as stream_map does.
template <typename T>
inline void stream_copy(T* dst, const T* src, int64_t n) {
    stream_map(dst, src, n, [](auto v) { return v; });
}


}  // namespace simd
SEQLOSS_ISA_END
