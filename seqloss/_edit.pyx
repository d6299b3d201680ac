# distutils: language = c++
"""Cython glue for the edit-distance kernels: buffers -> raw pointers, GIL released.

All checking the user sees happens in seqloss/edit_distance.py; the C++ side
re-checks defensively and its exceptions become ValueError / IndexError here.
"""
from libc.stdint cimport int64_t, uint8_t, uint16_t, uint32_t, int32_t
from libcpp.vector cimport vector
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
                            int word_unit, int64_t* counts, int n_threads) except + nogil
    int64_t levenshtein_pair(int token_type, const void* hyp, int64_t hyp_len,
                             const void* ref, int64_t ref_len) except + nogil
    bint is_py_space(uint32_t c) nogil
    void install_edit_kernels(int level, const void* table) except +

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


def error_counts(tuple hyps,                  # IN  (N,) str (the tuple keeps them alive)
                 tuple refs,                  # IN  (N,) str
                 bint word_unit,
                 int64_t[:, ::1] counts,      # OUT (N, 6) hits, subs, dels, ins, hyp_len, ref_len
                 int n_threads,
                 object progress=None,        # callable(pairs done) after each chunk
                 int64_t chunk=0):            # pairs per kernel call (0: all at once)
    """Word or character error counts of N sentence pairs, read straight from
    each string's PEP 393 buffer (1, 2 or 4 bytes per code point, no copy).
    Every item is checked before any work; ``progress`` as in distance_batch."""
    cdef Py_ssize_t n = counts.shape[0]
    if len(hyps) != n or len(refs) != n or counts.shape[1] != 6:
        raise ValueError("error_counts: hyps, refs and counts disagree")
    if n == 0:
        return
    cdef vector[TextRef] h
    cdef vector[TextRef] r
    h.resize(n)
    r.resize(n)
    _fill_refs(hyps, "hypotheses", h)
    _fill_refs(refs, "references", r)
    cdef int wu = 1 if word_unit else 0
    if progress is None or chunk <= 0 or chunk >= n:
        with nogil:
            error_counts_batch(h.data(), r.data(), n, wu, &counts[0, 0], n_threads)
        if progress is not None:
            progress(n)
        return
    cdef int64_t i0 = 0, m
    while i0 < n:
        m = min(chunk, n - i0)
        with nogil:
            error_counts_batch(h.data() + i0, r.data() + i0, m, wu, &counts[i0, 0], n_threads)
        i0 += m
        progress(i0)


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
