# distutils: language = c++
"""Cython glue for CTC forced alignment: buffers -> raw pointers, GIL released.

All checking the user sees happens in seqloss/align.py; the C++ side re-checks
defensively and its exceptions become ValueError here.
"""
from libc.stdint cimport int64_t
from cpython.pycapsule cimport PyCapsule_GetPointer

from . import _core, _isa

cdef extern from "align/align.hpp" namespace "seqloss":
    cdef cppclass AlignArgs:
        AlignArgs()
        const void* lp
        int64_t T, N, C, stride_t, stride_n
        const int64_t* targets
        const int64_t* target_offsets
        const int64_t* input_lengths
        const int64_t* target_lengths
        int64_t n_targets, blank, star, max_memory, max_segment
        int64_t* paths
        void* scores
        int64_t* peak_bytes
        int n_threads
    void ctc_align_f32(const AlignArgs&) except + nogil
    void ctc_align_f64(const AlignArgs&) except + nogil
    void install_align_kernels(int level, const void* table) except +

cdef extern from "core/parallel.hpp" namespace "seqloss":
    void install_workers(const void* api)

for _level, _table in _isa.tables("align"):
    install_align_kernels(_level, PyCapsule_GetPointer(_table, b"seqloss.align"))
install_workers(PyCapsule_GetPointer(_core._workers, b"seqloss.workers"))

ctypedef fused real:
    float
    double


def run(const real[::1] lp, int64_t T, int64_t N, int64_t C, int64_t stride_t,
        int64_t stride_n, const int64_t[::1] targets, const int64_t[::1] offsets,
        const int64_t[::1] input_lengths, const int64_t[::1] target_lengths, int64_t blank,
        int64_t star, int64_t max_memory, int n_threads, int64_t[::1] paths,
        real[::1] scores, int64_t max_segment=0):
    """Run the kernel; returns the largest scratch (bytes) an item used."""
    cdef AlignArgs a
    cdef int64_t peak = 0
    cdef int64_t zero = 0
    cdef real dummy = 0
    if N == 0:
        return 0
    if offsets.shape[0] != N or input_lengths.shape[0] != N or target_lengths.shape[0] != N:
        raise ValueError("internal error: per-item arrays do not match the batch")
    if paths.shape[0] != N * T or scores.shape[0] != N * T or lp.shape[0] != T * N * C:
        raise ValueError("internal error: array sizes do not match")
    a.lp = &lp[0] if lp.shape[0] > 0 else &dummy
    a.T = T
    a.N = N
    a.C = C
    a.stride_t = stride_t
    a.stride_n = stride_n
    a.targets = &targets[0] if targets.shape[0] > 0 else &zero
    a.n_targets = targets.shape[0]
    a.target_offsets = &offsets[0]
    a.input_lengths = &input_lengths[0]
    a.target_lengths = &target_lengths[0]
    a.blank = blank
    a.star = star
    a.max_memory = max_memory
    a.max_segment = max_segment
    a.paths = &paths[0] if paths.shape[0] > 0 else &zero
    a.scores = &scores[0] if scores.shape[0] > 0 else &dummy
    a.peak_bytes = &peak
    a.n_threads = n_threads
    with nogil:
        if real is float:
            ctc_align_f32(a)
        else:
            ctc_align_f64(a)
    return peak
