// Edit-distance kernels, compiled once per instruction-set level: included by
// edit_kernels.cpp inside that level's namespace (core/isa.hpp; the AVX2 /
// AVX-512 builds use -mavx2 / -mavx512bw, so the
// __AVX2__ / __AVX512BW__ branches below select the SIMD pattern compares).
//
// Algorithms (see edit_distance.hpp for layouts and the alignment tie rule).
// Every pair first drops its common prefix and suffix (a SIMD register of
// tokens at a time); the shorter sequence is the pattern (bits), the other
// the text (one step per token).
//  * batches, AVX2 / AVX-512: each task of 64 consecutive pairs is stripped
//    first, then its short pairs (pattern <= 64 tokens, text <= 287) run in
//    lockstep groups of 4 / 8 (one pair per 64-bit lane of one SIMD
//    recurrence), sorted by text length; on AVX-512 the 65..256-token
//    patterns with |n - m| <= 31 likewise run the single-word band in groups
//    of 8 (see "Lockstep recurrences" below).  Everything else goes pair by
//    pair as follows.
//  * pattern <= 64 tokens: Hyyroe's (2003) single-word recurrence; the match
//    mask of a text token is computed on the fly by comparing it with the
//    pattern held in SIMD registers (AVX2 / AVX-512 variants), so no per-pair
//    alphabet table is built at all.  The scalar base build compacts the
//    pair's alphabet to dense ids instead (faster there past 8 tokens).
//  * 65..256 tokens: one padded mask table (value-indexed when the pattern's
//    values span < 256, else on dense ids); Hyyroe's banded single-word
//    recurrence for the bound 31 when |n - m| allows it, else (or when the
//    distance is larger) Myers' (1999) blocked recurrence with the 2..4 words
//    of the column in registers.
//  * longer: the blocked recurrence restricted to Ukkonen's diagonal band for
//    a bound k that starts at max(|m - n| + 64, 2 |m - n|) and doubles until
//    the result is within it.
//  * dense ids: pattern values -> 0..k-1 by first occurrence, text values ->
//    their pattern id or k, with a stamped direct array when the pattern's
//    values span < 2^16 (no clearing between pairs) or a stamped
//    open-addressing hash map; the mask table is then (k + 1) x words.
//  * error counts: the same recurrences with every row's VP/VN recorded, a
//    backtrace with rapidfuzz's tie rule, and rapidfuzz's Hirschberg split for
//    pairs over its matrix budget.

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <type_traits>
#include <stdexcept>
#include <vector>

#include "core/isa.hpp"  // SEQLOSS_USE_<ISA>
#if defined(SEQLOSS_USE_AVX2) || defined(SEQLOSS_USE_AVX512BW)
#include <immintrin.h>
#endif

#include "core/memory.hpp"
#include "core/parallel.hpp"
#include "edit/edit_distance.hpp"

SEQLOSS_ISA_BEGIN
namespace {

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
            uint64_t r = _mm512_cmpeq_epi16_mask(_mm512_load_si512(p), v);
            if (chunks > 1)
                r |= (uint64_t)_mm512_cmpeq_epi16_mask(_mm512_load_si512(p + 32), v) << 32;
            return r;
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

// Hyyroe (2003) single-word recurrence: distance between pattern P (m <= 64)
// and text t[0, n).
template <typename T>
inline int64_t lev_short(const ShortPattern<T>& P, const T* t, int64_t n) {
    uint64_t VP = ~UINT64_C(0), VN = 0;
    const uint64_t last = UINT64_C(1) << (P.m - 1);
    int64_t score = P.m;
    for (int64_t j = 0; j < n; ++j) {
        const uint64_t X = P.match(t[j]) | VN;
        const uint64_t D0 = (((X & VP) + VP) ^ VP) | X;
        uint64_t HP = VN | ~(D0 | VP);
        uint64_t HN = VP & D0;
        score += (HP & last) != 0;
        score -= (HN & last) != 0;
        HP = (HP << 1) | 1;
        HN <<= 1;
        VP = HN | ~(D0 | HP);
        VN = HP & D0;
    }
    return score;
}

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
    constexpr int64_t L = 64 / sizeof(T);
    for (; i + L <= len; i += L) {
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
    constexpr int64_t L = 32 / sizeof(T);
    for (; i + L <= len; i += L) {
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
    constexpr int64_t L = 64 / sizeof(T);
    for (; i + L <= len; i += L) {
        const uint64_t ne = ne_lanes(a_end - i - L, b_end - i - L, ~UINT64_C(0));
        if (ne) return i + (L - 1) - (63 - __builtin_clzll(ne));
    }
    if (i < len) {
        const int64_t r = len - i;
        const uint64_t ne = ne_lanes(a_end - len, b_end - len, (UINT64_C(1) << r) - 1);
        return ne ? i + (r - 1) - (63 - __builtin_clzll(ne)) : len;
    }
    return len;
#else
#if defined(SEQLOSS_USE_AVX2)
    constexpr int64_t L = 32 / sizeof(T);
    for (; i + L <= len; i += L) {
        const uint32_t ne = ne_bytes(a_end - i - L, b_end - i - L);
        if (ne) return i + (L - 1) - (31 - __builtin_clz(ne)) / (int)sizeof(T);
    }
#endif
    while (i < len && a_end[-1 - i] == b_end[-1 - i]) ++i;
    return i;
#endif
}

// ---------------------------------------------------------------------------
// Stamped open-addressing map: key -> dense id in order of first insertion.
// Reused across pairs without clearing (a slot is live iff its stamp is the
// current one).
struct DenseMap {
    struct Slot {
        uint64_t key;
        int32_t id;
        uint32_t stamp;
    };
    std::vector<Slot> slots;
    uint32_t stamp = 0;
    uint64_t mask = 0;
    int shift = 64;
    int32_t size = 0;

    void reset(int64_t n_keys) {
        uint64_t cap = 16;
        int bits = 4;
        while (cap < (uint64_t)(2 * n_keys)) {
            cap <<= 1;
            ++bits;
        }
        if (cap > slots.size()) {
            slots.assign(cap, Slot{0, 0, 0});
            stamp = 0;
        }
        if (++stamp == 0) {
            for (auto& s : slots) s.stamp = 0;
            stamp = 1;
        }
        mask = cap - 1;
        shift = 64 - bits;
        size = 0;
    }
    inline uint64_t slot_of(uint64_t key) const {
        return (key * UINT64_C(0x9E3779B97F4A7C15)) >> shift;
    }
    inline int32_t insert(uint64_t key) {
        uint64_t i = slot_of(key);
        for (;;) {
            Slot& s = slots[i];
            if (s.stamp != stamp) {
                s.key = key;
                s.stamp = stamp;
                s.id = size++;
                return s.id;
            }
            if (s.key == key) return s.id;
            i = (i + 1) & mask;
        }
    }
    // id of key, or `absent` when it was never inserted
    inline int32_t find(uint64_t key, int32_t absent) const {
        uint64_t i = slot_of(key);
        for (;;) {
            const Slot& s = slots[i];
            if (s.stamp != stamp) return absent;
            if (s.key == key) return s.id;
            i = (i + 1) & mask;
        }
    }
};

struct Word {
    int32_t start;  // code points from the sentence start
    int32_t len;
    uint64_t hash;
};

// Per-thread scratch memory, grown on demand and reused across pairs.
struct Scratch {
    alignas(64) unsigned char short_pattern[512] = {};  // ShortPattern storage
    DenseMap map;
    std::vector<int32_t> pid, tid;      // dense ids of pattern / text
    std::vector<uint64_t> pm;           // (alphabet + 1, words) match masks
    std::vector<uint64_t> vp, vn;       // (words,) current column deltas
    std::vector<uint64_t> rec_vp, rec_vn;  // (n, words) recorded deltas
    std::vector<Word> rwords, hwords;  // word tokens of one sentence pair
    std::vector<int64_t> score;         // (words,) score at each block's bottom row
    std::vector<uint32_t> direct_stamp; // direct value -> id map (see densify)
    std::vector<int32_t> direct_id;
    uint32_t stamp = 0;
    std::vector<uint64_t> lock_eq;      // (kLockMaxText, kLanes) lockstep match masks
    std::vector<uint32_t> lock_tb;      // (kLockMaxText + 16,) narrowed text
    alignas(64) uint8_t band_pattern[1024];  // padded narrowed pattern of a band lane
};

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

// One 64-row block of Myers' (1999) recurrence, branch-free.  hp / hn: the
// horizontal delta (+1 / -1 as a 0-or-1 bit) entering at the block's top; on
// return, the delta leaving at bit `out` (63, or the last pattern row).
static inline void block_step(uint64_t Eq, uint64_t& VP, uint64_t& VN, uint64_t& hp,
                              uint64_t& hn, int out) {
    const uint64_t Xv = Eq | VN;
    Eq |= hn;
    const uint64_t Xh = (((Eq & VP) + VP) ^ VP) | Eq;
    uint64_t HP = VN | ~(Xh | VP);
    uint64_t HN = VP & Xh;
    const uint64_t hp_out = (HP >> out) & 1, hn_out = (HN >> out) & 1;
    HP = (HP << 1) | hp;
    HN = (HN << 1) | hn;
    VP = HN | ~(Xv | HP);
    VN = HP & Xv;
    hp = hp_out;
    hn = hn_out;
}

// Distance between dense-id pattern (m > 0 tokens, masks in s.pm) and text
// ids tid[0, n), restricted to Ukkonen's band for the bound `k`: returns the
// exact distance when it is <= k, otherwise some value > k.
//
// Band: a cell (pattern row i, text column j) can lie on a path of cost <= k
// only if  j - (k - (n - m)) / 2 <= i <= j + (k + (n - m)) / 2 (both sides
// of the diagonal share the k edits with the length difference).  Blocks
// entirely below the band are not computed yet; a block entering the band
// from below starts from the column above it plus +1 per row (an upper bound,
// exact where it matters: cells outside the band cost more than k anyway).
// Blocks entirely above the band are dropped: the block that then becomes
// the first one gets h_in = +1 (an upper bound for the same reason).
inline int64_t lev_block_banded(const int32_t* tid, int64_t n, int64_t m, int64_t k, Scratch& s) {
    const int64_t W = (m + 63) >> 6;
    const int last_out = (int)((m - 1) & 63);
    s.vp.resize(W);
    s.vn.resize(W);
    uint64_t* VP = s.vp.data();
    uint64_t* VN = s.vn.data();
    // score[w] = D[row 64 w + 63 (or m - 1)][current column]
    s.score.resize(W);
    int64_t* score = s.score.data();
    const int64_t diff = n - m;
    if (k < (diff < 0 ? -diff : diff)) return k + 1;
    const int64_t up = (k + diff) / 2 + 1;    // rows i >= j - up are in band
    const int64_t down = (k - diff) / 2 + 1;  // rows i <= j + down are in band
    int64_t first = 0;
    int64_t last = std::min<int64_t>(W - 1, down >> 6);
    for (int64_t w = 0; w <= last; ++w) {
        VP[w] = ~UINT64_C(0);
        VN[w] = 0;
        score[w] = std::min<int64_t>(64 * (w + 1), m);
    }
    const uint64_t* pm = s.pm.data();
    for (int64_t j = 0; j < n; ++j) {
        const uint64_t* col = pm + (size_t)tid[j] * W;
        // extend the band downwards
        const int64_t want_last = std::min<int64_t>(W - 1, (j + 1 + down) >> 6);
        while (last < want_last) {
            ++last;
            VP[last] = ~UINT64_C(0);
            VN[last] = 0;
            const int64_t rows = std::min<int64_t>(64 * (last + 1), m) - 64 * last;
            score[last] = score[last - 1] + rows;
        }
        // top boundary: D[0][j+1] - D[0][j] = +1 (an upper bound when first > 0)
        uint64_t hp = 1, hn = 0;
        const int64_t full_end = last == W - 1 ? last : last + 1;
        for (int64_t w = first; w < full_end; ++w) {
            block_step(col[w], VP[w], VN[w], hp, hn, 63);
            score[w] += (int64_t)hp - (int64_t)hn;
        }
        if (full_end == last) {
            block_step(col[last], VP[last], VN[last], hp, hn, last_out);
            score[last] += (int64_t)hp - (int64_t)hn;
        }
        // drop blocks that fell above the band: rows < j - up
        while (first < last && 64 * (first + 1) - 1 < j + 1 - up) ++first;
    }
    if (last != W - 1) return k + 1;
    return score[W - 1];
}

// Single-word recurrence on dense ids (pattern ids < k, text ids <= k).
inline int64_t lev_short_ids(const int32_t* pid, int64_t m, const int32_t* tid, int64_t n,
                             int32_t k) {
    uint64_t PM[65];
    for (int32_t a = 0; a <= k; ++a) PM[a] = 0;
    for (int64_t i = 0; i < m; ++i) PM[pid[i]] |= UINT64_C(1) << i;
    uint64_t VP = ~UINT64_C(0), VN = 0;
    const uint64_t last = UINT64_C(1) << (m - 1);
    int64_t score = m;
    for (int64_t j = 0; j < n; ++j) {
        const uint64_t X = PM[tid[j]] | VN;
        const uint64_t D0 = (((X & VP) + VP) ^ VP) | X;
        uint64_t HP = VN | ~(D0 | VP);
        uint64_t HN = VP & D0;
        score += (HP & last) != 0;
        score -= (HN & last) != 0;
        HP = (HP << 1) | 1;
        HN <<= 1;
        VP = HN | ~(D0 | HP);
        VN = HP & D0;
    }
    return score;
}

// Single-word recurrence with a value-indexed mask table (on the stack) for a
// pattern whose values span range < 128: row range + 1 is all zeros, for text
// values outside [lo, lo + range].
template <typename T>
inline int64_t lev_short_direct(const T* p, int64_t m, const T* t, int64_t n, int64_t lo,
                                uint64_t range) {
    uint64_t PM[129];
    for (uint64_t a = 0; a <= range + 1; ++a) PM[a] = 0;
    for (int64_t i = 0; i < m; ++i) PM[(uint64_t)(int64_t)p[i] - (uint64_t)lo] |= UINT64_C(1) << i;
    uint64_t VP = ~UINT64_C(0), VN = 0;
    const uint64_t last = UINT64_C(1) << (m - 1);
    int64_t score = m;
    for (int64_t j = 0; j < n; ++j) {
        uint64_t x = (uint64_t)(int64_t)t[j] - (uint64_t)lo;
        x = x <= range ? x : range + 1;
        const uint64_t X = PM[x] | VN;
        const uint64_t D0 = (((X & VP) + VP) ^ VP) | X;
        uint64_t HP = VN | ~(D0 | VP);
        uint64_t HN = VP & D0;
        score += (HP & last) != 0;
        score -= (HN & last) != 0;
        HP = (HP << 1) | 1;
        HN <<= 1;
        VP = HN | ~(D0 | HP);
        VN = HP & D0;
    }
    return score;
}

// Longest pattern for which comparing every text token with the whole
// pattern in SIMD registers beats building dense ids first.  Measured on the
// benchmark shapes (single-thread CPU time): with AVX2 / AVX-512 the compares
// win for every pattern of up to 64 tokens, even int64 ones (8 compares per
// text token); the scalar base build only up to 8 tokens.
template <typename T>
constexpr int64_t short_simd_max_tokens() {
#if defined(SEQLOSS_USE_AVX512BW) || defined(SEQLOSS_USE_AVX2)
    return 64;
#else
    return 8;
#endif
}

// ---------------------------------------------------------------------------
// Hyyroe's (2003) banded recurrence in a single 64-bit word: the word holds
// a diagonal window of the column, pattern rows j + k - 62 .. j + k + 1 (in
// DP rows) at text column j + 1, which covers the diagonals -k .. k that a
// path of cost <= k can visit when k <= 31.  Each step moves the window one
// row down (D0 >> 1 instead of the HP / HN shift up).  The score follows the
// window's bottom diagonal (offset +k, which never decreases) while its
// bottom row is above row m, then row m itself horizontally.  Needs
// n >= m > k and n - m <= k.  Returns the exact distance when it is <= k,
// otherwise k + 1 (early: once the tracked score exceeds 2k + n - m, no path
// of cost <= k to the end is left, since along a path of cost <= k the
// tracked cell is reachable within the band for at most 2k + n - m).
//
// row(j) points at the padded mask row of text token j: word w + 1 holds the
// match bits of pattern rows 64 w .. 64 w + 63, words 0 and W + 1 are zero,
// so the window at padded bit position pos is two loads and a funnel shift.
template <typename RowFn>
inline int64_t lev_small_band(int64_t m, int64_t n, int64_t k, RowFn row) {
    uint64_t VP = ~UINT64_C(0) << (63 - k), VN = 0;
    int64_t dist = k;
    const int64_t brk = 2 * k + n - m;
    int64_t pos = k + 1;  // padded bit position of window bit 0 at this step
    int64_t j = 0;
    for (; j < m - k; ++j, ++pos) {
        const uint64_t* r = row(j);
        const int64_t w = pos >> 6;
        const int sh = (int)(pos & 63);
        const uint64_t X = (r[w] >> sh) | ((r[w + 1] << 1) << (63 - sh));
        const uint64_t D0 = (((X & VP) + VP) ^ VP) | X | VN;
        const uint64_t HP = VN | ~(D0 | VP);
        const uint64_t HN = D0 & VP;
        dist += (int64_t)((~D0) >> 63);
        if (dist > brk) return k + 1;
        const uint64_t D1 = D0 >> 1;
        VP = HN | ~(D1 | HP);
        VN = D1 & HP;
    }
    int sh_row = 62;  // window bit of DP row m
    for (; j < n; ++j, ++pos, --sh_row) {
        const uint64_t* r = row(j);
        const int64_t w = pos >> 6;
        const int sh = (int)(pos & 63);
        const uint64_t X = (r[w] >> sh) | ((r[w + 1] << 1) << (63 - sh));
        const uint64_t D0 = (((X & VP) + VP) ^ VP) | X | VN;
        const uint64_t HP = VN | ~(D0 | VP);
        const uint64_t HN = D0 & VP;
        dist += (int64_t)((HP >> sh_row) & 1) - (int64_t)((HN >> sh_row) & 1);
        if (dist > brk) return k + 1;
        const uint64_t D1 = D0 >> 1;
        VP = HN | ~(D1 | HP);
        VN = D1 & HP;
    }
    return dist <= k ? dist : k + 1;
}

// Myers' blocked recurrence with the W words of the column in registers;
// row(j) points at the W mask words of text token j.
template <int W, typename RowFn>
inline int64_t lev_block_fixed_rows(int64_t m, int64_t n, RowFn row) {
    uint64_t VP[W], VN[W];
    for (int w = 0; w < W; ++w) {
        VP[w] = ~UINT64_C(0);
        VN[w] = 0;
    }
    const int last_out = (int)((m - 1) & 63);
    int64_t score = m;
    for (int64_t j = 0; j < n; ++j) {
        const uint64_t* col = row(j);
        uint64_t hp = 1, hn = 0;
        for (int w = 0; w < W - 1; ++w) block_step(col[w], VP[w], VN[w], hp, hn, 63);
        block_step(col[W - 1], VP[W - 1], VN[W - 1], hp, hn, last_out);
        score += (int64_t)hp - (int64_t)hn;
    }
    return score;
}

// Largest bound of the single-word band (2k + 1 diagonals in 64 bits, plus
// the row the score follows).
constexpr int64_t kSmallBand = 31;

// 65..256 pattern tokens: one padded mask table (value-indexed when the
// pattern's values span a small range, else on dense ids), the single-word
// band when the lengths allow a distance <= kSmallBand, else (or when the
// distance is larger) the unbanded blocked recurrence on the same table.
template <int W, typename T>
int64_t lev_medium(const T* p, int64_t m, const T* t, int64_t n, Scratch& s, bool try_band) {
    constexpr int64_t stride = W + 2;
    int64_t lo = (int64_t)p[0], hi = lo;
    for (int64_t i = 1; i < m; ++i) {
        const int64_t v = (int64_t)p[i];
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    const uint64_t range = (uint64_t)hi - (uint64_t)lo;
    const bool band = try_band && n - m <= kSmallBand;
    if (range < 256 && (range + 2) * (uint64_t)stride <= 512) {
        // row range + 1 is all zeros, for text values outside [lo, lo + range]
        s.pm.assign((size_t)(range + 2) * stride, 0);
        uint64_t* pm = s.pm.data();
        for (int64_t i = 0; i < m; ++i)
            pm[((uint64_t)(int64_t)p[i] - (uint64_t)lo) * stride + 1 + (i >> 6)] |= UINT64_C(1) << (i & 63);
        auto row = [=](int64_t j) {
            uint64_t x = (uint64_t)(int64_t)t[j] - (uint64_t)lo;
            x = x <= range ? x : range + 1;
            return pm + x * stride;
        };
        if (band) {
            const int64_t d = lev_small_band(m, n, kSmallBand, row);
            if (d <= kSmallBand) return d;
        }
        return lev_block_fixed_rows<W>(m, n, [=](int64_t j) { return row(j) + 1; });
    }
    const int32_t ids = densify(p, m, t, n, s);
    s.pm.assign((size_t)(ids + 1) * stride, 0);
    uint64_t* pm = s.pm.data();
    const int32_t* pid = s.pid.data();
    for (int64_t i = 0; i < m; ++i) pm[(size_t)pid[i] * stride + 1 + (i >> 6)] |= UINT64_C(1) << (i & 63);
    const int32_t* tid = s.tid.data();
    auto row = [=](int64_t j) { return pm + (size_t)tid[j] * stride; };
    if (band) {
        const int64_t d = lev_small_band(m, n, kSmallBand, row);
        if (d <= kSmallBand) return d;
    }
    return lev_block_fixed_rows<W>(m, n, [=](int64_t j) { return row(j) + 1; });
}

// Distance between p[0, m) and t[0, n) with m > 64 (dense ids built here).
template <typename T>
int64_t lev_long(const T* p, int64_t m, const T* t, int64_t n, Scratch& s, bool try_band) {
    const int64_t W = (m + 63) >> 6;
    switch (W) {
        case 2: return lev_medium<2>(p, m, t, n, s, try_band);
        case 3: return lev_medium<3>(p, m, t, n, s, try_band);
        case 4: return lev_medium<4>(p, m, t, n, s, try_band);
        default: break;
    }
    const int32_t k = densify(p, m, t, n, s);
    build_masks(s.pid.data(), m, k, W, s);
    const int64_t diff = n > m ? n - m : m - n;
    const int64_t full = std::max(n, m);
    // an upper bound: substitute position by position, insert the rest (a
    // tight one when the pair differs mostly by substitutions); the doubling
    // bound is capped by it, so the last pass is never wider than needed and
    // no pass is wider than without it
    int64_t upper = diff;
    const int32_t* pid = s.pid.data();
    const int32_t* tid = s.tid.data();
    for (int64_t i = 0; i < m; ++i) upper += pid[i] != tid[i];
    int64_t bound = std::min(upper, std::max<int64_t>(diff + 64, 2 * diff));
    for (;;) {
        if (bound >= full) bound = full;
        const int64_t d = lev_block_banded(s.tid.data(), n, m, bound, s);
        if (d <= bound) return d;
        const int64_t next = std::min(2 * bound, upper);
        bound = next > bound ? next : 2 * bound + 1;  // (upper > bound here; defensive)
    }
}

// Distance between pattern p[0, pm) and text t[0, tn), 0 < pm <= tn, no
// common prefix or suffix.  try_band = false skips the single-word band
// (already tried, the distance is larger).
template <typename T>
int64_t stripped_distance(const T* p, int64_t pm, const T* t, int64_t tn, Scratch& s,
                          bool try_band = true) {
    if (pm <= 64) {
        if (pm > 16) {
            // many SIMD compares per token: a value-indexed table is cheaper
            // when the pattern's values span a tiny range (characters)
            int64_t lo = (int64_t)p[0], hi = lo;
            for (int64_t i = 1; i < pm; ++i) {
                const int64_t v = (int64_t)p[i];
                lo = v < lo ? v : lo;
                hi = v > hi ? v : hi;
            }
            const uint64_t range = (uint64_t)hi - (uint64_t)lo;
            if (range < 128) return lev_short_direct(p, pm, t, tn, lo, range);
        }
        if (pm <= short_simd_max_tokens<T>()) {
            ShortPattern<T> P(s.short_pattern);
            P.load(p, (int)pm);
            return lev_short(P, t, tn);
        }
        const int32_t k = densify(p, pm, t, tn, s);
        return lev_short_ids(s.pid.data(), pm, s.tid.data(), tn, k);
    }
    return lev_long(p, pm, t, tn, s, try_band);
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

template <typename T>
int64_t pair_distance(const T* h, int64_t n, const T* r, int64_t m, Scratch& s) {
    const T *p, *t;
    int64_t pm, tn;
    strip_pair(h, n, r, m, p, pm, t, tn);
    if (pm == 0) return tn;
    return stripped_distance(p, pm, t, tn, s);
}

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
            e = (uint32_t)_mm512_cmpeq_epi16_mask(P0, v);
            if constexpr (TWO) e |= (uint64_t)_mm512_cmpeq_epi16_mask(P1, v) << 32;
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
    constexpr int L = 64 / (int)sizeof(T);
    __m512i P[C];
    for (int c = 0; c < C; ++c) {
        if constexpr (sizeof(T) == 8) P[c] = _mm512_maskz_loadu_epi64((__mmask8)low_bits(m - L * c), p + L * c);
        else P[c] = _mm512_maskz_loadu_epi32((__mmask16)low_bits(m - L * c), p + L * c);
    }
#pragma GCC unroll 4
    for (int64_t j = 0; j < n; ++j) {
        uint64_t e = 0;
        if constexpr (sizeof(T) == 8) {
            const __m512i v = _mm512_set1_epi64((long long)t[j]);
            for (int c = 0; c < C; ++c) e |= (uint64_t)_mm512_cmpeq_epi64_mask(P[c], v) << (L * c);
        } else {
            const __m512i v = _mm512_set1_epi32((int)t[j]);
            for (int c = 0; c < C; ++c) e |= (uint64_t)_mm512_cmpeq_epi32_mask(P[c], v) << (L * c);
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

// smallest and largest value of p[0, m)
template <typename T>
inline void min_max(const T* p, int64_t m, int64_t& lo, int64_t& hi) {
    if constexpr (sizeof(T) == 8) {
        const __m512i first = _mm512_set1_epi64((long long)p[0]);
        __m512i vmin = first, vmax = first;
        for (int64_t c = 0; c < m; c += 8) {
            const __m512i v = _mm512_mask_loadu_epi64(first, (__mmask8)(low_bits(m - c) & 0xFF), p + c);
            vmin = _mm512_min_epi64(vmin, v);
            vmax = _mm512_max_epi64(vmax, v);
        }
        lo = _mm512_reduce_min_epi64(vmin);
        hi = _mm512_reduce_max_epi64(vmax);
    } else if constexpr (sizeof(T) == 4 && std::is_signed<T>::value) {
        const __m512i first = _mm512_set1_epi32((int)p[0]);
        __m512i vmin = first, vmax = first;
        for (int64_t c = 0; c < m; c += 16) {
            const __m512i v = _mm512_mask_loadu_epi32(first, (__mmask16)(low_bits(m - c) & 0xFFFF), p + c);
            vmin = _mm512_min_epi32(vmin, v);
            vmax = _mm512_max_epi32(vmax, v);
        }
        lo = _mm512_reduce_min_epi32(vmin);
        hi = _mm512_reduce_max_epi32(vmax);
    } else {
        // unsigned tokens of 1, 2 or 4 bytes, as 32-bit lanes
        const __m512i first = _mm512_set1_epi32((int)(uint32_t)p[0]);
        __m512i vmin = first, vmax = first;
        for (int64_t c = 0; c < m; c += 16) {
            const __mmask16 k = (__mmask16)(low_bits(m - c) & 0xFFFF);
            const __m512i v = _mm512_mask_mov_epi32(first, k, load16_as32(p + c, k));
            vmin = _mm512_min_epu32(vmin, v);
            vmax = _mm512_max_epu32(vmax, v);
        }
        lo = (int64_t)(uint32_t)_mm512_reduce_min_epu32(vmin);
        hi = (int64_t)(uint32_t)_mm512_reduce_max_epu32(vmax);
    }
}
#endif

// Phase 1 of a short lane: eq[j * kLanes] = match mask of t[j], j < n
// (AVX-512: up to the group's longest text nmax; TWO: the group's longest
// pattern has more than 32 tokens).
template <bool TWO, typename T>
inline void short_masks(const Lane<T>& L, int64_t mmax, int64_t nmax, uint64_t* eq, Scratch& s) {
#if defined(SEQLOSS_USE_AVX512BW)
    uint32_t* tb = s.lock_tb.data();
    if constexpr (sizeof(T) == 1) {
        (void)mmax;
        return short_masks_narrow<1, false>(L.p, L.m, L.t, L.n, nmax, 0, 0xFF, eq, tb);
    } else if constexpr (sizeof(T) == 2) {
        (void)mmax;
        return short_masks_narrow<2, TWO>(L.p, L.m, L.t, L.n, nmax, 0, 0xFFFF, eq, tb);
    } else {
        // a short group: plain compares (sizes of the whole group, so the
        // choice is the same lane after lane)
        if (mmax <= 64 / (int64_t)sizeof(T)) return short_masks_wide<1>(L.p, L.m, L.t, L.n, eq);
        if (sizeof(T) == 8 && mmax <= 16) return short_masks_wide<2>(L.p, L.m, L.t, L.n, eq);
        // values in [0, 0xFFFE] (dense ids): no need for the minimum
        const int w = small_values_width(L.p, L.m, mmax);
        if (w == 1) return short_masks_narrow<1, false>(L.p, L.m, L.t, L.n, nmax, 0, 0xFE, eq, tb);
        if (w == 2) return short_masks_narrow<2, TWO>(L.p, L.m, L.t, L.n, nmax, 0, 0xFFFE, eq, tb);
        int64_t lo, hi;
        min_max(L.p, L.m, lo, hi);
        const uint64_t range = (uint64_t)hi - (uint64_t)lo;
        if (range < 0xFF) return short_masks_narrow<1, false>(L.p, L.m, L.t, L.n, nmax, lo, range, eq, tb);
        if (range < 0xFFFF) return short_masks_narrow<2, TWO>(L.p, L.m, L.t, L.n, nmax, lo, range, eq, tb);
    }
#else
    (void)mmax;
    (void)nmax;
#endif
    // wide values (or AVX2): compares in the token type against the pattern
    // copied into an aligned buffer
    ShortPattern<T> P(s.short_pattern);
    P.load(L.p, (int)L.m);
    for (int64_t j = 0; j < L.n; ++j) eq[j * kLanes] = P.match(L.t[j]);
}

#if defined(SEQLOSS_USE_AVX512BW)
// Phase 1 of a band lane, UB-byte narrow values: the padded pattern goes to
// pb (slot 64 + i = pattern token i, slots before and after = pad, which the
// clamped text never equals); window mask of step j = compare of t[j] with
// slots j + k + 1 .. j + k + 64.
template <int UB, typename T>
inline void band_masks_narrow(const Lane<T>& L, int64_t lo, uint64_t range, uint64_t* eq,
                              uint8_t* pb, uint32_t* tb) {
    constexpr int64_t k = kSmallBand;
    const __m512i pad = UB == 1 ? _mm512_set1_epi8((char)0xFE) : _mm512_set1_epi16((short)0xFFFE);
    _mm512_store_si512(pb, pad);
    if constexpr (UB == 2) _mm512_store_si512(pb + 64, pad);
    narrow_store<UB>(L.p, L.m, lo, pb + 64 * UB);
    // slots 64 + m .. 64 + m + 2k + 63 can be read
    for (int64_t o = 0; o < (2 * k + 64) * UB; o += 64) _mm512_storeu_si512(pb + (64 + L.m) * UB + o, pad);
    narrow_text<UB>(L.t, L.n, L.n, lo, range, tb);
    const uint8_t* w = pb + (k + 1) * UB;
    for (int64_t j = 0; j < L.n; ++j, w += UB) {
        const __m512i v = _mm512_set1_epi32((int)tb[j]);
        uint64_t e;
        if constexpr (UB == 1) {
            e = _mm512_cmpeq_epi8_mask(_mm512_loadu_si512(w), v);
        } else {
            e = (uint32_t)_mm512_cmpeq_epi16_mask(_mm512_loadu_si512(w), v) |
                ((uint64_t)_mm512_cmpeq_epi16_mask(_mm512_loadu_si512(w + 64), v) << 32);
        }
        eq[j * kLanes] = e;
    }
}

// Phase 1 of a band lane; false when the pattern's values span too wide a
// range for 16-bit lanes (the caller then computes the pair by itself).
template <typename T>
inline bool band_masks(const Lane<T>& L, uint64_t* eq, Scratch& s) {
    int64_t lo, hi;
    min_max(L.p, L.m, lo, hi);
    const uint64_t range = (uint64_t)hi - (uint64_t)lo;
    if (range < 0xFE) {
        band_masks_narrow<1>(L, lo, range, eq, s.band_pattern, s.lock_tb.data());
        return true;
    }
    if (range < 0xFFFE) {
        band_masks_narrow<2>(L, lo, range, eq, s.band_pattern, s.lock_tb.data());
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
        const Lane<T>& L = lanes[l];
        if constexpr (BAND) {
#if defined(SEQLOSS_USE_AVX512BW)
            if (!band_masks(L, eq + l, s)) {
                out[L.idx] = stripped_distance(L.p, L.m, L.t, L.n, s);
                continue;
            }
#endif
        } else {
            // loop bounds of the whole group: the same trip counts lane after
            // lane (lanes come sorted by text length)
            if (mmax > 32) short_masks<true>(L, mmax, nmax, eq + l, s);
            else short_masks<false>(L, mmax, nmax, eq + l, s);
        }
        nv[l] = L.n;
        nmax = std::max(nmax, L.n);
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
        const Lane<T>& L = lanes[l];
        if (nv[l] == 0) continue;  // computed in phase 1
        if constexpr (BAND) {
            // rows m + 1 .. n + k of the last window: bits 63 - (n + k - m) .. 62
            constexpr int64_t k = kSmallBand;
            const uint64_t rows = low_bits(63) & ~low_bits(63 - (L.n + k - L.m));
            const int64_t d = k + L.n - cnt[l] - (int64_t)__builtin_popcountll(vp[l] & rows) +
                              (int64_t)__builtin_popcountll(vn[l] & rows);
            out[L.idx] = d <= k ? d : stripped_distance(L.p, L.m, L.t, L.n, s, false);
        } else {
            const uint64_t mm = low_bits(L.m);
            out[L.idx] = L.n + (int64_t)__builtin_popcountll(vp[l] & mm) -
                         (int64_t)__builtin_popcountll(vn[l] & mm);
        }
    }
}
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic pop
#endif
#endif  // lockstep

// Runs f(i, scratch) for i in [0, N) over n_threads threads with dynamic
// scheduling (chunks of `chunk` items), one Scratch per thread; the first
// exception is rethrown after the parallel region (core/parallel.hpp).
template <typename F>
void parallel_pairs(int64_t N, int n_threads, int64_t chunk, F f) {
    parallel_for(
        N, n_threads, Schedule::dynamic(chunk), [] { return std::make_unique<Scratch>(); },
        [&](int64_t begin, int64_t end, std::unique_ptr<Scratch>& s) {
            for (int64_t i = begin; i < end; ++i) f(i, *s);
        });
}

inline int64_t chunk_for(int64_t N, int n_threads) {
    int64_t c = N / (16 * (int64_t)std::max(n_threads, 1));
    return std::max<int64_t>(1, std::min<int64_t>(c, 256));
}

template <typename T>
void levenshtein_batch_t(const SeqBatch& hyp, const SeqBatch& ref, int64_t N, int64_t* out,
                         int n_threads) {
    const T* hd = static_cast<const T*>(hyp.data);
    const T* rd = static_cast<const T*>(ref.data);
    // a tiny batch is not worth waking threads for
    int64_t work = 0;
    for (int64_t i = 0; i < N; ++i) work += hyp.lengths[i] + ref.lengths[i] + 8;
    if (work < 20000) n_threads = 1;
    const bool long_pairs = work >= 20000 && N > 0 && work / N > 600;
#if defined(SEQLOSS_USE_AVX512BW) || defined(SEQLOSS_USE_AVX2)
    // Tasks of `block` consecutive pairs; the short pairs of a task are
    // gathered into lockstep groups of kLanes (the last one partial), the
    // others computed one by one.  Long pairs: one pair per task (uneven
    // lengths).
    constexpr int64_t kBlock = 64;
    const int64_t block = long_pairs ? 1 : kBlock;
    // prefetch distance in pairs: about 8 KB of rows in flight (pass 1 is
    // short per pair; measured: 16 pairs ahead for word-length rows, 4 for
    // character rows of ~100 tokens, where 16 was slower)
    const int64_t pair_bytes = N > 0 ? std::max<int64_t>(1, work / N * (int64_t)sizeof(T)) : 1;
    const int64_t prefetch_ahead = std::max<int64_t>(2, std::min<int64_t>(16, 8192 / pair_bytes));
    const int64_t n_blocks = (N + block - 1) / block;
    const int64_t chunk = long_pairs ? 1 : chunk_for(n_blocks, n_threads);
    parallel_pairs(n_blocks, n_threads, chunk, [&](int64_t b, Scratch& s) {
        if (s.lock_eq.empty()) {
            s.lock_eq.assign((size_t)kLanes * kLockMaxText, 0);
            s.lock_tb.assign((size_t)kLockMaxText + 16, 0);
        }

        // pass 1: strip every pair of the task and sort it into short lanes,
        // band lanes, or pairs done at once (independent iterations: the rows'
        // memory latency overlaps across pairs); pass 2: the lockstep groups
        // on rows now in cache.  The pairs of the next task are prefetched
        // (consecutive tasks mostly go to the same thread).
        Lane<T> shorts[kBlock];
        int ns = 0;
#if defined(SEQLOSS_USE_AVX512BW)
        Lane<T> bands[kBlock];
        int nb = 0;
#endif
        const int64_t end = std::min(N, (b + 1) * block);
        for (int64_t i = b * block; i < end; ++i) {
#if defined(__GNUC__) || defined(__clang__)
            // written out here: GCC deletes a call to a function whose only
            // effect is __builtin_prefetch (it counts as const)
            const int64_t ahead = i + prefetch_ahead;
            if (ahead < N) {
                const char* hn = (const char*)(hd + (hyp.offsets ? hyp.offsets[ahead] : ahead * hyp.stride));
                const char* rn = (const char*)(rd + (ref.offsets ? ref.offsets[ahead] : ahead * ref.stride));
                const int64_t hb = std::min<int64_t>(hyp.lengths[ahead] * (int64_t)sizeof(T), 2048);
                const int64_t rb = std::min<int64_t>(ref.lengths[ahead] * (int64_t)sizeof(T), 2048);
                for (int64_t o = 0; o < hb; o += 64) __builtin_prefetch(hn + o);
                for (int64_t o = 0; o < rb; o += 64) __builtin_prefetch(rn + o);
            }
#endif
            const T *p, *t;
            int64_t pm, tn;
            strip_pair(hd + (hyp.offsets ? hyp.offsets[i] : i * hyp.stride), hyp.lengths[i],
                       rd + (ref.offsets ? ref.offsets[i] : i * ref.stride), ref.lengths[i], p, pm,
                       t, tn);
            if (pm == 0) {
                out[i] = tn;
            } else if (pm <= 64 && tn <= kLockMaxText) {
                shorts[ns++] = Lane<T>{p, t, pm, tn, i};
#if defined(SEQLOSS_USE_AVX512BW)
            } else if (pm <= kBandMaxPattern && tn - pm <= kSmallBand) {
                bands[nb++] = Lane<T>{p, t, pm, tn, i};
#endif
            } else {
                out[i] = stripped_distance(p, pm, t, tn, s);
            }
        }
        // lanes sorted by text length: the lanes of a group end at nearly the
        // same step, and consecutive lanes repeat the same loop trip counts
        // (branches that predict)
        Lane<T> sorted[kBlock];
        const Lane<T>* g_short = sort_by_text_length(shorts, ns, 0, sorted);
        for (int g = 0; g < ns; g += kLanes) lock_group<false>(g_short + g, std::min(kLanes, ns - g), out, s);
#if defined(SEQLOSS_USE_AVX512BW)
        const Lane<T>* g_band = sort_by_text_length(bands, nb, 2, sorted);
        for (int g = 0; g < nb; g += kLanes) lock_group<true>(g_band + g, std::min(kLanes, nb - g), out, s);
#endif
    });
#else
    const int64_t chunk = long_pairs ? 1 : chunk_for(N, n_threads);
    parallel_pairs(N, n_threads, chunk, [&](int64_t i, Scratch& s) {
#if defined(__GNUC__) || defined(__clang__)
        // pairs are memory-latency bound (the suffix check touches the rows'
        // ends first): fetch the used part of a pair a few places ahead.
        // Written out here: GCC deletes a call to a function whose only
        // effect is __builtin_prefetch (it counts as const).
        const int64_t ahead = i + 6;
        if (ahead < N) {
            const char* hn = (const char*)(hd + (hyp.offsets ? hyp.offsets[ahead] : ahead * hyp.stride));
            const char* rn = (const char*)(rd + (ref.offsets ? ref.offsets[ahead] : ahead * ref.stride));
            const int64_t hb = std::min<int64_t>(hyp.lengths[ahead] * (int64_t)sizeof(T), 2048);
            const int64_t rb = std::min<int64_t>(ref.lengths[ahead] * (int64_t)sizeof(T), 2048);
            for (int64_t o = 0; o < hb; o += 64) __builtin_prefetch(hn + o);
            for (int64_t o = 0; o < rb; o += 64) __builtin_prefetch(rn + o);
        }
#endif
        const T* h = hd + (hyp.offsets ? hyp.offsets[i] : i * hyp.stride);
        const T* r = rd + (ref.offsets ? ref.offsets[i] : i * ref.stride);
        out[i] = pair_distance(h, hyp.lengths[i], r, ref.lengths[i], s);
    });
#endif
}

// ---------------------------------------------------------------------------
// Error counts (hits, substitutions, deletions, insertions) of dense-id
// reference rid[0, m) (ids < k) and hypothesis hid[0, n) (ids <= k, k = not
// in the reference), with rapidfuzz's tie rule (Levenshtein.opcodes(ref, hyp),
// rapidfuzz 3.x, as used by jiwer 4), reproduced step for step:
//   align(ref, hyp, max):
//     strip the common prefix and suffix (hits);
//     max = min(max, max(m, n)); band = min(m, 2 max + 1);
//     if 2 band n / 8 < 2^20 or m < 65 or n < 10: record the bit-parallel
//       matrix (reference = pattern) and walk back from the end preferring a
//       deletion, else an insertion, else the diagonal (direct_counts);
//     else (Hirschberg): split the hypothesis at n / 2, take the smallest
//       reference split s in [1, m] minimising D(ref[:s], hyp[:n/2]) +
//       D(ref[s:], hyp[n/2:]), and recurse on both halves with those two
//       distances as their max.
// The top call has max = max(m, n).

// Direct backtrace over the recorded matrix (no affix stripping here).
inline void direct_counts(const int32_t* rid, int64_t m, const int32_t* hid, int64_t n,
                          int32_t k, Scratch& s, int64_t& subs, int64_t& dels, int64_t& ins) {
    if (m <= 64) {
        // one word per row: Hyyroe's recurrence with the rows recorded
        uint64_t PM[65];
        for (int32_t a = 0; a <= k; ++a) PM[a] = 0;
        for (int64_t i = 0; i < m; ++i) PM[rid[i]] |= UINT64_C(1) << i;
        if ((int64_t)s.rec_vp.size() < n) {
            s.rec_vp.resize(n);
            s.rec_vn.resize(n);
        }
        uint64_t* RVP = s.rec_vp.data();
        uint64_t* RVN = s.rec_vn.data();
        uint64_t VP = ~UINT64_C(0), VN = 0;
        for (int64_t j = 0; j < n; ++j) {
            const uint64_t X = PM[hid[j]] | VN;
            const uint64_t D0 = (((X & VP) + VP) ^ VP) | X;
            uint64_t HP = VN | ~(D0 | VP);
            uint64_t HN = VP & D0;
            HP = (HP << 1) | 1;
            HN <<= 1;
            VP = HN | ~(D0 | HP);
            VN = HP & D0;
            RVP[j] = VP;
            RVN[j] = VN;
        }
        int64_t row = n, col = m;
        while (row && col) {
            if ((RVP[row - 1] >> (col - 1)) & 1) {  // deletion
                ++dels;
                --col;
            } else {
                --row;
                if (row && ((RVN[row - 1] >> (col - 1)) & 1)) {  // insertion
                    ++ins;
                } else {  // hit or substitution
                    --col;
                    subs += rid[col] != hid[row];
                }
            }
        }
        dels += col;
        ins += row;
    } else {
        const int64_t W = (m + 63) >> 6;
        if ((double)n * (double)W * 16.0 > (double)(INT64_C(1) << 30))
            throw std::length_error(
                "error_rates: a pair is too long for the alignment matrix (over 1 GiB)");
        build_masks(rid, m, k, W, s);
        s.vp.assign(W, ~UINT64_C(0));
        s.vn.assign(W, 0);
        s.rec_vp.resize((size_t)n * W);
        s.rec_vn.resize((size_t)n * W);
        uint64_t* VP = s.vp.data();
        uint64_t* VN = s.vn.data();
        const int last_out = (int)((m - 1) & 63);
        for (int64_t j = 0; j < n; ++j) {
            const uint64_t* col = s.pm.data() + (size_t)hid[j] * W;
            uint64_t hp = 1, hn = 0;
            for (int64_t w = 0; w + 1 < W; ++w) block_step(col[w], VP[w], VN[w], hp, hn, 63);
            block_step(col[W - 1], VP[W - 1], VN[W - 1], hp, hn, last_out);
            std::memcpy(&s.rec_vp[(size_t)j * W], VP, sizeof(uint64_t) * W);
            std::memcpy(&s.rec_vn[(size_t)j * W], VN, sizeof(uint64_t) * W);
        }
        auto bit = [W](const std::vector<uint64_t>& rec, int64_t row, int64_t col) {
            return (rec[(size_t)row * W + (col >> 6)] >> (col & 63)) & 1;
        };
        int64_t row = n, col = m;
        while (row && col) {
            if (bit(s.rec_vp, row - 1, col - 1)) {  // deletion
                ++dels;
                --col;
            } else {
                --row;
                if (row && bit(s.rec_vn, row - 1, col - 1)) {  // insertion
                    ++ins;
                } else {  // hit or substitution
                    --col;
                    subs += rid[col] != hid[row];
                }
            }
        }
        dels += col;
        ins += row;
    }
}

// Last row of the DP matrix of pattern ids pid[0, m) against text ids
// tid[0, n), optionally both reversed: row[c] = D(pattern[:c], text) for c in
// [0, m].
inline void dp_last_row(const int32_t* pid, int64_t m, const int32_t* tid, int64_t n, int32_t k,
                        bool reversed, Scratch& s, std::vector<int64_t>& row) {
    const int64_t W = (m + 63) >> 6;
    std::vector<int32_t> p(m), t(n);
    for (int64_t i = 0; i < m; ++i) p[i] = reversed ? pid[m - 1 - i] : pid[i];
    for (int64_t j = 0; j < n; ++j) t[j] = reversed ? tid[n - 1 - j] : tid[j];
    build_masks(p.data(), m, k, W, s);
    s.vp.assign(W, ~UINT64_C(0));
    s.vn.assign(W, 0);
    uint64_t* VP = s.vp.data();
    uint64_t* VN = s.vn.data();
    for (int64_t j = 0; j < n; ++j) {
        const uint64_t* col = s.pm.data() + (size_t)t[j] * W;
        uint64_t hp = 1, hn = 0;
        for (int64_t w = 0; w < W; ++w) block_step(col[w], VP[w], VN[w], hp, hn, 63);
    }
    row.resize(m + 1);
    row[0] = n;
    for (int64_t i = 0; i < m; ++i)
        row[i + 1] = row[i] + (int64_t)((VP[i >> 6] >> (i & 63)) & 1) -
                     (int64_t)((VN[i >> 6] >> (i & 63)) & 1);
}

inline void align_counts(const int32_t* rid, int64_t m, const int32_t* hid, int64_t n, int32_t k,
                         int64_t max, Scratch& s, int64_t& subs, int64_t& dels, int64_t& ins) {
    while (n > 0 && m > 0 && rid[0] == hid[0]) {
        ++rid;
        ++hid;
        --n;
        --m;
    }
    while (n > 0 && m > 0 && rid[m - 1] == hid[n - 1]) {
        --n;
        --m;
    }
    if (m == 0 || n == 0) {
        dels += m;
        ins += n;
        return;
    }
    max = std::min(max, std::max(m, n));
    const int64_t band = std::min(m, 2 * max + 1);
    if ((2 * band * n) / 8 < (INT64_C(1) << 20) || m < 65 || n < 10) {
        direct_counts(rid, m, hid, n, k, s, subs, dels, ins);
        return;
    }
    const int64_t half = n / 2;
    std::vector<int64_t> left, right;
    dp_last_row(rid, m, hid, half, k, false, s, left);
    dp_last_row(rid, m, hid + half, n - half, k, true, s, right);
    int64_t best = -1, best_score = 0;
    for (int64_t cut = 1; cut <= m; ++cut) {
        const int64_t v = left[cut] + right[m - cut];
        if (best < 0 || v < best_score) {
            best = cut;
            best_score = v;
        }
    }
    const int64_t lmax = left[best], rmax = right[m - best];
    align_counts(rid, best, hid, half, k, lmax, s, subs, dels, ins);
    align_counts(rid + best, m - best, hid + half, n - half, k, rmax, s, subs, dels, ins);
}

inline void sdi_counts(const int32_t* rid, int64_t m, const int32_t* hid, int64_t n, int32_t k,
                       Scratch& s, int64_t* c /* hits, subs, dels, ins */) {
    int64_t subs = 0, dels = 0, ins = 0;
    align_counts(rid, m, hid, n, k, std::max(m, n), s, subs, dels, ins);
    c[0] = m - subs - dels;
    c[1] = subs;
    c[2] = dels;
    c[3] = ins;
}

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

template <typename U>
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
            h = (h ^ (uint64_t)t[i]) * kHashMul;
            ++i;
        }
        if (i >= end) break;
        const uint32_t c = (uint32_t)t[i];
        int64_t j = i + 1;
        while (j < end && space_at(t, j)) ++j;
        if (j - i >= 2 || c == (uint32_t)' ') {  // a separator
            words.push_back(Word{(int32_t)ws, (int32_t)(i - ws), hash_finish(h, i - ws)});
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
struct WordIds {
    struct Slot {
        uint64_t hash;
        const UR* ptr;
        int32_t len;
        int32_t id;
        uint32_t stamp;
    };
    std::vector<Slot> slots;
    uint32_t stamp = 0;
    uint64_t mask = 0;
    int32_t size = 0;
    void reset(int64_t n_keys) {
        uint64_t cap = 16;
        while (cap < (uint64_t)(2 * n_keys)) cap <<= 1;
        if (cap > slots.size()) {
            slots.assign(cap, Slot{0, nullptr, 0, 0, 0});
            stamp = 0;
        }
        if (++stamp == 0) {
            for (auto& sl : slots) sl.stamp = 0;
            stamp = 1;
        }
        mask = cap - 1;
        size = 0;
    }
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

// Counts of one sentence pair (hypothesis h[0, hn), reference r[0, rn) in
// code points) into c[0..5].
template <typename UH, typename UR>
void pair_counts(const UH* h, int64_t hn, const UR* r, int64_t rn, int word_unit, Scratch& s,
                 int64_t* c) {
    if (word_unit) {
        static thread_local WordIds<UR> ids;
        split_words(r, rn, s.rwords);
        split_words(h, hn, s.hwords);
        const int64_t m = (int64_t)s.rwords.size(), n = (int64_t)s.hwords.size();
        ids.reset(m);
        s.pid.resize(m);
        s.tid.resize(n);
        for (int64_t a = 0; a < m; ++a) {
            const Word& w = s.rwords[a];
            s.pid[a] = ids.lookup(r + w.start, w.len, w.hash, true, 0);
        }
        const int32_t k = ids.size;
        for (int64_t b = 0; b < n; ++b) {
            const Word& w = s.hwords[b];
            s.tid[b] = ids.lookup(h + w.start, w.len, w.hash, false, k);
        }
        sdi_counts(s.pid.data(), m, s.tid.data(), n, k, s, c);
        c[4] = n;
        c[5] = m;
    } else {
        // strip, then every code point is a token
        while (hn > 0 && space_at(h, 0)) ++h, --hn;
        while (hn > 0 && space_at(h, hn - 1)) --hn;
        while (rn > 0 && space_at(r, 0)) ++r, --rn;
        while (rn > 0 && space_at(r, rn - 1)) --rn;
        int32_t k = 0;
        if (rn > 0) {
            k = densify(r, rn, h, hn, s);  // pid: reference ids, tid: hypothesis ids
        } else {
            s.tid.assign(hn, 0);
        }
        sdi_counts(s.pid.data(), rn, s.tid.data(), hn, k, s, c);
        c[4] = hn;
        c[5] = rn;
    }
}

template <typename UH>
inline void pair_counts_r(const UH* h, int64_t hn, const TextRef& r, int word_unit, Scratch& s,
                          int64_t* c) {
    switch (r.kind) {
        case 1: return pair_counts(h, hn, static_cast<const uint8_t*>(r.data), r.length, word_unit, s, c);
        case 2: return pair_counts(h, hn, static_cast<const uint16_t*>(r.data), r.length, word_unit, s, c);
        default: return pair_counts(h, hn, static_cast<const uint32_t*>(r.data), r.length, word_unit, s, c);
    }
}

}  // namespace

void levenshtein_batch_impl(int token_type, const SeqBatch& hyp, const SeqBatch& ref, int64_t N,
                            int64_t* out, int n_threads) {
    switch (token_type) {
        case TOKEN_U8: return levenshtein_batch_t<uint8_t>(hyp, ref, N, out, n_threads);
        case TOKEN_U16: return levenshtein_batch_t<uint16_t>(hyp, ref, N, out, n_threads);
        case TOKEN_U32: return levenshtein_batch_t<uint32_t>(hyp, ref, N, out, n_threads);
        case TOKEN_I32: return levenshtein_batch_t<int32_t>(hyp, ref, N, out, n_threads);
        case TOKEN_I64: return levenshtein_batch_t<int64_t>(hyp, ref, N, out, n_threads);
        default: throw std::invalid_argument("levenshtein_batch: unknown token type");
    }
}

int64_t levenshtein_pair_impl(int token_type, const void* h, int64_t n, const void* r, int64_t m) {
    static thread_local Scratch s;
    switch (token_type) {
        case TOKEN_U8:
            return pair_distance(static_cast<const uint8_t*>(h), n, static_cast<const uint8_t*>(r), m, s);
        case TOKEN_U16:
            return pair_distance(static_cast<const uint16_t*>(h), n, static_cast<const uint16_t*>(r), m, s);
        case TOKEN_U32:
            return pair_distance(static_cast<const uint32_t*>(h), n, static_cast<const uint32_t*>(r), m, s);
        case TOKEN_I32:
            return pair_distance(static_cast<const int32_t*>(h), n, static_cast<const int32_t*>(r), m, s);
        case TOKEN_I64:
            return pair_distance(static_cast<const int64_t*>(h), n, static_cast<const int64_t*>(r), m, s);
        default: throw std::invalid_argument("levenshtein_pair: unknown token type");
    }
}

void error_counts_impl(const TextRef* hyps, const TextRef* refs, int64_t N, int word_unit,
                       int64_t* counts, int n_threads) {
    int64_t work = 0;
    for (int64_t i = 0; i < N && work < 50000; ++i) work += hyps[i].length + refs[i].length + 8;
    if (work < 50000) n_threads = 1;
    parallel_pairs(N, n_threads, chunk_for(N, n_threads), [&](int64_t i, Scratch& s) {
        const TextRef& h = hyps[i];
        int64_t* c = counts + 6 * i;
        switch (h.kind) {
            case 1: return pair_counts_r(static_cast<const uint8_t*>(h.data), h.length, refs[i], word_unit, s, c);
            case 2: return pair_counts_r(static_cast<const uint16_t*>(h.data), h.length, refs[i], word_unit, s, c);
            default: return pair_counts_r(static_cast<const uint32_t*>(h.data), h.length, refs[i], word_unit, s, c);
        }
    });
}

SEQLOSS_ISA_END
