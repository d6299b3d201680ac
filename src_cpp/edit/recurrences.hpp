// Edit-distance part: the single-pair recurrences on a stripped pair
// (pattern p[0, m), text t[0, n), m <= n, no common prefix or suffix):
// Hyyroe's (2003) single-word recurrence for m <= 64 (hyyroe_step, the one
// copy of the bit-vector step), its banded single-word form for a distance
// <= kSmallBand, and Myers' (1999) blocked recurrence (W words per column,
// optionally restricted to Ukkonen's band) for longer patterns;
// stripped_distance picks one, pair_distance strips first.
#pragma once

#include <algorithm>
#include <cstdint>

#include "core/isa.hpp"
#include "core/parallel.hpp"
#include "edit/compare.hpp"
#include "edit/scratch.hpp"

SEQLOSS_ISA_BEGIN
namespace {

// One text column of Hyyroe's (2003) single-word recurrence (the Myers
// bit-vector step): VP / VN, the column's vertical +1 / -1 deltas (bit i:
// between rows i and i + 1), become the next column's, given the match mask
// eq of the text token (bit i: pattern token i equals it).  Returns the
// horizontal delta (+1, -1 or 0) at the rows selected by `last` (one bit, or
// 0 when the score is not tracked).
SEQLOSS_INLINE int hyyroe_step(uint64_t eq, uint64_t& VP, uint64_t& VN, uint64_t last) {
    const uint64_t X = eq | VN;
    const uint64_t D0 = (((X & VP) + VP) ^ VP) | X;
    uint64_t HP = VN | ~(D0 | VP);
    uint64_t HN = VP & D0;
    const int delta = ((HP & last) != 0) - ((HN & last) != 0);
    HP = (HP << 1) | 1;
    HN <<= 1;
    VP = HN | ~(D0 | HP);
    VN = HP & D0;
    return delta;
}

// Hyyroe (2003) single-word recurrence: distance between pattern P (m <= 64)
// and text t[0, n).
template <typename T>
inline int64_t lev_short(const ShortPattern<T>& P, const T* t, int64_t n) {
    uint64_t VP = ~UINT64_C(0), VN = 0;
    const uint64_t last = UINT64_C(1) << (P.m - 1);
    int64_t score = P.m;
    for (int64_t j = 0; j < n; ++j) {
        score += hyyroe_step(P.match(t[j]), VP, VN, last);
    }
    return score;
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
        if ((j & 1023) == 0) check_interrupt();  // long pairs stop on Ctrl-C
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
        score += hyyroe_step(PM[tid[j]], VP, VN, last);
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
        score += hyyroe_step(PM[x], VP, VN, last);
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
// One step of the banded recurrence: the window of the match row r at padded
// bit position pos, then the horizontal deltas HP / HN (before the window
// moves) and the new VP / VN.
struct BandStep {
    uint64_t HP, HN, D0;
};
SEQLOSS_INLINE BandStep band_step(const uint64_t* r, int64_t pos, uint64_t& VP, uint64_t& VN) {
    const int64_t w = pos >> 6;
    const int sh = (int)(pos & 63);
    const uint64_t X = (r[w] >> sh) | ((r[w + 1] << 1) << (63 - sh));
    BandStep st;
    st.D0 = (((X & VP) + VP) ^ VP) | X | VN;
    st.HP = VN | ~(st.D0 | VP);
    st.HN = st.D0 & VP;
    const uint64_t D1 = st.D0 >> 1;
    VP = st.HN | ~(D1 | st.HP);
    VN = D1 & st.HP;
    return st;
}

template <typename RowFn>
inline int64_t lev_small_band(int64_t m, int64_t n, int64_t k, RowFn row) {
    uint64_t VP = ~UINT64_C(0) << (63 - k), VN = 0;
    int64_t dist = k;
    const int64_t brk = 2 * k + n - m;
    int64_t pos = k + 1;  // padded bit position of window bit 0 at this step
    int64_t j = 0;
    for (; j < m - k; ++j, ++pos) {
        const BandStep st = band_step(row(j), pos, VP, VN);
        dist += (int64_t)((~st.D0) >> 63);
        if (dist > brk) return k + 1;
    }
    int sh_row = 62;  // window bit of DP row m
    for (; j < n; ++j, ++pos, --sh_row) {
        const BandStep st = band_step(row(j), pos, VP, VN);
        dist += (int64_t)((st.HP >> sh_row) & 1) - (int64_t)((st.HN >> sh_row) & 1);
        if (dist > brk) return k + 1;
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

// Smallest and largest value of p[0, m), m >= 1, as int64.
template <typename T>
inline void value_range(const T* p, int64_t m, int64_t& lo, int64_t& hi) {
    lo = hi = (int64_t)p[0];
    for (int64_t i = 1; i < m; ++i) {
        const int64_t v = (int64_t)p[i];
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
}

// 65..256 pattern tokens: one padded mask table (value-indexed when the
// pattern's values span a small range, else on dense ids), the single-word
// band when the lengths allow a distance <= kSmallBand, else (or when the
// distance is larger) the unbanded blocked recurrence on the same table.
template <int W, typename T>
int64_t lev_medium(const T* p, int64_t m, const T* t, int64_t n, Scratch& s, bool try_band) {
    constexpr int64_t stride = W + 2;
    int64_t lo, hi;
    value_range(p, m, lo, hi);
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
            int64_t lo, hi;
            value_range(p, pm, lo, hi);
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

template <typename T>
int64_t pair_distance(const T* h, int64_t n, const T* r, int64_t m, Scratch& s) {
    const T *p, *t;
    int64_t pm, tn;
    strip_pair(h, n, r, m, p, pm, t, tn);
    if (pm == 0) return tn;
    return stripped_distance(p, pm, t, tn, s);
}

}  // namespace
SEQLOSS_ISA_END
