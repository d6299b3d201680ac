// Edit-distance kernels, compiled once per instruction-set level: included by
// edit_kernels.cpp inside that level's namespace (core/isa.hpp; the AVX2 /
// AVX-512 builds use -mavx2 / -mavx512bw, so the SEQLOSS_USE_AVX2 /
// SEQLOSS_USE_AVX512BW branches select the SIMD pattern compares).  This
// file holds the batch drivers and entry points; the parts are
// edit/scratch.hpp (per-thread memory), edit/compare.hpp (compares, affix
// stripping, dense ids), edit/recurrences.hpp (single-pair recurrences),
// edit/lockstep.hpp (lockstep groups), edit/counts.hpp (error counts,
// backtrace, Hirschberg).  The tokenizer (edit/tokenize.hpp) is compiled
// once, into seqloss._edit, and reaches error_counts_impl as a pointer.
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
//    pairs over its matrix budget; of text through the Tokenizer or of int64
//    token sequences (dense ids as above); for alignments the same backtrace
//    also records its ops (OpSink) and hands them to the AlignRecorder.

#include <algorithm>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <vector>

#include "core/parallel.hpp"
#include "edit/compare.hpp"
#include "edit/counts.hpp"
#include "edit/edit_distance.hpp"
#include "edit/lockstep.hpp"
#include "edit/recurrences.hpp"
#include "edit/scratch.hpp"

SEQLOSS_ISA_BEGIN
namespace {

// Runs f(i, scratch) for i in [0, N) over n_threads threads with dynamic
// scheduling (chunks of `chunk` items), each thread with its own kept Scratch
// (ScratchLease); the first exception is rethrown on the caller
// (core/parallel.hpp).
template <typename F>
void parallel_pairs(int64_t N, int n_threads, int64_t chunk, F f) {
    parallel_for(N, n_threads, Schedule::dynamic(chunk), [] { return ScratchLease(); },
                 [&](int64_t begin, int64_t end, ScratchLease& lease) {
                     for (int64_t i = begin; i < end; ++i) f(i, lease.s);
                 });
}

inline int64_t chunk_for(int64_t N, int n_threads) {
    int64_t c = N / (16 * (int64_t)std::max(n_threads, 1));
    return std::max<int64_t>(1, std::min<int64_t>(c, 256));
}

// Prefetch the used part (at most 2 KB per side) of pair `ahead`, if it
// exists.  A macro, not a function: GCC deletes a call to a function whose
// only effect is __builtin_prefetch (it counts as const).  Expects hd, rd,
// hyp, ref, N and T in scope.
#if defined(__GNUC__) || defined(__clang__)
#define SEQLOSS_PREFETCH_PAIR(AHEAD)                                                        \
    do {                                                                                   \
        const int64_t ahead_ = (AHEAD);                                                    \
        if (ahead_ < N) {                                                                  \
            const char* hn_ = (const char*)(hd + seq_start(hyp, ahead_));                  \
            const char* rn_ = (const char*)(rd + seq_start(ref, ahead_));                  \
            const int64_t hb_ = std::min<int64_t>(hyp.lengths[ahead_] * (int64_t)sizeof(T), 2048); \
            const int64_t rb_ = std::min<int64_t>(ref.lengths[ahead_] * (int64_t)sizeof(T), 2048); \
            for (int64_t o_ = 0; o_ < hb_; o_ += 64) __builtin_prefetch(hn_ + o_);        \
            for (int64_t o_ = 0; o_ < rb_; o_ += 64) __builtin_prefetch(rn_ + o_);        \
        }                                                                                  \
    } while (0)
// The same for text pair `ahead` of a PairSource (the first 1 KB of each side):
// the strings of a corpus are scattered (a hypothesis file in another order
// than the reference's), and the first touch of each missed every cache.
#define SEQLOSS_PREFETCH_TEXT(SRC, AHEAD)                                                   \
    do {                                                                                   \
        const int64_t ahead_ = (AHEAD);                                                    \
        if (ahead_ < N) {                                                                  \
            const TextRef& h_ = (SRC).hyps[ahead_];                                        \
            const TextRef& r_ = (SRC).refs[ahead_];                                        \
            const int64_t hb_ = std::min<int64_t>(h_.length * h_.kind, 1024);              \
            const int64_t rb_ = std::min<int64_t>(r_.length * r_.kind, 1024);              \
            for (int64_t o_ = 0; o_ < hb_; o_ += 64) __builtin_prefetch((const char*)h_.data + o_); \
            for (int64_t o_ = 0; o_ < rb_; o_ += 64) __builtin_prefetch((const char*)r_.data + o_); \
        }                                                                                  \
    } while (0)
#else
#define SEQLOSS_PREFETCH_PAIR(AHEAD) ((void)0)
#define SEQLOSS_PREFETCH_TEXT(SRC, AHEAD) ((void)0)
#endif

// Offset of sequence i of one side (see SeqBatch).
inline int64_t seq_start(const SeqBatch& b, int64_t i) { return b.offsets ? b.offsets[i] : i * b.stride; }

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
            SEQLOSS_PREFETCH_PAIR(i + prefetch_ahead);
            const T *p, *t;
            int64_t pm, tn;
            strip_pair(hd + seq_start(hyp, i), hyp.lengths[i],
                       rd + seq_start(ref, i), ref.lengths[i], p, pm,
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
        // pairs are memory-latency bound (the suffix check touches the rows'
        // ends first): fetch the used part of a pair a few places ahead
        SEQLOSS_PREFETCH_PAIR(i + 6);
        const T* h = hd + seq_start(hyp, i);
        const T* r = rd + seq_start(ref, i);
        out[i] = pair_distance(h, hyp.lengths[i], r, ref.lengths[i], s);
    });
#endif
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

// pair_distance for a token type code (TOKEN_*).
inline int64_t pair_distance_any(int token_type, const void* h, int64_t n, const void* r,
                                 int64_t m, Scratch& s) {
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

int64_t levenshtein_pair_impl(int token_type, const void* h, int64_t n, const void* r, int64_t m) {
    // one item through parallel_for: a long pair stops on Ctrl-C like a batch
    int64_t d = 0;
    parallel_for(1, 1, Schedule::blocks(), [] { return ScratchLease(); },
                 [&](int64_t, int64_t, ScratchLease& lease) {
                     d = pair_distance_any(token_type, h, n, r, m, lease.s);
                 });
    return d;
}

namespace {

// The tokens of pair i of int64 token sequences as dense ids (PairTokens),
// in s.pid / s.tid.
inline PairTokens token_pair(const SeqBatch& hyp, const SeqBatch& ref, int64_t i, Scratch& s) {
    const int64_t* h = static_cast<const int64_t*>(hyp.data) + seq_start(hyp, i);
    const int64_t* r = static_cast<const int64_t*>(ref.data) + seq_start(ref, i);
    const int64_t hn = hyp.lengths[i], rn = ref.lengths[i];
    int32_t k = 0;
    if (rn > 0) {
        k = densify(r, rn, h, hn, s);
    } else {
        s.tid.assign(hn, 0);
    }
    return PairTokens{s.pid.data(), rn, s.tid.data(), hn, k};
}

// Error counts of N pairs of text (Tokens = false) or int64 token sequences
// (true); with a recorder (Record), every pair's ops too (one OpSink run:
// the counts and the ops come from the same backtrace).
template <bool Tokens, bool Record>
void error_counts_t(const PairSource& src, int64_t N, int64_t* counts,
                    const AlignRecorder* rec, int n_threads, const Tokenizer& tokenizer) {
    int64_t work = 0;
    for (int64_t i = 0; i < N && work < 50000; ++i)
        work += Tokens ? src.hyp_tokens->lengths[i] + src.ref_tokens->lengths[i] + 8
                       : src.hyps[i].length + src.refs[i].length + 8;
    if (work < 50000) n_threads = 1;
    struct ThreadState {
        ScratchLease scratch;
        void* tokens;
        void* log;
    };
    parallel_for(
        N, n_threads, Schedule::dynamic(chunk_for(N, n_threads)),
        [&] {
            ThreadState st{ScratchLease(), Tokens ? nullptr : tokenizer.thread_state(), nullptr};
            if (Record) st.log = rec->open_log(rec->ctx, st.tokens);
            return st;
        },
        [&](int64_t begin, int64_t end, ThreadState& st) {
            Scratch& s = st.scratch.s;
            for (int64_t i = begin; i < end; ++i) {
                int64_t* c = counts + 6 * i;
                PairTokens p;
                if constexpr (Tokens) {
                    p = token_pair(*src.hyp_tokens, *src.ref_tokens, i, s);
                } else {
                    SEQLOSS_PREFETCH_TEXT(src, i + 4);
                    p = tokenizer.tokenize(st.tokens, src.hyps[i], src.refs[i], src.unit);
                }
                if constexpr (Record) {
                    OpSink sink(s.ops);
                    sdi_run(p.ref_ids, p.n_ref, p.hyp_ids, p.n_hyp, p.n_ids, s, sink, c);
                    rec->add_pair(st.log, i, s.ops.data(), (int64_t)s.ops.size());
                } else {
                    sdi_counts(p.ref_ids, p.n_ref, p.hyp_ids, p.n_hyp, p.n_ids, s, c);
                }
                c[4] = p.n_hyp;
                c[5] = p.n_ref;
            }
        });
}

}  // namespace

void error_counts_impl(const PairSource& src, int64_t N, int64_t* counts,
                       const AlignRecorder* rec, int n_threads, const Tokenizer& tokenizer) {
    const bool tokens = src.hyp_tokens != nullptr;
    if (tokens && rec) return error_counts_t<true, true>(src, N, counts, rec, n_threads, tokenizer);
    if (tokens) return error_counts_t<true, false>(src, N, counts, rec, n_threads, tokenizer);
    if (rec) return error_counts_t<false, true>(src, N, counts, rec, n_threads, tokenizer);
    error_counts_t<false, false>(src, N, counts, rec, n_threads, tokenizer);
}

SEQLOSS_ISA_END
