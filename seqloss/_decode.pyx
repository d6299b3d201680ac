# distutils: language = c++
"""Cython glue for CTC decoding: buffers -> raw pointers, GIL released.

All checking the user sees happens in seqloss/decode.py; the C++ side
re-checks defensively and its exceptions become ValueError here.
"""
from libc.stdint cimport int64_t, int32_t, uint32_t
from libcpp cimport bool as cbool
from libcpp.memory cimport shared_ptr, unique_ptr
from libcpp.string cimport string
from libcpp.vector cimport vector
from cpython.pycapsule cimport PyCapsule_GetPointer

import numpy as np

from . import _core, _isa

cdef extern from "decode/ngram.hpp" namespace "seqloss":
    cdef cppclass NgramModel:
        @staticmethod
        shared_ptr[NgramModel] from_arpa(const char* data, size_t size) except + nogil
        @staticmethod
        shared_ptr[NgramModel] from_binary(const char* data, size_t size) except + nogil
        string to_binary() except +
        int order()
        int64_t vocab_size()
        int64_t count(int n)
        int32_t find(string w)
        double sentence_ids "sentence"(const vector[string_view]& words, cbool bos, cbool eos) except +

cdef extern from "<string_view>" namespace "std":
    cdef cppclass string_view:
        string_view(const char*, size_t)

cdef extern from "decode/lexicon.hpp" namespace "seqloss":
    cdef cppclass Lexicon:
        Lexicon(const vector[string]& tokens, int64_t blank, int word_mode,
                const string& delimiter) except +
    cdef cppclass HotwordSet:
        HotwordSet(const vector[vector[uint32_t]]& phrases, const vector[double]& weights) except +

cdef extern from "decode/decode.hpp" namespace "seqloss":
    cdef cppclass Emissions[T]:
        Emissions()
        const T* x
        int64_t n_frames, batch, n_classes, stride_t, stride_n
        const int64_t* lengths
        cbool from_logits
    cdef cppclass BeamOptions:
        BeamOptions()
        int64_t beam_width, nbest, blank
        double token_min_logp, beam_prune_logp, lm_weight, word_score, unk_offset
        cbool lm_tokens
    cdef cppclass DecodeResult:
        DecodeResult()
        int64_t nbest
        int64_t max_length()
        void emit(int64_t width, int64_t* counts, int64_t* lengths, double* scores,
                  double* acoustic, double* lm, double* hotword, int64_t* words,
                  int64_t* tokens, int64_t* starts, int64_t* ends, double* conf_mean,
                  double* conf_min) except +
    void ctc_greedy[T](const Emissions[T]& e, int64_t blank, cbool merge_repeated,
                       int n_threads, DecodeResult& out) except + nogil
    void ctc_beam_search[T](const Emissions[T]& e, const BeamOptions& opt,
                            const Lexicon* lexicon, const NgramModel* lm,
                            const HotwordSet* hotwords, int n_threads,
                            DecodeResult& out) except + nogil
    void install_decode_kernels(int level, const void* table) except +

cdef extern from "core/parallel.hpp" namespace "seqloss":
    void install_workers(const void* api)

for _level, _table in _isa.tables("decode"):
    install_decode_kernels(_level, PyCapsule_GetPointer(_table, b"seqloss.decode"))
install_workers(PyCapsule_GetPointer(_core._workers, b"seqloss.workers"))

ctypedef fused real:
    float
    double


cdef class Model:
    """An n-gram model held by C++ (immutable; shared by any number of calls)."""
    cdef shared_ptr[NgramModel] ptr

    @staticmethod
    def from_arpa(const unsigned char[::1] data):
        cdef Model m = Model.__new__(Model)
        cdef const char* p = NULL
        cdef size_t n = data.shape[0]
        if n:
            p = <const char*>&data[0]
        with nogil:
            m.ptr = NgramModel.from_arpa(p, n)
        return m

    @staticmethod
    def from_binary(const unsigned char[::1] data):
        cdef Model m = Model.__new__(Model)
        cdef const char* p = NULL
        cdef size_t n = data.shape[0]
        if n:
            p = <const char*>&data[0]
        with nogil:
            m.ptr = NgramModel.from_binary(p, n)
        return m

    def to_binary(self):
        cdef string s = self.ptr.get().to_binary()
        return s  # bytes

    @property
    def order(self):
        return self.ptr.get().order()

    @property
    def vocab_size(self):
        return self.ptr.get().vocab_size()

    def count(self, int n):
        return self.ptr.get().count(n)

    def contains(self, bytes word):
        return self.ptr.get().find(word) >= 0

    def sentence(self, list words, cbool bos, cbool eos):
        """log10 score of a list of UTF-8 byte strings."""
        cdef vector[string_view] v
        cdef bytes w
        for w in words:
            v.push_back(string_view(<const char*>w, len(w)))
        return self.ptr.get().sentence_ids(v, bos, eos)


cdef class Vocabulary:
    """Tokens and hotwords prepared for the C++ search (one per distinct setup)."""
    cdef unique_ptr[Lexicon] lexicon
    cdef unique_ptr[HotwordSet] hotwords

    def __init__(self, list tokens, int64_t blank, int word_mode, bytes delimiter,
                 list phrases, list weights):
        cdef vector[string] toks
        cdef bytes t
        for t in tokens:
            toks.push_back(t)
        self.lexicon.reset(new Lexicon(toks, blank, word_mode, delimiter))
        cdef vector[vector[uint32_t]] ph
        cdef vector[double] wt
        cdef vector[uint32_t] units
        if phrases:
            for p, w in zip(phrases, weights):
                units.clear()
                for ch in p:
                    units.push_back(ord(ch))
                ph.push_back(units)
                wt.push_back(w)
            self.hotwords.reset(new HotwordSet(ph, wt))


cdef dict _emit(DecodeResult& res, int64_t N):
    cdef int64_t K = res.nbest
    cdef int64_t W = res.max_length()
    counts = np.empty(N, np.int64)
    lengths = np.empty((N, K), np.int64)
    scores = np.empty((N, K), np.float64)
    acoustic = np.empty((N, K), np.float64)
    lm = np.empty((N, K), np.float64)
    hot = np.empty((N, K), np.float64)
    words = np.empty((N, K), np.int64)
    tokens = np.empty((N, K, W), np.int64)
    starts = np.empty((N, K, W), np.int64)
    ends = np.empty((N, K, W), np.int64)
    cmean = np.empty((N, K, W), np.float64)
    cmin = np.empty((N, K, W), np.float64)
    cdef int64_t[::1] c_ = counts
    cdef int64_t[:, ::1] l_ = lengths, w_ = words
    cdef double[:, ::1] s_ = scores, a_ = acoustic, m_ = lm, h_ = hot
    cdef int64_t[:, :, ::1] t_ = tokens, b_ = starts, e_ = ends
    cdef double[:, :, ::1] cm_ = cmean, cn_ = cmin
    if N > 0:
        res.emit(W, &c_[0], &l_[0, 0], &s_[0, 0], &a_[0, 0], &m_[0, 0], &h_[0, 0], &w_[0, 0],
                 &t_[0, 0, 0] if W else NULL, &b_[0, 0, 0] if W else NULL,
                 &e_[0, 0, 0] if W else NULL, &cm_[0, 0, 0] if W else NULL,
                 &cn_[0, 0, 0] if W else NULL)
    return dict(counts=counts, lengths=lengths, scores=scores, acoustic_scores=acoustic,
                lm_scores=lm, hotword_scores=hot, word_counts=words, tokens=tokens,
                start_frames=starts, end_frames=ends, confidence_mean=cmean,
                confidence_min=cmin)


cdef void _emissions(Emissions[real]& e, const real[:, :, ::1] x, bint batch_first,
                     const int64_t[::1] lengths, bint from_logits):
    # x is (T, N, C) or (N, T, C) (batch_first), C-contiguous
    cdef int64_t isz = sizeof(real)
    if batch_first:
        e.batch = x.shape[0]
        e.n_frames = x.shape[1]
        e.stride_n = x.strides[0] // isz
        e.stride_t = x.strides[1] // isz
    else:
        e.n_frames = x.shape[0]
        e.batch = x.shape[1]
        e.stride_t = x.strides[0] // isz
        e.stride_n = x.strides[1] // isz
    e.n_classes = x.shape[2]
    e.x = &x[0, 0, 0] if (x.shape[0] and x.shape[1] and x.shape[2]) else NULL
    e.lengths = &lengths[0] if lengths.shape[0] else NULL
    e.from_logits = from_logits


def greedy(const real[:, :, ::1] x,          # IN  (T, N, C) or (N, T, C)
           bint batch_first,
           const int64_t[::1] lengths,       # IN  (N,)
           int64_t blank, bint merge_repeated, bint from_logits, int n_threads):
    cdef Emissions[real] e
    _emissions(e, x, batch_first, lengths, from_logits)
    cdef DecodeResult res
    with nogil:
        ctc_greedy(e, blank, merge_repeated, n_threads, res)
    return _emit(res, e.batch)


def beam_search(const real[:, :, ::1] x,     # IN  (T, N, C) or (N, T, C)
                bint batch_first,
                const int64_t[::1] lengths,  # IN  (N,)
                bint from_logits,
                int64_t beam_width, int64_t nbest, int64_t blank,
                double token_min_logp, double beam_prune_logp,
                double lm_weight, double word_score, double unk_offset, bint lm_tokens,
                Vocabulary vocab, Model model, int n_threads):
    cdef Emissions[real] e
    _emissions(e, x, batch_first, lengths, from_logits)
    cdef BeamOptions opt
    opt.beam_width = beam_width
    opt.nbest = nbest
    opt.blank = blank
    opt.token_min_logp = token_min_logp
    opt.beam_prune_logp = beam_prune_logp
    opt.lm_weight = lm_weight
    opt.word_score = word_score
    opt.unk_offset = unk_offset
    opt.lm_tokens = lm_tokens
    cdef const Lexicon* lex = vocab.lexicon.get() if vocab is not None else NULL
    cdef const HotwordSet* hot = vocab.hotwords.get() if vocab is not None else NULL
    cdef const NgramModel* lm = model.ptr.get() if model is not None else NULL
    cdef DecodeResult res
    with nogil:
        ctc_beam_search(e, opt, lex, lm, hot, n_threads, res)
    return _emit(res, e.batch)
