// Transcript files for corpus scoring (seqloss eval), read in place: the
// records of a decoded file, matched by utterance id, and the per-utterance
// CSV written from the counts.  Compiled once (edit/corpus.cpp, in
// seqloss._edit); pure C++, no Python headers.
//
// Memory layout
// -------------
// A file is one fixed-width code-point buffer text[0, n) (PEP 393: `kind` =
// 1, 2 or 4 bytes per code point) whose lines end in '\n' only (the caller
// turns "\r\n" and "\r" into "\n" first; for FORMAT_KALDI also tabs into
// spaces).  parse_records fills, per record r (in file order):
//
//     id_start[r], id_end[r]      the utterance id: text[id_start, id_end)
//     text_start[r], text_end[r]  the transcript:   text[text_start, text_end)
//     line[r]                     its 1-based line number
//     speaker_end[r]              sclite's speaker of the id is
//                                 text[id_start, speaker_end), or -1 for none
//
// with the rules of seqloss/_eval_io.py (the reference implementation):
//  * FORMAT_LINES: every line is a record (empty ones too); a final "\n"
//    starts no record; no ids (id spans empty, speaker_end -1).
//  * FORMAT_KALDI: blank lines (empty or only whitespace, Python's isspace)
//    skipped; the line is stripped; the id runs to its first ' ' (the whole
//    line without one), the transcript is the rest, left-stripped.
//  * FORMAT_TRN: blank lines and lines starting with ";;" skipped; the line
//    is right-stripped and must end in ')' with a '(' before it (else
//    bad_line is set to its number and parsing stops); the id is between
//    the last '(' and the final ')', stripped; the transcript is what comes
//    before the '(', less one separating ' '.
// Ids are checked for duplicates (dup_record / dup_first: the first repeat
// and the record it repeats) and for emptiness (empty_id_record, trn).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "edit/edit_distance.hpp"  // TextRef

namespace seqloss {

class IdIndex;  // edit/corpus.cpp

enum RecordFormat : int {
    FORMAT_LINES = 0,
    FORMAT_KALDI = 1,
    FORMAT_TRN = 2,
};

struct Records {
    std::vector<int64_t> id_start, id_end, text_start, text_end, line, speaker_end;
    int64_t bad_line = 0;          // trn: 1-based number of a line without "(id)", else 0
    int64_t empty_id_record = -1;  // first record with an empty id, else -1
    int64_t dup_record = -1;       // first record whose id an earlier record has, else -1
    int64_t dup_first = -1;        // that earlier record
    bool all_speakers = true;      // every record's id gives a speaker
    // the ids' hash index (when they are unique): match_records looks the other
    // file's ids up in it.  It refers to this object and to the parsed text, so
    // both must outlive it (a copy of a Records still uses the original's).
    std::shared_ptr<const IdIndex> ids;
    int64_t size() const { return (int64_t)line.size(); }
};

// Parses text[0, n) (see above).  Throws std::invalid_argument on a bad kind
// or format.
void parse_records(const void* text, int kind, int64_t n, int format, Records& out);

// hyp_of_ref[r] = the hypothesis record with reference record r's id, or -1;
// hyp_used[h] = 1 when hypothesis record h's id is among the reference's.
// Ids are compared by code point (the buffers' kinds may differ).
void match_records(const void* ref_text, int ref_kind, const Records& ref,
                   const void* hyp_text, int hyp_kind, const Records& hyp,
                   int64_t* hyp_of_ref /* (ref.size(),) */, uint8_t* hyp_used /* (hyp.size(),) */);

// Dense ids of N strings in order of first appearance (equal code points,
// equal id): ids[i] and, per distinct string, the index of its first
// occurrence in first[0, return value).
int64_t intern_texts(const TextRef* texts, int64_t n, int64_t* ids /* (N,) */,
                     int64_t* first /* (N,) */);

// Appends rows [0, n) of the per-utterance CSV (RFC 4180 quoting, as Python's
// csv module: a field is quoted when it holds '"', ',', '\n' or '\r') as
// UTF-8 to `out`:
//     id,speaker,reference_length,hypothesis_length,hits,substitutions,
//     deletions,insertions,errors,error_rate,reference,hypothesis
// id[i] (data == nullptr: the decimal number id_base + i), speaker[i]
// (speaker == nullptr: empty fields), ref[i], hyp[i]; counts (N, 6) as
// error_counts_batch.  error_rate = errors / reference_length (insertions
// when the reference is empty), written as Python writes
// repr(round(rate, 6)).
void csv_rows(const TextRef* id, const TextRef* speaker, const TextRef* ref,
              const TextRef* hyp, const int64_t* counts, int64_t n, int64_t id_base,
              std::string& out);

// Copies the N strings one after the other to out (code points of `kind`
// bytes, at least each string's own width): string i at [starts[i], ends[i]).
void gather_texts(const TextRef* texts, int64_t n, int kind, char* out,
                  int64_t* starts /* (N,) */, int64_t* ends /* (N,) */);

// Python's repr(round(x, 6)) of a finite x >= 0 (exposed for tests).
std::string py_round6_repr(double x);

}  // namespace seqloss
