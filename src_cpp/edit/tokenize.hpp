// Edit-distance part: jiwer's default word transform fused with word
// hashing (split_words; with Mixed, CJK ideographs, kana and hangul are
// tokens of their own), and reference words -> dense ids (WordIds) for the
// error counts.  Text is a fixed-width code-point buffer t[0, L) (1, 2 or 4
// bytes per code point, see edit_distance.hpp).
#pragma once

#include <cstdint>
#include <vector>

#include "core/isa.hpp"
#include "edit/scratch.hpp"

SEQLOSS_ISA_BEGIN
namespace {

// Word tokenizer (jiwer's default word transform) fused with word hashing:
// appends (start, length, hash) of each word of t[0, L), positions relative to t.
constexpr uint64_t kHashSeed = UINT64_C(0xcbf29ce484222325);
constexpr uint64_t kHashMul = UINT64_C(0x100000001b3);

inline uint64_t hash_finish(uint64_t h, int64_t n) {
    h ^= (uint64_t)n * UINT64_C(0x9E3779B97F4A7C15);
    return h ^ (h >> 29);
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

// Appends (start, length, hash) of each word of t[0, L), positions relative
// to t: jiwer's default word transform (runs of >= 2 whitespace characters
// are one space, strip, split on single spaces; a lone non-space whitespace
// character stays inside its word).  Mixed: as if a space were inserted
// before and after every CJK code point (is_cjk_cp) first, i.e. each is a
// word of its own, and a lone whitespace character next to one separates.
template <bool Mixed = false, typename U>
void split_words(const U* t, int64_t L, std::vector<Word>& words) {
    words.clear();
    int64_t i = 0;
    while (i < L && space_at(t, i)) ++i;  // strip
    int64_t end = L;
    while (end > i && space_at(t, end - 1)) --end;
    int64_t ws = i;
    uint64_t h = kHashSeed;
    while (i < end) {
        // the run of non-space characters
        while (i < end && !space_at(t, i)) {
            if constexpr (Mixed && sizeof(U) > 1) {
                if (cjk_at(t, i)) {  // ends the word before it, and is a word
                    if (i > ws) words.push_back(Word{(int32_t)ws, (int32_t)(i - ws), hash_finish(h, i - ws)});
                    const uint64_t hc = (kHashSeed ^ (uint64_t)t[i]) * kHashMul;
                    words.push_back(Word{(int32_t)i, 1, hash_finish(hc, 1)});
                    ws = ++i;
                    h = kHashSeed;
                    continue;
                }
            }
            h = (h ^ (uint64_t)t[i]) * kHashMul;
            ++i;
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
            if (i > ws) words.push_back(Word{(int32_t)ws, (int32_t)(i - ws), hash_finish(h, i - ws)});
            ws = j;
            h = kHashSeed;
        } else {  // a lone non-space whitespace character stays in the word
            h = (h ^ c) * kHashMul;
        }
        i = j;
    }
    if (end > ws) words.push_back(Word{(int32_t)ws, (int32_t)(end - ws), hash_finish(h, end - ws)});
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
