// What the decoder needs to know about the tokens (pure C++17): how each one
// builds words (word delimiter token, SentencePiece's "▁" word-start prefix,
// or no words), its text for the LM, its units (code points) for hotword
// matching, and, for an LM whose words are the tokens, its LM word id.
//
// Hotwords see the text as one code-point stream " w1 w2 ... wn " in a word
// mode (one space before, between and after the words; the decoder collapses
// repeated spaces) and as the concatenated token texts without words.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "decode/ngram.hpp"

namespace seqloss {

enum class WordMode : int { None = 0, Delimiter = 1, Prefix = 2 };
enum class TokenKind : uint8_t { Blank, Delimiter, WordStart, Plain };

inline void utf8_units(std::string_view s, std::vector<uint32_t>& out) {
    std::size_t i = 0;
    while (i < s.size()) {
        const unsigned char b = static_cast<unsigned char>(s[i]);
        int n = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
        if (i + n > s.size()) n = static_cast<int>(s.size() - i);
        uint32_t cp = n == 1 ? b : n == 2 ? (b & 0x1F) : n == 3 ? (b & 0x0F) : (b & 0x07);
        for (int k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
        out.push_back(cp);
        i += n;
    }
}

inline constexpr uint32_t kSpaceUnit = 0x20;

class Lexicon {
public:
    // tokens: C strings (UTF-8); delimiter: the delimiter token's text
    // (Delimiter mode) or "▁" (Prefix mode).
    Lexicon(const std::vector<std::string>& tokens, int64_t blank, int word_mode,
            const std::string& delimiter)
        : mode_(static_cast<WordMode>(word_mode)), text_off_{0}, unit_off_{0} {
        if (word_mode < 0 || word_mode > 2) throw std::invalid_argument("bad word mode");
        const WordMode mode = mode_;
        const std::string prefix = "\xE2\x96\x81";  // U+2581
        const int64_t C = static_cast<int64_t>(tokens.size());
        if (blank < 0 || blank >= C) throw std::invalid_argument("blank out of range of tokens");
        for (int64_t c = 0; c < C; ++c) {
            const std::string& t = tokens[c];
            TokenKind k = TokenKind::Plain;
            std::string_view text = t;
            if (c == blank) {
                k = TokenKind::Blank;
                text = {};
            } else if (mode == WordMode::Delimiter && t == delimiter) {
                k = TokenKind::Delimiter;
                text = {};
            } else if (mode == WordMode::Prefix && t.compare(0, prefix.size(), prefix) == 0) {
                k = TokenKind::WordStart;
                text.remove_prefix(prefix.size());
            }
            kinds_.push_back(k);
            texts_.append(text.data(), text.size());
            text_off_.push_back(texts_.size());
            if (k == TokenKind::Delimiter || k == TokenKind::WordStart) units_.push_back(kSpaceUnit);
            if (k != TokenKind::Blank) utf8_units(text, units_);
            unit_off_.push_back(units_.size());
            full_.push_back(t);
        }
    }

    WordMode mode() const { return mode_; }
    bool words() const { return mode_ != WordMode::None; }
    int64_t size() const { return static_cast<int64_t>(kinds_.size()); }
    TokenKind kind(int64_t c) const { return kinds_[c]; }
    // the token's part of a word (without "▁"; empty for the delimiter)
    std::string_view text(int64_t c) const {
        return std::string_view(texts_.data() + text_off_[c], text_off_[c + 1] - text_off_[c]);
    }
    const uint32_t* units(int64_t c) const { return units_.data() + unit_off_[c]; }
    int64_t n_units(int64_t c) const { return unit_off_[c + 1] - unit_off_[c]; }
    const std::string& full(int64_t c) const { return full_[c]; }

private:
    WordMode mode_;
    std::vector<TokenKind> kinds_;
    std::string texts_;
    std::vector<std::size_t> text_off_;
    std::vector<uint32_t> units_;
    std::vector<std::size_t> unit_off_;
    std::vector<std::string> full_;
};

// Hotword phrases as an Aho-Corasick automaton over code points.
// A state's partial(v) is the bonus held while a phrase is being entered:
// the largest weight * (letters matched / letters of the phrase) over the
// phrases v is a proper prefix of (spaces are not letters); out(v) is the sum
// of the weights of the phrases that end at v (v itself and its suffix
// links).  Stepping from u to v banks out(v); the running bonus is banked +
// partial(state), so leaving a phrase takes its partial bonus back and only
// complete phrases remain at the end.
class HotwordSet {
public:
    HotwordSet(const std::vector<std::vector<uint32_t>>& phrases, const std::vector<double>& weights) {
        nodes_.push_back(Node{});
        std::vector<int64_t> letters(phrases.size());
        for (std::size_t p = 0; p < phrases.size(); ++p) {
            if (phrases[p].empty()) throw std::invalid_argument("empty hotword phrase");
            if (!(weights[p] > 0) || weights[p] > 1e300) throw std::invalid_argument("hotword weight must be positive and finite");
            for (uint32_t u : phrases[p]) letters[p] += u != kSpaceUnit;
        }
        for (std::size_t p = 0; p < phrases.size(); ++p) {
            int32_t s = 0;
            int64_t matched = 0;
            for (std::size_t i = 0; i < phrases[p].size(); ++i) {
                const uint32_t u = phrases[p][i];
                int32_t nx = child(s, u);
                if (nx < 0) {
                    nx = static_cast<int32_t>(nodes_.size());
                    nodes_.push_back(Node{});
                    nodes_[s].next.push_back({u, nx});
                }
                s = nx;
                matched += u != kSpaceUnit;
                if (i + 1 < phrases[p].size() && letters[p] > 0) {
                    const double part = weights[p] * double(matched) / double(letters[p]);
                    nodes_[s].partial = std::max(nodes_[s].partial, part);
                }
            }
            nodes_[s].out += weights[p];
        }
        // breadth-first: suffix links and summed outputs
        std::vector<int32_t> queue;
        for (auto& e : nodes_[0].next) {
            nodes_[e.second].fail = 0;
            queue.push_back(e.second);
        }
        for (std::size_t qi = 0; qi < queue.size(); ++qi) {
            const int32_t v = queue[qi];
            for (auto& e : nodes_[v].next) {
                int32_t f = nodes_[v].fail;
                while (f > 0 && child(f, e.first) < 0) f = nodes_[f].fail;
                const int32_t g = child(f, e.first);
                nodes_[e.second].fail = (g >= 0 && g != e.second) ? g : 0;
                queue.push_back(e.second);
            }
        }
        for (int32_t v : queue) nodes_[v].out += nodes_[nodes_[v].fail].out;  // BFS order
        for (const Node& n : nodes_) max_unit_gain_ = std::max(max_unit_gain_, n.out + n.partial);
    }

    // One unit: the next state; adds the phrases completed to *banked.
    int32_t step(int32_t s, uint32_t u, double* banked) const {
        for (;;) {
            const int32_t nx = child(s, u);
            if (nx >= 0) {
                *banked += nodes_[nx].out;
                return nx;
            }
            if (s == 0) return 0;
            s = nodes_[s].fail;
        }
    }
    double partial(int32_t s) const { return nodes_[s].partial; }
    double max_unit_gain() const { return max_unit_gain_; }

private:
    struct Node {
        std::vector<std::pair<uint32_t, int32_t>> next;
        int32_t fail = 0;
        double partial = 0;
        double out = 0;
    };
    int32_t child(int32_t s, uint32_t u) const {
        for (const auto& e : nodes_[s].next)
            if (e.first == u) return e.second;
        return -1;
    }
    std::vector<Node> nodes_;
    double max_unit_gain_ = 0;
};

}  // namespace seqloss
