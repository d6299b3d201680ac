// Edit-distance part: jiwer's default word transform fused with word
// hashing (split_words; with Mixed, CJK ideographs, kana and hangul are
// tokens of their own), and reference words -> dense ids (WordIds) for the
// error counts.  Text is a fixed-width code-point buffer t[0, L) (1, 2 or 4
// bytes per code point, see edit_distance.hpp).
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "core/isa.hpp"
#include "edit/scratch.hpp"

#if defined(SEQLOSS_USE_SSE2)
#include <emmintrin.h>
#endif

SEQLOSS_ISA_BEGIN
namespace {

// The hash of a token (a word, or one code point): a function of its code
// points alone, whatever the buffer's width.  Tokens whose code points are all
// below 256 are hashed as bytes, 8 at a time; others as 32-bit code points.
constexpr uint64_t kHashSeed = UINT64_C(0xcbf29ce484222325);
constexpr uint64_t kHashMul = UINT64_C(0x9E3779B97F4A7C15);

inline uint64_t hash_mix(uint64_t h) {  // (MurmurHash3's finaliser)
    h ^= h >> 33;
    h *= UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 33;
    h *= UINT64_C(0xc4ceb9fe1a85ec53);
    return h ^ (h >> 33);
}

inline uint64_t hash_step(uint64_t h, uint64_t x) {
    h = (h ^ x) * kHashMul;
    return h ^ (h >> 29);
}

// t[0, n) as bytes (every code point < 256); `limit`: the end of the readable
// buffer (a tail block is read whole, then masked, when it fits before it).
template <typename U>
inline uint64_t token_bytes_hash(const U* t, int64_t n, const U* limit) {
    uint64_t h = kHashSeed ^ ((uint64_t)n * UINT64_C(0x2545F4914F6CDD1D));
    int64_t k = 0;
    if constexpr (sizeof(U) == 1 && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__) {
        for (; k + 8 <= n; k += 8) {
            uint64_t x;
            std::memcpy(&x, t + k, 8);
            h = hash_step(h, x);
        }
        if (k < n && t + k + 8 <= limit) {
            uint64_t x;
            std::memcpy(&x, t + k, 8);
            return hash_mix(hash_step(h, x & (~UINT64_C(0) >> (64 - 8 * (n - k)))));
        }
    }
    for (; k < n; k += 8) {
        uint64_t x = 0;
        const int64_t m = n - k < 8 ? n - k : 8;
        for (int64_t j = 0; j < m; ++j) x |= (uint64_t)(uint8_t)t[k + j] << (8 * j);
        h = hash_step(h, x);
    }
    return hash_mix(h);
}

template <typename U>
inline uint64_t token_hash(const U* t, int64_t n, const U* limit) {
    if constexpr (sizeof(U) > 1) {
        uint32_t any = 0;
        for (int64_t j = 0; j < n; ++j) any |= (uint32_t)t[j];
        if (any >= 256) {
            uint64_t h = ~kHashSeed ^ (uint64_t)n;
            for (int64_t j = 0; j < n; ++j) h = hash_step(h, (uint64_t)t[j]);
            return hash_mix(h);
        }
    }
    return token_bytes_hash(t, n, limit);
}

template <typename U>
inline bool space_at(const U* t, int64_t i) {
    if constexpr (sizeof(U) == 1)
        return kSpaceTable.t[t[i]] != 0;
    else
        return is_space_cp((uint32_t)t[i]);
}

// A code point the mixed unit makes a token of its own (see edit_distance.hpp).
constexpr bool is_cjk_cp(uint32_t c) {
    return c >= 0x1100 &&
           (c <= 0x11FF ||                      // Hangul Jamo
            (c >= 0x3040 && c <= 0x30FF) ||     // Hiragana, Katakana
            (c >= 0x3130 && c <= 0x318F) ||     // Hangul Compatibility Jamo
            (c >= 0x3400 && c <= 0x4DBF) ||     // CJK Extension A
            (c >= 0x4E00 && c <= 0x9FFF) ||     // CJK Unified Ideographs
            (c >= 0xAC00 && c <= 0xD7AF) ||     // Hangul Syllables
            (c >= 0xF900 && c <= 0xFAFF) ||     // CJK Compatibility Ideographs
            (c >= 0x20000 && c <= 0x2FA1F));    // CJK Extensions B.., Compatibility Supplement
}

template <typename U>
inline bool cjk_at(const U* t, int64_t i) {
    if constexpr (sizeof(U) == 1)
        return false;
    else
        return is_cjk_cp((uint32_t)t[i]);
}

// The first i' in [i, end) with t[i'] whitespace (Python's isspace), or end.
// One-byte code points (Latin-1) are tested 16 at a time where SSE2 is there:
// 9-13, 28-32, 0x85 and 0xA0.
template <typename U>
inline int64_t next_space(const U* t, int64_t i, int64_t end) {
#if defined(SEQLOSS_USE_SSE2) && (defined(__GNUC__) || defined(__clang__))
    if constexpr (sizeof(U) == 1) {
        const __m128i c9 = _mm_set1_epi8(9), c28 = _mm_set1_epi8(28), four = _mm_set1_epi8(4);
        const __m128i nel = _mm_set1_epi8((char)0x85), nbsp = _mm_set1_epi8((char)0xA0);
        for (; i + 16 <= end; i += 16) {
            const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(t + i));
            const __m128i a = _mm_sub_epi8(x, c9), b = _mm_sub_epi8(x, c28);
            const __m128i m = _mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(a, four), a),
                             _mm_cmpeq_epi8(_mm_min_epu8(b, four), b)),
                _mm_or_si128(_mm_cmpeq_epi8(x, nel), _mm_cmpeq_epi8(x, nbsp)));
            const unsigned bits = (unsigned)_mm_movemask_epi8(m);
            if (bits) return i + __builtin_ctz(bits);
        }
    }
#endif
    while (i < end && !space_at(t, i)) ++i;
    return i;
}

// Writes (start, length, hash) of each word of t[0, L) to `words` (grown to
// at least L + 1 entries, never shrunk: the count is returned), positions
// relative to t: jiwer's default word transform (runs of >= 2 whitespace
// characters are one space, strip, split on single spaces; a lone non-space
// whitespace character stays inside its word).  Mixed: as if a space were
// inserted before and after every CJK code point (is_cjk_cp) first, i.e.
// each is a word of its own, and a lone whitespace character next to one
// separates.
template <bool Mixed = false, typename U>
int64_t split_words(const U* t, int64_t L, std::vector<Word>& words) {
    if ((int64_t)words.size() < L + 1) words.resize((size_t)(L + 1));
    Word* out = words.data();
    int64_t n = 0;
    const U* const limit = t + L;
    int64_t i = 0;
    while (i < L && space_at(t, i)) ++i;  // strip
    int64_t end = L;
    while (end > i && space_at(t, end - 1)) --end;
    int64_t ws = i;
    auto word = [&](int64_t a, int64_t b) {
        out[n++] = Word{(int32_t)a, (int32_t)(b - a), token_hash(t + a, b - a, limit)};
    };
    while (i < end) {
        // the run of non-space characters
        if constexpr (Mixed && sizeof(U) > 1) {
            while (i < end && !space_at(t, i)) {
                if (cjk_at(t, i)) {  // ends the word before it, and is a word
                    if (i > ws) word(ws, i);
                    word(i, i + 1);
                    ws = ++i;
                    continue;
                }
                ++i;
            }
        } else {
            i = next_space(t, i, end);
        }
        if (i >= end) break;
        const uint32_t c = (uint32_t)t[i];
        int64_t j = i + 1;
        while (j < end && space_at(t, j)) ++j;
        bool separator = j - i >= 2 || c == (uint32_t)' ';
        if constexpr (Mixed && sizeof(U) > 1) {
            // (an inserted space makes a run of two with a lone tab)
            separator = separator || (i > 0 && cjk_at(t, i - 1)) || (j < end && cjk_at(t, j));
        }
        if (separator) {
            if (i > ws) word(ws, i);
            ws = j;
        }  // else a lone non-space whitespace character stays in the word
        i = j;
    }
    if (end > ws) word(ws, end);
    return n;
}

template <typename A, typename B>
inline bool same_code_points(const A* a, const B* b, int32_t n) {
    for (int32_t i = 0; i < n; ++i)
        if ((uint32_t)a[i] != (uint32_t)b[i]) return false;
    return true;
}

// Reference word -> dense id, keyed by hash, equality checked on the code
// points (equal hashes alone never merge two words).
template <typename UR>
struct WordSlot {
    uint64_t hash;
    const UR* ptr;
    int32_t len;
    int32_t id;
    uint32_t stamp;
};

template <typename UR>
struct WordIds : StampedSlots<WordSlot<UR>> {
    using Slot = WordSlot<UR>;
    using StampedSlots<Slot>::slots;
    using StampedSlots<Slot>::stamp;
    using StampedSlots<Slot>::mask;
    using StampedSlots<Slot>::size;
    template <typename UQ>
    inline int32_t lookup(const UQ* w, int32_t n, uint64_t h, bool insert, int32_t absent) {
        uint64_t i = ((h * UINT64_C(0x9E3779B97F4A7C15)) >> 32) & mask;
        for (;;) {
            Slot& sl = slots[i];
            if (sl.stamp != stamp) {
                if (!insert) return absent;
                if constexpr (std::is_same<UQ, UR>::value) {
                    sl.hash = h;
                    sl.ptr = w;
                    sl.len = n;
                    sl.stamp = stamp;
                    sl.id = size++;
                    return sl.id;
                } else {
                    return absent;  // only reference words are inserted
                }
            }
            if (sl.hash == h && sl.len == n && same_code_points(sl.ptr, w, n)) return sl.id;
            i = (i + 1) & mask;
        }
    }
};

}  // namespace
SEQLOSS_ISA_END
