// The CTC prefix beam search of one utterance (pure C++17, single-threaded;
// decode.cpp runs utterances in parallel).  Semantics: decode/decode.hpp.
//
// Prefixes live in a trie for the utterance (Node: parent, token, and every
// score part that depends on the prefix alone: LM context and log-prob of the
// completed words, the partial word, hotword state, word count, fusion).  A
// beam entry holds a node and the prefix's acoustic log-probabilities at the
// current frame: pb (paths ending in blank), pnb (ending in its last token),
// and the Viterbi maxima vb / vnb with the token spans of the best path.
//
// One frame t, with y = the frame's log-probs:
//   1. every entry stays: pb' = (pb (+) pnb) + y[blank]; pnb' = pnb + y[last];
//   2. an entry whose parent is in the beam also gets the parent's extension:
//      pnb' (+)= (last == parent's last ? parent.pb : parent.pb (+) parent.pnb) + y[last];
//   3. theta = the beam_width-th best score so far (a min-heap of the best
//      scores; a lower bound of the final cut that rises as candidates come):
//      entries are tried best first, each with the frame's tokens in
//      decreasing y (the best 24 sorted, the rest checked one by one); a new
//      prefix (entry, c) is only made if its bound, the extension's acoustic
//      log-prob + the entry's fusion + what one token can add (complete_bound:
//      word score, LM, the partial-word penalty taken back; hotword bonus),
//      reaches theta, and an entry stops at its first sorted miss.  This
//      pruning is exact: the beam is the same as with every token expanded.
//      Without LM and hotwords the bound is the score, and trie nodes are
//      made only for the candidates that survive the frame.
//   4. what reaches the heap's smallest score and best + beam_prune_logp
//      stays (ties beyond beam_width broken by node id).
// (+) is log-add-exp; ties in the Viterbi maxima keep the path that stays
// (the older one), then the one from the blank state.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <new>
#include <string>
#include <vector>

#include "core/parallel.hpp"
#include "decode/decode.hpp"
#include "decode/lexicon.hpp"
#include "decode/ngram.hpp"

namespace seqloss {
namespace beam {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();
constexpr double kLn10 = 2.302585092994045684;
constexpr std::size_t kMaxIds = (std::size_t(1) << 31) - 2;  // trie nodes, span records
constexpr uint64_t kHashStart = 0xcbf29ce484222325ULL;  // hash_bytes of ""

inline double log_add(double a, double b) {
    if (a < b) std::swap(a, b);
    if (b == kNegInf) return a;
    return a + std::log1p(std::exp(b - a));
}

// Spans of the tokens before a state's last token: a persistent list.
struct Rec {
    int32_t start, end, parent;  // [start, end) of one token; parent = the token before
};

// The Viterbi path of one state (b or nb) of a prefix.
struct Hist {
    int32_t rec = -1;     // spans of the tokens before the last
    int32_t ls = -1;      // start of the last token
    int32_t le = -1;      // end of the last token (blank state; nb: the frame + 1)
    // a new last token whose earlier spans are not stored yet (materialised
    // only if the entry survives the frame)
    bool pending = false;
    int32_t src_rec = -1, src_ls = -1, src_le = -1;
};

struct Node {
    int32_t parent = -1, token = -1;
    int32_t slot = -1;                 // index in the frame's candidates, or -1
    int32_t ctx = 0, ctx_len = 0;      // LM context in the context arena
    int32_t part = 0, part_len = 0;    // partial word in the text arena (bytes)
    uint64_t part_hash = kHashStart;   // hash_bytes of the partial word (running)
    int32_t part_chars = 0;
    int32_t hot = 0;                   // hotword state
    bool hot_space = false;            // the last hotword unit was a space
    int64_t words = 0;
    double lm = 0;                     // ln P of the completed words (+ OOV offsets)
    double penalty = 0;                // partial word starting no vocabulary word (<= 0)
    double hot_banked = 0;
    double fusion = 0;                 // lm_weight (lm + penalty) + word_score words + hotwords
};

struct Entry {
    int32_t node;          // -1: a new prefix not in the trie yet (parent slot, token)
    int32_t pslot = -1, tok = -1;
    double pb, pnb, vb, vnb;
    Hist hb, hnb;
    double tot;    // pb (+) pnb
    double score;  // tot + fusion
};

// Scratch of one thread, kept across utterances (and calls).
struct Workspace {
    std::vector<Node> nodes;
    struct Slot {
        uint64_t key;  // (parent << 32 | token) + 1
        int32_t node;
        uint32_t gen;  // the utterance that wrote it: older slots are empty
    };
    std::vector<Slot> index;  // child lookup, open addressing
    std::size_t n_keys = 0;
    uint32_t gen = 1;         // this utterance (reset() starts a new one: O(1))
    std::vector<int32_t> ctx;    // LM context arena
    std::string text;            // partial word arena
    std::vector<Rec> recs;
    std::vector<Entry> beam, cand;
    std::vector<double> y;        // the frame's log-probs
    std::vector<RowNorm> norms;   // per-frame normalisers (from_logits)
    std::vector<int32_t> toks;   // tokens tried this frame
    std::vector<int32_t> order;
    std::vector<double> heap;
    std::vector<uint64_t> inbeam;  // (parent slot << 32 | token) + 1 of the frame's
                                   // in-beam children, open addressing
    std::vector<std::pair<double, int32_t>> finals;
    std::vector<char> allowed;   // tokens kept by token_min_logp this frame
    struct Final {
        double total, acoustic, lm, hot;
        int64_t words;
    };
    std::vector<Final> fin;
    std::vector<int32_t> path;   // a hypothesis's tokens, last first

    void reset() {
        nodes.clear();
        if (index.size() > 16 * std::max<std::size_t>(n_keys, 1024)) {
            // far bigger than the last utterance needed: lookups would spread over
            // memory (cache and TLB misses); start small again, it grows as needed
            std::size_t sz = 1024;
            while (sz < 4 * n_keys) sz <<= 1;
            index.assign(sz, Slot{0, 0, 0});
            gen = 0;
        }
        if (++gen == 0) {  // (after 2**32 utterances: clear for real)
            std::fill(index.begin(), index.end(), Slot{0, 0, 0});
            gen = 1;
        }
        n_keys = 0;
        ctx.clear();
        text.clear();
        recs.clear();
        beam.clear();
        cand.clear();
    }
    void trim() {  // after a huge utterance, give the memory back
        if (nodes.capacity() * sizeof(Node) + recs.capacity() * sizeof(Rec) +
                index.capacity() * sizeof(Slot) > (std::size_t(64) << 20)) {
            *this = Workspace();
        }
    }
};

class Search {
public:
    Search(const BeamOptions& opt, const Lexicon* lex, const NgramModel* lm,
           const HotwordSet* hot, int64_t n_classes)
        : opt_(opt), lex_(lex), lm_(lm), hot_(hot), C_(n_classes) {
        if (lm_ && opt_.lm_tokens) {
            for (int64_t c = 0; c < C_; ++c) lm_ids_.push_back(lm_->find(lex_->full(c)));
        }
        // How much the fusion can rise with one token.  A token that completes
        // a word (a delimiter or a word start; every token of a token LM) adds
        // at most one word and one LM log-prob; when the partial word carried
        // the penalty the word is out of the vocabulary, so dropping the penalty
        // is offset by unk_offset (see bound()).  A letter appended to a
        // partial word adds nothing: no word, no LM term, and the penalty can
        // only stay or grow.  Hotwords add at most max_unit_gain per unit.
        gain_word_ = std::max(0.0, opt_.word_score);
        if (lm_) gain_word_ += opt_.lm_weight * std::max(0.0, double(lm_->max_score()) * kLn10);
        completes_.assign(C_, 0);
        for (int64_t c = 0; c < C_; ++c) {
            const TokenKind k = lex_ ? lex_->kind(c) : TokenKind::Plain;
            completes_[c] = (lm_ && opt_.lm_tokens) ||
                            (lex_ && lex_->words() &&
                             (k == TokenKind::Delimiter || k == TokenKind::WordStart));
        }
        hot_gain_.assign(C_, 0.0);
        if (hot_)
            for (int64_t c = 0; c < C_; ++c)
                hot_gain_[c] = hot_->max_unit_gain() * double(lex_->n_units(c));
        max_hot_gain_ = *std::max_element(hot_gain_.begin(), hot_gain_.end());
        defer_ = !lm_ && !hot_;
    }

    template <typename T>
    void run(const Emissions<T>& e, int64_t n, Workspace& w, ItemHyps& out) const;

private:
    const BeamOptions& opt_;
    const Lexicon* lex_;
    const NgramModel* lm_;
    const HotwordSet* hot_;
    int64_t C_;
    std::vector<int32_t> lm_ids_;
    double gain_word_ = 0;          // bound of a word-completing token's rise
    std::vector<char> completes_;   // the token completes a word
    std::vector<double> hot_gain_;  // hotword bound per token
    double max_hot_gain_ = 0;
    bool defer_ = false;            // no LM and no hotwords: nodes made for survivors only

    // The rise of the fusion from node n by a word-completing token is at
    // most complete_bound(n) (+ the token's hotword bound); bound_any: by any token.
    double complete_bound(const Node& n) const {
        double g = gain_word_;
        if (lm_ && n.penalty < 0) g += opt_.lm_weight * std::max(0.0, opt_.unk_offset - n.penalty);
        return g;
    }
    double bound_any(const Node& n) const { return complete_bound(n) + max_hot_gain_; }

    int32_t root(Workspace& w) const;
    int32_t child(Workspace& w, int32_t parent, int32_t c) const;
    void make_node(Workspace& w, Node& n, const Node& p, int32_t c) const;
    void complete_word(Workspace& w, Node& n, std::string_view word, uint64_t hash) const;
    double lm_word(Workspace& w, Node& n, int32_t id, bool oov) const;
    void finals(Workspace& w, const Node& n, double* lm, int64_t* words, double* hot) const;
    void materialise(Workspace& w, Hist& h) const {
        if (!h.pending) return;
        if (h.src_ls >= 0) {
            if (w.recs.size() >= kMaxIds) throw std::bad_alloc();  // (ids are int32)
            w.recs.push_back(Rec{h.src_ls, h.src_le, h.src_rec});
            h.rec = static_cast<int32_t>(w.recs.size() - 1);
        } else {
            h.rec = -1;
        }
        h.pending = false;
    }
};

inline int32_t Search::root(Workspace& w) const {
    Node r;
    if (lm_) {
        r.ctx = 0;
        r.ctx_len = 1;
        w.ctx.push_back(lm_->bos());
    }
    if (hot_ && lex_->words()) {
        double b = 0;
        r.hot = hot_->step(0, kSpaceUnit, &b);
        r.hot_banked = b;
        r.hot_space = true;
    }
    r.fusion = r.hot_banked + (hot_ ? hot_->partial(r.hot) : 0.0);
    w.nodes.push_back(r);
    return 0;
}

// ln P(word | context) with the OOV offset; advances the node's context.
inline double Search::lm_word(Workspace& w, Node& n, int32_t id, bool oov) const {
    const int32_t* ctx = w.ctx.data() + n.ctx;
    double s = double(lm_->score(ctx, n.ctx_len, id)) * kLn10 + (oov ? opt_.unk_offset : 0.0);
    const int keep = std::max(0, std::min(n.ctx_len, lm_->order() - 2));
    if (w.ctx.size() >= kMaxIds - 64) throw std::bad_alloc();  // (offsets are int32)
    const int32_t off = static_cast<int32_t>(w.ctx.size());
    for (int i = n.ctx_len - keep; i < n.ctx_len; ++i) w.ctx.push_back(w.ctx[n.ctx + i]);
    w.ctx.push_back(id);
    n.ctx = off;
    n.ctx_len = keep + 1;
    return s;
}

inline void Search::complete_word(Workspace& w, Node& n, std::string_view word,
                                  uint64_t hash) const {
    n.words += 1;
    if (!lm_) return;
    const int32_t id = lm_->find(word, hash_finish(hash));
    n.lm += lm_word(w, n, id < 0 ? lm_->unk() : id, id < 0);
}

inline void Search::make_node(Workspace& w, Node& n, const Node& p, int32_t c) const {
    if (w.text.size() >= kMaxIds / 2) throw std::bad_alloc();  // (offsets are int32)
    const TokenKind kind = lex_ ? lex_->kind(c) : TokenKind::Plain;
    if (lm_ && opt_.lm_tokens) {
        n.words += 1;
        const int32_t id = lm_ids_[c];
        n.lm += lm_word(w, n, id < 0 ? lm_->unk() : id, id < 0);
    } else if (lex_ && lex_->words()) {
        const std::string_view t = lex_->text(c);  // letters (a word-start token's after "▁")
        if (kind == TokenKind::Plain) {
            if (lm_) {
                const int32_t off = static_cast<int32_t>(w.text.size());
                w.text.append(w.text, p.part, p.part_len);
                w.text.append(t.data(), t.size());
                n.part = off;
                n.part_hash = hash_bytes(t.data(), t.size(), p.part_hash);
            }
            n.part_len = p.part_len + static_cast<int32_t>(t.size());
            n.part_chars = p.part_chars + static_cast<int32_t>(lex_->n_units(c));
        } else {
            if (p.part_len > 0) {
                const std::string_view word =
                    lm_ ? std::string_view(w.text).substr(p.part, p.part_len) : std::string_view();
                complete_word(w, n, word, p.part_hash);
            }
            if (lm_) {
                n.part = static_cast<int32_t>(w.text.size());
                w.text.append(t.data(), t.size());
                n.part_hash = hash_bytes(t.data(), t.size(), kHashStart);
            }
            n.part_len = static_cast<int32_t>(t.size());
            n.part_chars = static_cast<int32_t>(lex_->n_units(c)) - 1;
        }
        n.penalty = 0;
        if (lm_ && n.part_len > 0 && !lm_->is_word_prefix_hash(hash_finish(n.part_hash)))
            n.penalty = opt_.unk_offset * (n.part_chars > 6 ? n.part_chars / 6.0 : 1.0);
    }
    if (hot_) {
        const uint32_t* u = lex_->units(c);
        for (int64_t i = 0, m = lex_->n_units(c); i < m; ++i) {
            if (u[i] == kSpaceUnit && n.hot_space) continue;
            n.hot = hot_->step(n.hot, u[i], &n.hot_banked);
            n.hot_space = u[i] == kSpaceUnit;
        }
    }
    n.fusion = opt_.word_score * double(n.words) + n.hot_banked +
               (hot_ ? hot_->partial(n.hot) : 0.0) +
               (lm_ ? opt_.lm_weight * (n.lm + n.penalty) : 0.0);
}

inline int32_t Search::child(Workspace& w, int32_t parent, int32_t c) const {
    using Slot = Workspace::Slot;
    const uint32_t gen = w.gen;
    if (2 * (w.n_keys + 1) > w.index.size()) {  // grow the index
        std::vector<Slot> index(std::max<std::size_t>(1024, w.index.size() * 2), Slot{0, 0, 0});
        const std::size_t mask = index.size() - 1;
        for (const Slot& e : w.index) {
            if (e.gen != gen) continue;
            std::size_t s = hash_finish(e.key) & mask;
            while (index[s].gen == gen) s = (s + 1) & mask;
            index[s] = e;
        }
        w.index.swap(index);
    }
    const uint64_t key = ((static_cast<uint64_t>(parent) << 32) | static_cast<uint32_t>(c)) + 1;
    const std::size_t mask = w.index.size() - 1;
    std::size_t s = hash_finish(key) & mask;
    for (; w.index[s].gen == gen; s = (s + 1) & mask)
        if (w.index[s].key == key) return w.index[s].node;
    if (w.nodes.size() >= kMaxIds) throw std::bad_alloc();  // (ids are int32)
    const int32_t id = static_cast<int32_t>(w.nodes.size());
    w.index[s] = Slot{key, id, gen};
    ++w.n_keys;
    Node n = w.nodes[parent];
    n.parent = parent;
    n.token = c;
    n.slot = -1;
    make_node(w, n, w.nodes[parent], c);
    w.nodes.push_back(n);
    return id;
}

// The end of the utterance: the partial word is a word, </s> is scored, the
// hotword stream ends with a space and partial bonuses are dropped.
inline void Search::finals(Workspace& w, const Node& node, double* lm, int64_t* words,
                           double* hot) const {
    Node n = node;
    if (!(lm_ && opt_.lm_tokens) && lex_ && lex_->words() && n.part_len > 0) {
        const std::string_view word =
            lm_ ? std::string_view(w.text).substr(n.part, n.part_len) : std::string_view();
        complete_word(w, n, word, n.part_hash);
    }
    if (lm_) n.lm += lm_word(w, n, lm_->eos(), false);
    double banked = n.hot_banked;
    if (hot_ && lex_->words() && !n.hot_space) hot_->step(n.hot, kSpaceUnit, &banked);
    *lm = n.lm;
    *words = n.words;
    *hot = banked;
}

template <typename T>
void Search::run(const Emissions<T>& e, int64_t item, Workspace& w, ItemHyps& out) const {
    const int64_t len = e.length(item);
    const int64_t K = opt_.beam_width;
    const int32_t blank = static_cast<int32_t>(opt_.blank);
    const bool prune_tokens = opt_.token_min_logp > kNegInf;
    w.reset();
    w.y.resize(C_);
    w.norms.assign(e.from_logits ? len : 0, RowNorm{});
    {
        const int32_t r = root(w);
        Entry z;
        z.node = r;
        z.pb = 0;
        z.pnb = kNegInf;
        z.vb = 0;
        z.vnb = kNegInf;
        z.tot = 0;
        z.score = w.nodes[r].fusion;
        w.beam.push_back(z);
    }
    std::vector<char>& allowed = w.allowed;  // (token pruning only)
    if (prune_tokens) allowed.resize(C_);
    for (int64_t t = 0; t < len; ++t) {
        if ((t & 255) == 255) check_interrupt();
        // the frame: normalised, checked, its best token
        const T* row = e.row(t, item);
#if defined(__GNUC__) || defined(__clang__)
        if (t + 2 < len) {  // rows of one item lie far apart (time-major): fetch ahead
            const char* ahead = reinterpret_cast<const char*>(e.row(t + 2, item));
            for (int64_t b = 0; b < C_ * int64_t(sizeof(T)) && b < 512; b += 64)
                __builtin_prefetch(ahead + b);
        }
#endif
        double* y = w.y.data();
        bool bad = false;
        int32_t best = 0;
        double ybest = kNegInf;
        for (int64_t c = 0; c < C_; ++c) {
            const double v = static_cast<double>(row[c]);
            bad |= !(v < std::numeric_limits<double>::infinity());  // NaN or +inf
            y[c] = v;
            if (v > ybest) {
                ybest = v;
                best = static_cast<int32_t>(c);
            }
        }
        if (bad) {
            out.invalid = true;
            return;
        }
        if (e.from_logits) {
            const RowNorm z = row_norm(row, C_);
            if (z.m == kNegInf) {
                out.invalid = true;  // a frame of -inf logits has no distribution
                return;
            }
            for (int64_t c = 0; c < C_; ++c) y[c] = z.apply(y[c]);
            w.norms[t] = z;
        }
        if (prune_tokens)
            for (int64_t c = 0; c < C_; ++c)
                allowed[c] = y[c] >= opt_.token_min_logp || c == best;
        auto ok = [&](int64_t c) { return !prune_tokens || allowed[c]; };
        const double yb = ok(blank) ? y[blank] : kNegInf;

        // 1. stays
        w.cand.clear();
        for (std::size_t i = 0; i < w.beam.size(); ++i) {
            const Entry& b = w.beam[i];
            Node& nd = w.nodes[b.node];
            Entry x;
            x.node = b.node;
            const double tot = b.tot;
            x.pb = tot + yb;
            if (b.vb >= b.vnb) {
                x.vb = b.vb + yb;
                x.hb = b.hb;
            } else {
                x.vb = b.vnb + yb;
                x.hb = b.hnb;
                x.hb.le = static_cast<int32_t>(t);
            }
            if (nd.token >= 0 && ok(nd.token)) {
                x.pnb = b.pnb + y[nd.token];
                x.vnb = b.vnb + y[nd.token];
                x.hnb = b.hnb;
            } else {
                x.pnb = kNegInf;
                x.vnb = kNegInf;
            }
            nd.slot = static_cast<int32_t>(i);
            w.cand.push_back(x);
        }
        // 2. extensions into prefixes already in the beam
        auto extend = [&](const Entry& p, int32_t c, Entry& x) {
            const Node& pn = w.nodes[p.node];
            const bool same = pn.token == c;
            const double pe = (same ? p.pb : p.tot) + y[c];
            x.pnb = log_add(x.pnb, pe);
            const bool from_b = same || p.vb >= p.vnb;
            const double ve = (from_b ? p.vb : p.vnb) + y[c];
            if (ve > x.vnb) {
                x.vnb = ve;
                Hist h;
                h.pending = true;
                h.ls = static_cast<int32_t>(t);
                const Hist& src = from_b ? p.hb : p.hnb;
                h.src_rec = src.rec;  // (the previous beam's spans are materialised)
                h.src_ls = src.ls;
                h.src_le = from_b ? src.le : static_cast<int32_t>(t);
                x.hnb = h;
            }
        };
        std::size_t in_mask = 0;
        if (defer_) {
            std::size_t sz = 16;
            while (sz < 4 * w.cand.size()) sz <<= 1;
            w.inbeam.assign(sz, 0);
            in_mask = sz - 1;
        }
        for (std::size_t i = 0; i < w.cand.size(); ++i) {
            const Node& nd = w.nodes[w.cand[i].node];
            if (nd.parent < 0) continue;
            const int32_t ps = w.nodes[nd.parent].slot;
            if (ps < 0) continue;
            if (defer_) {
                const uint64_t key = ((uint64_t(ps) << 32) | uint32_t(nd.token)) + 1;
                std::size_t h = hash_finish(key) & in_mask;
                while (w.inbeam[h]) h = (h + 1) & in_mask;
                w.inbeam[h] = key;
            }
            if (!ok(nd.token)) continue;
            extend(w.beam[ps], nd.token, w.cand[i]);
        }
        auto in_beam = [&](int32_t ps, int32_t c) {
            const uint64_t key = ((uint64_t(ps) << 32) | uint32_t(c)) + 1;
            for (std::size_t h = hash_finish(key) & in_mask; w.inbeam[h]; h = (h + 1) & in_mask)
                if (w.inbeam[h] == key) return true;
            return false;
        };
        // 3. theta = the beam_width-th best score so far (a min-heap of the
        // best scores): it rises as candidates come, best entries and tokens first
        auto heap_less = [](double a, double b) { return a > b; };
        auto heap_add = [&](double v) {
            w.heap.push_back(v);
            std::push_heap(w.heap.begin(), w.heap.end(), heap_less);
            if (static_cast<int64_t>(w.heap.size()) > K) {
                std::pop_heap(w.heap.begin(), w.heap.end(), heap_less);
                w.heap.pop_back();
            }
        };
        double best_score = kNegInf;
        w.heap.clear();
        for (Entry& x : w.cand) {
            x.tot = log_add(x.pb, x.pnb);
            x.score = x.tot + w.nodes[x.node].fusion;
            best_score = std::max(best_score, x.score);
            heap_add(x.score);
        }
        double theta = best_score + opt_.beam_prune_logp;
        if (static_cast<int64_t>(w.heap.size()) == K) theta = std::max(theta, w.heap.front());
        // tokens that can reach theta from some entry, best first
        double top = kNegInf;
        for (const Entry& b : w.beam) {
            const Node& nd = w.nodes[b.node];
            top = std::max(top, b.tot + nd.fusion + bound_any(nd));
        }
        w.toks.clear();
        const double ymin = theta - top;
        for (int64_t c = 0; c < C_; ++c)
            if (c != blank && y[c] >= ymin && y[c] > kNegInf && ok(c))
                w.toks.push_back(static_cast<int32_t>(c));
        // the best kSorted in order (most entries stop among them), the rest after
        // them unsorted (checked one by one)
        constexpr std::size_t kSorted = 24;
        const std::size_t n_sorted = std::min(kSorted, w.toks.size());
        std::partial_sort(w.toks.begin(), w.toks.begin() + n_sorted, w.toks.end(),
                          [&](int32_t a, int32_t b) {
                              return y[a] > y[b] || (y[a] == y[b] && a < b);
                          });
        w.order.resize(w.beam.size());
        for (std::size_t i = 0; i < w.beam.size(); ++i) w.order[i] = static_cast<int32_t>(i);
        std::sort(w.order.begin(), w.order.end(),
                  [&](int32_t a, int32_t b) { return w.cand[a].score > w.cand[b].score; });
        for (const int32_t i : w.order) {
            const Entry& p = w.beam[i];
            const Node& pn = w.nodes[p.node];
            const double tot = p.tot;
            if (tot == kNegInf) continue;
            const double fus = pn.fusion;
            const double lim = tot + fus + bound_any(pn);
            const double cb = complete_bound(pn);
            const int32_t last = pn.token;
            const double pb = p.pb;
            const bool has_part = pn.part_len > 0;
            for (std::size_t j = 0; j < w.toks.size(); ++j) {
                const int32_t c = w.toks[j];
                if (lim + y[c] < theta) {
                    if (j < n_sorted) break;  // (sorted: every later token is lower)
                    continue;
                }
                const double pe = (c == last ? pb : tot) + y[c];
                if (pe + fus + (completes_[c] ? cb : 0.0) + hot_gain_[c] < theta) continue;
                if (defer_) {
                    // no LM, no hotwords: the fusion only counts words, so the score
                    // is known without the node; nodes are made for the survivors
                    const double score = pe + fus + (completes_[c] && has_part ? opt_.word_score : 0.0);
                    if (score < theta || in_beam(i, c)) continue;
                    Entry x;
                    x.node = -1;
                    x.pslot = i;
                    x.tok = c;
                    x.pb = kNegInf;
                    x.vb = kNegInf;
                    x.pnb = kNegInf;
                    x.vnb = kNegInf;
                    extend(w.beam[i], c, x);
                    x.tot = x.pnb;
                    x.score = score;
                    w.cand.push_back(x);
                    heap_add(x.score);
                    if (static_cast<int64_t>(w.heap.size()) == K) theta = std::max(theta, w.heap.front());
                    continue;
                }
                const int32_t ch = child(w, p.node, c);
                if (w.nodes[ch].slot >= 0) continue;  // in the beam: done in step 2
                Entry x;
                x.node = ch;
                x.pb = kNegInf;
                x.vb = kNegInf;
                x.pnb = kNegInf;
                x.vnb = kNegInf;
                extend(w.beam[i], c, x);
                x.tot = x.pnb;
                x.score = x.pnb + w.nodes[ch].fusion;
                if (x.score < theta) continue;
                w.nodes[ch].slot = static_cast<int32_t>(w.cand.size());
                w.cand.push_back(x);
                heap_add(x.score);
                if (static_cast<int64_t>(w.heap.size()) == K) theta = std::max(theta, w.heap.front());
            }
        }
        // 4. selection
        best_score = kNegInf;
        for (const Entry& x : w.cand) best_score = std::max(best_score, x.score);
        const double floor = best_score + opt_.beam_prune_logp;
        auto better = [&](const Entry& a, const Entry& b) {
            return a.score > b.score || (a.score == b.score && a.node < b.node);
        };
        // the heap holds the beam_width best scores: keep what reaches its
        // smallest (ties beyond beam_width broken by node id)
        const double kth = static_cast<int64_t>(w.heap.size()) == K ? w.heap.front() : kNegInf;
        const double cut = std::max(kth, floor);
        for (Entry& x : w.cand) {
            if (x.node >= 0) w.nodes[x.node].slot = -1;
            if (!(x.score >= cut) || x.score == kNegInf) {
                x.score = kNegInf;  // dropped
                continue;
            }
            if (x.node < 0) x.node = child(w, w.beam[x.pslot].node, x.tok);  // (old beam)
            materialise(w, x.hb);
            materialise(w, x.hnb);
        }
        w.beam.clear();
        for (const Entry& x : w.cand)
            if (x.score > kNegInf) w.beam.push_back(x);
        if (static_cast<int64_t>(w.beam.size()) > K) {
            std::nth_element(w.beam.begin(), w.beam.begin() + (K - 1), w.beam.end(), better);
            w.beam.resize(K);
        }
        if (w.beam.empty()) {  // every path impossible; a NaN/+inf later still flags the item
            for (int64_t t2 = t + 1; t2 < len; ++t2) {
                const T* r2 = e.row(t2, item);
                for (int64_t c = 0; c < C_; ++c)
                    if (!(double(r2[c]) < std::numeric_limits<double>::infinity())) {
                        out.invalid = true;
                        return;
                    }
            }
            break;
        }
    }
    // final scores
    w.finals.clear();
    using Final = Workspace::Final;
    std::vector<Final>& fin = w.fin;
    fin.resize(w.beam.size());
    for (std::size_t i = 0; i < w.beam.size(); ++i) {
        const Entry& b = w.beam[i];
        Final& f = fin[i];
        f.acoustic = b.tot;
        finals(w, w.nodes[b.node], &f.lm, &f.words, &f.hot);
        f.total = f.acoustic + opt_.word_score * double(f.words) + f.hot +
                  (lm_ ? opt_.lm_weight * f.lm : 0.0);
        if (f.acoustic == kNegInf) f.total = kNegInf;
        w.finals.push_back({f.total, static_cast<int32_t>(i)});
    }
    std::sort(w.finals.begin(), w.finals.end(), [&](const auto& a, const auto& b) {
        return a.first > b.first ||
               (a.first == b.first && w.beam[a.second].node < w.beam[b.second].node);
    });
    const int64_t n_out = std::min<int64_t>(opt_.nbest, static_cast<int64_t>(w.finals.size()));
    std::vector<int32_t>& toks = w.path;
    for (int64_t r = 0; r < n_out; ++r) {
        const int32_t i = w.finals[r].second;
        if (w.finals[r].first == kNegInf) break;
        const Entry& b = w.beam[i];
        const Final& f = fin[i];
        HypInfo h;
        h.score = f.total;
        h.acoustic = f.acoustic;
        h.lm = f.lm;
        h.hotword = f.hot;
        h.words = f.words;
        h.offset = static_cast<int64_t>(out.spans.size());
        toks.clear();
        for (int32_t v = b.node; w.nodes[v].parent >= 0; v = w.nodes[v].parent)
            toks.push_back(w.nodes[v].token);
        h.length = static_cast<int64_t>(toks.size());
        out.spans.resize(out.spans.size() + toks.size());
        TokenSpan* sp = out.spans.data() + h.offset;
        if (!toks.empty()) {
            const bool nb = b.vnb >= b.vb;
            const Hist& hs = nb ? b.hnb : b.hb;
            int64_t k = h.length - 1;
            sp[k].start = hs.ls;
            sp[k].end = nb ? len : hs.le;
            for (int32_t r2 = hs.rec; r2 >= 0 && k > 0; r2 = w.recs[r2].parent) {
                --k;
                sp[k].start = w.recs[r2].start;
                sp[k].end = w.recs[r2].end;
            }
            for (int64_t j = 0; j < h.length; ++j) {
                const int32_t tok = toks[h.length - 1 - j];
                sp[j].token = tok;
                double sum = 0, mn = 1;
                for (int64_t f2 = sp[j].start; f2 < sp[j].end; ++f2) {
                    const double v = double(e.row(f2, item)[tok]);
                    const double p = std::exp(e.from_logits ? w.norms[f2].apply(v) : v);
                    sum += p;
                    mn = std::min(mn, p);
                }
                const int64_t span = sp[j].end - sp[j].start;
                sp[j].conf_mean = span > 0 ? sum / double(span) : 0.0;
                sp[j].conf_min = span > 0 ? mn : 0.0;
            }
        }
        out.hyps.push_back(h);
    }
}

}  // namespace beam
}  // namespace seqloss
