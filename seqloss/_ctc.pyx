# distutils: language = c++
"""Cython glue for the CTC kernel: memoryviews -> raw pointers, GIL released."""
from libc.stdint cimport int64_t
from libcpp cimport bool as cbool

cdef extern from "ctc.hpp" namespace "seqloss":
    cdef cppclass CtcArgs:
        CtcArgs()
        const void* acts
        void* grad
        int64_t T, N, C, stride_t, stride_n
        const int64_t* targets
        const int64_t* target_offsets
        const int64_t* input_lengths
        const int64_t* target_lengths
        const double* grad_scale
        double* losses
        int64_t blank
        cbool from_logits
        cbool zero_infinity
        int n_threads
    void ctc_loss_f32(const CtcArgs&) except + nogil
    void ctc_loss_f64(const CtcArgs&) except + nogil


def first_bad_label(const int64_t[::1] targets,      # IN (sum(L),) or (N*S,) labels
                    const int64_t[::1] offsets,      # IN (N,) start of item n
                    const int64_t[::1] lengths,      # IN (N,) target lengths
                    int64_t num_classes, int64_t blank):
    """(n, i, value) of the first label outside [0, C) or equal to blank, else None."""
    cdef Py_ssize_t n, i
    cdef int64_t v
    for n in range(lengths.shape[0]):
        for i in range(lengths[n]):
            v = targets[offsets[n] + i]
            if v < 0 or v >= num_classes or v == blank:
                return (n, i, v)
    return None


def padded_offsets(int64_t n, int64_t width):
    """Offsets n * width of the rows of a padded (N, S) target array."""
    import numpy as np
    out = np.empty(n, dtype=np.int64)
    cdef int64_t[::1] o = out
    cdef Py_ssize_t i
    for i in range(n):
        o[i] = i * width
    return out


def concat_offsets(const int64_t[::1] lengths):
    """Exclusive prefix sum of the target lengths (1-D concatenated targets)."""
    import numpy as np
    out = np.empty(lengths.shape[0], dtype=np.int64)
    cdef int64_t[::1] o = out
    cdef int64_t acc = 0
    cdef Py_ssize_t i
    for i in range(lengths.shape[0]):
        o[i] = acc
        acc += lengths[i]
    return out


def run(acts, grad,                    # IN (T,N,C)/(N,T,C) flat, OUT same or None
        int64_t T, int64_t N, int64_t C, int64_t stride_t, int64_t stride_n,
        const int64_t[::1] targets,    # IN labels
        const int64_t[::1] offsets,    # IN (N,)
        const int64_t[::1] input_lengths,   # IN (N,)
        const int64_t[::1] target_lengths,  # IN (N,)
        grad_scale,                    # IN (N,) float64 or None
        double[::1] losses,            # OUT (N,)
        int64_t blank, bint from_logits, bint zero_infinity, int n_threads):
    """Run the CTC kernel; acts/grad are 1-D C-contiguous float32 or float64."""
    cdef CtcArgs args
    cdef const float[::1] a32
    cdef const double[::1] a64
    cdef float[::1] g32
    cdef double[::1] g64
    cdef const double[::1] gsc
    cdef bint is32 = acts.dtype.itemsize == 4
    if losses.shape[0] < N or input_lengths.shape[0] < N or target_lengths.shape[0] < N \
            or offsets.shape[0] < N:
        raise ValueError("internal error: per-item arrays shorter than the batch")
    if acts.shape[0] < T * N * C:
        raise ValueError("internal error: activations smaller than T * N * C")
    args.T = T
    args.N = N
    args.C = C
    args.stride_t = stride_t
    args.stride_n = stride_n
    args.targets = &targets[0] if targets.shape[0] > 0 else <const int64_t*>&offsets[0] if N > 0 else NULL
    args.target_offsets = &offsets[0] if N > 0 else NULL
    args.input_lengths = &input_lengths[0] if N > 0 else NULL
    args.target_lengths = &target_lengths[0] if N > 0 else NULL
    args.losses = &losses[0] if N > 0 else NULL
    args.blank = blank
    args.from_logits = from_logits
    args.zero_infinity = zero_infinity
    args.n_threads = n_threads
    args.grad = NULL
    args.grad_scale = NULL
    if N == 0:
        return
    cdef double dummy[1]
    if T * C == 0:  # every input length is 0: the kernel reads nothing
        args.acts = <const void*>dummy
        args.grad = <void*>dummy if grad is not None else NULL
        args.grad_scale = <const double*>dummy
        with nogil:
            ctc_loss_f64(args)
        return
    if grad_scale is not None:
        gsc = grad_scale
        args.grad_scale = &gsc[0]
    if is32:
        a32 = acts
        args.acts = &a32[0]
        if grad is not None:
            g32 = grad
            args.grad = &g32[0]
        with nogil:
            ctc_loss_f32(args)
    else:
        a64 = acts
        args.acts = &a64[0]
        if grad is not None:
            g64 = grad
            args.grad = &g64[0]
        with nogil:
            ctc_loss_f64(args)
