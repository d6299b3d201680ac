// Branch-free exp2 / log2 for vectorised loops (float and double).
//
// Written so that GCC/clang auto-vectorise loops that call them: only
// arithmetic, min/max, selects and integer bit operations.  The loops that use
// them are compiled with -fno-trapping-math -ffinite-math-only (see setup.py),
// so callers must keep NaN and infinities out (use finite sentinels and test
// for NaN/inf by bit patterns, see is_nonfinite_bits).
//
// Accuracy: exp2 ~1.5 ulp, log2 ~2 ulp (float); ~2 ulp (double).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "core/isa.hpp"

SEQLOSS_ISA_BEGIN
namespace fm {

template <typename To, typename From>
inline To bit_cast(From v) {
    static_assert(sizeof(To) == sizeof(From), "size mismatch");
#if defined(__GNUC__) || defined(__clang__)
    return __builtin_bit_cast(To, v);
#else
    To r;
    std::memcpy(&r, &v, sizeof(To));
    return r;
#endif
}

constexpr double kLog2e = 1.4426950408889634074;  // log2(e)
constexpr double kLn2 = 0.6931471805599453094;     // ln(2)

// Horner's scheme for sum_k c[K-1-k] x^k (c from the highest power down), for
// scalars and vectors alike (V: T or a vector of T).
template <typename V, typename T, std::size_t K>
SEQLOSS_INLINE V horner_poly(V x, const T (&c)[K]) {
    static_assert(K >= 2, "a polynomial of degree >= 1");
    V p = x * c[0] + c[1];
    for (std::size_t k = 2; k < K; ++k) p = p * x + c[k];
    return p;
}

// The exp2 polynomial, written once for scalars and vectors: V is T or a
// vector of T (GNU vector or simd::Pack; only products and sums with T
// constants), so fm::Math<T>::exp2 here and simd::Block<T>::exp2
// (core/simd_math.hpp) evaluate the same polynomial.
template <typename T>
struct Exp2Poly;

template <>
struct Exp2Poly<float> {
    // Cephes exp2f minimax polynomial on [-0.5, 0.5]: 2^f ~ sum_k c_k f^k.
    static constexpr float c1 = 6.931472028550421e-1f, c2 = 2.402264791363012e-1f,
                           c3 = 5.550332471162809e-2f, c4 = 9.618437357674640e-3f,
                           c5 = 1.339887440266574e-3f, c6 = 1.535336188319500e-4f;
    // Horner's scheme (the scalar loops the auto-vectoriser takes).
    template <typename V>
    static inline V horner(V f) {
        static constexpr float kHigh[] = {c6, c5, c4, c3, c2, c1, 1.0f};
        return horner_poly(f, kHigh);
    }
    // Estrin's scheme: a shorter dependency chain than Horner's (the CTC
    // recursions are latency-bound for short label sequences); rounds
    // differently, so each caller keeps the scheme it has always used.
    template <typename V>
    static inline V estrin(V f) {
        const V f2 = f * f;
        const V p01 = f * c1 + 1.0f;
        const V p23 = f * c3 + c2;
        const V p45 = f * c5 + c4;
        const V p456 = f2 * c6 + p45;
        return (p23 + f2 * p456) * f2 + p01;
    }
};

template <>
struct Exp2Poly<double> {
    // Taylor series of 2^f = e^(f ln2), degree 13 (rel. error < 2e-17 on
    // [-0.5, 0.5]), Horner's scheme.
    template <typename V>
    static inline V horner(V f) {
        static constexpr double kHigh[] = {
            1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0,
            1.0 / 362880.0, 1.0 / 40320.0, 1.0 / 5040.0, 1.0 / 720.0, 1.0 / 120.0,
            1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0};  // 1 / k!, k = 13 .. 0
        return horner_poly(f * 0.6931471805599453094, kHigh);  // e^(f ln 2)
    }
};

// The series of the double log2 (atanh form): sum_k z2^k / (2k + 1), k <= 11,
// Horner's scheme; V as for Exp2Poly.
template <typename V>
inline V log2_series(V z2) {
    static constexpr double kHigh[] = {1.0 / 23.0, 1.0 / 21.0, 1.0 / 19.0, 1.0 / 17.0,
                                       1.0 / 15.0, 1.0 / 13.0, 1.0 / 11.0, 1.0 / 9.0,
                                       1.0 / 7.0,  1.0 / 5.0,  1.0 / 3.0,  1.0};
    return horner_poly(z2, kHigh);
}

// IEEE layout facts of float / double.
template <typename T>
struct FloatBits;

template <>
struct FloatBits<float> {
    using Int = int32_t;
    using UInt = uint32_t;
    static constexpr int kMantissaBits = 23;
    static constexpr Int kExpMask = 0xff, kExpBias = 127;
    static constexpr float kMinExp = -126.0f, kMaxExp = 126.0f;
    static constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: x + kRound rounds x
    static constexpr float kSqrt2 = 1.41421356f;
    static constexpr UInt kAbsMask = 0x7fffffffu;
    static constexpr UInt kInfBits = 0x7f800000u;
    static constexpr UInt kMantissaMask = 0x007fffffu, kOneBits = 0x3f800000u;
};

template <>
struct FloatBits<double> {
    using Int = int64_t;
    using UInt = uint64_t;
    static constexpr int kMantissaBits = 52;
    static constexpr Int kExpMask = 0x7ff, kExpBias = 1023;
    static constexpr double kMinExp = -1022.0, kMaxExp = 1022.0;
    static constexpr double kRound = 6755399441055744.0;  // 1.5 * 2^52
    static constexpr double kSqrt2 = 1.4142135623730951;
    static constexpr UInt kAbsMask = 0x7fffffffffffffffull;
    static constexpr UInt kInfBits = 0x7ff0000000000000ull;
    static constexpr UInt kMantissaMask = 0x000fffffffffffffull, kOneBits = 0x3ff0000000000000ull;
};

// ln(m) for m in [sqrt(1/2), sqrt(2)): float by the Cephes logf polynomial
// (division-free, since vector division is slow on most x86 cores), double by
// the atanh series.
inline float ln_reduced(float m) {
    const float x = m - 1.0f;  // [-0.293, 0.414]
    const float z = x * x;
    float p = 7.0376836292e-2f;
    p = p * x - 1.1514610310e-1f;
    p = p * x + 1.1676998740e-1f;
    p = p * x - 1.2420140846e-1f;
    p = p * x + 1.4249322787e-1f;
    p = p * x - 1.6668057665e-1f;
    p = p * x + 2.0000714765e-1f;
    p = p * x - 2.4999993993e-1f;
    p = p * x + 3.3333331174e-1f;
    return x + (x * z * p - 0.5f * z);
}
inline double ln_reduced(double m) {
    const double z = (m - 1.0) / (m + 1.0);
    return z * log2_series(z * z) * 2.0;
}

// exp2 / log2 of one float or double (the loops that call them vectorise).
template <typename T>
struct Math : FloatBits<T> {
    using Bits = FloatBits<T>;
    using typename Bits::Int;
    using typename Bits::UInt;
    using Bits::kMinExp;

    // 2^x; exactly 0 for x < kMinExp (no denormals), saturates at 2^kMaxExp.
    static inline T exp2(T x) {
        T xc = x < kMinExp ? kMinExp : x;
        xc = xc > Bits::kMaxExp ? Bits::kMaxExp : xc;
        const T t = xc + Bits::kRound;
        const T f = xc - (t - Bits::kRound);  // [-0.5, 0.5]
        const Int ni = bit_cast<Int>(t) - bit_cast<Int>(Bits::kRound);
        const T p = Exp2Poly<T>::horner(f);
        const T r = bit_cast<T>(bit_cast<Int>(p) + (ni << Bits::kMantissaBits));
        return x < kMinExp ? T(0) : r;
    }

    // 2^x for x <= 0: x is clamped at the smallest normal exponent, so the
    // result is never a denormal and never exactly 0 (2^-126 ~ 1e-38 in
    // float, far below anything that changes a sum of at least 1).  exp2
    // minus the selects it needs for arbitrary x.
    static inline T exp2_nonpos(T x) {
        const T xc = x < kMinExp ? kMinExp : x;
        const T t = xc + Bits::kRound;
        const T f = xc - (t - Bits::kRound);  // [-0.5, 0.5]
        const Int ni = bit_cast<Int>(t) - bit_cast<Int>(Bits::kRound);
        return bit_cast<T>(bit_cast<Int>(Exp2Poly<T>::horner(f)) + (ni << Bits::kMantissaBits));
    }

    // log2(y) for finite y > 0 (normal numbers): y = 2^e * m with m in
    // [sqrt(1/2), sqrt(2)), then e + ln(m) log2(e).
    static inline T log2(T y) {
        const Int bits = bit_cast<Int>(y);
        const Int e = ((bits >> Bits::kMantissaBits) & Bits::kExpMask) - Bits::kExpBias;
        T m = bit_cast<T>(static_cast<Int>((static_cast<UInt>(bits) & Bits::kMantissaMask) |
                                           Bits::kOneBits));  // [1, 2)
        const bool big = m > Bits::kSqrt2;
        m = big ? m * T(0.5) : m;
        const T ef = static_cast<T>(e) + (big ? T(1) : T(0));
        return ef + ln_reduced(m) * static_cast<T>(kLog2e);
    }
};

// True when the bit pattern of v is an infinity or a NaN.  Works under
// -ffinite-math-only (integer compare, which the compiler cannot fold away).
template <typename T>
inline bool is_nonfinite_bits(T v) {
    using M = Math<T>;
    return (bit_cast<typename M::UInt>(v) & M::kAbsMask) >= M::kInfBits;
}
template <typename T>
inline bool is_nan_bits(T v) {
    using M = Math<T>;
    return (bit_cast<typename M::UInt>(v) & M::kAbsMask) > M::kInfBits;
}
template <typename T>
inline bool is_posinf_bits(T v) {
    using M = Math<T>;
    return bit_cast<typename M::UInt>(v) == M::kInfBits;
}

}  // namespace fm
SEQLOSS_ISA_END
