// CTC decoding: greedy (best path) and prefix beam search with n-gram LM
// fusion and hotwords (pure C++17).
//
// Memory layout of the input (any strides; rows contiguous over classes):
//   log_probs  (T, N, C)  element (t, n, c) at  x[t * stride_t + n * stride_n + c]
//   lengths    (N,)       frames of item n (<= T), or nullptr for all T
// Values are natural-log probabilities (log_softmax output), or logits with
// from_logits (each frame is then log-softmax normalised; greedy's argmax
// does not need it, its scores and confidences do).
//
// Results (DecodeResult) are per item: up to nbest hypotheses, best first,
// each with its token ids, the span of every token on the hypothesis's most
// probable frame path ([start, end): end exclusive), the mean and minimum
// frame probability over each span, and the score parts.  emit() writes them
// into padded arrays (Python allocates them once the widest is known).
//
// Greedy: per frame the argmax (first index of the maximum; a NaN counts as
// the maximum, the first NaN wins, as torch.argmax).  merge_repeated: runs of
// equal argmax collapse, then blanks are dropped (A A _ A A -> A A); without:
// blanks are dropped and every other frame is a token (-> A A A A, as
// TensorFlow's ctc_greedy_decoder).
//
// Beam search (decode/beam_search.hpp): the CTC prefix beam search keeping a
// blank-ending and a non-blank-ending log-probability per prefix; the score a
// prefix is ranked by is acoustic + fusion, fusion = lm_weight * (LM log-prob
// of its completed words + a pending penalty for a partial word that starts no
// vocabulary word) + word_score * words + hotword bonus (complete phrases plus
// the partial bonus of a phrase being entered, taken back if it is left).
// Final scores: the partial word counts as a word and </s> is scored; a
// hotword phrase counts only complete.  An item whose used frames hold a NaN
// or +inf gets no hypothesis (count 0, flagged).
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "core/isa.hpp"

namespace seqloss {

class NgramModel;
class Lexicon;
class HotwordSet;

template <typename T>
struct Emissions {
    const T* x = nullptr;
    int64_t n_frames = 0;   // T
    int64_t batch = 0;      // N
    int64_t n_classes = 0;  // C
    int64_t stride_t = 0;   // elements between frames
    int64_t stride_n = 0;   // elements between items
    const int64_t* lengths = nullptr;  // (N,) or nullptr
    bool from_logits = false;

    int64_t length(int64_t n) const { return lengths ? lengths[n] : n_frames; }
    const T* row(int64_t t, int64_t n) const { return x + t * stride_t + n * stride_n; }
};

struct BeamOptions {
    int64_t beam_width = 16;
    int64_t nbest = 1;
    int64_t blank = 0;
    // per-frame token pruning: tokens below this log-prob are not expanded
    // (the frame's best token always is); -inf = off
    double token_min_logp = -std::numeric_limits<double>::infinity();
    // beam pruning: prefixes scoring below best + beam_prune_logp drop; -inf = off
    double beam_prune_logp = -std::numeric_limits<double>::infinity();
    double lm_weight = 0.5;
    double word_score = 0.0;
    double unk_offset = -23.025850929940457;  // ln(1e-10): OOV word / hopeless partial word
    bool lm_tokens = false;                   // the LM's words are the tokens
};

// One hypothesis's summary; its tokens are spans[offset, offset + length).
struct HypInfo {
    double score = 0, acoustic = 0, lm = 0, hotword = 0;
    int64_t words = 0;
    int64_t offset = 0, length = 0;
};
struct TokenSpan {
    int64_t token, start, end;  // end exclusive
    double conf_mean, conf_min;
};
struct ItemHyps {
    bool invalid = false;  // NaN / +inf in the used frames (beam search)
    std::vector<HypInfo> hyps;
    std::vector<TokenSpan> spans;
};

class DecodeResult {
public:
    std::vector<ItemHyps> items;
    int64_t nbest = 1;

    int64_t max_length() const;
    // Padded outputs: counts (N,), lengths/scores... (N, nbest), per token
    // arrays (N, nbest, width).  Missing hypotheses: length 0, score -inf
    // (NaN for an invalid item); padding: -1 for ints, 0 for floats.
    void emit(int64_t width, int64_t* counts, int64_t* lengths, double* scores,
              double* acoustic, double* lm, double* hotword, int64_t* words, int64_t* tokens,
              int64_t* starts, int64_t* ends, double* conf_mean, double* conf_min) const;
};

template <typename T>
void ctc_greedy(const Emissions<T>& e, int64_t blank, bool merge_repeated, int n_threads,
                DecodeResult& out);

template <typename T>
void ctc_beam_search(const Emissions<T>& e, const BeamOptions& opt, const Lexicon* lexicon,
                     const NgramModel* lm, const HotwordSet* hotwords, int n_threads,
                     DecodeResult& out);

// A frame's log-softmax normaliser (from_logits): log p(c) = (x[c] - m) - ls,
// in that order (m + ls rounds away what (x - m) keeps when |m| is huge).
struct RowNorm {
    double m = 0, ls = 0;
    double apply(double x) const { return (x - m) - ls; }
};

template <typename T>
RowNorm row_norm(const T* row, int64_t C) {
    RowNorm r;
    double m = -std::numeric_limits<double>::infinity();
    for (int64_t c = 0; c < C; ++c) m = row[c] > m ? double(row[c]) : m;
    if (!(m > -std::numeric_limits<double>::infinity() &&
          m < std::numeric_limits<double>::infinity())) {
        r.m = m;  // every log-prob NaN/-inf-like: the caller's checks decide
        return r;
    }
    double s = 0;
    for (int64_t c = 0; c < C; ++c) s += std::exp(double(row[c]) - m);
    r.m = m;
    r.ls = std::log(s);
    return r;
}

// The per-ISA part: the argmax of rows (greedy).
struct DecodeKernels {
    // idx[r] = argmax of row r (x + r * row_stride, C values), val[r] = its value
    void (*argmax_f32)(const float* x, int64_t n_rows, int64_t row_stride, int64_t C,
                       int32_t* idx, float* val);
    void (*argmax_f64)(const double* x, int64_t n_rows, int64_t row_stride, int64_t C,
                       int32_t* idx, double* val);
};

void install_decode_kernels(int level, const void* table);

}  // namespace seqloss

SEQLOSS_ISA_BEGIN
const DecodeKernels* decode_kernels();
SEQLOSS_ISA_END
