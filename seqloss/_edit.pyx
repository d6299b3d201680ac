# distutils: language = c++
"""Cython glue for the edit-distance kernels: buffers -> raw pointers, GIL released.

All checking the user sees happens in seqloss/edit_distance.py; the C++ side
re-checks defensively and its exceptions become ValueError / IndexError here.
"""
from libc.stdint cimport int64_t, uint8_t, uint16_t, uint32_t, int32_t
from libcpp.vector cimport vector
from libcpp.string cimport string
from libc.string cimport memcpy
from cpython.pycapsule cimport PyCapsule_GetPointer

import numpy as np

from . import _core, _isa

for _level, _table in _isa.tables("edit"):
    install_edit_kernels(_level, PyCapsule_GetPointer(_table, b"seqloss.edit"))
install_workers(PyCapsule_GetPointer(_core._workers, b"seqloss.workers"))

cdef extern from "Python.h":
    int PyUnicode_READY(object) except -1
    int PyUnicode_KIND(object) except? -1
    void* PyUnicode_DATA(object)
    Py_ssize_t PyUnicode_GET_LENGTH(object)

cdef extern from "edit/edit_distance.hpp" namespace "seqloss":
    cdef enum TokenType:
        TOKEN_U8, TOKEN_U16, TOKEN_U32, TOKEN_I32, TOKEN_I64
    cdef cppclass SeqBatch:
        SeqBatch()
        const void* data
        const int64_t* offsets
        int64_t stride
        const int64_t* lengths
    void levenshtein_batch(int token_type, const SeqBatch& hyp, const SeqBatch& ref,
                           int64_t n_pairs, int64_t* out, int n_threads) except + nogil
    cdef cppclass TextRef:
        TextRef()
        const void* data
        int64_t length
        int32_t kind
    void error_counts_batch(const TextRef* hyps, const TextRef* refs, int64_t n_pairs,
                            int unit, int64_t* counts, int n_threads) except + nogil
    void error_counts_tokens(const SeqBatch& hyp, const SeqBatch& ref, int64_t n_pairs,
                             int64_t* counts, int n_threads) except + nogil
    cdef cppclass AlignCall:
        pass
    cdef cppclass AlignOut:
        AlignOut()
        int64_t size
        const int64_t* offsets
        uint8_t* ops
        int32_t* ref_index
        int32_t* hyp_index
        int64_t* ref_ids
        int64_t* hyp_ids
    AlignCall* align_call_new() except +
    void align_call_free(AlignCall* call)
    void error_align_text(AlignCall* call, const TextRef* hyps, const TextRef* refs,
                          int64_t first_pair, int64_t n_pairs, int unit, int64_t* counts,
                          int n_threads) except + nogil
    void error_align_tokens(AlignCall* call, const SeqBatch& hyp, const SeqBatch& ref,
                            int64_t first_pair, int64_t n_pairs, int64_t* counts,
                            int n_threads) except + nogil
    void align_write(AlignCall* call, int64_t n_pairs, const int64_t* counts,
                     const AlignOut& out, const SeqBatch* hyp, const SeqBatch* ref,
                     int n_threads) except + nogil
    int64_t align_vocab_size(const AlignCall* call)
    int64_t align_vocab_code_points(const AlignCall* call)
    void align_vocab(const AlignCall* call, uint32_t* code_points, int64_t* starts) except +
    int64_t levenshtein_pair(int token_type, const void* hyp, int64_t hyp_len,
                             const void* ref, int64_t ref_len) except + nogil
    bint is_py_space(uint32_t c) nogil
    void install_edit_kernels(int level, const void* table) except +
    cdef cppclass TallyCall:
        pass
    cdef cppclass TallySizes:
        int64_t vocab
        int64_t code_points
        int64_t substitutions
        int64_t deletions
        int64_t insertions
    TallyCall* tally_call_new() except +
    void tally_call_free(TallyCall* call)
    void error_tally_text(TallyCall* call, const TextRef* hyps, const TextRef* refs,
                          int64_t first_pair, int64_t n_pairs, int unit, int64_t* counts,
                          int n_threads) except + nogil
    TallySizes tally_finish(TallyCall* call) except + nogil
    void tally_read(const TallyCall* call, uint32_t* code_points, int64_t* starts,
                    int64_t* sub_ref, int64_t* sub_hyp, int64_t* sub_n, int64_t* del_id,
                    int64_t* del_n, int64_t* ins_id, int64_t* ins_n) except +

cdef extern from "edit/corpus.hpp" namespace "seqloss":
    cdef cppclass Records:
        Records()
        vector[int64_t] id_start, id_end, text_start, text_end, line, speaker_end
        int64_t bad_line, empty_id_record, dup_record, dup_first
        bint all_speakers
        int64_t size()
    void parse_records(const void* text, int kind, int64_t n, int format,
                       Records& out) except + nogil
    void match_records(const void* ref_text, int ref_kind, const Records& ref,
                       const void* hyp_text, int hyp_kind, const Records& hyp,
                       int64_t* hyp_of_ref, uint8_t* hyp_used) except + nogil
    int64_t intern_texts(const TextRef* texts, int64_t n, int64_t* ids,
                         int64_t* first) except + nogil
    void csv_rows(const TextRef* id, const TextRef* speaker, const TextRef* ref,
                  const TextRef* hyp, const int64_t* counts, int64_t n, int64_t id_base,
                  string& out) except + nogil
    string py_round6_repr(double x) except +
    void gather_texts(const TextRef* texts, int64_t n, int kind, char* out, int64_t* starts,
                      int64_t* ends) except + nogil

cdef extern from "core/parallel.hpp" namespace "seqloss":
    void install_workers(const void* api)

cdef extern from "edit/intern.hpp" namespace "seqloss":
    cdef cppclass TokenInterner:
        TokenInterner(int64_t expected)
        int64_t text(const void* data, int64_t length, int kind)
        int64_t integer(int64_t value)

ctypedef fused token_t:
    uint8_t
    uint16_t
    uint32_t
    int32_t
    int64_t


cdef int _token_type(token_t* dummy) noexcept nogil:
    if token_t is uint8_t:
        return TOKEN_U8
    elif token_t is uint16_t:
        return TOKEN_U16
    elif token_t is uint32_t:
        return TOKEN_U32
    elif token_t is int32_t:
        return TOKEN_I32
    else:
        return TOKEN_I64


def distance_batch(const token_t[::1] hyp,            # IN  tokens (flat or padded (N, Wh) raveled)
                   const int64_t[::1] hyp_offsets,    # IN  (N,) starts, or None: start = i * hyp_stride
                   int64_t hyp_stride,
                   const int64_t[::1] hyp_lengths,    # IN  (N,)
                   const token_t[::1] ref,            # IN  tokens, same element type as hyp
                   const int64_t[::1] ref_offsets,    # IN  (N,) or None
                   int64_t ref_stride,
                   const int64_t[::1] ref_lengths,    # IN  (N,)
                   int64_t[::1] out,                  # OUT (N,) distances
                   int n_threads,
                   object progress=None,              # callable(pairs done) after each chunk
                   int64_t chunk=0):                  # pairs per kernel call (0: all at once)
    """Levenshtein distance of N pairs (see src_cpp/edit/edit_distance.hpp for the layout).

    With ``progress``, the pairs run in chunks of ``chunk`` (one parallel kernel
    call each, GIL released) and ``progress(done)`` is called, with the GIL,
    after each; an exception it raises stops the work and propagates."""
    cdef SeqBatch h, r
    cdef int64_t n = out.shape[0]
    if hyp_lengths.shape[0] != n or ref_lengths.shape[0] != n:
        raise ValueError("distance_batch: lengths and out disagree")
    if n == 0:
        return
    h.data = &hyp[0] if hyp.shape[0] > 0 else NULL
    r.data = &ref[0] if ref.shape[0] > 0 else NULL
    h.offsets = &hyp_offsets[0] if hyp_offsets is not None else NULL
    r.offsets = &ref_offsets[0] if ref_offsets is not None else NULL
    h.stride = hyp_stride
    r.stride = ref_stride
    h.lengths = &hyp_lengths[0]
    r.lengths = &ref_lengths[0]
    # empty token buffers are valid when every length is 0; give the kernel a
    # non-null dummy so its null check stays meaningful
    cdef int64_t dummy = 0
    if h.data == NULL:
        h.data = &dummy
    if r.data == NULL:
        r.data = &dummy
    cdef int tt = _token_type(<token_t*>NULL)
    if progress is None or chunk <= 0 or chunk >= n:
        with nogil:
            levenshtein_batch(tt, h, r, n, &out[0], n_threads)
        if progress is not None:
            progress(n)
        return
    cdef SeqBatch hc, rc
    cdef int64_t i0 = 0, m
    while i0 < n:
        m = min(chunk, n - i0)
        hc = _batch_from(h, i0, <const token_t*>NULL)
        rc = _batch_from(r, i0, <const token_t*>NULL)
        with nogil:
            levenshtein_batch(tt, hc, rc, m, &out[i0], n_threads)
        i0 += m
        progress(i0)


cdef SeqBatch _batch_from(const SeqBatch& b, int64_t i0, const token_t* dummy) noexcept nogil:
    """The view of pairs [i0, N) of b (tokens of type token_t)."""
    cdef SeqBatch c = b
    c.lengths = b.lengths + i0
    if b.offsets != NULL:
        c.offsets = b.offsets + i0
    elif b.stride > 0:
        c.data = <const void*>(<const token_t*>b.data + i0 * b.stride)
    return c


cdef int _fill_refs(tuple items, str name, vector[TextRef]& out) except -1:
    cdef Py_ssize_t i
    cdef object x
    for i in range(len(items)):
        x = items[i]
        if not isinstance(x, str):
            raise TypeError("Expected %s[%d] to be a str, but got %s"
                            % (name, i, type(x).__name__))
        PyUnicode_READY(x)
        out[i].kind = PyUnicode_KIND(x)
        out[i].data = PyUnicode_DATA(x)
        out[i].length = PyUnicode_GET_LENGTH(x)
    return 0


cdef int _fill_column(list column, vector[TextRef]& out) except -1:
    """out = the strings of a column of spans: segments (text, starts, ends), each
    string text[starts[i]:ends[i]] (checked to lie inside its text)."""
    cdef Py_ssize_t i, k = 0, n
    cdef const int64_t[::1] st
    cdef const int64_t[::1] en
    cdef str text
    cdef int kind
    cdef const char* data
    cdef int64_t L
    out.clear()
    for text, starts, ends in column:
        st = starts
        en = ends
        if st.shape[0] != en.shape[0]:
            raise ValueError("a span column's starts and ends differ in length")
        PyUnicode_READY(text)
        kind = PyUnicode_KIND(text)
        data = <const char*>PyUnicode_DATA(text)
        L = PyUnicode_GET_LENGTH(text)
        n = st.shape[0]
        out.resize(k + n)
        for i in range(n):
            if st[i] < 0 or st[i] > en[i] or en[i] > L:
                raise ValueError("span %d of a column is outside its text" % i)
            out[k + i].kind = kind
            out[k + i].data = data + st[i] * kind
            out[k + i].length = en[i] - st[i]
        k += n
    return 0


cdef class TextPairs:
    """N (hypothesis, reference) text pairs as TextRef views (GIL-free): of two
    tuples of str, or of two span columns (see _fill_column); holds what the
    views point into."""
    cdef vector[TextRef] h
    cdef vector[TextRef] r
    cdef object keep
    cdef readonly Py_ssize_t n

    @staticmethod
    def of_strings(tuple hyps, tuple refs):
        cdef TextPairs p = TextPairs()
        if len(hyps) != len(refs):
            raise ValueError("TextPairs: hyps and refs differ in length")
        p.n = len(hyps)
        p.h.resize(p.n)
        p.r.resize(p.n)
        _fill_refs(hyps, "hypotheses", p.h)
        _fill_refs(refs, "references", p.r)
        p.keep = (hyps, refs)
        return p

    @staticmethod
    def of_columns(list hyps, list refs):
        cdef TextPairs p = TextPairs()
        _fill_column(hyps, p.h)
        _fill_column(refs, p.r)
        if p.h.size() != p.r.size():
            raise ValueError("TextPairs: hyps and refs differ in length")
        p.n = p.h.size()
        p.keep = (hyps, refs)
        return p


def error_counts(TextPairs p,                # IN  N text pairs
                 int unit,                    # 0 char, 1 word, 2 mixed (Unit)
                 int64_t[:, ::1] counts,      # OUT (N, 6) hits, subs, dels, ins, hyp_len, ref_len
                 int n_threads,
                 object progress=None,        # callable(pairs done) after each chunk
                 int64_t chunk=0):            # pairs per kernel call (0: all at once)
    """Word, character or mixed-unit error counts of N sentence pairs, read
    straight from the strings' PEP 393 buffers (1, 2 or 4 bytes per code
    point, no copy); ``progress`` as in distance_batch."""
    cdef Py_ssize_t n = counts.shape[0]
    if p.n != n or counts.shape[1] != 6:
        raise ValueError("error_counts: pairs and counts disagree")
    if n == 0:
        return
    if progress is None or chunk <= 0 or chunk >= n:
        with nogil:
            error_counts_batch(p.h.data(), p.r.data(), n, unit, &counts[0, 0], n_threads)
        if progress is not None:
            progress(n)
        return
    cdef int64_t i0 = 0, m
    while i0 < n:
        m = min(chunk, n - i0)
        with nogil:
            error_counts_batch(p.h.data() + i0, p.r.data() + i0, m, unit, &counts[i0, 0],
                               n_threads)
        i0 += m
        progress(i0)


def _decode_vocab(uint32_t[::1] cps, const int64_t[::1] starts):
    """The list of str of a vocabulary's code points and (V + 1,) starts."""
    text = np.asarray(cps).tobytes().decode("utf-32-le", "surrogatepass")
    st = np.asarray(starts).tolist()
    return [text[st[i]:st[i + 1]] for i in range(len(st) - 1)]


def tally_text(TextPairs p,                # IN  N text pairs
               int unit,                   # 0 char, 1 word, 2 mixed
               int64_t[:, ::1] counts,     # OUT (N, 6) as error_counts
               int n_threads,
               object progress=None,
               int64_t chunk=0):
    """The counts and the confusion tallies of N text pairs, from the same
    backtrace: (vocabulary, (sub_ref, sub_hyp, sub_n), (del_id, del_n),
    (ins_id, ins_n)), ids into the vocabulary (the tokens of errors), each
    tally most frequent first (see edit_distance.hpp)."""
    cdef int64_t n = counts.shape[0]
    if p.n != n or counts.shape[1] != 6:
        raise ValueError("tally_text: pairs and counts disagree")
    cdef TallyCall* call = tally_call_new()
    cdef int64_t i0 = 0, m
    cdef TallySizes z
    cdef uint32_t[::1] cv
    cdef int64_t[::1] sv, a, b, c, d, e, f, g
    cdef uint32_t dcp = 0
    cdef int64_t d0 = 0, d1 = 0, d2 = 0, d3 = 0, d4 = 0, d5 = 0, d6 = 0
    if progress is None or chunk <= 0:
        chunk = max(n, 1)
    try:
        while i0 < n:
            m = min(chunk, n - i0)
            with nogil:
                error_tally_text(call, p.h.data() + i0, p.r.data() + i0, i0, m, unit,
                                 &counts[i0, 0], n_threads)
            i0 += m
            if progress is not None:
                progress(i0)
        with nogil:
            z = tally_finish(call)
        cps = np.empty(z.code_points, dtype=np.uint32)
        starts = np.empty(z.vocab + 1, dtype=np.int64)
        out = [np.empty(z.substitutions, dtype=np.int64) for _ in range(3)] + \
              [np.empty(z.deletions, dtype=np.int64) for _ in range(2)] + \
              [np.empty(z.insertions, dtype=np.int64) for _ in range(2)]
        cv = cps
        sv = starts
        a, b, c, d, e, f, g = out
        tally_read(call, &cv[0] if z.code_points else &dcp, &sv[0],
                   &a[0] if z.substitutions else &d0, &b[0] if z.substitutions else &d1,
                   &c[0] if z.substitutions else &d2, &d[0] if z.deletions else &d3,
                   &e[0] if z.deletions else &d4, &f[0] if z.insertions else &d5,
                   &g[0] if z.insertions else &d6)
    finally:
        tally_call_free(call)
    return (_decode_vocab(cps, starts), (out[0], out[1], out[2]), (out[3], out[4]),
            (out[5], out[6]))


cdef SeqBatch _ragged(const int64_t[::1] tokens, const int64_t[::1] offsets,
                      const int64_t[::1] lengths, int64_t* dummy):
    """A SeqBatch view of ragged int64 token sequences (data never null)."""
    cdef SeqBatch b
    b.data = &tokens[0] if tokens.shape[0] > 0 else dummy
    b.offsets = &offsets[0] if offsets.shape[0] > 0 else NULL
    b.stride = 0
    b.lengths = &lengths[0] if lengths.shape[0] > 0 else NULL
    return b


def token_error_counts(const int64_t[::1] hyp,            # IN  hypothesis tokens, concatenated
                       const int64_t[::1] hyp_offsets,    # IN  (N,) start of each
                       const int64_t[::1] hyp_lengths,    # IN  (N,)
                       const int64_t[::1] ref,            # IN  reference tokens
                       const int64_t[::1] ref_offsets,    # IN  (N,)
                       const int64_t[::1] ref_lengths,    # IN  (N,)
                       int64_t[:, ::1] counts,            # OUT (N, 6) as error_counts
                       int n_threads,
                       object progress=None,
                       int64_t chunk=0):
    """Error counts of N pairs of int64 token sequences (tokens equal iff their
    values are); ``progress`` as in distance_batch."""
    cdef int64_t n = counts.shape[0]
    if hyp_lengths.shape[0] != n or ref_lengths.shape[0] != n or hyp_offsets.shape[0] != n \
            or ref_offsets.shape[0] != n or counts.shape[1] != 6:
        raise ValueError("token_error_counts: lengths, offsets and counts disagree")
    if n == 0:
        return
    cdef int64_t dh = 0, dr = 0
    cdef SeqBatch h = _ragged(hyp, hyp_offsets, hyp_lengths, &dh)
    cdef SeqBatch r = _ragged(ref, ref_offsets, ref_lengths, &dr)
    cdef SeqBatch hc, rc
    if progress is None or chunk <= 0 or chunk >= n:
        with nogil:
            error_counts_tokens(h, r, n, &counts[0, 0], n_threads)
        if progress is not None:
            progress(n)
        return
    cdef int64_t i0 = 0, m
    while i0 < n:
        m = min(chunk, n - i0)
        hc = _batch_from(h, i0, <const int64_t*>NULL)
        rc = _batch_from(r, i0, <const int64_t*>NULL)
        with nogil:
            error_counts_tokens(hc, rc, m, &counts[i0, 0], n_threads)
        i0 += m
        progress(i0)


cdef class AlignRecord:
    """The recorded alignments of one call (an AlignCall, freed with the object):
    record_text / record_tokens fill it, write_alignments copies it out."""
    cdef AlignCall* call
    cdef readonly int64_t n_pairs

    def __cinit__(self):
        self.call = align_call_new()
        self.n_pairs = 0

    def __dealloc__(self):
        if self.call != NULL:
            align_call_free(self.call)
            self.call = NULL


def record_text(TextPairs p,                # IN  N text pairs
                int unit,                   # 0 char, 1 word, 2 mixed
                int64_t[:, ::1] counts,     # OUT (N, 6) as error_counts
                int n_threads,
                object progress=None,
                int64_t chunk=0):
    """First pass of the alignments of N sentence pairs: the counts, and every
    pair's ops and token ids recorded in the returned AlignRecord (nothing in
    it points into the strings).  ``progress`` as in distance_batch."""
    cdef int64_t n = counts.shape[0]
    if p.n != n or counts.shape[1] != 6:
        raise ValueError("record_text: pairs and counts disagree")
    cdef AlignRecord rec = AlignRecord()
    cdef int64_t i0 = 0, m
    if progress is None or chunk <= 0:
        chunk = n
    while i0 < n:
        m = min(chunk, n - i0)
        with nogil:
            error_align_text(rec.call, p.h.data() + i0, p.r.data() + i0, i0, m, unit,
                             &counts[i0, 0], n_threads)
        i0 += m
        if progress is not None:
            progress(i0)
    rec.n_pairs = n
    return rec


def record_tokens(const int64_t[::1] hyp,            # IN  hypothesis tokens, concatenated
                  const int64_t[::1] hyp_offsets,    # IN  (N,)
                  const int64_t[::1] hyp_lengths,    # IN  (N,)
                  const int64_t[::1] ref,            # IN  reference tokens
                  const int64_t[::1] ref_offsets,    # IN  (N,)
                  const int64_t[::1] ref_lengths,    # IN  (N,)
                  int64_t[:, ::1] counts,            # OUT (N, 6) as error_counts
                  int n_threads,
                  object progress=None,
                  int64_t chunk=0):
    """record_text for N pairs of int64 token sequences (write_alignments then
    needs the same arrays again: the ids are the token values)."""
    cdef int64_t n = counts.shape[0]
    if hyp_lengths.shape[0] != n or ref_lengths.shape[0] != n or hyp_offsets.shape[0] != n \
            or ref_offsets.shape[0] != n or counts.shape[1] != 6:
        raise ValueError("record_tokens: lengths, offsets and counts disagree")
    cdef int64_t dh = 0, dr = 0
    cdef SeqBatch h = _ragged(hyp, hyp_offsets, hyp_lengths, &dh)
    cdef SeqBatch r = _ragged(ref, ref_offsets, ref_lengths, &dr)
    cdef SeqBatch hc, rc
    cdef AlignRecord rec = AlignRecord()
    cdef int64_t i0 = 0, m
    if progress is None or chunk <= 0:
        chunk = n
    while i0 < n:
        m = min(chunk, n - i0)
        hc = _batch_from(h, i0, <const int64_t*>NULL)
        rc = _batch_from(r, i0, <const int64_t*>NULL)
        with nogil:
            error_align_tokens(rec.call, hc, rc, i0, m, &counts[i0, 0], n_threads)
        i0 += m
        if progress is not None:
            progress(i0)
    rec.n_pairs = n
    return rec


def write_alignments(AlignRecord rec,
                     const int64_t[:, ::1] counts,      # IN  (N, 6) from record_*
                     const int64_t[::1] offsets,        # IN  (N + 1,) running sum of H + S + D + I
                     uint8_t[::1] ops,                  # OUT (M,)
                     int32_t[::1] ref_index,            # OUT (M,)
                     int32_t[::1] hyp_index,            # OUT (M,)
                     int64_t[::1] ref_ids,              # OUT (M,)
                     int64_t[::1] hyp_ids,              # OUT (M,)
                     int n_threads,
                     tuple tokens=None):                # (hyp, hyp_offsets, hyp_lengths, ref,
                                                        #  ref_offsets, ref_lengths): token input
    """Second pass: the recorded alignments into the outputs (see
    src_cpp/edit/edit_distance.hpp; text input: also the vocabulary)."""
    cdef int64_t n = counts.shape[0]
    cdef int64_t M = ops.shape[0]
    if n != rec.n_pairs or offsets.shape[0] != n + 1 or counts.shape[1] != 6 or \
            ref_index.shape[0] != M or hyp_index.shape[0] != M or ref_ids.shape[0] != M or \
            hyp_ids.shape[0] != M or offsets[n] != M:
        raise ValueError("write_alignments: counts, offsets and outputs disagree")
    if n == 0:
        return
    cdef AlignOut out
    cdef uint8_t d8 = 0
    cdef int32_t d32a = 0, d32b = 0
    cdef int64_t d64a = 0, d64b = 0
    out.size = M
    out.offsets = &offsets[0]
    out.ops = &ops[0] if M else &d8
    out.ref_index = &ref_index[0] if M else &d32a
    out.hyp_index = &hyp_index[0] if M else &d32b
    out.ref_ids = &ref_ids[0] if M else &d64a
    out.hyp_ids = &hyp_ids[0] if M else &d64b
    cdef const int64_t[::1] hb, ho, hl, rb, ro, rl
    cdef int64_t dh = 0, dr = 0
    cdef SeqBatch h, r
    if tokens is None:
        with nogil:
            align_write(rec.call, n, &counts[0, 0], out, NULL, NULL, n_threads)
        return
    hb, ho, hl, rb, ro, rl = tokens
    h = _ragged(hb, ho, hl, &dh)
    r = _ragged(rb, ro, rl, &dr)
    with nogil:
        align_write(rec.call, n, &counts[0, 0], out, &h, &r, n_threads)


def vocabulary(AlignRecord rec):
    """The vocabulary (list of str, in id order) of a text call after write_alignments."""
    cdef int64_t V = align_vocab_size(rec.call)
    cps = np.empty(align_vocab_code_points(rec.call), dtype=np.uint32)
    starts = np.empty(V + 1, dtype=np.int64)
    cdef uint32_t[::1] cv = cps
    cdef int64_t[::1] sv = starts
    cdef uint32_t dcp = 0
    align_vocab(rec.call, &cv[0] if cps.shape[0] else &dcp, &sv[0])
    return _decode_vocab(cps, starts)


cdef int _token_kind(object tok):
    """1: a str token, 2: an integer token (not bool), 0: neither."""
    cdef type t = type(tok)
    if t is str:
        return 1
    if t is int:
        return 2
    if isinstance(tok, str):
        return 1
    if isinstance(tok, (bool, np.bool_)):
        return 0
    if isinstance(tok, (int, np.integer)):
        return 2
    return 0


_KIND_NAMES = {1: "str", 2: "int"}


def token_pairs(tuple hyps, tuple refs):
    """Pre-tokenised pairs -> (hyp tokens, hyp lengths, ref tokens, ref lengths,
    vocabulary): int64 arrays of the token values (int tokens; vocabulary None)
    or of ids in order of first appearance (str tokens: pair by pair, the
    reference's tokens first; vocabulary the list of the tokens in id order;
    also when no pair has a token).  Items: lists / tuples of str or int
    tokens, or 1-D integer arrays, every token of one kind.  Raises TypeError /
    ValueError naming the first bad item or token."""
    cdef Py_ssize_t n = len(hyps), i, j, L, side
    cdef int kind = 0, k
    cdef int64_t v, before
    cdef vector[int64_t] hv, rv
    cdef vector[int64_t]* out
    cdef TokenInterner* it = new TokenInterner(1024)
    cdef object item, tok, first = None
    cdef str name
    cdef list vocab = []
    hl = np.empty(n, dtype=np.int64)
    rl = np.empty(n, dtype=np.int64)
    cdef int64_t[::1] hlv = hl
    cdef int64_t[::1] rlv = rl
    cdef const int64_t[::1] av
    try:
        for i in range(n):
            for side in range(2):
                if side == 0:
                    item = refs[i]
                    name = "references"
                    out = &rv
                else:
                    item = hyps[i]
                    name = "hypotheses"
                    out = &hv
                before = out.size()
                if type(item) is list or type(item) is tuple:
                    L = len(item)
                    for j in range(L):
                        tok = item[j]
                        k = _token_kind(tok)
                        if k == 0:
                            raise TypeError("Expected %s[%d][%d] to be a str or int token, but "
                                            "got %s" % (name, i, j, type(tok).__name__))
                        if kind != 0 and k != kind:
                            raise TypeError(
                                "Expected every token to be a %s like %s, but %s[%d][%d] is %s"
                                % (_KIND_NAMES[kind], first, name, i, j, type(tok).__name__))
                        if kind == 0:
                            kind = k
                            first = "%s[%d][%d]" % (name, i, j)
                        if k == 1:
                            PyUnicode_READY(tok)
                            v = it.text(PyUnicode_DATA(tok), PyUnicode_GET_LENGTH(tok),
                                        PyUnicode_KIND(tok))
                            if v == len(vocab):
                                vocab.append(str(tok))
                        else:
                            try:
                                v = tok
                            except OverflowError:
                                raise ValueError("Expected %s[%d][%d] to fit in int64, but got %d"
                                                 % (name, i, j, int(tok))) from None
                        out.push_back(v)
                elif isinstance(item, np.ndarray):
                    if item.ndim != 1 or item.dtype.kind not in "iu":
                        raise TypeError("Expected %s[%d] to be a 1-D integer array, but got an "
                                        "array of dtype %s and shape %s"
                                        % (name, i, item.dtype, item.shape))
                    L = item.shape[0]
                    if L:
                        if kind == 1:
                            raise TypeError(
                                "Expected every token to be a str like %s, but %s[%d] is an "
                                "integer array" % (first, name, i))
                        if kind == 0:
                            kind = 2
                            first = "%s[%d][0]" % (name, i)
                        if item.dtype == np.uint64 and int(item.max()) > 2**63 - 1:
                            raise ValueError("Expected %s[%d] to fit in int64, but got %d"
                                             % (name, i, int(item.max())))
                        av = np.ascontiguousarray(item, dtype=np.int64)
                        for j in range(L):
                            out.push_back(av[j])
                else:
                    raise TypeError(
                        "Expected %s[%d] to be a token sequence (a list or tuple of str or int "
                        "tokens, or a 1-D integer array), but got %s"
                        % (name, i, type(item).__name__))
                if side == 0:
                    rlv[i] = out.size() - before
                else:
                    hlv[i] = out.size() - before
    finally:
        del it
    hb = np.empty(hv.size(), dtype=np.int64)
    rb = np.empty(rv.size(), dtype=np.int64)
    cdef int64_t[::1] hbv = hb
    cdef int64_t[::1] rbv = rb
    if hv.size():
        memcpy(&hbv[0], hv.data(), hv.size() * sizeof(int64_t))
    if rv.size():
        memcpy(&rbv[0], rv.data(), rv.size() * sizeof(int64_t))
    return hb, hl, rb, rl, (None if kind == 2 else vocab)


def distance_str(str a, str b):
    """Levenshtein distance of two str by code point, read from their PEP 393
    buffers (no copy when both have the same width)."""
    PyUnicode_READY(a)
    PyUnicode_READY(b)
    cdef int ka = PyUnicode_KIND(a)
    cdef int kb = PyUnicode_KIND(b)
    cdef int64_t na = PyUnicode_GET_LENGTH(a)
    cdef int64_t nb = PyUnicode_GET_LENGTH(b)
    cdef const void* pa
    cdef const void* pb
    cdef bytes ea, eb
    cdef int tt
    cdef int64_t d
    if ka == kb:
        pa = PyUnicode_DATA(a)
        pb = PyUnicode_DATA(b)
        tt = TOKEN_U8 if ka == 1 else (TOKEN_U16 if ka == 2 else TOKEN_U32)
    else:
        # (lone surrogates are code points like any other)
        ea = a.encode("utf-32-le", "surrogatepass")
        eb = b.encode("utf-32-le", "surrogatepass")
        pa = <const char*>ea
        pb = <const char*>eb
        tt = TOKEN_U32
    with nogil:
        d = levenshtein_pair(tt, pa, na, pb, nb)
    return d


def distance_bytes(const unsigned char[::1] a, const unsigned char[::1] b):
    """Levenshtein distance of two byte strings."""
    cdef unsigned char dummy = 0
    cdef const void* pa = &a[0] if a.shape[0] else &dummy
    cdef const void* pb = &b[0] if b.shape[0] else &dummy
    cdef int64_t d
    with nogil:
        d = levenshtein_pair(TOKEN_U8, pa, a.shape[0], pb, b.shape[0])
    return d


cdef int _ints(object seq, vector[int64_t]& out):
    """Fill out with seq's items when all are exact Python ints fitting int64."""
    cdef Py_ssize_t i, n = len(seq)
    out.resize(n)
    for i in range(n):
        x = seq[i]
        if type(x) is not int:
            return 0
        try:
            out[i] = x
        except OverflowError:
            return 0
    return 1


def distance_int_seqs(a, b):
    """Distance of two lists/tuples of Python ints (by value), or None when an
    item is not an int that fits 64 bits (the caller then interns by ==)."""
    cdef vector[int64_t] va, vb
    cdef int64_t dummy = 0
    cdef int64_t d
    if not _ints(a, va) or not _ints(b, vb):
        return None
    cdef const void* pa = va.data() if va.size() else &dummy
    cdef const void* pb = vb.data() if vb.size() else &dummy
    with nogil:
        d = levenshtein_pair(TOKEN_I64, pa, va.size(), pb, vb.size())
    return d


cdef int64_t _intern_item(object item, TokenInterner* it, vector[int64_t]& ids) except -2:
    """Append the ids of item's tokens; return the token count, or -1 when a
    token is not an exact str / int fitting 64 bits (the caller then falls
    back to Python equality)."""
    cdef Py_ssize_t i, n
    cdef object tok
    cdef int kind
    cdef const char* data
    cdef int64_t v
    cdef type t = type(item)
    if t is list or t is tuple:
        n = len(item)
        for i in range(n):
            tok = item[i]
            if type(tok) is str:
                PyUnicode_READY(tok)
                ids.push_back(it.text(PyUnicode_DATA(tok), PyUnicode_GET_LENGTH(tok),
                                      PyUnicode_KIND(tok)))
            elif type(tok) is int:
                try:
                    v = tok
                except OverflowError:
                    return -1
                ids.push_back(it.integer(v))
            else:
                return -1
        return n
    if t is str:  # a str is the sequence of its characters
        PyUnicode_READY(item)
        kind = PyUnicode_KIND(item)
        data = <const char*>PyUnicode_DATA(item)
        n = PyUnicode_GET_LENGTH(item)
        for i in range(n):
            ids.push_back(it.text(data + i * kind, 1, kind))
        return n
    if t is bytes or t is bytearray:  # bytes are the sequence of their ints
        n = len(item)
        for i in range(n):
            ids.push_back(it.integer(item[i]))
        return n
    if isinstance(item, np.ndarray) and item.ndim == 1 and item.dtype.kind in "iu":
        return _intern_item(item.tolist(), it, ids)
    return -1


def intern_batch(hyps, refs):
    """Tokens of two sequences of items -> (ids, hyp_lengths, ref_lengths),
    ids (int64) equal iff the tokens are equal, hypotheses' tokens first; or
    None when some token needs Python's own equality (the caller's fallback).

    The interner keeps pointers into the tokens' str buffers until it is
    deleted, so every item is held in ``keep`` for the whole call: a sequence
    that builds its items on access would otherwise free them (and their
    strings) while still referenced."""
    cdef Py_ssize_t nh = len(hyps), nr = len(refs), i
    cdef vector[int64_t] ids
    cdef int64_t c
    cdef list keep = []
    hl = np.empty(nh, dtype=np.int64)
    rl = np.empty(nr, dtype=np.int64)
    cdef int64_t[::1] hlv = hl
    cdef int64_t[::1] rlv = rl
    cdef TokenInterner* it = new TokenInterner(1024)
    try:
        for i in range(nh):
            item = hyps[i]
            keep.append(item)
            c = _intern_item(item, it, ids)
            if c < 0:
                return None
            hlv[i] = c
        for i in range(nr):
            item = refs[i]
            keep.append(item)
            c = _intern_item(item, it, ids)
            if c < 0:
                return None
            rlv[i] = c
    finally:
        del it
    out = np.empty(ids.size(), dtype=np.int64)
    cdef int64_t[::1] o = out
    if ids.size():
        memcpy(&o[0], ids.data(), ids.size() * sizeof(int64_t))
    return out, hl, rl


def space_mask(const uint32_t[::1] code_points):
    """Bytes with 1 where the tokenizer treats the code point as whitespace (for tests)."""
    cdef Py_ssize_t i
    out = bytearray(code_points.shape[0])
    cdef unsigned char[::1] o = out
    for i in range(code_points.shape[0]):
        o[i] = is_py_space(code_points[i])
    return bytes(out)


# ------------------------------------------------------------ transcript files

cdef object _vec(const vector[int64_t]& v):
    a = np.empty(v.size(), dtype=np.int64)
    cdef int64_t[::1] o = a
    if v.size():
        memcpy(&o[0], v.data(), v.size() * sizeof(int64_t))
    return a


cdef class RecordFile:
    """The records of one decoded transcript file, parsed in place
    (src_cpp/edit/corpus.hpp: format 0 lines, 1 kaldi, 2 trn; ``text`` must
    hold '\\n' line ends only, and for kaldi spaces for tabs)."""
    cdef Records rec
    cdef readonly str text
    cdef readonly int format

    def __init__(self, str text, int format):
        PyUnicode_READY(text)
        self.text = text
        self.format = format
        cdef int kind = PyUnicode_KIND(text)
        cdef const void* data = PyUnicode_DATA(text)
        cdef int64_t n = PyUnicode_GET_LENGTH(text)
        with nogil:
            parse_records(data, kind, n, format, self.rec)

    def __len__(self):
        return self.rec.size()

    @property
    def bad_line(self):
        return self.rec.bad_line

    @property
    def empty_id_record(self):
        return self.rec.empty_id_record

    @property
    def duplicate(self):
        """(record, earlier record with the same id), or None."""
        return None if self.rec.dup_record < 0 else (self.rec.dup_record, self.rec.dup_first)

    @property
    def all_speakers(self):
        return bool(self.rec.all_speakers)

    def arrays(self):
        """{field: int64 array (records,)} of the spans, line numbers and speaker ends."""
        return {"id_start": _vec(self.rec.id_start), "id_end": _vec(self.rec.id_end),
                "text_start": _vec(self.rec.text_start), "text_end": _vec(self.rec.text_end),
                "line": _vec(self.rec.line), "speaker_end": _vec(self.rec.speaker_end)}


def match_files(RecordFile ref, RecordFile hyp):
    """(hyp_of_ref (R,) int64: the hypothesis record of each reference record's
    id or -1, hyp_used (H,) bool: the hypothesis records whose id the reference
    has); reference ids must be unique."""
    hyp_of_ref = np.empty(ref.rec.size(), dtype=np.int64)
    used = np.empty(hyp.rec.size(), dtype=np.uint8)
    cdef int64_t[::1] a = hyp_of_ref
    cdef uint8_t[::1] b = used
    cdef int64_t da = 0
    cdef uint8_t db = 0
    cdef int rk = PyUnicode_KIND(ref.text), hk = PyUnicode_KIND(hyp.text)
    cdef const void* rd = PyUnicode_DATA(ref.text)
    cdef const void* hd = PyUnicode_DATA(hyp.text)
    with nogil:
        match_records(rd, rk, ref.rec, hd, hk, hyp.rec,
                      &a[0] if a.shape[0] else &da, &b[0] if b.shape[0] else &db)
    return hyp_of_ref, used.view(bool)


def intern_column(list column):
    """(ids (N,) int64, first (K,) int64) of a span column: equal strings equal
    ids, numbered in order of first appearance; first[k] = where id k first is."""
    cdef vector[TextRef] t
    _fill_column(column, t)
    cdef int64_t n = t.size(), k
    ids = np.empty(n, dtype=np.int64)
    first = np.empty(n, dtype=np.int64)
    cdef int64_t[::1] iv = ids
    cdef int64_t[::1] fv = first
    if n == 0:
        return ids, first
    with nogil:
        k = intern_texts(t.data(), n, &iv[0], &fv[0])
    return ids, first[:k].copy()


def csv_chunk(object ids,                   # span column, or None: row numbers
              object speakers,              # span column, or None: empty
              list refs, list hyps,         # span columns
              const int64_t[:, ::1] counts, # IN  (N, 6) as error_counts
              int64_t id_base):             # the first row's number (ids None)
    """UTF-8 bytes of N rows of the per-utterance CSV (edit/corpus.hpp)."""
    cdef vector[TextRef] vi, vs, vr, vh
    cdef int64_t n = counts.shape[0]
    _fill_column(refs, vr)
    _fill_column(hyps, vh)
    if ids is not None:
        _fill_column(ids, vi)
    if speakers is not None:
        _fill_column(speakers, vs)
    if <int64_t>vr.size() != n or <int64_t>vh.size() != n or \
            (ids is not None and <int64_t>vi.size() != n) or \
            (speakers is not None and <int64_t>vs.size() != n) or counts.shape[1] != 6:
        raise ValueError("csv_chunk: columns and counts disagree")
    cdef string out
    if n == 0:
        return b""
    with nogil:
        csv_rows(vi.data() if ids is not None else NULL,
                 vs.data() if speakers is not None else NULL, vr.data(), vh.data(),
                 &counts[0, 0], n, id_base, out)
    return out


def round6_repr(double x):
    """repr(round(x, 6)) as the CSV writer computes it (for tests)."""
    return py_round6_repr(x).decode("ascii")


cdef extern from "Python.h":
    object PyUnicode_FromKindAndData(int kind, const void* buffer, Py_ssize_t size)


def gather_column(list column, bint as_bytes=False):
    """(text, starts, ends): the strings of a span column copied one after the other
    into a new str (the smallest width that holds them), so later passes read them
    in order instead of jumping around the texts they came from.  ``as_bytes``:
    (data, encoding, starts, ends) instead, the text's code points as bytes that
    ``data.decode(encoding, "surrogatepass")`` turns back into it ("latin-1", one
    byte a code point, or "utf-32-le") - cheaper to send than a str."""
    cdef vector[TextRef] t
    _fill_column(column, t)
    cdef int64_t n = t.size(), i, total = 0
    cdef int kind = 1
    for i in range(n):
        total += t[i].length
        if t[i].kind > kind:
            kind = t[i].kind
    if as_bytes and kind == 2:
        kind = 4        # (UTF-16 would join surrogate pairs)
    starts = np.empty(n, dtype=np.int64)
    ends = np.empty(n, dtype=np.int64)
    cdef int64_t[::1] sv = starts
    cdef int64_t[::1] ev = ends
    cdef vector[char] buf
    buf.resize(max(total, 1) * kind)
    cdef int64_t ds = 0, de = 0
    with nogil:
        gather_texts(t.data(), n, kind, buf.data(), &sv[0] if n else &ds, &ev[0] if n else &de)
    if as_bytes:
        return (buf.data()[:total * kind], "latin-1" if kind == 1 else "utf-32-le", starts,
                ends)
    return PyUnicode_FromKindAndData(kind, buf.data(), total), starts, ends
