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
// (in tokens).  error_counts_tokens does the same on int64 token sequences
// (two SeqBatch views of TOKEN_I64, tokens equal iff their values are).
//
// Units (Unit below).  Word = jiwer's default transform: runs of >= 2
// whitespace characters become one space, strip, split on single spaces (a
// lone tab or other lone non-space whitespace character stays inside its
// word); whitespace is Python's str.isspace().  Char = strip, then every
// code point.  Mixed = word, after a space is put before and after every
// code point of U+1100-11FF (Hangul Jamo), U+3040-30FF (kana), U+3130-318F
// (Hangul compatibility Jamo), U+3400-4DBF, U+4E00-9FFF, U+F900-FAFF,
// U+20000-2FA1F (CJK ideographs) and U+AC00-D7AF (Hangul syllables): each
// of those is a token of its own, other scripts are words.
//
// Alignment tie rule (identical to rapidfuzz.distance.Levenshtein.opcodes(ref,
// hyp) of rapidfuzz 3.x, which jiwer 4 uses): strip the common prefix and
// suffix (they are hits), fill the bit-parallel matrix with the reference as
// the pattern, and walk back from the end preferring, at each cell, a deletion
// (reference token dropped) when it is optimal, else an insertion when
// optimal, else the diagonal (hit or substitution).  Pairs whose (stripped)
// matrix would exceed rapidfuzz's 1 MiB budget are first split the way
// rapidfuzz's Hirschberg step splits them (see sdi_counts in the kernel).
//
// Alignments (error_align_text / error_align_tokens, then align_write): the
// ops of that same backtrace, one per token operation in order:
//
//     ops[k]        OP_EQUAL / OP_SUBSTITUTE / OP_DELETE (a reference token
//                   missing) / OP_INSERT (an extra hypothesis token)
//     ref_index[k]  position of the reference token in its pair, -1 for OP_INSERT
//     hyp_index[k]  position of the hypothesis token, -1 for OP_DELETE
//     ref_ids[k]    id of the reference token, -1 for OP_INSERT
//     hyp_ids[k]    id of the hypothesis token, -1 for OP_DELETE
//
// for k in [offsets[i], offsets[i + 1]) for pair i, offsets[i + 1] -
// offsets[i] = hits + substitutions + deletions + insertions of the pair
// (the counts of the first pass).  Ids: text input -> the index of the token
// in the call's vocabulary (distinct tokens in order of first appearance:
// pair by pair, a pair's reference tokens before its hypothesis tokens);
// token input -> the token value.
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

enum Unit : int {
    UNIT_CHAR = 0,
    UNIT_WORD = 1,
    UNIT_MIXED = 2,
};

enum AlignOp : uint8_t {
    OP_EQUAL = 0,
    OP_SUBSTITUTE = 1,
    OP_DELETE = 2,
    OP_INSERT = 3,
};

// Error counts of N sentence pairs in `unit` (Unit); see the layout above.
// Throws a std::bad_alloc naming the sizes (MemoryError in Python) when one
// pair's recorded alignment matrix would exceed 1 GiB (only possible for
// extremely unequal lengths, as large pairs are split first).
void error_counts_batch(const TextRef* hyps /* (N,) */, const TextRef* refs /* (N,) */,
                        int64_t n_pairs, int unit, int64_t* counts /* (N, 6) */,
                        int n_threads);

// The same on int64 token sequences (hyp / ref: SeqBatch views of int64_t).
void error_counts_tokens(const SeqBatch& hyp, const SeqBatch& ref, int64_t n_pairs,
                         int64_t* counts /* (N, 6) */, int n_threads);

// ---- alignments ---------------------------------------------------------
//
// One alignment call: AlignCall* c = align_call_new(); error_align_text (or
// _tokens) over the pairs, in one call or in consecutive chunks (first_pair:
// the index of the chunk's pair 0 in the whole batch), which fills counts
// and records every pair's ops and token ids in per-thread logs; the caller
// sizes its outputs from counts; align_write fills them (and builds the
// vocabulary, text input); align_vocab_* read the vocabulary; align_call_free.
struct AlignCall;

AlignCall* align_call_new();
void align_call_free(AlignCall* call);

void error_align_text(AlignCall* call, const TextRef* hyps /* (N,) */,
                      const TextRef* refs /* (N,) */, int64_t first_pair, int64_t n_pairs,
                      int unit, int64_t* counts /* (N, 6) */, int n_threads);
void error_align_tokens(AlignCall* call, const SeqBatch& hyp, const SeqBatch& ref,
                        int64_t first_pair, int64_t n_pairs, int64_t* counts /* (N, 6) */,
                        int n_threads);

struct AlignOut {
    int64_t size = 0;                  // M, the length of each array below
    const int64_t* offsets = nullptr;  // (N + 1,) IN: ops of pair i at [offsets[i], offsets[i + 1])
    uint8_t* ops = nullptr;            // (M,) OUT
    int32_t* ref_index = nullptr;      // (M,) OUT
    int32_t* hyp_index = nullptr;      // (M,) OUT
    int64_t* ref_ids = nullptr;        // (M,) OUT
    int64_t* hyp_ids = nullptr;        // (M,) OUT
};

// Fills `out` for the N = n_pairs pairs the call recorded.  counts: the (N, 6)
// counts the error_align_* calls returned (offsets must be their running sum
// of hits + substitutions + deletions + insertions); hyp / ref: the token
// sequences of error_align_tokens (nullptr for text input).
void align_write(AlignCall* call, int64_t n_pairs, const int64_t* counts, const AlignOut& out,
                 const SeqBatch* hyp, const SeqBatch* ref, int n_threads);

// The vocabulary of a text call after align_write: V tokens, token v's code
// points at code_points[starts[v], starts[v + 1]).
int64_t align_vocab_size(const AlignCall* call);
int64_t align_vocab_code_points(const AlignCall* call);
void align_vocab(const AlignCall* call, uint32_t* code_points /* (align_vocab_code_points,) */,
                 int64_t* starts /* (V + 1,) */);

// ---- confusion tallies -----------------------------------------------------
//
// The counts of error_counts_batch plus how often each (reference token,
// hypothesis token) pair was substituted and each token deleted or inserted,
// from the same backtrace, without recording every op: TallyCall* c =
// tally_call_new(); error_tally_text over the pairs (in one call or in
// consecutive chunks, as error_align_text); tally_finish; tally_read;
// tally_call_free.  The vocabulary holds the tokens of errors only, in order
// of first appearance (as align_vocab's); the tallies are sorted by count,
// most frequent first, ties by reference then hypothesis id: nothing depends
// on the thread count.
struct TallyCall;

TallyCall* tally_call_new();
void tally_call_free(TallyCall* call);

void error_tally_text(TallyCall* call, const TextRef* hyps /* (N,) */,
                      const TextRef* refs /* (N,) */, int64_t first_pair, int64_t n_pairs,
                      int unit, int64_t* counts /* (N, 6) */, int n_threads);

struct TallySizes {
    int64_t vocab = 0;          // V tokens
    int64_t code_points = 0;    // of all of them
    int64_t substitutions = 0;  // distinct (reference, hypothesis) pairs
    int64_t deletions = 0;      // distinct deleted tokens
    int64_t insertions = 0;     // distinct inserted tokens
};

// Merges the participants' tallies (once, after the last chunk).
TallySizes tally_finish(TallyCall* call);

// The results of tally_finish: token v's code points at code_points[starts[v],
// starts[v + 1]); substitution k: (sub_ref[k], sub_hyp[k]) sub_n[k] times;
// deletion k: token del_id[k], del_n[k] times; likewise insertions.
void tally_read(const TallyCall* call, uint32_t* code_points, int64_t* starts /* (V + 1,) */,
                int64_t* sub_ref, int64_t* sub_hyp, int64_t* sub_n, int64_t* del_id,
                int64_t* del_n, int64_t* ins_id, int64_t* ins_n);

// One sentence pair as token ids, for the error-count kernel: reference
// tokens ref_ids[0, n_ref) and hypothesis tokens hyp_ids[0, n_hyp), equal ids
// iff equal tokens; reference ids are < n_ids and numbered in order of first
// appearance, a hypothesis token absent from the reference gets n_ids.
// Produced by the Tokenizer (edit_distance.cpp, compiled once, into
// seqloss._edit) in the scratch `state` of the calling thread: valid until
// that state's next use.
struct PairTokens {
    const int32_t* ref_ids;
    int64_t n_ref;
    const int32_t* hyp_ids;
    int64_t n_hyp;
    int32_t n_ids;
};
// tokenize: the pair's tokens in `unit` (Unit, see above).  thread_state:
// the calling thread's scratch for it (fetched once per thread and call, not
// per pair).
struct Tokenizer {
    void* (*thread_state)();
    PairTokens (*tokenize)(void* state, const TextRef& hyp, const TextRef& ref, int unit);
};

// Where the alignment kernel hands each pair's ops (implemented in
// edit_distance.cpp, compiled once).  open_log: called once by each
// participant of the kernel's parallel loop, before its first pair, with its
// tokenizer state (text input) or nullptr; add_pair: pair i's ops[0, n_ops),
// in order, right after the participant tokenized and aligned it (so the
// recorder reads the pair's tokens from that tokenizer state).
struct AlignRecorder {
    void* ctx;
    void* (*open_log)(void* ctx, void* tokenizer_state);
    void (*add_pair)(void* log, int64_t i, const uint8_t* ops, int64_t n_ops);
};

// The pairs of one kernel call: text (hyps, refs, unit) through the
// Tokenizer, or int64 token sequences (hyp_tokens, ref_tokens non-null).
struct PairSource {
    const TextRef* hyps = nullptr;
    const TextRef* refs = nullptr;
    int unit = UNIT_WORD;
    const SeqBatch* hyp_tokens = nullptr;
    const SeqBatch* ref_tokens = nullptr;
};

// The kernel table of one instruction-set level (see core/dispatch.hpp).
struct EditKernels {
    void (*levenshtein_batch)(int token_type, const SeqBatch& hyp, const SeqBatch& ref,
                              int64_t n_pairs, int64_t* out, int n_threads);
    int64_t (*levenshtein_pair)(int token_type, const void* hyp, int64_t hyp_len,
                                const void* ref, int64_t ref_len);
    // counts (N, 6) of the pairs of `src`; with a recorder, also every pair's ops
    void (*error_counts)(const PairSource& src, int64_t n_pairs, int64_t* counts,
                         const AlignRecorder* recorder, int n_threads,
                         const Tokenizer& tokenizer);
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
