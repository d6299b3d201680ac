// Edit-distance part: the recorder of alignments (compiled once, included by
// edit_distance.cpp only).  The per-level kernel aligns each pair and hands
// its ops to the AlignRecorder (edit_distance.hpp); here each participant of
// the kernel's parallel loop keeps an AlignLog: the ops of its pairs, the
// token ids of their tokens in the participant's own vocabulary (text input)
// and the runs of consecutive pairs it did.  After the kernel, merge_vocab
// joins the participants' vocabularies into the call's (ids in order of first
// appearance, whatever the thread count) and write_run copies a run of pairs
// to the caller's outputs (edit_distance.hpp's layout).
#pragma once

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "core/isa.hpp"
#include "edit/edit_distance.hpp"
#include "edit/intern.hpp"
#include "edit/scratch.hpp"
#include "edit/tokenize.hpp"

SEQLOSS_ISA_BEGIN
namespace {

// The tokens of the pair a tokenizer state last tokenized: reference token a
// is ref_words[a] of ref (word and mixed units) or code point a of ref
// (ref_words == nullptr: char unit, ref already stripped); likewise for the
// hypothesis; ref_ids / hyp_ids / n_ids as in PairTokens.
struct PairText {
    const void* ref = nullptr;
    int32_t ref_kind = 1;
    const Word* ref_words = nullptr;
    const void* hyp = nullptr;
    int32_t hyp_kind = 1;
    const Word* hyp_words = nullptr;
    PairTokens ids{};
};

// token_hash of the one-code-point token c (Word::hash of a word of
// length 1), so every token of a call hashes alike.
inline uint64_t char_hash(uint32_t c) { return token_hash(&c, 1, &c + 1); }

// Token a of one side as (code points, length, hash) -> its id in `vocab`.
template <typename U>
int32_t vocab_id(TextVocab& vocab, const void* text, const Word* words, int64_t a) {
    const U* t = static_cast<const U*>(text);
    if (words) return vocab.id(t + words[a].start, words[a].len, words[a].hash);
    return vocab.id(t + a, 1, char_hash((uint32_t)t[a]));
}

inline int32_t vocab_id_any(TextVocab& vocab, const void* text, int32_t kind, const Word* words,
                            int64_t a) {
    switch (kind) {
        case 1: return vocab_id<uint8_t>(vocab, text, words, a);
        case 2: return vocab_id<uint16_t>(vocab, text, words, a);
        default: return vocab_id<uint32_t>(vocab, text, words, a);
    }
}

// Where a token first appears in the batch: (pair, position), position a for
// reference token a and n_ref + b for hypothesis token b (a pair's reference
// tokens come before its hypothesis tokens).
using FirstSeen = std::pair<int64_t, int64_t>;

// One participant's record of an alignment call.
struct AlignLog {
    struct Run {            // pairs [first, first + count), consecutive in the log
        int64_t first = 0;
        int64_t count = 0;
        size_t ops_at = 0;  // their ops: ops[ops_at, ops_end)
        size_t ops_end = 0;
        size_t ids_at = 0;  // their token ids: ids[ids_at, ...), per pair n_ref + n_hyp
    };
    const PairText* last = nullptr;  // the participant's tokenizer (text input)
    int64_t base = 0;                // batch index of the kernel call's pair 0
    std::vector<uint8_t> ops;
    std::vector<int32_t> ids;        // ids in `vocab`
    std::vector<Run> runs;
    TextVocab vocab;
    std::vector<FirstSeen> first;    // (vocab.size(),) where each token was first seen
    std::vector<int32_t> dense_id;   // (n_ids,) scratch: pair dense id -> vocab id
    std::vector<int64_t> remap;      // (vocab.size(),) vocab id -> the call's id (merge_vocab)

    int32_t intern(const void* text, int32_t kind, const Word* words, int64_t a, int64_t pair,
                   int64_t pos) {
        const int32_t v = vocab_id_any(vocab, text, kind, words, a);
        if ((size_t)v == first.size()) first.emplace_back(pair, pos);
        return v;
    }

    // Pair `pair`'s ops (and, text input, its tokens' ids: the pair `last`
    // holds, each distinct reference token looked up once).
    void add(int64_t pair, const uint8_t* op, int64_t n_ops) {
        if (runs.empty() || runs.back().first + runs.back().count != pair)
            runs.push_back(Run{pair, 0, ops.size(), ops.size(), ids.size()});
        Run& run = runs.back();
        ++run.count;
        ops.insert(ops.end(), op, op + n_ops);
        run.ops_end = ops.size();
        if (!last) return;
        const PairTokens& p = last->ids;
        dense_id.assign((size_t)p.n_ids, -1);
        const size_t at = ids.size();
        ids.resize(at + (size_t)(p.n_ref + p.n_hyp));
        int32_t* out = ids.data() + at;
        for (int64_t a = 0; a < p.n_ref; ++a) {
            int32_t& d = dense_id[(size_t)p.ref_ids[a]];
            if (d < 0) d = intern(last->ref, last->ref_kind, last->ref_words, a, pair, a);
            out[a] = d;
        }
        for (int64_t b = 0; b < p.n_hyp; ++b) {
            const int32_t h = p.hyp_ids[b];
            out[p.n_ref + b] = h < p.n_ids ? dense_id[(size_t)h]
                                           : intern(last->hyp, last->hyp_kind, last->hyp_words,
                                                    b, pair, p.n_ref + b);
        }
    }
};

// uint64 key -> count, open addressing (the tallies of TallyLog).
class CountMap {
public:
    CountMap() { rehash(64); }
    void add(uint64_t key, int64_t n = 1) {
        uint64_t i = slot_of(key);
        for (;;) {
            Slot& s = slots_[i];
            if (s.n == 0) {
                s = Slot{key, n};
                if (2 * ++size_ > slots_.size()) rehash(slots_.size() * 2);
                return;
            }
            if (s.key == key) {
                s.n += n;
                return;
            }
            i = (i + 1) & mask_;
        }
    }
    template <typename F>
    void for_each(F&& f) const {
        for (const Slot& s : slots_)
            if (s.n) f(s.key, s.n);
    }
    size_t size() const { return size_; }

private:
    struct Slot {
        uint64_t key;
        int64_t n;  // 0 = empty
    };
    uint64_t slot_of(uint64_t k) const { return ((k * UINT64_C(0x9E3779B97F4A7C15)) >> 24) & mask_; }
    void rehash(size_t cap) {
        std::vector<Slot> old;
        old.swap(slots_);
        slots_.assign(cap, Slot{0, 0});
        mask_ = cap - 1;
        for (const Slot& s : old) {
            if (!s.n) continue;
            uint64_t i = slot_of(s.key);
            while (slots_[i].n) i = (i + 1) & mask_;
            slots_[i] = s;
        }
    }
    std::vector<Slot> slots_;
    uint64_t mask_ = 0;
    size_t size_ = 0;
};

// One participant's confusion tallies (text input): the tokens of its errors
// interned in the log's vocabulary (AlignLog's, with where each was first
// seen), substitutions keyed (ref id << 32 | hyp id), deletions and
// insertions by id.  Ops are not kept.
struct TallyLog : AlignLog {
    CountMap subs;
    std::vector<int64_t> dels, ins;  // (vocab.size(),) grown on demand

    static void bump(std::vector<int64_t>& v, int32_t id) {
        if ((size_t)id >= v.size()) v.resize((size_t)id + 1, 0);
        ++v[(size_t)id];
    }

    void tally(int64_t pair, const uint8_t* op, int64_t n_ops) {
        const PairText& P = *last;
        const int64_t n_ref = P.ids.n_ref;
        int64_t r = 0, h = 0;
        for (int64_t k = 0; k < n_ops; ++k) {
            switch (op[k]) {
                case OP_EQUAL: ++r, ++h; break;
                case OP_SUBSTITUTE: {
                    const int32_t a = intern(P.ref, P.ref_kind, P.ref_words, r, pair, r);
                    const int32_t b = intern(P.hyp, P.hyp_kind, P.hyp_words, h, pair, n_ref + h);
                    subs.add(((uint64_t)(uint32_t)a << 32) | (uint32_t)b);
                    ++r, ++h;
                    break;
                }
                case OP_DELETE: bump(dels, intern(P.ref, P.ref_kind, P.ref_words, r, pair, r)); ++r; break;
                default: bump(ins, intern(P.hyp, P.hyp_kind, P.hyp_words, h, pair, n_ref + h)); ++h; break;
            }
        }
    }
};

// The call's vocabulary from the participants' (logs in any order): every
// distinct token once, numbered by where it first appears in the batch; each
// log's remap set to it.  Fills code_points / starts (V + 1,) in id order.
template <typename LogPtrs>
void merge_vocab(LogPtrs& logs, std::vector<uint32_t>& code_points, std::vector<int64_t>& starts) {
    TextVocab all;
    std::vector<FirstSeen> first;
    for (auto& lp : logs) {
        AlignLog& L = *lp;
        L.remap.resize((size_t)L.vocab.size());
        for (int32_t v = 0; v < L.vocab.size(); ++v) {
            const int32_t g = all.id(L.vocab.code_points(v), L.vocab.length(v), L.vocab.hash(v));
            if ((size_t)g == first.size())
                first.push_back(L.first[(size_t)v]);
            else
                first[(size_t)g] = std::min(first[(size_t)g], L.first[(size_t)v]);
            L.remap[(size_t)v] = g;
        }
    }
    const size_t V = first.size();
    std::vector<int32_t> order(V);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return first[(size_t)a] < first[(size_t)b]; });
    std::vector<int64_t> rank(V);
    for (size_t r = 0; r < V; ++r) rank[(size_t)order[r]] = (int64_t)r;
    for (auto& lp : logs)
        for (int64_t& g : lp->remap) g = rank[(size_t)g];
    code_points.clear();
    code_points.reserve((size_t)all.total_code_points());
    starts.assign(1, 0);
    for (size_t r = 0; r < V; ++r) {
        const uint32_t* t = all.code_points(order[r]);
        code_points.insert(code_points.end(), t, t + all.length(order[r]));
        starts.push_back((int64_t)code_points.size());
    }
}

// Copies one run of a log to the outputs (see edit_distance.hpp).  counts:
// the (N, 6) counts of the call; hyp / ref: the token sequences (token input)
// or nullptr (text input: ids through log.remap).  Throws std::logic_error
// when the log and the counts or offsets disagree (never, unless the caller
// passes other counts than the call's).
inline void write_run(const AlignLog& log, const AlignLog::Run& run, const int64_t* counts,
                      const AlignOut& out, const SeqBatch* hyp, const SeqBatch* ref) {
    const uint8_t* op = log.ops.data() + run.ops_at;
    const uint8_t* const op_end = log.ops.data() + run.ops_end;
    const int32_t* ids = log.ids.data() + run.ids_at;
    const bool text = hyp == nullptr;
    for (int64_t i = run.first; i < run.first + run.count; ++i) {
        const int64_t* c = counts + 6 * i;
        const int64_t n_ops = c[0] + c[1] + c[2] + c[3], n_hyp = c[4], n_ref = c[5];
        const int64_t o = out.offsets[i];
        if (out.offsets[i + 1] - o != n_ops || n_ops > op_end - op)
            throw std::logic_error("align_write: the offsets of pair " + std::to_string(i) +
                                   " disagree with its counts");
        const int64_t* rv = nullptr;
        const int64_t* hv = nullptr;
        if (!text) {
            rv = static_cast<const int64_t*>(ref->data) + (ref->offsets ? ref->offsets[i] : i * ref->stride);
            hv = static_cast<const int64_t*>(hyp->data) + (hyp->offsets ? hyp->offsets[i] : i * hyp->stride);
        }
        int64_t r = 0, h = 0;
        for (int64_t k = 0; k < n_ops; ++k) {
            const uint8_t x = op[k];
            const bool has_ref = x != OP_INSERT, has_hyp = x != OP_DELETE;
            if (x > OP_INSERT || (has_ref && r >= n_ref) || (has_hyp && h >= n_hyp))
                throw std::logic_error("align_write: the ops of pair " + std::to_string(i) +
                                       " disagree with its lengths");
            out.ops[o + k] = x;
            if (has_ref) {
                out.ref_index[o + k] = (int32_t)r;
                out.ref_ids[o + k] = text ? log.remap[(size_t)ids[r]] : rv[r];
                ++r;
            } else {
                out.ref_index[o + k] = -1;
                out.ref_ids[o + k] = -1;
            }
            if (has_hyp) {
                out.hyp_index[o + k] = (int32_t)h;
                out.hyp_ids[o + k] = text ? log.remap[(size_t)ids[n_ref + h]] : hv[h];
                ++h;
            } else {
                out.hyp_index[o + k] = -1;
                out.hyp_ids[o + k] = -1;
            }
        }
        if (r != n_ref || h != n_hyp)
            throw std::logic_error("align_write: the ops of pair " + std::to_string(i) +
                                   " disagree with its lengths");
        op += n_ops;
        if (text) ids += n_ref + n_hyp;
    }
    if (op != op_end) throw std::logic_error("align_write: a log and the counts disagree");
}

}  // namespace
SEQLOSS_ISA_END
