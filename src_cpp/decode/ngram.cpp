// ARPA parsing, the binary form and scoring of NgramModel (decode/ngram.hpp).
#include "decode/ngram.hpp"

#include <algorithm>
#include <charconv>
#include <cctype>
#include <cmath>
#include <cstring>
#include <limits>

namespace seqloss {

uint64_t hash_bytes(const char* p, std::size_t n, uint64_t h) {
    for (std::size_t i = 0; i < n; ++i) {
        h ^= static_cast<unsigned char>(p[i]);
        h *= 0x100000001b3ULL;
    }
    return h;
}

uint64_t hash_finish(uint64_t h) {  // splitmix64's finaliser
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return h | 1;  // never 0 (the empty slot of the prefix set)
}

namespace {

uint64_t hash_ids(const int32_t* ids, int n) {
    uint64_t h = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < n; ++i) h = hash_finish(h ^ static_cast<uint32_t>(ids[i]));
    return h;
}

std::size_t table_size(std::size_t n) {
    std::size_t s = 16;
    while (s < 2 * n + 2) s <<= 1;
    return s;
}

// ---------------------------------------------------------------- ARPA text

class Lines {
public:
    Lines(const char* data, std::size_t size) : p_(data), end_(data + size) {}
    // The next line without its end of line (and trailing \r); false at EOF.
    bool next(std::string_view& line) {
        if (p_ >= end_) return false;
        const char* e = static_cast<const char*>(std::memchr(p_, '\n', end_ - p_));
        const char* stop = e ? e : end_;
        line = std::string_view(p_, stop - p_);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        p_ = e ? e + 1 : end_;
        ++number_;
        return true;
    }
    int64_t number() const { return number_; }

private:
    const char* p_;
    const char* end_;
    int64_t number_ = 0;
};

bool is_space(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

void split(std::string_view s, std::vector<std::string_view>& out) {
    out.clear();
    std::size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && is_space(s[i])) ++i;
        const std::size_t b = i;
        while (i < s.size() && !is_space(s[i])) ++i;
        if (i > b) out.push_back(s.substr(b, i - b));
    }
}

[[noreturn]] void fail(int64_t line, const std::string& what) {
    throw LmFormatError("ARPA line " + std::to_string(line) + ": " + what);
}

// Text of the file quoted in a message: at most 60 bytes cut at a character
// boundary ("..." marks the cut), a backslash as \\ and each byte that is not
// printable UTF-8 (tab is) as \xNN: a NUL byte or invalid UTF-8 must not end
// or break the message, which Python decodes as UTF-8.
std::string quote(std::string_view s) {
    std::string out;
    std::size_t i = 0;
    while (i < s.size() && out.size() < 60) {
        const unsigned char b = static_cast<unsigned char>(s[i]);
        int n = b < 0x80 ? 1 : (b & 0xE0) == 0xC0 ? 2 : (b & 0xF0) == 0xE0 ? 3 : (b & 0xF8) == 0xF0 ? 4 : 0;
        bool ok = n > 0 && i + n <= s.size() && (n > 1 || ((b >= 0x20 || b == '\t') && b != 0x7F));
        for (int k = 1; ok && k < n; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
        if (ok && n == 2) ok = b >= 0xC2;                 // overlong
        if (ok && n == 3) {
            const unsigned char b1 = static_cast<unsigned char>(s[i + 1]);
            ok = !(b == 0xE0 && b1 < 0xA0) && !(b == 0xED && b1 >= 0xA0);  // overlong, surrogate
        }
        if (ok && n == 4) {
            const unsigned char b1 = static_cast<unsigned char>(s[i + 1]);
            ok = b <= 0xF4 && !(b == 0xF0 && b1 < 0x90) && !(b == 0xF4 && b1 >= 0x90);
        }
        if (ok && b == '\\') {
            out += "\\\\";  // (so that \\xNN below is unambiguous)
            ++i;
        } else if (ok) {
            out.append(s.data() + i, n);
            i += n;
        } else {
            static const char hex[] = "0123456789abcdef";
            out += "\\x";
            out += hex[b >> 4];
            out += hex[b & 15];
            ++i;
        }
    }
    if (i < s.size()) out += "...";
    return out;
}

// A log10 value: a decimal number (a '+' only before a digit), or -inf; magnitudes
// below float's range are 0, more negative than -FLT_MAX is -inf, NaN and
// positive overflow are errors.
float parse_float(std::string_view s, int64_t line) {
    const char* b = s.data();
    const char* e = s.data() + s.size();
    if (s.size() > 1 && s[0] == '+' && (std::isdigit(static_cast<unsigned char>(s[1])) || s[1] == '.'))
        ++b;  // "+0.5" as strtod reads it (but not "+-1")
    double d = 0;
    auto r = std::from_chars(b, e, d);
    if (r.ptr != e || (r.ec != std::errc() && r.ec != std::errc::result_out_of_range))
        fail(line, "expected a number, got '" + quote(s) + "'");
    if (r.ec == std::errc::result_out_of_range) {
        // from_chars says which way only through the exponent's sign
        const std::size_t ex = s.find_first_of("eE");
        const bool tiny = ex != std::string_view::npos && ex + 1 < s.size() && s[ex + 1] == '-';
        const bool neg = !s.empty() && s[0] == '-';
        if (tiny) return neg ? -0.0f : 0.0f;
        if (!neg) fail(line, "expected a finite log-probability, got '" + quote(s) + "'");
        return -std::numeric_limits<float>::infinity();
    }
    if (std::isnan(d) || d > double(std::numeric_limits<float>::max()))
        fail(line, "expected a finite log-probability, got '" + quote(s) + "'");
    if (d < -double(std::numeric_limits<float>::max())) return -std::numeric_limits<float>::infinity();
    return static_cast<float>(d);
}

int64_t parse_count(std::string_view s, int64_t line) {
    int64_t v = -1;
    auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (r.ec != std::errc() || r.ptr != s.data() + s.size() || v < 0)
        fail(line, "expected a non-negative n-gram count, got '" + quote(s) + "'");
    if (v > (int64_t(1) << 31) - 2) fail(line, "n-gram count too large: " + quote(s));
    return v;
}

}  // namespace

int64_t NgramModel::count(int n) const {
    if (n == 1) return vocab_size();
    if (n < 2 || n > order_) return 0;
    return static_cast<int64_t>(orders_[n - 2].prob.size());
}

int32_t NgramModel::find(std::string_view w) const {
    return find(w, hash_finish(hash_bytes(w.data(), w.size())));
}

int32_t NgramModel::find(std::string_view w, uint64_t hash) const {
    if (word_index_.empty()) return -1;
    const std::size_t mask = word_index_.size() - 1;
    for (std::size_t s = hash & mask;; s = (s + 1) & mask) {
        const int32_t id = word_index_[s];
        if (id < 0) return -1;
        if (word(id) == w) return id;
    }
}

int32_t NgramModel::add_word(std::string_view w) {
    words_.append(w.data(), w.size());
    word_off_.push_back(words_.size());
    return static_cast<int32_t>(word_off_.size() - 2);
}

int64_t NgramModel::find_ngram(int n, const int32_t* ids) const {
    const Order& o = orders_[n - 2];
    if (o.index.empty()) return -1;
    const std::size_t mask = o.index.size() - 1;
    for (std::size_t s = hash_ids(ids, n) & mask;; s = (s + 1) & mask) {
        const int32_t e = o.index[s];
        if (e < 0) return -1;
        if (std::memcmp(&o.ids[std::size_t(e) * n], ids, sizeof(int32_t) * n) == 0) return e;
    }
}

float NgramModel::score(const int32_t* ctx, int n_ctx, int32_t w) const {
    const int max_ctx = std::min(n_ctx, order_ - 1);
    const int32_t* h = ctx + (n_ctx - max_ctx);  // the last max_ctx words
    int32_t buf[64];
    std::vector<int32_t> big;
    int32_t* tuple = buf;
    if (max_ctx + 1 > 64) {
        big.resize(max_ctx + 1);
        tuple = big.data();
    }
    float backoff = 0;
    for (int k = max_ctx; k >= 1; --k) {  // context of k words: h[max_ctx-k .. max_ctx)
        std::memcpy(tuple, h + (max_ctx - k), sizeof(int32_t) * k);
        tuple[k] = w;
        const int64_t e = find_ngram(k + 1, tuple);
        if (e >= 0) return backoff + orders_[k - 1].prob[e];
        // the context's own backoff, if the context is an n-gram
        if (k == 1) {
            backoff += uni_backoff_[tuple[0]];
        } else {
            const int64_t c = find_ngram(k, tuple);
            if (c >= 0) backoff += orders_[k - 2].backoff[c];
        }
    }
    return backoff + uni_prob_[w];
}

bool NgramModel::is_word_prefix(std::string_view s) const {
    return is_word_prefix_hash(hash_finish(hash_bytes(s.data(), s.size())));
}

bool NgramModel::is_word_prefix_hash(uint64_t h) const {
    if (prefixes_.empty()) return false;
    const std::size_t mask = prefixes_.size() - 1;
    for (std::size_t i = h & mask;; i = (i + 1) & mask) {
        if (prefixes_[i] == 0) return false;
        if (prefixes_[i] == h) return true;
    }
}

double NgramModel::sentence(const std::vector<std::string_view>& words, bool bos,
                            bool eos) const {
    std::vector<int32_t> ctx;
    if (bos) ctx.push_back(bos_);
    double total = 0;
    auto step = [&](int32_t w) {
        total += score(ctx.data(), static_cast<int>(ctx.size()), w);
        ctx.push_back(w);
        if (static_cast<int>(ctx.size()) >= order_) ctx.erase(ctx.begin());
    };
    for (std::string_view w : words) step(id_or_unk(w));
    if (eos) step(eos_);
    return total;
}

void NgramModel::index_words() {
    const int64_t V = vocab_size();
    word_index_.assign(table_size(V), -1);
    const std::size_t wmask = word_index_.size() - 1;
    for (int32_t id = 0; id < V; ++id) {
        std::string_view w = word(id);
        std::size_t s = hash_finish(hash_bytes(w.data(), w.size())) & wmask;
        while (word_index_[s] >= 0) {
            if (word(word_index_[s]) == w)
                throw LmFormatError("duplicate unigram '" + quote(w) + "'");
            s = (s + 1) & wmask;
        }
        word_index_[s] = id;
    }
}

void NgramModel::finish() {
    index_words();
    if (find("<unk>") < 0) {  // as KenLM: <unk> with log10 prob -100
        add_word("<unk>");
        uni_prob_.push_back(-100.0f);
        uni_backoff_.push_back(0.0f);
        index_words();
    }
    const int64_t V = vocab_size();
    for (int n = 2; n <= order_; ++n) {
        Order& o = orders_[n - 2];
        const std::size_t cnt = o.prob.size();
        o.index.assign(table_size(cnt), -1);
        const std::size_t mask = o.index.size() - 1;
        for (std::size_t e = 0; e < cnt; ++e) {
            const int32_t* ids = &o.ids[e * n];
            std::size_t s = hash_ids(ids, n) & mask;
            while (o.index[s] >= 0) {
                if (std::memcmp(&o.ids[std::size_t(o.index[s]) * n], ids, sizeof(int32_t) * n) == 0) {
                    std::string t;
                    for (int i = 0; i < n; ++i) t += (i ? " " : "") + quote(word(ids[i]));
                    throw LmFormatError("duplicate " + std::to_string(n) + "-gram '" + t + "'");
                }
                s = (s + 1) & mask;
            }
            o.index[s] = static_cast<int32_t>(e);
        }
    }
    bos_ = find("<s>");
    eos_ = find("</s>");
    unk_ = find("<unk>");
    if (eos_ < 0) throw LmFormatError("the model has no </s> unigram");
    if (bos_ < 0) throw LmFormatError("the model has no <s> unigram");
    // prefixes of the real words (partial-word check of the decoder)
    std::size_t total = 0;
    for (int32_t id = 0; id < V; ++id) total += word(id).size();
    prefixes_.assign(table_size(total), 0);
    const std::size_t pmask = prefixes_.size() - 1;
    for (int32_t id = 0; id < V; ++id) {
        if (id == bos_ || id == eos_ || id == unk_) continue;
        std::string_view w = word(id);
        uint64_t h = 0xcbf29ce484222325ULL;
        for (std::size_t i = 0; i < w.size(); ++i) {
            h = hash_bytes(w.data() + i, 1, h);
            const uint64_t f = hash_finish(h);
            std::size_t s = f & pmask;
            while (prefixes_[s] != 0 && prefixes_[s] != f) s = (s + 1) & pmask;
            prefixes_[s] = f;
        }
    }
    // an upper bound of any score: the largest log-prob plus every positive backoff
    float best = -std::numeric_limits<float>::infinity();
    float bo = 0, bo_order = 0;
    for (int32_t id = 0; id < V; ++id) {
        best = std::max(best, uni_prob_[id]);
        bo_order = std::max(bo_order, uni_backoff_[id]);
    }
    bo += bo_order;
    for (int n = 2; n <= order_; ++n) {
        const Order& o = orders_[n - 2];
        bo_order = 0;
        for (float p : o.prob) best = std::max(best, p);
        for (float b : o.backoff) bo_order = std::max(bo_order, b);
        bo += bo_order;
    }
    max_score_ = best + bo;
}

std::shared_ptr<NgramModel> NgramModel::from_arpa(const char* data, std::size_t size) {
    auto m = std::make_shared<NgramModel>();
    Lines lines(data, size);
    std::string_view line;
    // header
    bool found = false;
    while (lines.next(line)) {
        if (trim(line) == "\\data\\") {
            found = true;
            break;
        }
        if (!trim(line).empty())
            fail(lines.number(), "expected '\\data\\' before anything else, got '" +
                                     quote(trim(line)) + "'");
    }
    if (!found) throw LmFormatError("not an ARPA file: no '\\data\\' line");
    std::vector<int64_t> counts;
    while (lines.next(line)) {
        std::string_view t = trim(line);
        if (t.empty()) {
            if (!counts.empty()) break;
            continue;
        }
        if (t.substr(0, 5) != "ngram") fail(lines.number(), "expected 'ngram N=count'");
        t = trim(t.substr(5));
        const std::size_t eq = t.find('=');
        if (eq == std::string_view::npos) fail(lines.number(), "expected 'ngram N=count'");
        const int64_t n = parse_count(trim(t.substr(0, eq)), lines.number());
        if (n != static_cast<int64_t>(counts.size()) + 1)
            fail(lines.number(), "expected the count of order " + std::to_string(counts.size() + 1));
        counts.push_back(parse_count(trim(t.substr(eq + 1)), lines.number()));
    }
    if (counts.empty()) throw LmFormatError("ARPA header has no 'ngram N=count' line");
    if (counts.size() > 32) throw LmFormatError("ARPA order above 32 is not supported");
    m->order_ = static_cast<int>(counts.size());
    m->orders_.resize(m->order_ - 1);
    std::vector<std::string_view> f;
    std::vector<int32_t> ids;
    for (int n = 1; n <= m->order_; ++n) {
        const std::string head = "\\" + std::to_string(n) + "-grams:";
        bool at_head = false;
        while (lines.next(line)) {
            std::string_view t = trim(line);
            if (t.empty()) continue;
            if (t != head)
                fail(lines.number(),
                     "expected '" + head + "', got '" + quote(t) + "'");
            at_head = true;
            break;
        }
        if (!at_head) throw LmFormatError("ARPA file ends before '" + head + "'");
        const bool with_backoff = n < m->order_;
        const int64_t want = counts[n - 1];
        Order* o = n >= 2 ? &m->orders_[n - 2] : nullptr;
        if (o) {
            o->ids.reserve(want * n);
            o->prob.reserve(want);
            if (with_backoff) o->backoff.reserve(want);
        }
        int64_t got = 0;
        while (got < want && lines.next(line)) {
            std::string_view t = trim(line);
            if (t.empty()) continue;
            if (t[0] == '\\')
                fail(lines.number(), "section " + std::to_string(n) + "-grams has " +
                                         std::to_string(got) + " entries, the header says " +
                                         std::to_string(want));
            split(t, f);
            const int nf = static_cast<int>(f.size());
            if (nf != n + 1 && nf != n + 2)
                fail(lines.number(), "expected a log-prob, " + std::to_string(n) +
                                         " word(s) and an optional backoff, got '" +
                                         quote(t) + "'");
            if (nf == n + 2 && !with_backoff)
                fail(lines.number(), "a backoff weight on a highest-order n-gram");
            const float p = parse_float(f[0], lines.number());
            if (p > 0)  // as KenLM (IRSTLM writes such files)
                fail(lines.number(), "positive log10 probability " + quote(f[0]));
            const float b = nf == n + 2 ? parse_float(f[n + 1], lines.number()) : 0.0f;
            if (!o) {
                m->add_word(f[1]);
                m->uni_prob_.push_back(p);
                m->uni_backoff_.push_back(b);
            } else {
                for (int i = 1; i <= n; ++i) {
                    const int32_t id = m->find(f[i]);
                    if (id < 0)
                        fail(lines.number(), "word '" + quote(f[i]) +
                                                 "' of an n-gram is not among the unigrams");
                    o->ids.push_back(id);
                }
                o->prob.push_back(p);
                if (with_backoff) o->backoff.push_back(b);
            }
            ++got;
        }
        if (got != want)
            throw LmFormatError("ARPA file ends in section " + std::to_string(n) + "-grams after " +
                                std::to_string(got) + " of " + std::to_string(want) + " entries");
        if (!o) m->index_words();  // resolves the words of the higher orders
    }
    bool ended = false;
    while (lines.next(line)) {
        std::string_view t = trim(line);
        if (t.empty()) continue;
        if (t != "\\end\\")
            fail(lines.number(), "expected '\\end\\', got '" + quote(t) + "'");
        ended = true;
        break;
    }
    if (!ended) throw LmFormatError("ARPA file ends without '\\end\\'");
    m->finish();
    return m;
}

// ---------------------------------------------------------------- binary form
//
// "SEQLSLM\0", u32 version, u32 byte-order mark, u32 order, u32 0,
// u64 vocabulary size, u64 word-blob bytes, u64 count of each order >= 2,
// the word blob, u64 word offsets (V + 1), f32 unigram log-probs and
// backoffs (V each), then per order n >= 2: i32 ids (count * n), f32 log-probs,
// f32 backoffs (orders below the highest), and last a u64 FNV-1a checksum of
// everything before it.  Native byte order; the mark rejects the other one.

namespace {

constexpr char kMagic[8] = {'S', 'E', 'Q', 'L', 'S', 'L', 'M', '\0'};
constexpr uint32_t kVersion = 1;
constexpr uint32_t kByteOrder = 0x01020304;

class Writer {
public:
    template <typename T>
    void put(const T& v) { bytes.append(reinterpret_cast<const char*>(&v), sizeof(T)); }
    template <typename T>
    void put(const std::vector<T>& v) {
        if (!v.empty()) bytes.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
    }
    std::string bytes;
};

class Reader {
public:
    Reader(const char* p, std::size_t n) : p_(p), left_(n) {}
    template <typename T>
    T get() {
        T v;
        take(&v, sizeof(T));
        return v;
    }
    template <typename T>
    void get(std::vector<T>& v, uint64_t n) {
        if (n > left_ / sizeof(T)) bad("truncated");
        v.resize(n);
        take(v.data(), n * sizeof(T));
    }
    void get(std::string& s, uint64_t n) {
        if (n > left_) bad("truncated");
        s.assign(p_, n);
        p_ += n;
        left_ -= n;
    }
    std::size_t left() const { return left_; }
    [[noreturn]] static void bad(const char* what) {
        throw LmFormatError(std::string("not a valid seqloss n-gram model file: ") + what);
    }

private:
    void take(void* dst, std::size_t n) {
        if (n > left_) bad("truncated");
        if (n == 0) return;  // (an empty vector's data() may be null: no memcpy)
        std::memcpy(dst, p_, n);
        p_ += n;
        left_ -= n;
    }
    const char* p_;
    std::size_t left_;
};

}  // namespace

std::string NgramModel::to_binary() const {
    Writer w;
    w.bytes.append(kMagic, sizeof(kMagic));
    w.put(kVersion);
    w.put(kByteOrder);
    w.put(static_cast<uint32_t>(order_));
    w.put(uint32_t(0));
    w.put(static_cast<uint64_t>(vocab_size()));
    w.put(static_cast<uint64_t>(words_.size()));
    for (int n = 2; n <= order_; ++n) w.put(static_cast<uint64_t>(count(n)));
    w.bytes += words_;
    w.put(word_off_);
    w.put(uni_prob_);
    w.put(uni_backoff_);
    for (int n = 2; n <= order_; ++n) {
        const Order& o = orders_[n - 2];
        w.put(o.ids);
        w.put(o.prob);
        if (n < order_) w.put(o.backoff);
    }
    w.put(hash_bytes(w.bytes.data(), w.bytes.size()));
    return std::move(w.bytes);
}

std::shared_ptr<NgramModel> NgramModel::from_binary(const char* data, std::size_t size) {
    if (size < sizeof(kMagic) + 8 || std::memcmp(data, kMagic, sizeof(kMagic)) != 0)
        Reader::bad("wrong magic bytes");
    if (size < 8 + sizeof(uint64_t)) Reader::bad("truncated");
    uint64_t sum;
    std::memcpy(&sum, data + size - sizeof(sum), sizeof(sum));
    Reader r(data + sizeof(kMagic), size - sizeof(kMagic) - sizeof(sum));
    if (r.get<uint32_t>() != kVersion) Reader::bad("unsupported version");
    if (r.get<uint32_t>() != kByteOrder) Reader::bad("written on a machine of the other byte order");
    if (hash_bytes(data, size - sizeof(sum)) != sum) Reader::bad("checksum mismatch (damaged file)");
    auto m = std::make_shared<NgramModel>();
    const uint32_t order = r.get<uint32_t>();
    r.get<uint32_t>();
    if (order < 1 || order > 32) Reader::bad("order out of range");
    m->order_ = static_cast<int>(order);
    const uint64_t V = r.get<uint64_t>();
    const uint64_t blob = r.get<uint64_t>();
    if (V < 3 || V > (uint64_t(1) << 31) - 2) Reader::bad("vocabulary size out of range");
    std::vector<uint64_t> counts;
    for (uint32_t n = 2; n <= order; ++n) {
        counts.push_back(r.get<uint64_t>());
        if (counts.back() > (uint64_t(1) << 31) - 2) Reader::bad("n-gram count out of range");
    }
    r.get(m->words_, blob);
    r.get(m->word_off_, V + 1);
    if (m->word_off_[0] != 0 || m->word_off_[V] != blob) Reader::bad("word offsets");
    for (uint64_t i = 0; i < V; ++i)
        if (m->word_off_[i] > m->word_off_[i + 1]) Reader::bad("word offsets");
    r.get(m->uni_prob_, V);
    r.get(m->uni_backoff_, V);
    m->orders_.resize(order - 1);
    for (uint32_t n = 2; n <= order; ++n) {
        Order& o = m->orders_[n - 2];
        const uint64_t c = counts[n - 2];
        if (c > r.left() / (n * sizeof(int32_t))) Reader::bad("truncated");
        r.get(o.ids, c * n);
        for (int32_t id : o.ids)
            if (id < 0 || static_cast<uint64_t>(id) >= V) Reader::bad("word id out of range");
        r.get(o.prob, c);
        if (n < order) r.get(o.backoff, c);
    }
    if (r.left() != 0) Reader::bad("trailing bytes");
    m->finish();
    return m;
}

}  // namespace seqloss
