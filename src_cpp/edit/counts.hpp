// Edit-distance part: error counts (hits, substitutions, deletions,
// insertions) of a pair of dense-id sequences, by a backtrace over the
// recorded bit-parallel matrix with rapidfuzz's tie rule, and rapidfuzz's
// Hirschberg split for pairs over its matrix budget (see below).  The one
// backtrace reports each step to a sink: CountSink counts (error_rates),
// OpSink also records the ops in order (alignments), so the two can never
// disagree.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "core/isa.hpp"
#include "core/memory.hpp"
#include "edit/edit_distance.hpp"  // AlignOp
#include "edit/recurrences.hpp"
#include "edit/scratch.hpp"

SEQLOSS_ISA_BEGIN
namespace {

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

// What the backtrace reports (steps in reverse order within a piece, see
// align_pieces): CountSink counts substitutions, deletions and insertions.
struct CountSink {
    int64_t subs = 0, dels = 0, ins = 0;
    SEQLOSS_INLINE void hits(int64_t) {}                 // forward: n hits
    SEQLOSS_INLINE void del() { ++dels; }                // backward steps
    SEQLOSS_INLINE void ins_() { ++ins; }
    SEQLOSS_INLINE void diag(bool sub) { subs += sub; }
    SEQLOSS_INLINE void dels_n(int64_t n) { dels += n; }  // forward runs
    SEQLOSS_INLINE void ins_n(int64_t n) { ins += n; }
    SEQLOSS_INLINE void begin_backward() {}
    SEQLOSS_INLINE void end_backward() {}
};

// CountSink that also appends the ops (AlignOp codes) to `ops` in order:
// the backward steps of a piece are appended as they come, then reversed.
struct OpSink : CountSink {
    std::vector<uint8_t>& ops;
    size_t piece = 0;
    explicit OpSink(std::vector<uint8_t>& o) : ops(o) { ops.clear(); }
    SEQLOSS_INLINE void hits(int64_t n) { ops.insert(ops.end(), (size_t)n, (uint8_t)OP_EQUAL); }
    SEQLOSS_INLINE void del() { ++dels; ops.push_back(OP_DELETE); }
    SEQLOSS_INLINE void ins_() { ++ins; ops.push_back(OP_INSERT); }
    SEQLOSS_INLINE void diag(bool sub) {
        subs += sub;
        ops.push_back(sub ? OP_SUBSTITUTE : OP_EQUAL);
    }
    SEQLOSS_INLINE void dels_n(int64_t n) {
        dels += n;
        ops.insert(ops.end(), (size_t)n, (uint8_t)OP_DELETE);
    }
    SEQLOSS_INLINE void ins_n(int64_t n) {
        ins += n;
        ops.insert(ops.end(), (size_t)n, (uint8_t)OP_INSERT);
    }
    SEQLOSS_INLINE void begin_backward() { piece = ops.size(); }
    SEQLOSS_INLINE void end_backward() { std::reverse(ops.begin() + (std::ptrdiff_t)piece, ops.end()); }
};

// Walk back from (n, m) over the recorded rows (W words each: bit c of row r
// is rec[r * W + c / 64] >> (c % 64)), preferring a deletion, then an
// insertion, then the diagonal (rapidfuzz's tie rule), reporting each step
// to `out` (from the end backwards).
template <class Sink>
inline void walk_back(const uint64_t* rec_vp, const uint64_t* rec_vn, int64_t W,
                      const int32_t* rid, int64_t m, const int32_t* hid, int64_t n, Sink& out) {
    auto bit = [W](const uint64_t* rec, int64_t row, int64_t col) {
        return (rec[(size_t)row * W + (col >> 6)] >> (col & 63)) & 1;
    };
    out.begin_backward();
    int64_t row = n, col = m;
    while (row && col) {
        if (bit(rec_vp, row - 1, col - 1)) {  // deletion
            out.del();
            --col;
        } else {
            --row;
            if (row && bit(rec_vn, row - 1, col - 1)) {  // insertion
                out.ins_();
            } else {  // hit or substitution
                --col;
                out.diag(rid[col] != hid[row]);
            }
        }
    }
    // the first col reference / row hypothesis tokens (one of them is 0)
    out.dels_n(col);
    out.ins_n(row);
    out.end_backward();
}

// Direct backtrace over the recorded matrix (no affix stripping here).
template <class Sink>
inline void direct_counts(const int32_t* rid, int64_t m, const int32_t* hid, int64_t n,
                          int32_t k, Scratch& s, Sink& out) {
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
            if (((j + 1) & 4095) == 0) check_interrupt();  // long pairs stop on Ctrl-C
            hyyroe_step(PM[hid[j]], VP, VN, 0);
            RVP[j] = VP;
            RVN[j] = VN;
        }
        walk_back(RVP, RVN, 1, rid, m, hid, n, out);
    } else {
        const int64_t W = (m + 63) >> 6;
        if ((double)n * (double)W * 16.0 > (double)(INT64_C(1) << 30))
            throw SizedBadAlloc(
                "error_rates: the alignment matrix of a pair of " + std::to_string(n) +
                " hypothesis tokens and " + std::to_string(m) + " reference tokens (past their "
                "common prefix and suffix) needs " + std::to_string(n * W * 16) +
                " bytes, over its limit of 1073741824 bytes (1 GiB)");
        build_masks(rid, m, k, W, s);
        s.vp.assign(W, ~UINT64_C(0));
        s.vn.assign(W, 0);
        s.rec_vp.resize((size_t)n * W);
        s.rec_vn.resize((size_t)n * W);
        uint64_t* VP = s.vp.data();
        uint64_t* VN = s.vn.data();
        const int last_out = (int)((m - 1) & 63);
        for (int64_t j = 0; j < n; ++j) {
            if (((j + 1) & 255) == 0) check_interrupt();
            const uint64_t* col = s.pm.data() + (size_t)hid[j] * W;
            uint64_t hp = 1, hn = 0;
            for (int64_t w = 0; w + 1 < W; ++w) block_step(col[w], VP[w], VN[w], hp, hn, 63);
            block_step(col[W - 1], VP[W - 1], VN[W - 1], hp, hn, last_out);
            std::memcpy(&s.rec_vp[(size_t)j * W], VP, sizeof(uint64_t) * W);
            std::memcpy(&s.rec_vn[(size_t)j * W], VN, sizeof(uint64_t) * W);
        }
        walk_back(s.rec_vp.data(), s.rec_vn.data(), W, rid, m, hid, n, out);
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
        if (((j + 1) & 255) == 0) check_interrupt();
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

template <class Sink>
inline void align_counts(const int32_t* rid, int64_t m, const int32_t* hid, int64_t n, int32_t k,
                         int64_t max, Scratch& s, Sink& out) {
    int64_t prefix = 0, suffix = 0;
    while (n > 0 && m > 0 && rid[0] == hid[0]) {
        ++rid;
        ++hid;
        --n;
        --m;
        ++prefix;
    }
    while (n > 0 && m > 0 && rid[m - 1] == hid[n - 1]) {
        --n;
        --m;
        ++suffix;
    }
    out.hits(prefix);
    if (m == 0 || n == 0) {
        out.dels_n(m);
        out.ins_n(n);
        out.hits(suffix);
        return;
    }
    max = std::min(max, std::max(m, n));
    const int64_t band = std::min(m, 2 * max + 1);
    if ((2 * band * n) / 8 < (INT64_C(1) << 20) || m < 65 || n < 10) {
        direct_counts(rid, m, hid, n, k, s, out);
        out.hits(suffix);
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
    align_counts(rid, best, hid, half, k, lmax, s, out);
    align_counts(rid + best, m - best, hid + half, n - half, k, rmax, s, out);
    out.hits(suffix);
}

// Error counts c = (hits, substitutions, deletions, insertions) of one pair,
// every step reported to `out` as well (CountSink: counts only; OpSink: the
// ops in order).
template <class Sink>
inline void sdi_run(const int32_t* rid, int64_t m, const int32_t* hid, int64_t n, int32_t k,
                    Scratch& s, Sink& out, int64_t* c /* hits, subs, dels, ins */) {
    align_counts(rid, m, hid, n, k, std::max(m, n), s, out);
    c[0] = m - out.subs - out.dels;
    c[1] = out.subs;
    c[2] = out.dels;
    c[3] = out.ins;
}

inline void sdi_counts(const int32_t* rid, int64_t m, const int32_t* hid, int64_t n, int32_t k,
                       Scratch& s, int64_t* c /* hits, subs, dels, ins */) {
    CountSink out;
    sdi_run(rid, m, hid, n, k, s, out, c);
}

}  // namespace
SEQLOSS_ISA_END
