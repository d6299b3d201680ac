// Transcript files read in place, matched by id, and the per-utterance CSV
// (see corpus.hpp; compiled once, into seqloss._edit).
#include "edit/corpus.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "core/parallel.hpp"  // parallel_for, check_interrupt
#include "edit/intern.hpp"  // TokenInterner

namespace seqloss {

namespace {

using SEQLOSS_ISA_NS::check_interrupt;
using SEQLOSS_ISA_NS::is_space_cp;
using SEQLOSS_ISA_NS::parallel_for;
using SEQLOSS_ISA_NS::Schedule;

template <typename U>
inline bool sp(const U* t, int64_t i) {
    return is_space_cp((uint32_t)t[i]);
}

// sclite's speaker of the id t[a, b): up to its first '-', or its first '_'
// when it has no '-'; -1 when that gives nothing.
template <typename U>
int64_t speaker_end(const U* t, int64_t a, int64_t b) {
    int64_t cut = -1;
    for (int64_t i = a; i < b; ++i)
        if (t[i] == (U)'-') {
            cut = i;
            break;
        }
    if (cut < 0)
        for (int64_t i = a; i < b; ++i)
            if (t[i] == (U)'_') {
                cut = i;
                break;
            }
    return cut > a ? cut : -1;
}

}  // namespace

// Utterance id -> record of one file: open addressing over 16-byte (hash,
// record) slots (a million ids in 32 MB), ids compared by code point against
// the file's text.
class IdIndex {
public:
    IdIndex(const void* text, int kind, const Records& R)
        : text_(static_cast<const char*>(text)), kind_(kind), R_(R) {
        uint64_t cap = 64;
        while (cap < 2 * (uint64_t)R.size()) cap <<= 1;
        slots_.assign(cap, Slot{0, -1});
        mask_ = cap - 1;
    }
    // The hash of record r's id.
    uint64_t hash_of(int64_t r) const {
        return TokenInterner::text_hash(text_ + R_.id_start[r] * kind_, R_.id_end[r] - R_.id_start[r], kind_);
    }
    // Adds record r (h: hash_of(r)); the earlier record with the same id (not added), or -1.
    int64_t add(int64_t r, uint64_t h) {
        const void* d = text_ + R_.id_start[r] * kind_;
        const int64_t len = R_.id_end[r] - R_.id_start[r];
        for (uint64_t i = h & mask_;; i = (i + 1) & mask_) {
            Slot& s = slots_[i];
            if (s.record < 0) {
                s = Slot{h, r};
                return -1;
            }
            if (s.hash == h && same(s.record, d, len, kind_)) return s.record;
        }
    }
    // The record whose id is the string data[0, len) (`kind` bytes a code point)
    // of hash h (TokenInterner::text_hash), or -1.
    int64_t find(const void* data, int64_t len, int kind, uint64_t h) const {
        for (uint64_t i = h & mask_;; i = (i + 1) & mask_) {
            const Slot& s = slots_[i];
            if (s.record < 0) return -1;
            if (s.hash == h && same(s.record, data, len, kind)) return s.record;
        }
    }

    // Asks for the slot of hash h (and the id text it points at, if filled) ahead of a find.
    void prefetch(uint64_t h) const {
#if defined(__GNUC__) || defined(__clang__)
        __builtin_prefetch(&slots_[h & mask_]);
#else
        (void)h;
#endif
    }

private:
    struct Slot {
        uint64_t hash;
        int64_t record;  // -1 = empty
    };
    bool same(int64_t r, const void* data, int64_t len, int kind) const {
        if (R_.id_end[r] - R_.id_start[r] != len) return false;
        const char* mine = text_ + R_.id_start[r] * kind_;
        if (kind == kind_) return std::memcmp(mine, data, (size_t)(len * kind)) == 0;
        for (int64_t i = 0; i < len; ++i)
            if (TokenInterner::code_point(mine, kind_, i) != TokenInterner::code_point(data, kind, i))
                return false;
        return true;
    }
    const char* text_;
    int kind_;
    const Records& R_;
    std::vector<Slot> slots_;
    uint64_t mask_ = 0;
};

namespace {

template <typename U>
void parse(const U* t, int64_t n, int format, Records& R) {
    if (n <= 0) return;
    int64_t ln = 0;
    {  // room for every line (one pass of memchr / a count)
        int64_t lines = 1;
        if constexpr (sizeof(U) == 1) {
            for (const U* p = t; (p = static_cast<const U*>(std::memchr(p, '\n', (size_t)(t + n - p)))); ++p) ++lines;
        } else {
            for (int64_t i = 0; i < n; ++i) lines += t[i] == (U)'\n';
        }
        for (auto* v : {&R.id_start, &R.id_end, &R.text_start, &R.text_end, &R.line, &R.speaker_end})
            v->reserve((size_t)lines);
    }
    for (int64_t s = 0; s < n;) {
        const void* nl = nullptr;
        int64_t e = s;
        if constexpr (sizeof(U) == 1) {
            nl = std::memchr(t + s, '\n', (size_t)(n - s));
            e = nl ? (int64_t)(static_cast<const U*>(nl) - t) : n;
        } else {
            while (e < n && t[e] != (U)'\n') ++e;
        }
        if ((++ln & 0xFFFF) == 0) check_interrupt();  // (Ctrl-C in a huge file)
        const int64_t next = e + 1;  // past the '\n' (past n at the end)
        if (format == FORMAT_LINES) {
            R.id_start.push_back(s);
            R.id_end.push_back(s);
            R.text_start.push_back(s);
            R.text_end.push_back(e);
            R.line.push_back(ln);
            R.speaker_end.push_back(-1);
            s = next;
            continue;
        }
        // blank (empty or all whitespace) and, trn, ";;" comment lines carry no record
        int64_t a = s, b = e;
        while (a < b && sp(t, a)) ++a;
        const bool blank = a == b;
        const bool comment = format == FORMAT_TRN && e - s >= 2 && t[s] == (U)';' && t[s + 1] == (U)';';
        if (blank || comment) {
            s = next;
            continue;
        }
        while (b > a && sp(t, b - 1)) --b;  // (the first non-space is at a)
        int64_t id0, id1, x0, x1;
        if (format == FORMAT_KALDI) {
            int64_t cut = a;
            while (cut < b && t[cut] != (U)' ') ++cut;
            id0 = a;
            id1 = cut;
            x0 = cut < b ? cut + 1 : b;
            while (x0 < b && sp(t, x0)) ++x0;
            x1 = b;
        } else {  // trn: the line right-stripped (not left), ending in "(id)"
            const int64_t r = b;  // line s..r
            int64_t left = r - 1;
            if (t[r - 1] == (U)')')
                while (left >= s && t[left] != (U)'(') --left;
            if (t[r - 1] != (U)')' || left < s) {
                R.bad_line = ln;
                return;
            }
            id0 = left + 1;
            id1 = r - 1;
            while (id0 < id1 && sp(t, id0)) ++id0;
            while (id1 > id0 && sp(t, id1 - 1)) --id1;
            x0 = s;
            x1 = (left > s && t[left - 1] == (U)' ') ? left - 1 : left;
            if (id0 == id1 && R.empty_id_record < 0) R.empty_id_record = (int64_t)R.line.size();
        }
        const int64_t se = speaker_end(t, id0, id1);
        if (se < 0) R.all_speakers = false;
        R.id_start.push_back(id0);
        R.id_end.push_back(id1);
        R.text_start.push_back(x0);
        R.text_end.push_back(x1);
        R.line.push_back(ln);
        R.speaker_end.push_back(se);
        s = next;
    }
}

void check_kind(const char* fn, int kind) {
    if (kind != 1 && kind != 2 && kind != 4)
        throw std::invalid_argument(std::string(fn) + ": kind must be 1, 2 or 4");
}

// Appends the UTF-8 encoding of t[0, n) (code points of `kind` bytes).
template <typename U>
void utf8(const U* t, int64_t n, std::string& out) {
    for (int64_t i = 0; i < n; ++i) {
        const uint32_t c = (uint32_t)t[i];
        if (c < 0x80) {
            out.push_back((char)c);
        } else if (c < 0x800) {
            out.push_back((char)(0xC0 | (c >> 6)));
            out.push_back((char)(0x80 | (c & 0x3F)));
        } else if (c < 0x10000) {
            out.push_back((char)(0xE0 | (c >> 12)));
            out.push_back((char)(0x80 | ((c >> 6) & 0x3F)));
            out.push_back((char)(0x80 | (c & 0x3F)));
        } else {
            out.push_back((char)(0xF0 | (c >> 18)));
            out.push_back((char)(0x80 | ((c >> 12) & 0x3F)));
            out.push_back((char)(0x80 | ((c >> 6) & 0x3F)));
            out.push_back((char)(0x80 | (c & 0x3F)));
        }
    }
}

template <typename U>
bool needs_quotes(const U* t, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
        const U c = t[i];
        if (c == (U)'"' || c == (U)',' || c == (U)'\n' || c == (U)'\r') return true;
    }
    return false;
}

// One CSV field: the text as UTF-8, quoted (quotes doubled) when needed.
template <typename U>
void field_of(const U* t, int64_t n, std::string& out) {
    if (sizeof(U) == 1 && n > 0) {
        // the common case: plain ASCII without a character to quote
        bool plain = true;
        for (int64_t i = 0; i < n && plain; ++i) {
            const uint8_t c = (uint8_t)t[i];
            plain = c < 0x80 && c != '"' && c != ',' && c != '\n' && c != '\r';
        }
        if (plain) {
            out.append(reinterpret_cast<const char*>(t), (size_t)n);
            return;
        }
    }
    if (!needs_quotes(t, n)) {
        utf8(t, n, out);
        return;
    }
    out.push_back('"');
    int64_t a = 0;
    for (int64_t i = 0; i < n; ++i)
        if (t[i] == (U)'"') {
            utf8(t + a, i + 1 - a, out);
            out.push_back('"');
            a = i + 1;
        }
    utf8(t + a, n - a, out);
    out.push_back('"');
}

void field(const TextRef& x, std::string& out) {
    switch (x.kind) {
        case 1: field_of(static_cast<const uint8_t*>(x.data), x.length, out); break;
        case 2: field_of(static_cast<const uint16_t*>(x.data), x.length, out); break;
        default: field_of(static_cast<const uint32_t*>(x.data), x.length, out); break;
    }
}

// Decimal digits of v (no sign) into the end of buf[0, 20); returns where they start.
inline char* digits_of(uint64_t v, char* end) {
    do {
        *--end = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return end;
}

void append_int(int64_t v, std::string& out) {
    char buf[24];
    char* end = buf + sizeof buf;
    char* b = digits_of(v < 0 ? 0 - (uint64_t)v : (uint64_t)v, end);
    if (v < 0) *--b = '-';
    out.append(b, (size_t)(end - b));
}

// The shortest decimal string that reads back as x (x finite, > 0), as
// (digits, exponent): x ~= 0.d1d2... * 10^exp10.
void shortest_digits(double x, std::string& digits, int& exp10) {
    char buf[40];
    for (int p = 1; p <= 17; ++p) {
        std::snprintf(buf, sizeof buf, "%.*e", p - 1, x);
        if (std::strtod(buf, nullptr) == x || p == 17) {
            digits.clear();
            const char* c = buf;
            for (; *c && *c != 'e'; ++c)
                if (*c >= '0' && *c <= '9') digits.push_back(*c);
            exp10 = std::atoi(c + 1) + 1;
            while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
            return;
        }
    }
}

// Python's repr of a finite x >= 0: shortest round-trip digits, fixed
// notation for 1e-4 <= x < 1e16 (with ".0" for integers), else d.ddde-XX.
void py_repr(double x, std::string& out) {
    if (x == 0) {
        out += "0.0";
        return;
    }
    std::string d;
    int e = 0;
    shortest_digits(x, d, e);
    const int dec = e - 1;  // decimal exponent of the first digit
    if (dec < -4 || dec >= 16) {
        out.push_back(d[0]);
        if (d.size() > 1) {
            out.push_back('.');
            out.append(d, 1, std::string::npos);
        }
        char buf[8];
        std::snprintf(buf, sizeof buf, "e%c%02d", dec < 0 ? '-' : '+', dec < 0 ? -dec : dec);
        out += buf;
        return;
    }
    if (e <= 0) {
        out += "0.";
        out.append((size_t)(-e), '0');
        out += d;
    } else if ((int)d.size() <= e) {
        out += d;
        out.append((size_t)e - d.size(), '0');
        out += ".0";
    } else {
        out.append(d, 0, (size_t)e);
        out.push_back('.');
        out.append(d, (size_t)e, std::string::npos);
    }
}

// repr(round(x, 6)) for finite x >= 0.  The usual case (1e-4 <= result <
// 1e9, x * 1e6 not near a rounding tie) prints the integer k = x * 1e6
// rounded, a '.' before its last six digits, trailing zeros dropped; else
// round through printf (exact, ties to even, as Python's round) and repr.
void round6_repr(double x, std::string& out) {
    if (x == 0) {
        out += "0.0";
        return;
    }
    const double m = x * 1e6;
    if (m >= 100.0 && m < 1e15) {
        const double k = std::nearbyint(m);
        const double frac = std::fabs(m - std::floor(m) - 0.5);
        if (frac > 1e-6 * (1.0 + m * 1e-9)) {  // far from a tie: k is the exact rounding
            const uint64_t ki = (uint64_t)k;
            char buf[32];
            char* end = buf + sizeof buf;
            uint64_t fp = ki % 1000000;
            int decimals = 6;
            while (decimals > 1 && fp % 10 == 0) fp /= 10, --decimals;  // trailing zeros
            char* b = end;
            for (int d = 0; d < decimals; ++d) *--b = (char)('0' + fp % 10), fp /= 10;
            *--b = '.';
            b = digits_of(ki / 1000000, b);
            out.append(b, (size_t)(end - b));
            return;
        }
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6f", x);
    py_repr(std::strtod(buf, nullptr), out);
}

}  // namespace

void parse_records(const void* text, int kind, int64_t n, int format, Records& out) {
    check_kind("parse_records", kind);
    if (format != FORMAT_LINES && format != FORMAT_KALDI && format != FORMAT_TRN)
        throw std::invalid_argument("parse_records: unknown format " + std::to_string(format));
    if (n < 0 || (n > 0 && !text)) throw std::invalid_argument("parse_records: bad buffer");
    out = Records();
    // one item through parallel_for: a long parse stops on Ctrl-C like a batch
    parallel_for(1, 1, Schedule::blocks(), [&](int64_t, int64_t) {
        switch (kind) {
            case 1: parse(static_cast<const uint8_t*>(text), n, format, out); break;
            case 2: parse(static_cast<const uint16_t*>(text), n, format, out); break;
            default: parse(static_cast<const uint32_t*>(text), n, format, out); break;
        }
        if (format == FORMAT_LINES || out.bad_line) return;
        // duplicate ids: the first repeat and the record it repeats
        const int64_t N = out.size();
        auto ids = std::make_shared<IdIndex>(text, kind, out);
        constexpr int64_t kAhead = 16;  // hashes computed and slots fetched this far ahead
        uint64_t ahead[kAhead];
        for (int64_t r = 0; r < std::min(kAhead, N); ++r) ids->prefetch(ahead[r] = ids->hash_of(r));
        for (int64_t r = 0; r < N; ++r) {
            if ((r & 0xFFFF) == 0xFFFF) check_interrupt();
            const uint64_t h = ahead[r % kAhead];
            if (r + kAhead < N) ids->prefetch(ahead[r % kAhead] = ids->hash_of(r + kAhead));
            const int64_t first = ids->add(r, h);
            if (first >= 0) {
                out.dup_record = r;
                out.dup_first = first;
                return;
            }
        }
        out.ids = std::move(ids);
    });
}

void match_records(const void* ref_text, int ref_kind, const Records& ref, const void* hyp_text,
                   int hyp_kind, const Records& hyp, int64_t* hyp_of_ref, uint8_t* hyp_used) {
    check_kind("match_records", ref_kind);
    check_kind("match_records", hyp_kind);
    const int64_t R = ref.size(), H = hyp.size();
    if ((R && !hyp_of_ref) || (H && !hyp_used)) throw std::invalid_argument("match_records: null output");
    // the reference's ids were interned in record order when it was parsed (id r =
    // record r: they are unique); each hypothesis id is looked up there
    if (!ref.ids || ref.dup_record >= 0)
        throw std::invalid_argument("match_records: the reference has no unique ids");
    const IdIndex& ids = *ref.ids;
    (void)ref_text;
    const char* ht = static_cast<const char*>(hyp_text);
    for (int64_t r = 0; r < R; ++r) hyp_of_ref[r] = -1;
    // the hashes of the ids a few records ahead, their slots fetched meanwhile
    constexpr int64_t kAhead = 16;
    uint64_t ahead[kAhead];
    auto hash_of = [&](int64_t h) {
        return TokenInterner::text_hash(ht + hyp.id_start[h] * hyp_kind, hyp.id_end[h] - hyp.id_start[h],
                                        hyp_kind);
    };
    for (int64_t h = 0; h < std::min(kAhead, H); ++h) ids.prefetch(ahead[h] = hash_of(h));
    for (int64_t h = 0; h < H; ++h) {
        const uint64_t hh = ahead[h % kAhead];
        if (h + kAhead < H) ids.prefetch(ahead[h % kAhead] = hash_of(h + kAhead));
        const int64_t id = ids.find(ht + hyp.id_start[h] * hyp_kind, hyp.id_end[h] - hyp.id_start[h], hyp_kind, hh);
        hyp_used[h] = id >= 0;
        if (id >= 0) hyp_of_ref[id] = h;
    }
}

int64_t intern_texts(const TextRef* texts, int64_t n, int64_t* ids, int64_t* first) {
    if (n < 0 || (n > 0 && (!texts || !ids || !first)))
        throw std::invalid_argument("intern_texts: bad arguments");
    TokenInterner in(16);
    int64_t k = 0;
    for (int64_t i = 0; i < n; ++i) {
        check_kind("intern_texts", texts[i].kind);
        ids[i] = in.text(texts[i].data, texts[i].length, texts[i].kind);
        if (ids[i] == k) first[k++] = i;
    }
    return k;
}

void csv_rows(const TextRef* id, const TextRef* speaker, const TextRef* ref, const TextRef* hyp,
              const int64_t* counts, int64_t n, int64_t id_base, std::string& out) {
    if (n < 0 || (n > 0 && (!ref || !hyp || !counts)))
        throw std::invalid_argument("csv_rows: bad arguments");
    for (int64_t i = 0; i < n; ++i) {
#if defined(__GNUC__) || defined(__clang__)
        if (i + 8 < n) {  // the texts of a corpus are scattered: fetch ahead
            for (const TextRef* col : {ref, hyp, id, speaker})
                if (col)
                    for (int64_t o = 0; o < std::min<int64_t>(col[i + 8].length * col[i + 8].kind, 512); o += 64)
                        __builtin_prefetch(static_cast<const char*>(col[i + 8].data) + o);
        }
#endif
        const int64_t* c = counts + 6 * i;
        const int64_t H = c[0], S = c[1], D = c[2], I = c[3], nh = c[4], nr = c[5];
        const int64_t err = S + D + I;
        if (id && id[i].data)
            field(id[i], out);
        else
            append_int(id_base + i, out);
        out.push_back(',');
        if (speaker) field(speaker[i], out);
        for (int64_t v : {nr, nh, H, S, D, I, err}) {
            out.push_back(',');
            append_int(v, out);
        }
        out.push_back(',');
        round6_repr(nr > 0 ? (double)err / (double)nr : (double)I, out);
        out.push_back(',');
        field(ref[i], out);
        out.push_back(',');
        field(hyp[i], out);
        out.push_back('\n');
    }
}

void gather_texts(const TextRef* texts, int64_t n, int kind, char* out, int64_t* starts,
                  int64_t* ends) {
    check_kind("gather_texts", kind);
    int64_t at = 0;
    for (int64_t i = 0; i < n; ++i) {
        const TextRef& t = texts[i];
        check_kind("gather_texts", t.kind);
        if (t.kind > kind) throw std::invalid_argument("gather_texts: a string wider than kind");
#if defined(__GNUC__) || defined(__clang__)
        if (i + 8 < n) __builtin_prefetch(texts[i + 8].data);  // (scattered strings)
#endif
        starts[i] = at;
        char* dst = out + at * kind;
        if (t.kind == kind) {
            if (t.length) std::memcpy(dst, t.data, (size_t)(t.length * kind));
        } else {
            for (int64_t j = 0; j < t.length; ++j) {
                const uint32_t c = t.kind == 1 ? static_cast<const uint8_t*>(t.data)[j]
                                               : static_cast<const uint16_t*>(t.data)[j];
                if (kind == 2)
                    reinterpret_cast<uint16_t*>(dst)[j] = (uint16_t)c;
                else
                    reinterpret_cast<uint32_t*>(dst)[j] = c;
            }
        }
        at += t.length;
        ends[i] = at;
    }
}

std::string py_round6_repr(double x) {
    std::string s;
    round6_repr(x, s);
    return s;
}

}  // namespace seqloss
