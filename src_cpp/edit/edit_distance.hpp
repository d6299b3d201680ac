// Levenshtein edit distance and word/character error counts: batched,
// OpenMP-parallel, bit-parallel (Myers 1999 / Hyyroe 2003) C++17 kernels.
// Pure C++, no Python headers.
//
// Memory layout
// -------------
// A batch of N pairs is two SeqBatch views, one for the hypotheses and one for
// the references.  Sequence i of a side holds
//
//     data[start(i) + k]   for k in [0, lengths[i])        (element units)
//     start(i) = offsets ? offsets[i] : i * stride
//
// so a padded (N, W) C-contiguous array is {data, nullptr, W, lengths} and a
// concatenation of ragged sequences is {data, offsets, 0, lengths}.  Elements
// are one of the TokenType integer types below (hypothesis and reference use
// the same type); tokens are equal iff their integer values are equal.
//
// error_counts_batch works on text: hyps[i] / refs[i] point at a fixed-width
// code-point buffer (Python's PEP 393 layout: `kind` = 1, 2 or 4 bytes per
// code point, `length` code points).  counts is (N, 6) int64, row i = hits,
// substitutions, deletions, insertions, hypothesis length, reference length
// (in tokens).
//
// Word unit = jiwer's default transform: runs of >= 2 whitespace characters
// become one space, strip, split on single spaces (a lone tab or other lone
// non-space whitespace character stays inside its word); whitespace is
// Python's str.isspace().  Char unit = strip, then every code point.
//
// Alignment tie rule (identical to rapidfuzz.distance.Levenshtein.opcodes(ref,
// hyp) of rapidfuzz 3.x, which jiwer 4 uses): strip the common prefix and
// suffix (they are hits), fill the bit-parallel matrix with the reference as
// the pattern, and walk back from the end preferring, at each cell, a deletion
// (reference token dropped) when it is optimal, else an insertion when
// optimal, else the diagonal (hit or substitution).  Pairs whose (stripped)
// matrix would exceed rapidfuzz's 1 MiB budget are first split the way
// rapidfuzz's Hirschberg step splits them (see sdi_counts in the kernel).
#pragma once

#include <cstdint>

#include "core/isa.hpp"

namespace seqloss {

enum TokenType : int {
    TOKEN_U8 = 0,
    TOKEN_U16 = 1,
    TOKEN_U32 = 2,
    TOKEN_I32 = 3,
    TOKEN_I64 = 4,
};

struct TextRef {
    const void* data = nullptr;  // code points
    int64_t length = 0;          // number of code points
    int32_t kind = 1;            // bytes per code point: 1, 2 or 4
};

struct SeqBatch {
    const void* data = nullptr;         // tokens of TokenType
    const int64_t* offsets = nullptr;   // (N,) start of sequence i, or nullptr
    int64_t stride = 0;                 // start(i) = i * stride when offsets is null
    const int64_t* lengths = nullptr;   // (N,) tokens in sequence i
};

// out[i] = Levenshtein distance (unit costs) between hypothesis i and reference i.
// Throws std::invalid_argument on bad arguments; never lets an exception escape
// its OpenMP region.
void levenshtein_batch(int token_type, const SeqBatch& hyp, const SeqBatch& ref,
                       int64_t n_pairs, int64_t* out /* (N,) */, int n_threads);

// Distance of one pair (hyp[0, hyp_len), ref[0, ref_len) of token_type), on
// the calling thread.
int64_t levenshtein_pair(int token_type, const void* hyp, int64_t hyp_len, const void* ref,
                         int64_t ref_len);

// Word (word_unit != 0) or character error counts of N sentence pairs; see the
// layout above.  Throws a std::bad_alloc naming the sizes (MemoryError in
// Python) when one pair's recorded alignment matrix would exceed 1 GiB (only
// possible for extremely unequal lengths, as large pairs are split first).
void error_counts_batch(const TextRef* hyps /* (N,) */, const TextRef* refs /* (N,) */,
                        int64_t n_pairs, int word_unit, int64_t* counts /* (N, 6) */,
                        int n_threads);

// One sentence pair as token ids, for the error-count kernel: reference
// tokens ref_ids[0, n_ref) and hypothesis tokens hyp_ids[0, n_hyp), equal ids
// iff equal tokens; reference ids are < n_ids, a hypothesis token absent from
// the reference gets n_ids.  Produced by the Tokenizer (edit_distance.cpp,
// compiled once, into seqloss._edit) in the scratch `state` of the calling
// thread: valid until that state's next use.
struct PairTokens {
    const int32_t* ref_ids;
    int64_t n_ref;
    const int32_t* hyp_ids;
    int64_t n_hyp;
    int32_t n_ids;
};
// tokenize: word_unit != 0: jiwer's default word transform (see above); 0:
// strip, then every code point.  thread_state: the calling thread's scratch
// for it (fetched once per thread and call, not per pair).
struct Tokenizer {
    void* (*thread_state)();
    PairTokens (*tokenize)(void* state, const TextRef& hyp, const TextRef& ref, int word_unit);
};

// The kernel table of one instruction-set level (see core/dispatch.hpp).
struct EditKernels {
    void (*levenshtein_batch)(int token_type, const SeqBatch& hyp, const SeqBatch& ref,
                              int64_t n_pairs, int64_t* out, int n_threads);
    int64_t (*levenshtein_pair)(int token_type, const void* hyp, int64_t hyp_len,
                                const void* ref, int64_t ref_len);
    void (*error_counts)(const TextRef* hyps, const TextRef* refs, int64_t n_pairs,
                         int word_unit, int64_t* counts, int n_threads, const Tokenizer& tokenizer);
};

// Installs the table of `level` (0 base, 1 avx2, 2 avx512); called at import.
void install_edit_kernels(int level, const void* table);

}  // namespace seqloss

SEQLOSS_ISA_BEGIN

// This level's table (edit_kernels.cpp, compiled into seqloss._kernels_<level>).
const EditKernels* edit_kernels();

// Python's str.isspace() (Py_UNICODE_ISSPACE, also what re's \s and
// str.strip() use) for one code point.
constexpr bool is_py_space(uint32_t c) {
    // 9..13 and 28..32
    if (c < 64) return (UINT64_C(0x1F0003E00) >> c) & 1;
    if (c < 0x85) return false;
    if (c < 0x1680) return c == 0x85 || c == 0xA0;
    return c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
           c == 0x202F || c == 0x205F || c == 0x3000;
}

struct SpaceTable {
    uint8_t t[256];
    constexpr SpaceTable() : t() {
        for (uint32_t c = 0; c < 256; ++c) t[c] = is_py_space(c) ? 1 : 0;
    }
};
inline constexpr SpaceTable kSpaceTable{};

// is_py_space with a table for the first 256 code points.
inline bool is_space_cp(uint32_t c) { return c < 256 ? kSpaceTable.t[c] != 0 : is_py_space(c); }

SEQLOSS_ISA_END
