// Token interning.  Pure C++; a string token is a view of a fixed-width
// code-point buffer (1, 2 or 4 bytes per code point, as Python's PEP 393
// strings).
//  * TokenInterner (edit_distance_batch on sequences of hashables, pre-
//    tokenised alignments): string tokens (by code points) and 64-bit integer
//    tokens -> dense int64 ids in order of first appearance; it keeps views
//    of the caller's buffers, which the caller keeps alive while it is used.
//    Equal tokens get equal ids; a string never equals an integer (as in
//    Python).
//  * TextVocab (the vocabulary of text alignments): strings -> dense int32
//    ids in order of first insertion, keeping its own copy of each string's
//    code points, so a lookup compares with compact memory in cache rather
//    than with some earlier sentence's text.
#pragma once

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace seqloss {

class TokenInterner {
public:
    explicit TokenInterner(int64_t expected = 1024) { rehash(capacity_for(expected)); }

    // id of the string of `len` code points at `data` (`kind` bytes each)
    int64_t text(const void* data, int64_t len, int kind) {
        uint64_t h = text_hash(data, len, kind);
        h |= 1;  // odd: never equal to an integer's slot hash (even)
        uint64_t i = h & mask_;
        for (;;) {
            Slot& s = slots_[i];
            if (s.id < 0) return insert(s, h, data, len, kind);
            if (s.hash == h && s.kind != 0 && s.len == len && same_text(s, data, len, kind)) return s.id;
            i = (i + 1) & mask_;
        }
    }

    // id of the integer v
    int64_t integer(int64_t v) {
        uint64_t h = (uint64_t)v * UINT64_C(0x9E3779B97F4A7C15);
        h ^= h >> 31;
        h &= ~UINT64_C(1);  // even
        uint64_t i = h & mask_;
        for (;;) {
            Slot& s = slots_[i];
            if (s.id < 0) return insert(s, h, nullptr, v, 0);
            if (s.hash == h && s.kind == 0 && s.len == v) return s.id;
            i = (i + 1) & mask_;
        }
    }

    int64_t size() const { return size_; }

    // A function of the code points alone: 8 at a time as bytes when they are all
    // below 256 (any width), else one at a time.
    // (also the hash of corpus.cpp's id index)
    static uint64_t text_hash(const void* data, int64_t len, int kind) {
        uint64_t any = 0;
        if (kind != 1)
            for (int64_t i = 0; i < len; ++i) any |= code_point(data, kind, i);
        uint64_t h = UINT64_C(0xcbf29ce484222325) ^ ((uint64_t)len * UINT64_C(0x9E3779B97F4A7C15));
        if (any < 256) {
            for (int64_t k = 0; k < len; k += 8) {
                uint64_t x = 0;
                const int64_t m = len - k < 8 ? len - k : 8;
                if (kind == 1 && m == 8 && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__)
                    std::memcpy(&x, static_cast<const char*>(data) + k, 8);
                else
                    for (int64_t j = 0; j < m; ++j) x |= (uint64_t)code_point(data, kind, k + j) << (8 * j);
                h = (h ^ x) * UINT64_C(0x9E3779B97F4A7C15);
                h ^= h >> 29;
            }
        } else {
            h = ~h;
            for (int64_t i = 0; i < len; ++i) {
                h = (h ^ code_point(data, kind, i)) * UINT64_C(0x9E3779B97F4A7C15);
                h ^= h >> 29;
            }
        }
        h ^= h >> 33;
        h *= UINT64_C(0xff51afd7ed558ccd);
        return h ^ (h >> 33);
    }
    static uint32_t code_point(const void* d, int kind, int64_t i) {
        if (kind == 1) return static_cast<const uint8_t*>(d)[i];
        if (kind == 2) return static_cast<const uint16_t*>(d)[i];
        return static_cast<const uint32_t*>(d)[i];
    }

private:
    struct Slot {
        uint64_t hash;
        const void* data;  // string tokens
        int64_t len;       // code points, or the integer's value when kind == 0
        int32_t kind;      // 0 = integer token
        int64_t id;        // -1 = empty
    };

    static bool same_text(const Slot& s, const void* data, int64_t len, int kind) {
        if (s.kind == kind) return std::memcmp(s.data, data, (size_t)(len * kind)) == 0;
        for (int64_t i = 0; i < len; ++i)
            if (code_point(s.data, s.kind, i) != code_point(data, kind, i)) return false;
        return true;
    }
    static uint64_t capacity_for(int64_t n) {
        uint64_t c = 64;
        while (c < (uint64_t)(2 * n)) c <<= 1;
        return c;
    }
    int64_t insert(Slot& s, uint64_t h, const void* data, int64_t len, int kind) {
        s = Slot{h, data, len, kind, size_++};
        const int64_t id = s.id;
        if ((uint64_t)(2 * size_) > slots_.size()) rehash(slots_.size() * 2);
        return id;
    }
    void rehash(uint64_t cap) {
        std::vector<Slot> old;
        old.swap(slots_);
        slots_.assign(cap, Slot{0, nullptr, 0, 0, -1});
        mask_ = cap - 1;
        for (const Slot& s : old) {
            if (s.id < 0) continue;
            uint64_t i = s.hash & mask_;
            while (slots_[i].id >= 0) i = (i + 1) & mask_;
            slots_[i] = s;
        }
    }

    std::vector<Slot> slots_;
    uint64_t mask_ = 0;
    int64_t size_ = 0;
};

// Distinct strings -> dense ids 0, 1, ... in order of first insertion.  The
// caller supplies each string's 64-bit hash: any function of its code points
// alone, the same for every lookup of one vocabulary (a string's storage
// width never matters).  Equality is checked on the code points.
class TextVocab {
public:
    TextVocab() { rehash(64); }

    // id of the string t[0, len) (U: uint8_t, uint16_t or uint32_t code points)
    template <typename U>
    int32_t id(const U* t, int32_t len, uint64_t hash) {
        uint64_t i = slot_of(hash);
        for (;;) {
            Slot& s = slots_[i];
            if (s.id < 0) return insert(s, t, len, hash);
            if (s.hash == hash && s.len == len && same(text_.data() + s.at, t, len)) return s.id;
            i = (i + 1) & mask_;
        }
    }

    int32_t size() const { return (int32_t)entries_.size(); }
    uint64_t hash(int32_t id) const { return entries_[(size_t)id].hash; }
    int32_t length(int32_t id) const { return entries_[(size_t)id].len; }
    const uint32_t* code_points(int32_t id) const { return text_.data() + entries_[(size_t)id].at; }
    int64_t total_code_points() const { return (int64_t)text_.size(); }

private:
    struct Slot {  // (a copy of its entry: a lookup reads one slot and the text)
        uint64_t hash;
        int64_t at;
        int32_t len;
        int32_t id;  // -1 = empty
    };
    struct Entry {
        uint64_t hash;
        int64_t at;  // first code point in text_
        int32_t len;
    };

    uint64_t slot_of(uint64_t h) const { return ((h * UINT64_C(0x9E3779B97F4A7C15)) >> 20) & mask_; }
    template <typename U>
    static bool same(const uint32_t* a, const U* b, int32_t n) {
        for (int32_t i = 0; i < n; ++i)
            if (a[i] != (uint32_t)b[i]) return false;
        return true;
    }
    template <typename U>
    int32_t insert(Slot& s, const U* t, int32_t len, uint64_t hash) {
        if (entries_.size() >= (size_t)INT32_MAX)
            throw std::length_error("TextVocab: over 2^31 - 1 distinct tokens");
        const int32_t id = (int32_t)entries_.size();
        entries_.push_back(Entry{hash, (int64_t)text_.size(), len});
        for (int32_t k = 0; k < len; ++k) text_.push_back((uint32_t)t[k]);
        s = Slot{hash, entries_.back().at, len, id};
        if (2 * entries_.size() > slots_.size()) rehash(slots_.size() * 2);
        return id;
    }
    void rehash(size_t cap) {
        slots_.assign(cap, Slot{0, 0, 0, -1});
        mask_ = cap - 1;
        for (size_t k = 0; k < entries_.size(); ++k) {
            const Entry& e = entries_[k];
            uint64_t i = slot_of(e.hash);
            while (slots_[i].id >= 0) i = (i + 1) & mask_;
            slots_[i] = Slot{e.hash, e.at, e.len, (int32_t)k};
        }
    }

    std::vector<Slot> slots_;
    uint64_t mask_ = 0;
    std::vector<Entry> entries_;
    std::vector<uint32_t> text_;
};

}  // namespace seqloss
