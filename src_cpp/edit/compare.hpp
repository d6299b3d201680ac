// Edit-distance part: token compares.  A pattern of at most 64 tokens held in
// SIMD registers gives the match mask of a text token (ShortPattern); common
// prefixes / suffixes are found a register at a time and stripped
// (strip_pair); dense ids map pattern tokens to 0..k-1 and text tokens to
// their pattern id or k, with the match-mask table pm[id * W + w]
// (densify, build_masks).  Sequences are raw token arrays p[0, m), t[0, n).
// Without SEQLOSS_USE_AVX2 / SEQLOSS_USE_AVX512BW (core/isa.hpp) every
// compare is scalar.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "core/isa.hpp"  // SEQLOSS_USE_<ISA>
#if defined(SEQLOSS_USE_AVX2) || defined(SEQLOSS_USE_AVX512BW)
#include <immintrin.h>
#endif

#include "edit/scratch.hpp"

SEQLOSS_ISA_BEGIN
namespace {

#if defined(SEQLOSS_USE_AVX512BW)
// The 64-bit match mask of 64 16-bit lanes compared as two registers: lo's
// lanes in bits 0..31, hi's in bits 32..63, joined in the mask registers
// (kunpckdq).  Not `(uint32_t)lo | (uint64_t)hi << 32`: GCC 12.2 at -O1 with
// -fsanitize=address,undefined compiles that zero extension of a 32-bit mask,
// where it spills it, to a 32-bit `kmovd` store and a 64-bit reload of the same
// stack slot, so bits 32..63 of the low half are whatever the slot held before
// (a wrong-code bug, not undefined behaviour: the expression is well defined;
// it gave wrong band distances, tests/test_edit_distance.py
// test_band_lanes_of_16_bit_values_on_every_isa).
SEQLOSS_INLINE uint64_t join_masks32(__mmask32 lo, __mmask32 hi) {
    return _cvtmask64_u64(_mm512_kunpackd((__mmask64)hi, (__mmask64)lo));
}
#endif

// ---------------------------------------------------------------------------
// Pattern of at most 64 tokens: match mask of one text token by SIMD compares.
template <typename T>
struct ShortPattern {
    T* p;            // 64 tokens, 64-byte aligned (a Scratch buffer)
    int m = 0;
    int chunks = 0;  // SIMD registers that hold the m tokens

    explicit ShortPattern(void* buf) : p(static_cast<T*>(buf)) {}

    // Lanes past m keep whatever an earlier pattern left there (initialised
    // once): their match bits land above bit m - 1 and never matter.
    void load(const T* src, int m_) {
        m = m_;
        std::memcpy(p, src, sizeof(T) * m);
#if defined(SEQLOSS_USE_AVX512BW)
        constexpr int lanes = 64 / sizeof(T);
#elif defined(SEQLOSS_USE_AVX2)
        constexpr int lanes = 32 / sizeof(T);
#else
        constexpr int lanes = 1;
#endif
        chunks = (m + lanes - 1) / lanes;
    }

    // bit i set iff p[i] == c, for i < m (bits >= m are don't-care: in the
    // bit-parallel recurrence carries only travel upwards, so they never reach
    // the bits that matter)
    inline uint64_t match(T c) const {
#if defined(SEQLOSS_USE_AVX512BW)
        if constexpr (sizeof(T) == 1) {
            return _mm512_cmpeq_epi8_mask(_mm512_load_si512(p), _mm512_set1_epi8((char)c));
        } else if constexpr (sizeof(T) == 2) {
            const __m512i v = _mm512_set1_epi16((short)c);
            const __mmask32 lo = _mm512_cmpeq_epi16_mask(_mm512_load_si512(p), v);
            const __mmask32 hi = chunks > 1 ? _mm512_cmpeq_epi16_mask(_mm512_load_si512(p + 32), v) : 0;
            return join_masks32(lo, hi);
        } else if constexpr (sizeof(T) == 4) {
            const __m512i v = _mm512_set1_epi32((int)c);
            uint64_t r = 0;
            for (int k = 0; k < chunks; ++k)
                r |= (uint64_t)_mm512_cmpeq_epi32_mask(_mm512_load_si512(p + 16 * k), v) << (16 * k);
            return r;
        } else {
            const __m512i v = _mm512_set1_epi64((long long)c);
            uint64_t r = 0;
            for (int k = 0; k < chunks; ++k)
                r |= (uint64_t)_mm512_cmpeq_epi64_mask(_mm512_load_si512(p + 8 * k), v) << (8 * k);
            return r;
        }
#elif defined(SEQLOSS_USE_AVX2)
        if constexpr (sizeof(T) == 1) {
            const __m256i v = _mm256_set1_epi8((char)c);
            uint64_t r = (uint32_t)_mm256_movemask_epi8(
                _mm256_cmpeq_epi8(_mm256_load_si256((const __m256i*)p), v));
            if (chunks > 1)
                r |= (uint64_t)(uint32_t)_mm256_movemask_epi8(
                         _mm256_cmpeq_epi8(_mm256_load_si256((const __m256i*)(p + 32)), v))
                     << 32;
            return r;
        } else if constexpr (sizeof(T) == 2) {
            const __m256i v = _mm256_set1_epi16((short)c);
            uint64_t r = 0;
            for (int k = 0; k < chunks; ++k) {
                uint32_t mm = (uint32_t)_mm256_movemask_epi8(
                    _mm256_cmpeq_epi16(_mm256_load_si256((const __m256i*)(p + 16 * k)), v));
                r |= (uint64_t)_pext_u32(mm, 0x55555555u) << (16 * k);
            }
            return r;
        } else if constexpr (sizeof(T) == 4) {
            const __m256i v = _mm256_set1_epi32((int)c);
            uint64_t r = 0;
            for (int k = 0; k < chunks; ++k)
                r |= (uint64_t)(uint32_t)_mm256_movemask_ps(_mm256_castsi256_ps(
                         _mm256_cmpeq_epi32(_mm256_load_si256((const __m256i*)(p + 8 * k)), v)))
                     << (8 * k);
            return r;
        } else {
            const __m256i v = _mm256_set1_epi64x((long long)c);
            uint64_t r = 0;
            for (int k = 0; k < chunks; ++k)
                r |= (uint64_t)(uint32_t)_mm256_movemask_pd(_mm256_castsi256_pd(
                         _mm256_cmpeq_epi64(_mm256_load_si256((const __m256i*)(p + 4 * k)), v)))
                     << (4 * k);
            return r;
        }
#else
        uint64_t r = 0;
        for (int i = 0; i < m; ++i) r |= (uint64_t)(p[i] == c) << i;
        return r;
#endif
    }
};

// ---------------------------------------------------------------------------
// Common prefix / suffix lengths, a SIMD register of tokens at a time (the
// first mismatch is the lowest / highest set bit of the inequality mask), so
// the exit is one branch per register instead of one per token.
#if defined(SEQLOSS_USE_AVX512BW)
// bit i set iff a[i] != b[i], for the lanes i in k (masked loads: lanes
// outside k are never read, so a partial register never touches memory past
// the sequences)
template <typename T>
inline uint64_t ne_lanes(const T* a, const T* b, uint64_t k) {
    if constexpr (sizeof(T) == 1) {
        return _mm512_cmpneq_epi8_mask(_mm512_maskz_loadu_epi8(k, a), _mm512_maskz_loadu_epi8(k, b));
    } else if constexpr (sizeof(T) == 2) {
        const __mmask32 kk = (__mmask32)k;
        return _mm512_cmpneq_epi16_mask(_mm512_maskz_loadu_epi16(kk, a), _mm512_maskz_loadu_epi16(kk, b));
    } else if constexpr (sizeof(T) == 4) {
        const __mmask16 kk = (__mmask16)k;
        return _mm512_cmpneq_epi32_mask(_mm512_maskz_loadu_epi32(kk, a), _mm512_maskz_loadu_epi32(kk, b));
    } else {
        const __mmask8 kk = (__mmask8)k;
        return _mm512_cmpneq_epi64_mask(_mm512_maskz_loadu_epi64(kk, a), _mm512_maskz_loadu_epi64(kk, b));
    }
}
#elif defined(SEQLOSS_USE_AVX2)
// bit i set iff byte i of the 32-byte registers at a and b differ in its token
template <typename T>
inline uint32_t ne_bytes(const T* a, const T* b) {
    const __m256i x = _mm256_loadu_si256((const __m256i*)a);
    const __m256i y = _mm256_loadu_si256((const __m256i*)b);
    __m256i e;
    if constexpr (sizeof(T) == 1) e = _mm256_cmpeq_epi8(x, y);
    else if constexpr (sizeof(T) == 2) e = _mm256_cmpeq_epi16(x, y);
    else if constexpr (sizeof(T) == 4) e = _mm256_cmpeq_epi32(x, y);
    else e = _mm256_cmpeq_epi64(x, y);
    return ~(uint32_t)_mm256_movemask_epi8(e);
}
#endif

// number of leading positions where a[i] == b[i], i < len
template <typename T>
inline int64_t common_prefix(const T* a, const T* b, int64_t len) {
    int64_t i = 0;
#if defined(SEQLOSS_USE_AVX512BW)
    constexpr int64_t kPerReg = 64 / sizeof(T);
    for (; i + kPerReg <= len; i += kPerReg) {
        const uint64_t ne = ne_lanes(a + i, b + i, ~UINT64_C(0));
        if (ne) return i + __builtin_ctzll(ne);
    }
    if (i < len) {
        const uint64_t ne = ne_lanes(a + i, b + i, (UINT64_C(1) << (len - i)) - 1);
        return ne ? i + __builtin_ctzll(ne) : len;
    }
    return len;
#else
#if defined(SEQLOSS_USE_AVX2)
    constexpr int64_t kPerReg = 32 / sizeof(T);
    for (; i + kPerReg <= len; i += kPerReg) {
        const uint32_t ne = ne_bytes(a + i, b + i);
        if (ne) return i + __builtin_ctz(ne) / (int)sizeof(T);
    }
#endif
    while (i < len && a[i] == b[i]) ++i;
    return i;
#endif
}

// number of trailing positions where a_end[-1 - i] == b_end[-1 - i], i < len
template <typename T>
inline int64_t common_suffix(const T* a_end, const T* b_end, int64_t len) {
    int64_t i = 0;
#if defined(SEQLOSS_USE_AVX512BW)
    constexpr int64_t kPerReg = 64 / sizeof(T);
    for (; i + kPerReg <= len; i += kPerReg) {
        const uint64_t ne = ne_lanes(a_end - i - kPerReg, b_end - i - kPerReg, ~UINT64_C(0));
        if (ne) return i + (kPerReg - 1) - (63 - __builtin_clzll(ne));
    }
    if (i < len) {
        const int64_t r = len - i;
        const uint64_t ne = ne_lanes(a_end - len, b_end - len, (UINT64_C(1) << r) - 1);
        return ne ? i + (r - 1) - (63 - __builtin_clzll(ne)) : len;
    }
    return len;
#else
#if defined(SEQLOSS_USE_AVX2)
    constexpr int64_t kPerReg = 32 / sizeof(T);
    for (; i + kPerReg <= len; i += kPerReg) {
        const uint32_t ne = ne_bytes(a_end - i - kPerReg, b_end - i - kPerReg);
        if (ne) return i + (kPerReg - 1) - (31 - __builtin_clz(ne)) / (int)sizeof(T);
    }
#endif
    while (i < len && a_end[-1 - i] == b_end[-1 - i]) ++i;
    return i;
#endif
}

// Drops the common prefix and suffix of h[0, n) and r[0, m) (they cost
// nothing); on return the shorter of the two is p[0, pm) (the distance is
// symmetric), the other t[0, tn).
template <typename T>
inline void strip_pair(const T* h, int64_t n, const T* r, int64_t m, const T*& p, int64_t& pm,
                       const T*& t, int64_t& tn) {
    // the suffix is searched on the whole sequences, independently of the
    // prefix (both first registers load at once), then capped by what the
    // prefix left
    const int64_t len = std::min(n, m);
    const int64_t pre = common_prefix(h, r, len);
    const int64_t suf = std::min(common_suffix(h + n, r + m, len), len - pre);
    h += pre;
    r += pre;
    n -= pre + suf;
    m -= pre + suf;
    if (n < m) {
        p = h;
        pm = n;
        t = r;
        tn = m;
    } else {
        p = r;
        pm = m;
        t = h;
        tn = n;
    }
}

// Build dense ids: pattern tokens get ids 0..k-1 by first occurrence, text
// tokens get the id of the equal pattern token or k.  Returns k.  When the
// pattern's values span a small range (code points, small vocabularies) the
// map is a direct, stamped array indexed by value - min (no hashing, nothing
// to clear between pairs); otherwise a stamped open-addressing hash map.
template <typename T, typename TT>
int32_t densify(const T* p, int64_t m, const TT* t, int64_t n, Scratch& s) {
    s.pid.resize(m);
    s.tid.resize(n);
    int64_t lo = (int64_t)p[0], hi = lo;
    for (int64_t i = 1; i < m; ++i) {
        const int64_t v = (int64_t)p[i];
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    const uint64_t range = (uint64_t)hi - (uint64_t)lo;  // no overflow in unsigned
    if (range < (uint64_t)std::max<int64_t>(INT64_C(1) << 16, 8 * m)) {
        const size_t size = (size_t)range + 1;
        if (s.direct_stamp.size() < size) {
            s.direct_stamp.assign(size, 0);
            s.direct_id.resize(size);
            s.stamp = 0;
        }
        if (++s.stamp == 0) {
            std::fill(s.direct_stamp.begin(), s.direct_stamp.end(), 0);
            s.stamp = 1;
        }
        const uint32_t st = s.stamp;
        uint32_t* stamp = s.direct_stamp.data();
        int32_t* ids = s.direct_id.data();
        int32_t k = 0;
        for (int64_t i = 0; i < m; ++i) {
            const uint64_t x = (uint64_t)(int64_t)p[i] - (uint64_t)lo;
            if (stamp[x] != st) {
                stamp[x] = st;
                ids[x] = k++;
            }
            s.pid[i] = ids[x];
        }
        for (int64_t j = 0; j < n; ++j) {
            const uint64_t x = (uint64_t)(int64_t)t[j] - (uint64_t)lo;
            s.tid[j] = (x <= range && stamp[x] == st) ? ids[x] : k;
        }
        return k;
    }
    s.map.reset(m);
    for (int64_t i = 0; i < m; ++i) s.pid[i] = s.map.insert((uint64_t)(int64_t)p[i]);
    const int32_t k = s.map.size;
    for (int64_t j = 0; j < n; ++j) s.tid[j] = s.map.find((uint64_t)(int64_t)t[j], k);
    return k;
}

// Masks: pm[id * W + w] has bit b set iff pattern token 64 w + b has that id.
inline void build_masks(const int32_t* pid, int64_t m, int32_t k, int64_t W, Scratch& s) {
    s.pm.assign((size_t)(k + 1) * W, 0);
    for (int64_t i = 0; i < m; ++i) s.pm[(size_t)pid[i] * W + (i >> 6)] |= UINT64_C(1) << (i & 63);
}

}  // namespace
SEQLOSS_ISA_END
