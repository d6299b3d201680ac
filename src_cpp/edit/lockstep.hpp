// Edit-distance part: lockstep groups (AVX2 / AVX-512 only, see
// SEQLOSS_USE_<ISA> in core/isa.hpp): kLanes stripped pairs advance
// together, one pair per 64-bit SIMD lane, in Hyyroe's single-word
// recurrence (short patterns) or its band (AVX-512: 65..256 tokens).  The
// layout of the match masks is eq[j * kLanes + lane] for text token j.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "core/isa.hpp"  // SEQLOSS_USE_<ISA>
#if defined(SEQLOSS_USE_AVX2) || defined(SEQLOSS_USE_AVX512BW)
#include <immintrin.h>
#endif

#include "edit/compare.hpp"
#include "edit/recurrences.hpp"
#include "edit/scratch.hpp"

SEQLOSS_ISA_BEGIN
namespace {

#if defined(SEQLOSS_USE_AVX512BW) || defined(SEQLOSS_USE_AVX2)
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
// GCC 12 reports the _mm512_undefined_* placeholders inside its own AVX-512
// intrinsics as uninitialised (GCC bug 105593, fixed in GCC 13)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
// ---------------------------------------------------------------------------
// Lockstep recurrences: kLanes pairs advance together, one pair per 64-bit
// SIMD lane, which replaces kLanes latency-bound dependency chains by one.
//   phase 1, per pair: the match mask of each text token (SIMD compares of
//     the token against the pattern) into eq[j * kLanes + lane];
//   phase 2, all lanes: the recurrence up to the longest text of the group;
//     a lane whose text has ended keeps its state (masked updates).
// Two kinds of group:
//  * short: pattern <= 64 tokens after the affixes are stripped, Hyyroe's
//    single-word recurrence; D[m][n] = n + popcount(VP & low m bits) -
//    popcount(VN & low m bits) (the last column's vertical deltas summed
//    from D[0][n] = n; no per-step score tracking);
//  * band (AVX-512 only): 65..kBandMaxPattern pattern tokens, text at most
//    kSmallBand longer: the single-word band of lev_small_band, with the
//    window's mask compared directly against a 64-token window of the
//    (narrowed, padded) pattern; the score follows the window's bottom
//    diagonal for all n steps (rows past m are rows that match nothing),
//    which gives C[n + k][n], and C[m][n] = C[n + k][n] minus the vertical
//    deltas of rows m + 1 .. n + k in the last window.  The same computed
//    matrix as lev_small_band's row-m tracking, so the same result: exact
//    when <= kSmallBand; larger results are recomputed without the band.
#if defined(SEQLOSS_USE_AVX512BW)
constexpr int kLanes = 8;
#else
constexpr int kLanes = 4;
#endif
constexpr int64_t kBandMaxPattern = 256;
constexpr int64_t kLockMaxText = kBandMaxPattern + kSmallBand;

template <typename T>
struct Lane {
    const T* p;  // pattern (m tokens)
    const T* t;  // text (n tokens, 1..kLockMaxText)
    int64_t m, n;
    int64_t idx;  // output slot
};

// Counting sort of lanes[0, n) by min(text length >> shift, 63) into buf
// (stable); returns the sorted lanes (lanes itself when there is at most one
// group).
template <typename T>
inline const Lane<T>* sort_by_text_length(const Lane<T>* lanes, int n, int shift, Lane<T>* buf) {
    if (n <= kLanes) return lanes;
    int count[65] = {};
    for (int q = 0; q < n; ++q) ++count[std::min<int64_t>(lanes[q].n >> shift, 63) + 1];
    for (int key = 1; key < 65; ++key) count[key] += count[key - 1];
    for (int q = 0; q < n; ++q) buf[count[std::min<int64_t>(lanes[q].n >> shift, 63)]++] = lanes[q];
    return buf;
}

// the low m bits set (none for m <= 0, all for m >= 64)
inline uint64_t low_bits(int64_t m) {
    return m >= 64 ? ~UINT64_C(0) : m <= 0 ? 0 : (UINT64_C(1) << m) - 1;
}

#if defined(SEQLOSS_USE_AVX512BW)
// Narrowing: pattern and text values become value - lo in 8- or 16-bit lanes
// (UB bytes).  The text is clamped to the sentinel (all ones) when it falls
// outside [lo, lo + range]; callers guarantee that no pattern value (and no
// padding value) equals the sentinel.  The text goes to tb as 32-bit words
// holding the narrow value in every narrow slot, so the compare loop
// broadcasts it with a plain load.

// 16 tokens (lanes past k zero) as 32-bit lanes, tokens of at most 4 bytes
template <typename T>
inline __m512i load16_as32(const T* p, __mmask16 k) {
    if constexpr (sizeof(T) == 4) return _mm512_maskz_loadu_epi32(k, p);
    else if constexpr (sizeof(T) == 2) return _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(k, p));
    else return _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(k, p));
}

template <int UB>
inline __m512i dup_narrow32(__m512i y) {
    if constexpr (UB == 1) y = _mm512_or_si512(y, _mm512_slli_epi32(y, 8));
    return _mm512_or_si512(y, _mm512_slli_epi32(y, 16));
}

// tb[j] for j < nmax (n <= nmax; tokens past n read as zero)
template <int UB, typename T>
inline void narrow_text(const T* t, int64_t n, int64_t nmax, int64_t lo, uint64_t range,
                        uint32_t* tb) {
    constexpr int sent = UB == 1 ? 0xFF : 0xFFFF;
    if constexpr (sizeof(T) == 8) {
        const __m512i vlo = _mm512_set1_epi64((long long)lo);
        const __m512i vr = _mm512_set1_epi64((long long)range);
        const __m512i vs = _mm512_set1_epi64(sent);
        for (int64_t c = 0; c < nmax; c += 8) {
            const __mmask8 k = (__mmask8)(low_bits(n - c) & 0xFF);
            __m512i v = _mm512_sub_epi64(_mm512_maskz_loadu_epi64(k, t + c), vlo);
            v = _mm512_mask_mov_epi64(v, _mm512_cmpgt_epu64_mask(v, vr), vs);
            __m256i y = _mm512_cvtepi64_epi32(v);
            if constexpr (UB == 1) y = _mm256_or_si256(y, _mm256_slli_epi32(y, 8));
            y = _mm256_or_si256(y, _mm256_slli_epi32(y, 16));
            _mm256_storeu_si256((__m256i*)(tb + c), y);
        }
    } else {
        const __m512i vlo = _mm512_set1_epi32((int)lo);
        const __m512i vr = _mm512_set1_epi32((int)range);
        const __m512i vs = _mm512_set1_epi32(sent);
        for (int64_t c = 0; c < nmax; c += 16) {
            const __mmask16 k = (__mmask16)(low_bits(n - c) & 0xFFFF);
            __m512i v = _mm512_sub_epi32(load16_as32(t + c, k), vlo);
            v = _mm512_mask_mov_epi32(v, _mm512_cmpgt_epu32_mask(v, vr), vs);
            _mm512_storeu_si512(tb + c, dup_narrow32<UB>(v));
        }
    }
}

// dst[i] = p[i] - lo as UB-byte values, i < m
template <int UB, typename T>
inline void narrow_store(const T* p, int64_t m, int64_t lo, uint8_t* dst) {
    if constexpr (sizeof(T) == 8) {
        const __m512i vlo = _mm512_set1_epi64((long long)lo);
        for (int64_t c = 0; c < m; c += 8) {
            const __mmask8 k = (__mmask8)(low_bits(m - c) & 0xFF);
            const __m512i v = _mm512_sub_epi64(_mm512_maskz_loadu_epi64(k, p + c), vlo);
            if constexpr (UB == 1) _mm512_mask_cvtepi64_storeu_epi8(dst + c, k, v);
            else _mm512_mask_cvtepi64_storeu_epi16(dst + 2 * c, k, v);
        }
    } else {
        const __m512i vlo = _mm512_set1_epi32((int)lo);
        for (int64_t c = 0; c < m; c += 16) {
            const __mmask16 k = (__mmask16)(low_bits(m - c) & 0xFFFF);
            const __m512i v = _mm512_sub_epi32(load16_as32(p + c, k), vlo);
            if constexpr (UB == 1) _mm512_mask_cvtepi32_storeu_epi8(dst + c, k, v);
            else _mm512_mask_cvtepi32_storeu_epi16(dst + 2 * c, k, v);
        }
    }
}

inline __m512i combine4(__m128i a, __m128i b, __m128i c, __m128i d) {
    const __m256i lo = _mm256_inserti128_si256(_mm256_castsi128_si256(a), b, 1);
    const __m256i hi = _mm256_inserti128_si256(_mm256_castsi128_si256(c), d, 1);
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

// The pattern (m <= 64 tokens) narrowed into registers: P0 holds tokens
// 0..63 (UB = 1) or 0..31 (UB = 2), P1 tokens 32..63 (UB = 2, only when TWO).
// Lanes past m are don't-care (their match bits, >= m, never matter).
template <int UB, bool TWO, typename T>
inline void narrow_pattern(const T* p, int64_t m, int64_t lo, __m512i& P0, __m512i& P1) {
    P1 = _mm512_setzero_si512();
    if constexpr (sizeof(T) == (size_t)UB) {
        (void)lo;  // the token type is the narrow type: lo == 0
        if constexpr (UB == 1) {
            P0 = _mm512_maskz_loadu_epi8(low_bits(m), p);
        } else {
            P0 = _mm512_maskz_loadu_epi16((__mmask32)low_bits(m), p);
            if constexpr (TWO) P1 = _mm512_maskz_loadu_epi16((__mmask32)(low_bits(m) >> 32), p + 32);
        }
    } else if constexpr (sizeof(T) == 8) {
        const __m512i vlo = _mm512_set1_epi64((long long)lo);
        constexpr int chunks = (UB == 1 || TWO) ? 8 : 4;
        __m128i x[8];
        for (int c = 0; c < 8; ++c) {
            if (c >= chunks) {
                x[c] = _mm_setzero_si128();
                continue;
            }
            const __mmask8 k = (__mmask8)(low_bits(m - 8 * c) & 0xFF);
            const __m512i v = _mm512_sub_epi64(_mm512_maskz_loadu_epi64(k, p + 8 * c), vlo);
            x[c] = UB == 1 ? _mm512_cvtepi64_epi8(v) : _mm512_cvtepi64_epi16(v);
        }
        if constexpr (UB == 1) {
            P0 = combine4(_mm_unpacklo_epi64(x[0], x[1]), _mm_unpacklo_epi64(x[2], x[3]),
                          _mm_unpacklo_epi64(x[4], x[5]), _mm_unpacklo_epi64(x[6], x[7]));
        } else {
            P0 = combine4(x[0], x[1], x[2], x[3]);
            if constexpr (TWO) P1 = combine4(x[4], x[5], x[6], x[7]);
        }
    } else {
        static_assert(sizeof(T) == 4, "narrow_pattern: narrow or 4-/8-byte tokens");
        const __m512i vlo = _mm512_set1_epi32((int)lo);
        auto chunk = [&](int c) {
            const __mmask16 k = (__mmask16)(low_bits(m - 16 * c) & 0xFFFF);
            return _mm512_sub_epi32(_mm512_maskz_loadu_epi32(k, p + 16 * c), vlo);
        };
        if constexpr (UB == 1) {
            P0 = combine4(_mm512_cvtepi32_epi8(chunk(0)), _mm512_cvtepi32_epi8(chunk(1)),
                          _mm512_cvtepi32_epi8(chunk(2)), _mm512_cvtepi32_epi8(chunk(3)));
        } else {
            P0 = _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtepi32_epi16(chunk(0))),
                                    _mm512_cvtepi32_epi16(chunk(1)), 1);
            if constexpr (TWO)
                P1 = _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtepi32_epi16(chunk(2))),
                                        _mm512_cvtepi32_epi16(chunk(3)), 1);
        }
    }
}

// eq[j * kLanes] = match mask of t[j] for j < n, via narrow compares.  The
// loops run to the group's longest text `nmax` (the same trip count for every
// lane of a group, so the branches predict); masks past n are never used.
template <int UB, bool TWO, typename T>
inline void short_masks_narrow(const T* p, int64_t m, const T* t, int64_t n, int64_t nmax,
                               int64_t lo, uint64_t range, uint64_t* eq, uint32_t* tb) {
    __m512i P0, P1;
    narrow_pattern<UB, TWO>(p, m, lo, P0, P1);
    narrow_text<UB>(t, n, nmax, lo, range, tb);
#pragma GCC unroll 4
    for (int64_t j = 0; j < nmax; ++j) {
        const __m512i v = _mm512_set1_epi32((int)tb[j]);
        uint64_t e;
        if constexpr (UB == 1) {
            e = _mm512_cmpeq_epi8_mask(P0, v);
        } else {
            if constexpr (TWO) e = join_masks32(_mm512_cmpeq_epi16_mask(P0, v), _mm512_cmpeq_epi16_mask(P1, v));
            else e = (uint32_t)_mm512_cmpeq_epi16_mask(P0, v);  // bits >= m <= 32: don't-care
        }
        eq[j * kLanes] = e;
    }
}

// eq[j * kLanes] = match mask of t[j], j < n, by compares in the token type
// (4- or 8-byte tokens) against C registers of the pattern loaded straight
// from the row (masked: nothing past m is read).  For short patterns this
// beats narrowing, which costs a fixed setup per pair.
template <int C, typename T>
inline void short_masks_wide(const T* p, int64_t m, const T* t, int64_t n, uint64_t* eq) {
    constexpr int kPerReg = 64 / (int)sizeof(T);
    static_assert(C == 1 || C == 2, "short_masks_wide: one or two registers");
    __m512i P[C];
    for (int c = 0; c < C; ++c) {
        if constexpr (sizeof(T) == 8) P[c] = _mm512_maskz_loadu_epi64((__mmask8)low_bits(m - kPerReg * c), p + kPerReg * c);
        else P[c] = _mm512_maskz_loadu_epi32((__mmask16)low_bits(m - kPerReg * c), p + kPerReg * c);
    }
#pragma GCC unroll 4
    for (int64_t j = 0; j < n; ++j) {
        // bits >= m (past the first C * kPerReg) are don't-care; two registers
        // are joined in the mask registers (kunpckbw / kunpckwd), as join_masks32 does
        uint64_t e;
        if constexpr (sizeof(T) == 8) {
            const __m512i v = _mm512_set1_epi64((long long)t[j]);
            const __mmask8 lo = _mm512_cmpeq_epi64_mask(P[0], v);
            if constexpr (C == 2) e = _cvtmask16_u32(_mm512_kunpackb(_mm512_cmpeq_epi64_mask(P[1], v), lo));
            else e = lo;
        } else {
            const __m512i v = _mm512_set1_epi32((int)t[j]);
            const __mmask16 lo = _mm512_cmpeq_epi32_mask(P[0], v);
            if constexpr (C == 2) e = _cvtmask32_u32(_mm512_kunpackw(_mm512_cmpeq_epi32_mask(P[1], v), lo));
            else e = lo;
        }
        eq[j * kLanes] = e;
    }
}

// Narrowest lane width for value - 0 of p[0, m) (4- and 8-byte tokens): 1
// when every value is in [0, 0xFE], 2 when in [0, 0xFFFE], else 0.  Runs
// over mmax >= m tokens (masked) for a group-uniform trip count.
template <typename T>
inline int small_values_width(const T* p, int64_t m, int64_t mmax) {
    __mmask16 over1 = 0, over2 = 0;
    if constexpr (sizeof(T) == 8) {
        const __m512i b1 = _mm512_set1_epi64(0xFE), b2 = _mm512_set1_epi64(0xFFFE);
        for (int64_t c = 0; c < mmax; c += 8) {
            const __mmask8 k = (__mmask8)(low_bits(m - c) & 0xFF);
            const __m512i v = _mm512_maskz_loadu_epi64(k, p + c);
            over1 |= _mm512_mask_cmpgt_epu64_mask(k, v, b1);
            over2 |= _mm512_mask_cmpgt_epu64_mask(k, v, b2);
        }
    } else {
        const __m512i b1 = _mm512_set1_epi32(0xFE), b2 = _mm512_set1_epi32(0xFFFE);
        for (int64_t c = 0; c < mmax; c += 16) {
            const __mmask16 k = (__mmask16)(low_bits(m - c) & 0xFFFF);
            const __m512i v = _mm512_maskz_loadu_epi32(k, p + c);
            over1 |= _mm512_mask_cmpgt_epu32_mask(k, v, b1);
            over2 |= _mm512_mask_cmpgt_epu32_mask(k, v, b2);
        }
    }
    return over1 == 0 ? 1 : over2 == 0 ? 2 : 0;
}

// The 512-bit lane operations min_max needs, per token type: 8 signed 64-bit
// lanes, 16 signed 32-bit lanes, or unsigned 1/2/4-byte tokens widened to 16
// unsigned 32-bit lanes.
template <typename T, typename = void>
struct MinMaxLanes {  // unsigned tokens of 1, 2 or 4 bytes
    static constexpr int kN = 16;
    static __m512i splat(T v) { return _mm512_set1_epi32((int)(uint32_t)v); }
    static __m512i load(__m512i fill, uint64_t k, const T* p) {
        return _mm512_mask_mov_epi32(fill, (__mmask16)k, load16_as32(p, (__mmask16)k));
    }
    static __m512i min(__m512i a, __m512i b) { return _mm512_min_epu32(a, b); }
    static __m512i max(__m512i a, __m512i b) { return _mm512_max_epu32(a, b); }
    static int64_t reduce_min(__m512i v) { return (int64_t)(uint32_t)_mm512_reduce_min_epu32(v); }
    static int64_t reduce_max(__m512i v) { return (int64_t)(uint32_t)_mm512_reduce_max_epu32(v); }
};
template <typename T>
struct MinMaxLanes<T, std::enable_if_t<sizeof(T) == 8>> {
    static constexpr int kN = 8;
    static __m512i splat(T v) { return _mm512_set1_epi64((long long)v); }
    static __m512i load(__m512i fill, uint64_t k, const T* p) {
        return _mm512_mask_loadu_epi64(fill, (__mmask8)k, p);
    }
    static __m512i min(__m512i a, __m512i b) { return _mm512_min_epi64(a, b); }
    static __m512i max(__m512i a, __m512i b) { return _mm512_max_epi64(a, b); }
    static int64_t reduce_min(__m512i v) { return _mm512_reduce_min_epi64(v); }
    static int64_t reduce_max(__m512i v) { return _mm512_reduce_max_epi64(v); }
};
template <typename T>
struct MinMaxLanes<T, std::enable_if_t<sizeof(T) == 4 && std::is_signed<T>::value>> {
    static constexpr int kN = 16;
    static __m512i splat(T v) { return _mm512_set1_epi32((int)v); }
    static __m512i load(__m512i fill, uint64_t k, const T* p) {
        return _mm512_mask_loadu_epi32(fill, (__mmask16)k, p);
    }
    static __m512i min(__m512i a, __m512i b) { return _mm512_min_epi32(a, b); }
    static __m512i max(__m512i a, __m512i b) { return _mm512_max_epi32(a, b); }
    static int64_t reduce_min(__m512i v) { return _mm512_reduce_min_epi32(v); }
    static int64_t reduce_max(__m512i v) { return _mm512_reduce_max_epi32(v); }
};

// smallest and largest value of p[0, m)
template <typename T>
inline void min_max(const T* p, int64_t m, int64_t& lo, int64_t& hi) {
    using Lanes = MinMaxLanes<T>;
    constexpr uint64_t kAll = (uint64_t(1) << Lanes::kN) - 1;
    const __m512i first = Lanes::splat(p[0]);
    __m512i vmin = first, vmax = first;
    for (int64_t c = 0; c < m; c += Lanes::kN) {
        const __m512i v = Lanes::load(first, low_bits(m - c) & kAll, p + c);
        vmin = Lanes::min(vmin, v);
        vmax = Lanes::max(vmax, v);
    }
    lo = Lanes::reduce_min(vmin);
    hi = Lanes::reduce_max(vmax);
}
#endif

// Phase 1 of a short lane: eq[j * kLanes] = match mask of t[j], j < n
// (AVX-512: up to the group's longest text nmax; TWO: the group's longest
// pattern has more than 32 tokens).
template <bool TWO, typename T>
inline void short_masks(const Lane<T>& lane, int64_t mmax, int64_t nmax, uint64_t* eq, Scratch& s) {
#if defined(SEQLOSS_USE_AVX512BW)
    uint32_t* tb = s.lock_tb.data();
    if constexpr (sizeof(T) == 1) {
        (void)mmax;
        return short_masks_narrow<1, false>(lane.p, lane.m, lane.t, lane.n, nmax, 0, 0xFF, eq, tb);
    } else if constexpr (sizeof(T) == 2) {
        (void)mmax;
        return short_masks_narrow<2, TWO>(lane.p, lane.m, lane.t, lane.n, nmax, 0, 0xFFFF, eq, tb);
    } else {
        // a short group: plain compares (sizes of the whole group, so the
        // choice is the same lane after lane)
        if (mmax <= 64 / (int64_t)sizeof(T)) return short_masks_wide<1>(lane.p, lane.m, lane.t, lane.n, eq);
        if (sizeof(T) == 8 && mmax <= 16) return short_masks_wide<2>(lane.p, lane.m, lane.t, lane.n, eq);
        // values in [0, 0xFFFE] (dense ids): no need for the minimum
        const int w = small_values_width(lane.p, lane.m, mmax);
        if (w == 1) return short_masks_narrow<1, false>(lane.p, lane.m, lane.t, lane.n, nmax, 0, 0xFE, eq, tb);
        if (w == 2) return short_masks_narrow<2, TWO>(lane.p, lane.m, lane.t, lane.n, nmax, 0, 0xFFFE, eq, tb);
        int64_t lo, hi;
        min_max(lane.p, lane.m, lo, hi);
        const uint64_t range = (uint64_t)hi - (uint64_t)lo;
        if (range < 0xFF) return short_masks_narrow<1, false>(lane.p, lane.m, lane.t, lane.n, nmax, lo, range, eq, tb);
        if (range < 0xFFFF) return short_masks_narrow<2, TWO>(lane.p, lane.m, lane.t, lane.n, nmax, lo, range, eq, tb);
    }
#else
    (void)mmax;
    (void)nmax;
#endif
    // wide values (or AVX2): compares in the token type against the pattern
    // copied into an aligned buffer
    ShortPattern<T> P(s.short_pattern);
    P.load(lane.p, (int)lane.m);
    for (int64_t j = 0; j < lane.n; ++j) eq[j * kLanes] = P.match(lane.t[j]);
}

#if defined(SEQLOSS_USE_AVX512BW)
// Phase 1 of a band lane, UB-byte narrow values: the padded pattern goes to
// pb (slot 64 + i = pattern token i, slots before and after = pad, which the
// clamped text never equals); window mask of step j = compare of t[j] with
// slots j + k + 1 .. j + k + 64.
template <int UB, typename T>
inline void band_masks_narrow(const Lane<T>& lane, int64_t lo, uint64_t range, uint64_t* eq,
                              uint8_t* pb, uint32_t* tb) {
    constexpr int64_t k = kSmallBand;
    const __m512i pad = UB == 1 ? _mm512_set1_epi8((char)0xFE) : _mm512_set1_epi16((short)0xFFFE);
    _mm512_store_si512(pb, pad);
    if constexpr (UB == 2) _mm512_store_si512(pb + 64, pad);
    narrow_store<UB>(lane.p, lane.m, lo, pb + 64 * UB);
    // slots 64 + m .. 64 + m + 2k + 63 can be read
    for (int64_t o = 0; o < (2 * k + 64) * UB; o += 64) _mm512_storeu_si512(pb + (64 + lane.m) * UB + o, pad);
    narrow_text<UB>(lane.t, lane.n, lane.n, lo, range, tb);
    const uint8_t* w = pb + (k + 1) * UB;
    for (int64_t j = 0; j < lane.n; ++j, w += UB) {
        const __m512i v = _mm512_set1_epi32((int)tb[j]);
        uint64_t e;
        if constexpr (UB == 1) {
            e = _mm512_cmpeq_epi8_mask(_mm512_loadu_si512(w), v);
        } else {
            e = join_masks32(_mm512_cmpeq_epi16_mask(_mm512_loadu_si512(w), v),
                             _mm512_cmpeq_epi16_mask(_mm512_loadu_si512(w + 64), v));
        }
        eq[j * kLanes] = e;
    }
}

// Phase 1 of a band lane; false when the pattern's values span too wide a
// range for 16-bit lanes (the caller then computes the pair by itself).
template <typename T>
inline bool band_masks(const Lane<T>& lane, uint64_t* eq, Scratch& s) {
    int64_t lo, hi;
    min_max(lane.p, lane.m, lo, hi);
    const uint64_t range = (uint64_t)hi - (uint64_t)lo;
    if (range < 0xFE) {
        band_masks_narrow<1>(lane, lo, range, eq, s.band_pattern, s.lock_tb.data());
        return true;
    }
    if (range < 0xFFFE) {
        band_masks_narrow<2>(lane, lo, range, eq, s.band_pattern, s.lock_tb.data());
        return true;
    }
    return false;
}
#endif

// A group of nl <= kLanes lanes (missing lanes run on stale masks with
// n = 0 and are never read).
template <bool BAND, typename T>
inline void lock_group(const Lane<T>* lanes, int nl, int64_t* out, Scratch& s) {
    uint64_t* eq = s.lock_eq.data();
    alignas(64) int64_t nv[kLanes] = {};
    int64_t nmax = 0, mmax = 0;
    if constexpr (!BAND) {
        for (int l = 0; l < nl; ++l) {
            nmax = std::max(nmax, lanes[l].n);
            mmax = std::max(mmax, lanes[l].m);
        }
    }
    for (int l = 0; l < nl; ++l) {
        const Lane<T>& lane = lanes[l];
        if constexpr (BAND) {
#if defined(SEQLOSS_USE_AVX512BW)
            if (!band_masks(lane, eq + l, s)) {
                out[lane.idx] = stripped_distance(lane.p, lane.m, lane.t, lane.n, s);
                continue;
            }
#endif
        } else {
            // loop bounds of the whole group: the same trip counts lane after
            // lane (lanes come sorted by text length)
            if (mmax > 32) short_masks<true>(lane, mmax, nmax, eq + l, s);
            else short_masks<false>(lane, mmax, nmax, eq + l, s);
        }
        nv[l] = lane.n;
        nmax = std::max(nmax, lane.n);
    }
    alignas(64) uint64_t vp[kLanes], vn[kLanes];
    alignas(64) int64_t cnt[kLanes];
#if defined(SEQLOSS_USE_AVX512BW)
    {
        const __m512i one = _mm512_set1_epi64(1);
        const __m512i nn = _mm512_load_si512(nv);
        int64_t nmin = nmax;
        for (int l = 0; l < nl; ++l)
            if (nv[l] > 0) nmin = std::min(nmin, nv[l]);
        __m512i VP = _mm512_set1_epi64(BAND ? (long long)(~UINT64_C(0) << (63 - kSmallBand)) : -1LL);
        __m512i VN = _mm512_setzero_si512(), C = _mm512_setzero_si512();
        // ternary-logic truth tables over (a, b, c) = (0xF0, 0xCC, 0xAA)
        constexpr int kXorOr = 0xBE;    // (a ^ b) | c
        constexpr int kOrNotOr = 0xF1;  // a | ~(b | c)
        auto step = [&](int64_t j, __mmask8 live) {
            const __m512i X = _mm512_or_si512(_mm512_loadu_si512(eq + j * kLanes), VN);
            const __m512i S = _mm512_add_epi64(_mm512_and_si512(X, VP), VP);
            const __m512i D0 = _mm512_ternarylogic_epi64(S, VP, X, kXorOr);
            const __m512i HP = _mm512_ternarylogic_epi64(VN, D0, VP, kOrNotOr);
            const __m512i HN = _mm512_and_si512(VP, D0);
            if constexpr (BAND) {
                // the window moves one row down: D0 >> 1 instead of HP/HN << 1
                const __m512i D1 = _mm512_srli_epi64(D0, 1);
                C = _mm512_mask_add_epi64(C, live, C, _mm512_srli_epi64(D0, 63));
                VP = _mm512_mask_mov_epi64(VP, live, _mm512_ternarylogic_epi64(HN, D1, HP, kOrNotOr));
                VN = _mm512_mask_and_epi64(VN, live, D1, HP);
            } else {
                const __m512i HP1 = _mm512_or_si512(_mm512_slli_epi64(HP, 1), one);
                const __m512i HN1 = _mm512_slli_epi64(HN, 1);
                VP = _mm512_mask_mov_epi64(VP, live, _mm512_ternarylogic_epi64(HN1, D0, HP1, kOrNotOr));
                VN = _mm512_mask_and_epi64(VN, live, HP1, D0);
            }
        };
        // up to the shortest text of the group every lane is live (lanes whose
        // result is never read may run on: missing ones, n = 0): no masks
        int64_t j = 0;
        for (; j < nmin; ++j) step(j, (__mmask8)0xFF);
        __m512i jj = _mm512_set1_epi64(nmin);
        for (; j < nmax; ++j) {
            const __mmask8 live = _mm512_cmpgt_epi64_mask(nn, jj);
            jj = _mm512_add_epi64(jj, one);
            step(j, live);
        }
        _mm512_store_si512(vp, VP);
        _mm512_store_si512(vn, VN);
        _mm512_store_si512(cnt, C);
    }
#else
    static_assert(!BAND, "band groups need AVX-512");
    {
        const __m256i one = _mm256_set1_epi64x(1), ones = _mm256_set1_epi64x(-1);
        const __m256i nn = _mm256_load_si256((const __m256i*)nv);
        __m256i jj = _mm256_setzero_si256();
        __m256i VP = ones, VN = _mm256_setzero_si256();
        for (int64_t j = 0; j < nmax; ++j) {
            const __m256i live = _mm256_cmpgt_epi64(nn, jj);
            jj = _mm256_add_epi64(jj, one);
            const __m256i X = _mm256_or_si256(_mm256_loadu_si256((const __m256i*)(eq + j * kLanes)), VN);
            const __m256i S = _mm256_add_epi64(_mm256_and_si256(X, VP), VP);
            const __m256i D0 = _mm256_or_si256(_mm256_xor_si256(S, VP), X);
            __m256i HP = _mm256_or_si256(VN, _mm256_xor_si256(_mm256_or_si256(D0, VP), ones));
            __m256i HN = _mm256_and_si256(VP, D0);
            HP = _mm256_or_si256(_mm256_slli_epi64(HP, 1), one);
            HN = _mm256_slli_epi64(HN, 1);
            const __m256i nVP = _mm256_or_si256(HN, _mm256_xor_si256(_mm256_or_si256(D0, HP), ones));
            const __m256i nVN = _mm256_and_si256(HP, D0);
            VP = _mm256_blendv_epi8(VP, nVP, live);
            VN = _mm256_blendv_epi8(VN, nVN, live);
        }
        _mm256_store_si256((__m256i*)vp, VP);
        _mm256_store_si256((__m256i*)vn, VN);
        for (int l = 0; l < kLanes; ++l) cnt[l] = 0;
    }
#endif
    for (int l = 0; l < nl; ++l) {
        const Lane<T>& lane = lanes[l];
        if (nv[l] == 0) continue;  // computed in phase 1
        if constexpr (BAND) {
            // rows m + 1 .. n + k of the last window: bits 63 - (n + k - m) .. 62
            constexpr int64_t k = kSmallBand;
            const uint64_t rows = low_bits(63) & ~low_bits(63 - (lane.n + k - lane.m));
            const int64_t d = k + lane.n - cnt[l] - (int64_t)__builtin_popcountll(vp[l] & rows) +
                              (int64_t)__builtin_popcountll(vn[l] & rows);
            out[lane.idx] = d <= k ? d : stripped_distance(lane.p, lane.m, lane.t, lane.n, s, false);
        } else {
            const uint64_t mm = low_bits(lane.m);
            out[lane.idx] = lane.n + (int64_t)__builtin_popcountll(vp[l] & mm) -
                         (int64_t)__builtin_popcountll(vn[l] & mm);
        }
    }
}
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic pop
#endif
#endif  // lockstep

}  // namespace
SEQLOSS_ISA_END
