// Greedy and beam-search decoding: checks, threads, results (compiled once,
// into seqloss._decode).  Semantics: decode/decode.hpp.
#include "decode/decode.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>

#include "core/dispatch.hpp"
#include "core/parallel.hpp"
#include "decode/beam_search.hpp"

namespace seqloss {
namespace {

using Registry = KernelRegistry<DecodeKernels>;
constexpr double kNegInf = -std::numeric_limits<double>::infinity();

template <typename T>
void check(const Emissions<T>& e, int64_t blank) {
    if (e.n_frames < 0 || e.batch < 0) throw std::invalid_argument("negative shape");
    if (e.n_classes < 1) throw std::invalid_argument("log_probs needs at least one class");
    if (blank < 0 || blank >= e.n_classes)
        throw std::invalid_argument("blank " + std::to_string(blank) + " out of range [0, " +
                                    std::to_string(e.n_classes) + ")");
    if (e.n_classes > (int64_t(1) << 31) - 1) throw std::invalid_argument("too many classes");
    if (e.n_frames > (int64_t(1) << 31) - 2) throw std::invalid_argument("too many frames");
    if (e.batch > 0 && e.n_frames > 0 && !e.x) throw std::invalid_argument("log_probs is null");
    if (e.lengths)
        for (int64_t n = 0; n < e.batch; ++n)
            if (e.lengths[n] < 0 || e.lengths[n] > e.n_frames)
                throw std::invalid_argument("input length " + std::to_string(e.lengths[n]) +
                                            " out of range [0, " + std::to_string(e.n_frames) + "]");
}

// Short rows run the AVX2 variant even where AVX-512 is available (half the
// lanes to reduce per row).
template <typename T>
auto argmax_fn(int64_t C) {
    const DecodeKernels& k = C < 128 ? Registry::at_most(Isa::Avx2) : Registry::active();
    if constexpr (std::is_same<T, float>::value) return k.argmax_f32;
    else return k.argmax_f64;
}

// Items in decreasing length (the longest start first), ties by index.
template <typename T>
std::vector<int64_t> longest_first(const Emissions<T>& e) {
    std::vector<int64_t> order(e.batch);
    std::iota(order.begin(), order.end(), 0);
    if (e.lengths)
        std::stable_sort(order.begin(), order.end(),
                         [&](int64_t a, int64_t b) { return e.lengths[a] > e.lengths[b]; });
    return order;
}

// The argmax of every used frame, as idx[t * st + n * sn] / val[...]: in one
// pass over memory order when the input is a dense (T, N, C) block (rows of
// one frame side by side), else item by item.
template <typename T>
struct Argmax {
    std::vector<int32_t> idx;
    std::vector<T> val;
    int64_t st = 0, sn = 0;
};

template <typename T>
void argmax_all(const Emissions<T>& e, int nt, Argmax<T>& a) {
    const auto fn = argmax_fn<T>(e.n_classes);
    const int64_t T_ = e.n_frames, N = e.batch, C = e.n_classes;
    a.idx.resize(T_ * N);
    a.val.resize(T_ * N);
    if (e.stride_n == C && e.stride_t == N * C) {
        int64_t used = 0;  // frames any item uses
        for (int64_t n = 0; n < N; ++n) used = std::max(used, e.length(n));
        a.st = N;
        a.sn = 1;
        const int64_t rows = used * N;
        constexpr int64_t kRows = 2048;
        parallel_for((rows + kRows - 1) / kRows, nt, Schedule::dynamic(1), [&](int64_t b, int64_t end) {
            const int64_t r0 = b * kRows, r1 = std::min(rows, end * kRows);
            fn(e.x + r0 * C, r1 - r0, C, C, a.idx.data() + r0, a.val.data() + r0);
        });
    } else {
        a.st = 1;
        a.sn = T_;
        parallel_for(N, nt, Schedule::blocks(), [&](int64_t b, int64_t end) {
            for (int64_t n = b; n < end; ++n)
                if (e.length(n) > 0)
                    fn(e.row(0, n), e.length(n), e.stride_t, C, a.idx.data() + n * T_,
                       a.val.data() + n * T_);
        });
    }
}

template <typename T>
void greedy_item(const Emissions<T>& e, int64_t n, int64_t blank, bool merge, const Argmax<T>& a,
                 ItemHyps& out) {
    const int64_t len = e.length(n);
    const int32_t* idx = a.idx.data() + n * a.sn;
    const T* val = a.val.data() + n * a.sn;
    HypInfo h;
    double score = 0;
    int32_t prev = -1;
    for (int64_t t = 0; t < len; ++t) {
        const int32_t k = idx[t * a.st];
        // Ctrl-C inside long items (from logits a frame costs C exponentials)
        if ((t & (e.from_logits ? 255 : 4095)) == 255) check_interrupt();
        const double lp = e.from_logits ? row_norm(e.row(t, n), e.n_classes).apply(val[t * a.st])
                                        : double(val[t * a.st]);
        score += lp;
        if (k != blank) {
            const double p = std::exp(lp);
            if (merge && k == prev) {
                TokenSpan& sp = out.spans.back();
                sp.end = t + 1;
                sp.conf_mean += p;  // (a sum until the run ends)
                sp.conf_min = std::min(sp.conf_min, p);
            } else {
                out.spans.push_back(TokenSpan{k, t, t + 1, p, p});
            }
        }
        prev = k;
    }
    for (TokenSpan& sp : out.spans) sp.conf_mean /= double(sp.end - sp.start);
    h.score = score;
    h.acoustic = score;
    h.length = static_cast<int64_t>(out.spans.size());
    out.hyps.assign(1, h);
}

}  // namespace

int64_t DecodeResult::max_length() const {
    int64_t w = 0;
    for (const ItemHyps& it : items)
        for (const HypInfo& h : it.hyps) w = std::max(w, h.length);
    return w;
}

void DecodeResult::emit(int64_t width, int64_t* counts, int64_t* lengths, double* scores,
                        double* acoustic, double* lm, double* hotword, int64_t* words,
                        int64_t* tokens, int64_t* starts, int64_t* ends, double* conf_mean,
                        double* conf_min) const {
    if (width < max_length()) throw std::invalid_argument("emit: width too small");
    const int64_t N = static_cast<int64_t>(items.size());
    const double nan = std::numeric_limits<double>::quiet_NaN();
    for (int64_t n = 0; n < N; ++n) {
        const ItemHyps& it = items[n];
        counts[n] = static_cast<int64_t>(it.hyps.size());
        for (int64_t r = 0; r < nbest; ++r) {
            const int64_t o = n * nbest + r;
            const bool have = r < counts[n];
            const HypInfo h = have ? it.hyps[r] : HypInfo{};
            const double missing = it.invalid ? nan : kNegInf;
            lengths[o] = have ? h.length : 0;
            scores[o] = have ? h.score : missing;
            acoustic[o] = have ? h.acoustic : missing;
            lm[o] = have ? h.lm : 0.0;
            hotword[o] = have ? h.hotword : 0.0;
            words[o] = have ? h.words : 0;
            const int64_t base = o * width;
            for (int64_t j = 0; j < width; ++j) {
                if (j < lengths[o]) {
                    const TokenSpan& s = it.spans[h.offset + j];
                    tokens[base + j] = s.token;
                    starts[base + j] = s.start;
                    ends[base + j] = s.end;
                    conf_mean[base + j] = s.conf_mean;
                    conf_min[base + j] = s.conf_min;
                } else {
                    tokens[base + j] = -1;
                    starts[base + j] = -1;
                    ends[base + j] = -1;
                    conf_mean[base + j] = 0.0;
                    conf_min[base + j] = 0.0;
                }
            }
        }
    }
}

template <typename T>
void ctc_greedy(const Emissions<T>& e, int64_t blank, bool merge_repeated, int n_threads,
                DecodeResult& out) {
    check(e, blank);
    if (n_threads < 1) throw std::invalid_argument("n_threads must be positive");
    out.nbest = 1;
    out.items.assign(e.batch, ItemHyps{});
    // a few microseconds per item: threads only for big batches
    const int64_t cells = e.batch * e.n_frames * e.n_classes;
    const int nt = cells < (int64_t(1) << 18) ? 1 : n_threads;
    Argmax<T> a;
    argmax_all(e, nt, a);
    // one item per range: Ctrl-C is checked between them (and inside long items)
    parallel_for(e.batch, nt, Schedule::dynamic(1), [&](int64_t b, int64_t end) {
        for (int64_t n = b; n < end; ++n) greedy_item(e, n, blank, merge_repeated, a, out.items[n]);
    });
}

template <typename T>
void ctc_beam_search(const Emissions<T>& e, const BeamOptions& opt, const Lexicon* lexicon,
                     const NgramModel* lm, const HotwordSet* hotwords, int n_threads,
                     DecodeResult& out) {
    check(e, opt.blank);
    if (n_threads < 1) throw std::invalid_argument("n_threads must be positive");
    if (opt.beam_width < 1) throw std::invalid_argument("beam_width must be positive");
    if (opt.nbest < 1 || opt.nbest > opt.beam_width)
        throw std::invalid_argument("nbest must be in [1, beam_width]");
    if ((lm || hotwords) && !lexicon) throw std::invalid_argument("an LM or hotwords need tokens");
    if (lexicon && lexicon->size() != e.n_classes)
        throw std::invalid_argument("tokens must have one entry per class");
    if (lm && !opt.lm_tokens && !lexicon->words())
        throw std::invalid_argument("a word-level LM needs a word delimiter");
    if (std::isnan(opt.lm_weight) || std::isnan(opt.word_score) || std::isnan(opt.unk_offset) ||
        std::isnan(opt.token_min_logp) || std::isnan(opt.beam_prune_logp))
        throw std::invalid_argument("NaN decoding option");
    out.nbest = opt.nbest;
    out.items.assign(e.batch, ItemHyps{});
    const beam::Search search(opt, lexicon, lm, hotwords, e.n_classes);
    const std::vector<int64_t> order = longest_first(e);
    parallel_for(
        e.batch, n_threads, Schedule::dynamic(1),
        [] {
            static thread_local beam::Workspace ws;
            struct Lease {  // gives a huge workspace's memory back afterwards
                beam::Workspace* w;
                ~Lease() { w->trim(); }
            };
            return Lease{&ws};
        },
        [&](int64_t b, int64_t end, auto& lease) {
            for (int64_t i = b; i < end; ++i) search.run(e, order[i], *lease.w, out.items[order[i]]);
        });
}

template void ctc_greedy<float>(const Emissions<float>&, int64_t, bool, int, DecodeResult&);
template void ctc_greedy<double>(const Emissions<double>&, int64_t, bool, int, DecodeResult&);
template void ctc_beam_search<float>(const Emissions<float>&, const BeamOptions&, const Lexicon*,
                                     const NgramModel*, const HotwordSet*, int, DecodeResult&);
template void ctc_beam_search<double>(const Emissions<double>&, const BeamOptions&,
                                      const Lexicon*, const NgramModel*, const HotwordSet*, int,
                                      DecodeResult&);

void install_decode_kernels(int level, const void* table) { Registry::install(level, table); }

}  // namespace seqloss
