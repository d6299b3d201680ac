// Edit-distance kernels, compiled once per instruction-set level: included by
// edit_distance_kernel_{base,avx2,avx512}.cpp with SEQLOSS_KERNEL_NS set (the
// AVX2 / AVX-512 files are built with -mavx2 / -mavx512bw, so the
// __AVX2__ / __AVX512BW__ branches below select the SIMD pattern compares).
//
// Algorithms (see edit_distance.hpp for layouts and the alignment tie rule).
// Every pair first drops its common prefix and suffix; the shorter sequence
// is the pattern (bits), the other the text (one step per token).
//  * pattern <= 64 tokens: Hyyroe's (2003) single-word recurrence; the match
//    mask of a text token is computed on the fly by comparing it with the
//    pattern held in SIMD registers (AVX2 / AVX-512 variants), so no per-pair
//    alphabet table is built at all.  The scalar base build compacts the
//    pair's alphabet to dense ids instead (faster there past 8 tokens).
//  * 65..256 tokens: Myers' (1999) blocked recurrence with the 2..4 words of
//    the column in registers; masks come from a value-indexed table when the
//    pattern's values span < 256 (characters), else from dense ids.
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
#ifndef SEQLOSS_KERNEL_NS
#error "SEQLOSS_KERNEL_NS must name the instruction-set namespace"
#endif

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <exception>
#include <type_traits>
#include <stdexcept>
#include <vector>

#if defined(__AVX2__) || defined(__AVX512BW__)
#include <immintrin.h>
#endif

#include "common.hpp"
#include "edit_distance.hpp"

namespace seqloss {
namespace SEQLOSS_KERNEL_NS {
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
#if defined(__AVX512BW__)
        constexpr int lanes = 64 / sizeof(T);
#elif defined(__AVX2__)
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
#if defined(__AVX512BW__)
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
#elif defined(__AVX2__)
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

// Unbanded blocked recurrence for a fixed, small number of words W (the
// column lives in registers): for patterns of 65..256 tokens the band would
// cover almost every block anyway.
template <int W>
int64_t lev_block_fixed(const int32_t* tid, int64_t n, int64_t m, const uint64_t* pm) {
    uint64_t VP[W], VN[W];
    for (int w = 0; w < W; ++w) {
        VP[w] = ~UINT64_C(0);
        VN[w] = 0;
    }
    const int last_out = (int)((m - 1) & 63);
    int64_t score = m;
    for (int64_t j = 0; j < n; ++j) {
        const uint64_t* col = pm + (size_t)tid[j] * W;
        uint64_t hp = 1, hn = 0;
        for (int w = 0; w < W - 1; ++w) block_step(col[w], VP[w], VN[w], hp, hn, 63);
        block_step(col[W - 1], VP[W - 1], VN[W - 1], hp, hn, last_out);
        score += (int64_t)hp - (int64_t)hn;
    }
    return score;
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
#if defined(__AVX512BW__) || defined(__AVX2__)
    return 64;
#else
    return 8;
#endif
}

// As lev_block_fixed, with the mask table indexed by value - lo directly (for
// a pattern whose values span a tiny range, e.g. characters): row range + 1
// is all zeros, for text values outside [lo, lo + range].  Skips building
// dense ids for both sequences.
template <int W, typename T>
int64_t lev_block_fixed_direct(const T* p, int64_t m, const T* t, int64_t n, int64_t lo,
                               uint64_t range, Scratch& s) {
    s.pm.assign((size_t)(range + 2) * W, 0);
    uint64_t* pm = s.pm.data();
    for (int64_t i = 0; i < m; ++i)
        pm[((uint64_t)(int64_t)p[i] - (uint64_t)lo) * W + (i >> 6)] |= UINT64_C(1) << (i & 63);
    uint64_t VP[W], VN[W];
    for (int w = 0; w < W; ++w) {
        VP[w] = ~UINT64_C(0);
        VN[w] = 0;
    }
    const int last_out = (int)((m - 1) & 63);
    int64_t score = m;
    for (int64_t j = 0; j < n; ++j) {
        uint64_t x = (uint64_t)(int64_t)t[j] - (uint64_t)lo;
        x = x <= range ? x : range + 1;
        const uint64_t* col = pm + x * W;
        uint64_t hp = 1, hn = 0;
        for (int w = 0; w < W - 1; ++w) block_step(col[w], VP[w], VN[w], hp, hn, 63);
        block_step(col[W - 1], VP[W - 1], VN[W - 1], hp, hn, last_out);
        score += (int64_t)hp - (int64_t)hn;
    }
    return score;
}

// Distance between p[0, m) and t[0, n) with m > 64 (dense ids built here).
template <typename T>
int64_t lev_long(const T* p, int64_t m, const T* t, int64_t n, Scratch& s) {
    const int64_t W = (m + 63) >> 6;
    if (W <= 4) {
        int64_t lo = (int64_t)p[0], hi = lo;
        for (int64_t i = 1; i < m; ++i) {
            const int64_t v = (int64_t)p[i];
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        const uint64_t range = (uint64_t)hi - (uint64_t)lo;
        // a table of at most 2 KB, cheaper to clear than building dense ids
        if (range < 256 && (range + 2) * (uint64_t)W <= 256) {
            switch (W) {
                case 2: return lev_block_fixed_direct<2>(p, m, t, n, lo, range, s);
                case 3: return lev_block_fixed_direct<3>(p, m, t, n, lo, range, s);
                default: return lev_block_fixed_direct<4>(p, m, t, n, lo, range, s);
            }
        }
    }
    const int32_t k = densify(p, m, t, n, s);
    build_masks(s.pid.data(), m, k, W, s);
    switch (W) {
        case 2: return lev_block_fixed<2>(s.tid.data(), n, m, s.pm.data());
        case 3: return lev_block_fixed<3>(s.tid.data(), n, m, s.pm.data());
        case 4: return lev_block_fixed<4>(s.tid.data(), n, m, s.pm.data());
        default: break;
    }
    const int64_t diff = n > m ? n - m : m - n;
    const int64_t full = std::max(n, m);
    int64_t bound = std::max<int64_t>(diff + 64, 2 * diff);
    for (;;) {
        if (bound >= full) bound = full;
        const int64_t d = lev_block_banded(s.tid.data(), n, m, bound, s);
        if (d <= bound) return d;
        bound *= 2;
    }
}

template <typename T>
int64_t pair_distance(const T* h, int64_t n, const T* r, int64_t m, Scratch& s) {
    // common prefix and suffix cost nothing
    while (n > 0 && m > 0 && h[0] == r[0]) {
        ++h;
        ++r;
        --n;
        --m;
    }
    while (n > 0 && m > 0 && h[n - 1] == r[m - 1]) {
        --n;
        --m;
    }
    if (n == 0) return m;
    if (m == 0) return n;
    // the shorter sequence is the pattern (the distance is symmetric)
    const T* p = r;
    const T* t = h;
    int64_t pm = m, tn = n;
    if (n < m) {
        std::swap(p, t);
        std::swap(pm, tn);
    }
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
    return lev_long(p, pm, t, tn, s);
}

// Runs f(i, scratch) for i in [0, N) over n_threads threads with dynamic
// scheduling; the first exception is re-thrown after the parallel region.
template <typename F>
void parallel_pairs(int64_t N, int n_threads, int64_t chunk, F f) {
    std::exception_ptr error;
    int failed = 0;
    if (n_threads < 1) n_threads = 1;
    if ((int64_t)n_threads > N) n_threads = (int)std::max<int64_t>(N, 1);
#if SEQLOSS_HAVE_OPENMP
#pragma omp parallel num_threads(n_threads) if (n_threads > 1)
#endif
    {
        Scratch* s = nullptr;
        try {
            s = new Scratch();
        } catch (...) {
#if SEQLOSS_HAVE_OPENMP
#pragma omp critical(seqloss_edit_error)
#endif
            {
                if (!error) error = std::current_exception();
                failed = 1;
            }
        }
#if SEQLOSS_HAVE_OPENMP
#pragma omp for schedule(dynamic, chunk)
#endif
        for (int64_t i = 0; i < N; ++i) {
            int stop;
#if SEQLOSS_HAVE_OPENMP
#pragma omp atomic read
#endif
            stop = failed;
            if (stop || !s) continue;
            try {
                f(i, *s);
            } catch (...) {
#if SEQLOSS_HAVE_OPENMP
#pragma omp critical(seqloss_edit_error)
#endif
                {
                    if (!error) error = std::current_exception();
#if SEQLOSS_HAVE_OPENMP
#pragma omp atomic write
#endif
                    failed = 1;
                }
            }
        }
        delete s;
    }
    if (error) std::rethrow_exception(error);
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
    // long pairs: hand them out one by one (uneven lengths)
    const int64_t chunk = work >= 20000 && N > 0 && work / N > 600 ? 1 : chunk_for(N, n_threads);
    parallel_pairs(N, n_threads, chunk, [&](int64_t i, Scratch& s) {
        const T* h = hd + (hyp.offsets ? hyp.offsets[i] : i * hyp.stride);
        const T* r = rd + (ref.offsets ? ref.offsets[i] : i * ref.stride);
#if defined(__GNUC__) || defined(__clang__)
        // pairs are memory-latency bound (the suffix check touches the rows'
        // ends first): fetch the used part of a pair a few places ahead
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
        out[i] = pair_distance(h, hyp.lengths[i], r, ref.lengths[i], s);
    });
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

}  // namespace SEQLOSS_KERNEL_NS
}  // namespace seqloss
