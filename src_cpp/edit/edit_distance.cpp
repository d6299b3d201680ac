// Dispatch of the edit-distance kernels to the installed instruction-set level,
// plus the defensive argument re-check (callers validate first, in Python).
#include "edit/edit_distance.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "core/dispatch.hpp"
#include "edit/compare.hpp"   // densify
#include "edit/scratch.hpp"
#include "edit/tokenize.hpp"  // split_words, WordIds, space_at

namespace seqloss {

using Registry = KernelRegistry<EditKernels>;

namespace {

// ---- the tokenizer of the error counts (compiled once, here) ------------

// One thread's tokenizer scratch (the Tokenizer's `state`).
struct TokenizerState {
    Scratch s;
    WordIds<uint8_t> ids8;
    WordIds<uint16_t> ids16;
    WordIds<uint32_t> ids32;
    WordIds<uint8_t>& ids(const uint8_t*) { return ids8; }
    WordIds<uint16_t>& ids(const uint16_t*) { return ids16; }
    WordIds<uint32_t>& ids(const uint32_t*) { return ids32; }
};

void* tokenizer_thread_state() {
    static thread_local TokenizerState state;
    return &state;
}

// Token ids of one pair of code-point buffers (see PairTokens).
template <typename UH, typename UR>
PairTokens pair_tokens(TokenizerState& st, const UH* h, int64_t hn, const UR* r, int64_t rn,
                       int word_unit) {
    Scratch& s = st.s;
    if (word_unit) {
        WordIds<UR>& ids = st.ids(r);
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
        return PairTokens{s.pid.data(), m, s.tid.data(), n, k};
    }
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
    return PairTokens{s.pid.data(), rn, s.tid.data(), hn, k};
}

template <typename UH>
PairTokens pair_tokens_r(TokenizerState& st, const UH* h, int64_t hn, const TextRef& r,
                         int word_unit) {
    switch (r.kind) {
        case 1: return pair_tokens(st, h, hn, static_cast<const uint8_t*>(r.data), r.length, word_unit);
        case 2: return pair_tokens(st, h, hn, static_cast<const uint16_t*>(r.data), r.length, word_unit);
        default: return pair_tokens(st, h, hn, static_cast<const uint32_t*>(r.data), r.length, word_unit);
    }
}

PairTokens tokenize_pair(void* state, const TextRef& h, const TextRef& r, int word_unit) {
    TokenizerState& st = *static_cast<TokenizerState*>(state);
    switch (h.kind) {
        case 1: return pair_tokens_r(st, static_cast<const uint8_t*>(h.data), h.length, r, word_unit);
        case 2: return pair_tokens_r(st, static_cast<const uint16_t*>(h.data), h.length, r, word_unit);
        default: return pair_tokens_r(st, static_cast<const uint32_t*>(h.data), h.length, r, word_unit);
    }
}

constexpr Tokenizer kTokenizer = {&tokenizer_thread_state, &tokenize_pair};

// ---- argument re-checks ---------------------------------------------------

void check_side(const char* name, const SeqBatch& b, int64_t N) {
    if (N > 0 && (!b.data || !b.lengths))
        throw std::invalid_argument(std::string("levenshtein_batch: null ") + name + " pointer");
    if (!b.offsets && b.stride < 0)
        throw std::invalid_argument(std::string("levenshtein_batch: negative ") + name + " stride");
    // one branch-free pass over the lengths (a negative length is a huge
    // unsigned one); the offending value is looked up only when there is one
    const uint64_t limit = b.offsets ? (uint64_t)INT64_MAX : (uint64_t)b.stride;
    uint64_t bad = 0;
    for (int64_t i = 0; i < N; ++i) bad |= (uint64_t)((uint64_t)b.lengths[i] > limit);
    if (!bad) return;
    for (int64_t i = 0; i < N; ++i) {
        if (b.lengths[i] < 0)
            throw std::invalid_argument(std::string("levenshtein_batch: negative ") + name +
                                    " length " + std::to_string(b.lengths[i]));
        if (!b.offsets && b.lengths[i] > b.stride)
            throw std::invalid_argument(std::string("levenshtein_batch: ") + name + " length " +
                                    std::to_string(b.lengths[i]) + " over the padded width " +
                                    std::to_string(b.stride));
    }
}

}  // namespace

void levenshtein_batch(int token_type, const SeqBatch& hyp, const SeqBatch& ref, int64_t n_pairs,
                       int64_t* out, int n_threads) {
    if (n_pairs < 0) throw std::invalid_argument("levenshtein_batch: negative batch size");
    if (n_pairs == 0) return;
    if (!out) throw std::invalid_argument("levenshtein_batch: null output");
    if (n_threads < 1) throw std::invalid_argument("levenshtein_batch: n_threads must be >= 1");
    check_side("hypothesis", hyp, n_pairs);
    check_side("reference", ref, n_pairs);
    Registry::active().levenshtein_batch(token_type, hyp, ref, n_pairs, out, n_threads);
}

int64_t levenshtein_pair(int token_type, const void* hyp, int64_t hyp_len, const void* ref,
                         int64_t ref_len) {
    if (hyp_len < 0 || ref_len < 0) throw std::invalid_argument("levenshtein_pair: negative length");
    if ((hyp_len > 0 && !hyp) || (ref_len > 0 && !ref))
        throw std::invalid_argument("levenshtein_pair: null pointer");
    return Registry::active().levenshtein_pair(token_type, hyp, hyp_len, ref, ref_len);
}

void error_counts_batch(const TextRef* hyps, const TextRef* refs, int64_t n_pairs,
                        int word_unit, int64_t* counts, int n_threads) {
    if (n_pairs < 0) throw std::invalid_argument("error_counts: negative batch size");
    if (n_pairs == 0) return;
    if (!hyps || !refs || !counts) throw std::invalid_argument("error_counts: null pointer argument");
    if (n_threads < 1) throw std::invalid_argument("error_counts: n_threads must be >= 1");
    for (int64_t i = 0; i < n_pairs; ++i) {
        for (const TextRef* t : {&hyps[i], &refs[i]}) {
            if (t->length < 0 || (t->length > 0 && !t->data))
                throw std::invalid_argument("error_counts: bad text buffer");
            if (t->kind != 1 && t->kind != 2 && t->kind != 4)
                throw std::invalid_argument("error_counts: kind must be 1, 2 or 4");
        }
    }
    Registry::active().error_counts(hyps, refs, n_pairs, word_unit, counts, n_threads,
                                    kTokenizer);
}

void install_edit_kernels(int level, const void* table) { Registry::install(level, table); }

}  // namespace seqloss
