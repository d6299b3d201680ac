// Dispatch of the edit-distance kernels to the installed instruction-set level,
// plus the defensive argument re-check (callers validate first, in Python),
// the tokenizer of the error counts and the recorder of alignments (both
// compiled once, here).
#include "edit/edit_distance.hpp"

#include <algorithm>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/dispatch.hpp"
#include "core/parallel.hpp"
#include "edit/align_record.hpp"  // AlignLog, merge_vocab, write_run
#include "edit/compare.hpp"       // densify
#include "edit/scratch.hpp"
#include "edit/tokenize.hpp"      // split_words, WordIds, space_at

namespace seqloss {

using Registry = KernelRegistry<EditKernels>;

namespace {

// ---- the tokenizer of the error counts (compiled once, here) ------------

// One thread's tokenizer scratch (the Tokenizer's `state`) and the tokens of
// the pair it tokenized last (for the alignment recorder).
struct TokenizerState {
    Scratch s;
    WordIds<uint8_t> ids8;
    WordIds<uint16_t> ids16;
    WordIds<uint32_t> ids32;
    PairText last;
    WordIds<uint8_t>& ids(const uint8_t*) { return ids8; }
    WordIds<uint16_t>& ids(const uint16_t*) { return ids16; }
    WordIds<uint32_t>& ids(const uint32_t*) { return ids32; }
};

void* tokenizer_thread_state() {
    static thread_local TokenizerState state;
    return &state;
}

template <typename U>
int64_t split_unit(const U* t, int64_t n, int unit, std::vector<Word>& words) {
    if (unit == UNIT_MIXED) return split_words<true>(t, n, words);
    return split_words<false>(t, n, words);
}

// Token ids of one pair of code-point buffers (see PairTokens).
template <typename UH, typename UR>
PairTokens pair_tokens(TokenizerState& st, const UH* h, int64_t hn, const UR* r, int64_t rn,
                       int unit) {
    Scratch& s = st.s;
    PairText& last = st.last;
    last.ref_kind = (int32_t)sizeof(UR);
    last.hyp_kind = (int32_t)sizeof(UH);
    if (unit != UNIT_CHAR) {
        WordIds<UR>& ids = st.ids(r);
        const int64_t m = split_unit(r, rn, unit, s.rwords);
        const int64_t n = split_unit(h, hn, unit, s.hwords);
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
        last.ref = r;
        last.hyp = h;
        last.ref_words = s.rwords.data();
        last.hyp_words = s.hwords.data();
        last.ids = PairTokens{s.pid.data(), m, s.tid.data(), n, k};
        return last.ids;
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
    last.ref = r;
    last.hyp = h;
    last.ref_words = nullptr;
    last.hyp_words = nullptr;
    last.ids = PairTokens{s.pid.data(), rn, s.tid.data(), hn, k};
    return last.ids;
}

template <typename UH>
PairTokens pair_tokens_r(TokenizerState& st, const UH* h, int64_t hn, const TextRef& r,
                         int unit) {
    switch (r.kind) {
        case 1: return pair_tokens(st, h, hn, static_cast<const uint8_t*>(r.data), r.length, unit);
        case 2: return pair_tokens(st, h, hn, static_cast<const uint16_t*>(r.data), r.length, unit);
        default: return pair_tokens(st, h, hn, static_cast<const uint32_t*>(r.data), r.length, unit);
    }
}

PairTokens tokenize_pair(void* state, const TextRef& h, const TextRef& r, int unit) {
    TokenizerState& st = *static_cast<TokenizerState*>(state);
    switch (h.kind) {
        case 1: return pair_tokens_r(st, static_cast<const uint8_t*>(h.data), h.length, r, unit);
        case 2: return pair_tokens_r(st, static_cast<const uint16_t*>(h.data), h.length, r, unit);
        default: return pair_tokens_r(st, static_cast<const uint32_t*>(h.data), h.length, r, unit);
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

namespace {

void check_text(const char* fn, const TextRef* hyps, const TextRef* refs, int64_t n_pairs,
                int unit, const void* counts, int n_threads) {
    if (n_pairs < 0) throw std::invalid_argument(std::string(fn) + ": negative batch size");
    if (n_pairs == 0) return;
    if (!hyps || !refs || !counts)
        throw std::invalid_argument(std::string(fn) + ": null pointer argument");
    if (n_threads < 1) throw std::invalid_argument(std::string(fn) + ": n_threads must be >= 1");
    if (unit != UNIT_CHAR && unit != UNIT_WORD && unit != UNIT_MIXED)
        throw std::invalid_argument(std::string(fn) + ": unknown unit " + std::to_string(unit));
    for (int64_t i = 0; i < n_pairs; ++i) {
        for (const TextRef* t : {&hyps[i], &refs[i]}) {
            if (t->length < 0 || (t->length > 0 && !t->data))
                throw std::invalid_argument(std::string(fn) + ": bad text buffer");
            if (t->kind != 1 && t->kind != 2 && t->kind != 4)
                throw std::invalid_argument(std::string(fn) + ": kind must be 1, 2 or 4");
        }
    }
}

void check_tokens(const char* fn, const SeqBatch& hyp, const SeqBatch& ref, int64_t n_pairs,
                  const void* counts, int n_threads) {
    if (n_pairs < 0) throw std::invalid_argument(std::string(fn) + ": negative batch size");
    if (n_pairs == 0) return;
    if (!counts) throw std::invalid_argument(std::string(fn) + ": null output");
    if (n_threads < 1) throw std::invalid_argument(std::string(fn) + ": n_threads must be >= 1");
    check_side("hypothesis", hyp, n_pairs);
    check_side("reference", ref, n_pairs);
}

}  // namespace

void error_counts_batch(const TextRef* hyps, const TextRef* refs, int64_t n_pairs, int unit,
                        int64_t* counts, int n_threads) {
    check_text("error_counts", hyps, refs, n_pairs, unit, counts, n_threads);
    if (n_pairs == 0) return;
    PairSource src;
    src.hyps = hyps;
    src.refs = refs;
    src.unit = unit;
    Registry::active().error_counts(src, n_pairs, counts, nullptr, n_threads, kTokenizer);
}

void error_counts_tokens(const SeqBatch& hyp, const SeqBatch& ref, int64_t n_pairs,
                         int64_t* counts, int n_threads) {
    check_tokens("error_counts", hyp, ref, n_pairs, counts, n_threads);
    if (n_pairs == 0) return;
    PairSource src;
    src.hyp_tokens = &hyp;
    src.ref_tokens = &ref;
    Registry::active().error_counts(src, n_pairs, counts, nullptr, n_threads, kTokenizer);
}

// ---- alignments -------------------------------------------------------------

struct AlignCall {
    std::mutex mu;                                // guards logs and open (participants open theirs)
    std::vector<std::unique_ptr<AlignLog>> logs;  // reused by each kernel call's participants
    size_t open = 0;                              // logs[0, open) are in use by the running call
    int input = -1;                               // -1: nothing recorded yet, 0: text, 1: tokens
    int64_t recorded = 0;                         // pairs [0, recorded) are recorded
    int64_t base = 0;                             // batch index of the running kernel call's pair 0
    std::vector<uint32_t> vocab_code_points;      // after align_write (text input)
    std::vector<int64_t> vocab_starts{0};
};

namespace {

void* open_log(void* ctx, void* tokenizer_state) {
    AlignCall& call = *static_cast<AlignCall*>(ctx);
    std::lock_guard<std::mutex> lock(call.mu);
    if (call.open == call.logs.size()) call.logs.push_back(std::make_unique<AlignLog>());
    AlignLog* log = call.logs[call.open++].get();
    log->base = call.base;
    log->last = tokenizer_state ? &static_cast<TokenizerState*>(tokenizer_state)->last : nullptr;
    return log;
}

void add_pair(void* log, int64_t i, const uint8_t* ops, int64_t n_ops) {
    AlignLog& L = *static_cast<AlignLog*>(log);
    L.add(L.base + i, ops, n_ops);
}

void record(AlignCall* call, int input, const PairSource& src, int64_t first_pair,
            int64_t n_pairs, int64_t* counts, int n_threads) {
    if (!call) throw std::invalid_argument("error_align: null call");
    if (call->input >= 0 && call->input != input)
        throw std::invalid_argument("error_align: text and token pairs in one call");
    if (first_pair != call->recorded)
        throw std::invalid_argument("error_align: a chunk starts at pair " +
                                    std::to_string(first_pair) + ", expected " +
                                    std::to_string(call->recorded));
    call->input = input;
    call->base = first_pair;
    call->open = 0;  // (a participant takes a log for the call, the next call reuses it)
    const AlignRecorder rec{call, &open_log, &add_pair};
    Registry::active().error_counts(src, n_pairs, counts, &rec, n_threads, kTokenizer);
    call->recorded += n_pairs;
}

}  // namespace

AlignCall* align_call_new() { return new AlignCall(); }

void align_call_free(AlignCall* call) { delete call; }

void error_align_text(AlignCall* call, const TextRef* hyps, const TextRef* refs,
                      int64_t first_pair, int64_t n_pairs, int unit, int64_t* counts,
                      int n_threads) {
    check_text("error_align", hyps, refs, n_pairs, unit, counts, n_threads);
    if (n_pairs == 0) return;
    PairSource src;
    src.hyps = hyps;
    src.refs = refs;
    src.unit = unit;
    record(call, 0, src, first_pair, n_pairs, counts, n_threads);
}

void error_align_tokens(AlignCall* call, const SeqBatch& hyp, const SeqBatch& ref,
                        int64_t first_pair, int64_t n_pairs, int64_t* counts, int n_threads) {
    check_tokens("error_align", hyp, ref, n_pairs, counts, n_threads);
    if (n_pairs == 0) return;
    PairSource src;
    src.hyp_tokens = &hyp;
    src.ref_tokens = &ref;
    record(call, 1, src, first_pair, n_pairs, counts, n_threads);
}

void align_write(AlignCall* call, int64_t n_pairs, const int64_t* counts, const AlignOut& out,
                 const SeqBatch* hyp, const SeqBatch* ref, int n_threads) {
    if (!call) throw std::invalid_argument("align_write: null call");
    if (n_threads < 1) throw std::invalid_argument("align_write: n_threads must be >= 1");
    if (n_pairs != call->recorded)
        throw std::invalid_argument("align_write: " + std::to_string(n_pairs) + " pairs, but " +
                                    std::to_string(call->recorded) + " were recorded");
    if (n_pairs == 0) return;
    const bool tokens = call->input == 1;
    if (!counts || !out.offsets || !out.ops || !out.ref_index || !out.hyp_index ||
        !out.ref_ids || !out.hyp_ids || (tokens && (!hyp || !ref)))
        throw std::invalid_argument("align_write: null pointer argument");
    if (out.offsets[0] != 0 || out.offsets[n_pairs] != out.size)
        throw std::invalid_argument("align_write: offsets must run from 0 to the output size");
    // every pair recorded exactly once
    std::vector<const AlignLog::Run*> runs;
    std::vector<const AlignLog*> owner;
    int64_t covered = 0;
    for (const auto& L : call->logs)
        for (const AlignLog::Run& r : L->runs) {
            runs.push_back(&r);
            owner.push_back(L.get());
            covered += r.count;
        }
    if (covered != n_pairs) throw std::logic_error("align_write: the logs do not cover the pairs");
    if (!tokens) merge_vocab(call->logs, call->vocab_code_points, call->vocab_starts);
    parallel_for((int64_t)runs.size(), n_threads, Schedule::dynamic(1), [&](int64_t b, int64_t e) {
        for (int64_t k = b; k < e; ++k)
            write_run(*owner[(size_t)k], *runs[(size_t)k], counts, out, tokens ? hyp : nullptr,
                      tokens ? ref : nullptr);
    });
}

int64_t align_vocab_size(const AlignCall* call) {
    return call ? (int64_t)call->vocab_starts.size() - 1 : 0;
}

int64_t align_vocab_code_points(const AlignCall* call) {
    return call ? (int64_t)call->vocab_code_points.size() : 0;
}

void align_vocab(const AlignCall* call, uint32_t* code_points, int64_t* starts) {
    if (!call) throw std::invalid_argument("align_vocab: null call");
    std::copy(call->vocab_code_points.begin(), call->vocab_code_points.end(), code_points);
    std::copy(call->vocab_starts.begin(), call->vocab_starts.end(), starts);
}

// ---- confusion tallies ------------------------------------------------------

struct TallyCall {
    std::mutex mu;
    std::vector<std::unique_ptr<TallyLog>> logs;
    size_t open = 0;
    int64_t recorded = 0;
    int64_t base = 0;
    bool finished = false;
    std::vector<uint32_t> code_points;
    std::vector<int64_t> starts{0};
    struct Sub {
        int64_t r, h, n;
    };
    std::vector<Sub> subs;
    std::vector<std::pair<int64_t, int64_t>> dels, ins;  // (id, n)
};

namespace {

void* open_tally(void* ctx, void* tokenizer_state) {
    TallyCall& call = *static_cast<TallyCall*>(ctx);
    if (!tokenizer_state) throw std::logic_error("error_tally: text input only");
    std::lock_guard<std::mutex> lock(call.mu);
    if (call.open == call.logs.size()) call.logs.push_back(std::make_unique<TallyLog>());
    TallyLog* log = call.logs[call.open++].get();
    log->base = call.base;
    log->last = &static_cast<TokenizerState*>(tokenizer_state)->last;
    return log;
}

void add_tally(void* log, int64_t i, const uint8_t* ops, int64_t n_ops) {
    TallyLog& L = *static_cast<TallyLog*>(log);
    L.tally(L.base + i, ops, n_ops);
}

// (id, n) of a per-id count vector, by count (descending), then id.
std::vector<std::pair<int64_t, int64_t>> sorted_counts(const std::vector<int64_t>& v) {
    std::vector<std::pair<int64_t, int64_t>> out;
    for (size_t k = 0; k < v.size(); ++k)
        if (v[k]) out.emplace_back((int64_t)k, v[k]);
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
        return a.second != b.second ? a.second > b.second : a.first < b.first;
    });
    return out;
}

}  // namespace

TallyCall* tally_call_new() { return new TallyCall(); }

void tally_call_free(TallyCall* call) { delete call; }

void error_tally_text(TallyCall* call, const TextRef* hyps, const TextRef* refs, int64_t first_pair,
                      int64_t n_pairs, int unit, int64_t* counts, int n_threads) {
    check_text("error_tally", hyps, refs, n_pairs, unit, counts, n_threads);
    if (!call) throw std::invalid_argument("error_tally: null call");
    if (call->finished) throw std::invalid_argument("error_tally: the call is finished");
    if (first_pair != call->recorded)
        throw std::invalid_argument("error_tally: a chunk starts at pair " +
                                    std::to_string(first_pair) + ", expected " +
                                    std::to_string(call->recorded));
    if (n_pairs == 0) return;
    PairSource src;
    src.hyps = hyps;
    src.refs = refs;
    src.unit = unit;
    call->base = first_pair;
    call->open = 0;
    const AlignRecorder rec{call, &open_tally, &add_tally};
    Registry::active().error_counts(src, n_pairs, counts, &rec, n_threads, kTokenizer);
    call->recorded += n_pairs;
}

TallySizes tally_finish(TallyCall* call) {
    if (!call) throw std::invalid_argument("tally_finish: null call");
    if (!call->finished) {
        merge_vocab(call->logs, call->code_points, call->starts);
        const size_t V = call->starts.size() - 1;
        CountMap subs;
        std::vector<int64_t> dels(V, 0), ins(V, 0);
        for (const auto& L : call->logs) {
            const auto& m = L->remap;
            L->subs.for_each([&](uint64_t key, int64_t n) {
                const uint64_t a = (uint64_t)m[(size_t)(key >> 32)], b = (uint64_t)m[(size_t)(key & 0xFFFFFFFFu)];
                subs.add((a << 32) | b, n);
            });
            for (size_t v = 0; v < L->dels.size(); ++v) dels[(size_t)m[v]] += L->dels[v];
            for (size_t v = 0; v < L->ins.size(); ++v) ins[(size_t)m[v]] += L->ins[v];
        }
        call->subs.reserve(subs.size());
        subs.for_each([&](uint64_t key, int64_t n) {
            call->subs.push_back(TallyCall::Sub{(int64_t)(key >> 32), (int64_t)(key & 0xFFFFFFFFu), n});
        });
        std::sort(call->subs.begin(), call->subs.end(), [](const TallyCall::Sub& x, const TallyCall::Sub& y) {
            if (x.n != y.n) return x.n > y.n;
            return x.r != y.r ? x.r < y.r : x.h < y.h;
        });
        call->dels = sorted_counts(dels);
        call->ins = sorted_counts(ins);
        call->logs.clear();
        call->finished = true;
    }
    TallySizes z;
    z.vocab = (int64_t)call->starts.size() - 1;
    z.code_points = (int64_t)call->code_points.size();
    z.substitutions = (int64_t)call->subs.size();
    z.deletions = (int64_t)call->dels.size();
    z.insertions = (int64_t)call->ins.size();
    return z;
}

void tally_read(const TallyCall* call, uint32_t* code_points, int64_t* starts, int64_t* sub_ref,
                int64_t* sub_hyp, int64_t* sub_n, int64_t* del_id, int64_t* del_n, int64_t* ins_id,
                int64_t* ins_n) {
    if (!call || !call->finished) throw std::invalid_argument("tally_read: call not finished");
    std::copy(call->code_points.begin(), call->code_points.end(), code_points);
    std::copy(call->starts.begin(), call->starts.end(), starts);
    for (size_t k = 0; k < call->subs.size(); ++k) {
        sub_ref[k] = call->subs[k].r;
        sub_hyp[k] = call->subs[k].h;
        sub_n[k] = call->subs[k].n;
    }
    for (size_t k = 0; k < call->dels.size(); ++k) del_id[k] = call->dels[k].first, del_n[k] = call->dels[k].second;
    for (size_t k = 0; k < call->ins.size(); ++k) ins_id[k] = call->ins[k].first, ins_n[k] = call->ins[k].second;
}

void install_edit_kernels(int level, const void* table) { Registry::install(level, table); }

}  // namespace seqloss
