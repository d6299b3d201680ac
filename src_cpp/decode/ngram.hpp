// A backoff n-gram language model read from an ARPA file (pure C++17).
//
// Scores follow KenLM's: log10 P(w | h) is the log-prob of the longest n-gram
// (suffix of h, w) in the model plus the backoff weights of every longer
// suffix of h that is itself an n-gram (an absent context adds 0); words
// outside the vocabulary are <unk> (log10 prob -100 when the file has no
// <unk>, as KenLM adds it); a sentence starts in the context <s> and ends by
// scoring </s>.
//
// Storage: the vocabulary (one string blob, offsets, an open-addressing
// index), unigram log-probs and backoffs by word id, and per order >= 2 the
// n-grams' word ids with their log-prob and backoff and an open-addressing
// index over the id tuples.  to_binary()/from_binary() write and read those
// arrays (the indexes are rebuilt on load, in milliseconds); the file carries
// a magic, a version and a checksum, and a damaged file is an error.
// Immutable after construction: one model may serve any number of threads.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace seqloss {

// A malformed ARPA or binary model: std::invalid_argument (ValueError),
// the message names the line where there is one.
struct LmFormatError : std::invalid_argument {
    using std::invalid_argument::invalid_argument;
};

class NgramModel {
public:
    static std::shared_ptr<NgramModel> from_arpa(const char* data, std::size_t size);
    static std::shared_ptr<NgramModel> from_binary(const char* data, std::size_t size);
    std::string to_binary() const;

    int order() const { return order_; }
    int64_t vocab_size() const { return static_cast<int64_t>(word_off_.size()) - 1; }
    int64_t count(int n) const;  // number of n-grams of order n (1-based)
    std::string_view word(int32_t id) const {
        return std::string_view(words_.data() + word_off_[id], word_off_[id + 1] - word_off_[id]);
    }
    int32_t find(std::string_view w) const;  // word id, or -1
    // the same with w's hash_finish(hash_bytes(w)) already known
    int32_t find(std::string_view w, uint64_t hash) const;
    int32_t id_or_unk(std::string_view w) const {
        const int32_t i = find(w);
        return i < 0 ? unk_ : i;
    }
    int32_t unk() const { return unk_; }
    int32_t bos() const { return bos_; }
    int32_t eos() const { return eos_; }

    // log10 P(w | ctx), ctx = the previous words, oldest first (only the
    // last order - 1 are used).
    float score(const int32_t* ctx, int n_ctx, int32_t w) const;
    // An upper bound of score() over every context and word.
    float max_score() const { return max_score_; }
    // A prefix (in bytes) of some vocabulary word other than <s>, </s>, <unk>.
    bool is_word_prefix(std::string_view s) const;
    bool is_word_prefix_hash(uint64_t hash) const;  // hash = hash_finish(hash_bytes(s))
    // log10 of a sentence: <s> context (bos), each word, </s> (eos).
    double sentence(const std::vector<std::string_view>& words, bool bos, bool eos) const;

private:
    struct Order {  // n-grams of one order n >= 2
        std::vector<int32_t> ids;  // count * n word ids
        std::vector<float> prob, backoff;
        std::vector<int32_t> index;  // open addressing over the tuples, -1 = empty
    };
    int order_ = 0;
    std::string words_;
    std::vector<uint64_t> word_off_{0};
    std::vector<int32_t> word_index_;
    std::vector<float> uni_prob_, uni_backoff_;
    std::vector<Order> orders_;  // orders_[n - 2] for n >= 2
    std::vector<uint64_t> prefixes_;  // open addressing set of prefix hashes (0 = empty)
    int32_t unk_ = -1, bos_ = -1, eos_ = -1;
    float max_score_ = 0;

    int32_t add_word(std::string_view w);
    int64_t find_ngram(int n, const int32_t* ids) const;  // entry index in orders_[n-2], or -1
    void index_words();  // the vocabulary index (throws on a duplicate)
    void finish();       // <unk>, indexes, specials, prefix set, bound
};

// FNV-1a over bytes, finalised (word and prefix hashes).
uint64_t hash_bytes(const char* p, std::size_t n, uint64_t h = 0xcbf29ce484222325ULL);
uint64_t hash_finish(uint64_t h);

}  // namespace seqloss
