# distutils: language = c++
"""Cython glue for the CTC kernel: memoryviews -> raw pointers, GIL released.

One call validates the per-item lengths and labels (reporting the first
offence for the Python layer to phrase), builds the target offsets and the
gradient scales, runs the kernel without the GIL and reduces the losses, so a
small call costs a few microseconds on top of the kernel.
"""
from libc.stdint cimport int64_t
from libcpp cimport bool as cbool
from libcpp.vector cimport vector

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
        cbool grad_reused
        int n_threads
    void ctc_loss_f32(const CtcArgs&) except + nogil
    void ctc_loss_f64(const CtcArgs&) except + nogil

# Error codes returned by run() (the Python layer turns them into messages).
ERR_INPUT_LENGTH_NEGATIVE = 1
ERR_INPUT_LENGTH_OVER_T = 2
ERR_TARGET_LENGTH_NEGATIVE = 3
ERR_TARGET_LENGTH_OVER_WIDTH = 4
ERR_TARGETS_SIZE = 5
ERR_LABEL_RANGE = 6
ERR_LABEL_BLANK = 7

REDUCTION_NONE = 0
REDUCTION_MEAN = 1
REDUCTION_SUM = 2


def run(acts, grad,                     # IN (T,N,C)/(N,T,C) flat; OUT same or None
        int64_t T, int64_t N, int64_t C, int64_t stride_t, int64_t stride_n,
        const int64_t[::1] targets,     # IN padded (N*width,) or concatenated labels
        int64_t width,                  # IN >= 0: padded row width; -1: concatenated
        const int64_t[::1] input_lengths,   # IN (N,)
        const int64_t[::1] target_lengths,  # IN (N,)
        double[::1] losses,             # OUT (N,) per-item losses
        int64_t blank, int reduction, bint zero_infinity, bint from_logits,
        int n_threads, bint grad_reused=False):
    """Validate, run the kernel, reduce.

    Returns ``(None, reduced)`` on success (``reduced`` is the mean or sum in
    float64, or None for reduction "none"), else ``((code, n, i, value), None)``
    describing the first invalid length or label; nothing is computed then.
    """
    cdef Py_ssize_t n, i
    cdef int64_t tl, il, v, acc = 0
    cdef vector[int64_t] offsets
    cdef vector[double] scale
    if input_lengths.shape[0] != N or target_lengths.shape[0] != N or losses.shape[0] != N:
        raise ValueError("internal error: per-item arrays do not match the batch")
    if acts.shape[0] != T * N * C or (grad is not None and grad.shape[0] != T * N * C):
        raise ValueError("internal error: activations do not have T * N * C elements")
    offsets.resize(N)
    scale.resize(N)
    # lengths and offsets
    for n in range(N):
        il = input_lengths[n]
        tl = target_lengths[n]
        if il < 0:
            return (ERR_INPUT_LENGTH_NEGATIVE, n, 0, il), None
        if il > T:
            return (ERR_INPUT_LENGTH_OVER_T, n, 0, il), None
        if tl < 0:
            return (ERR_TARGET_LENGTH_NEGATIVE, n, 0, tl), None
        if width >= 0:
            if tl > width:
                return (ERR_TARGET_LENGTH_OVER_WIDTH, n, 0, tl), None
            offsets[n] = n * width
        else:
            offsets[n] = acc
            acc += tl
        scale[n] = 1.0 / (N * (tl if tl > 0 else 1)) if reduction == REDUCTION_MEAN else 1.0
    if width < 0 and acc != targets.shape[0]:
        return (ERR_TARGETS_SIZE, 0, 0, acc), None
    # labels
    for n in range(N):
        for i in range(target_lengths[n]):
            v = targets[offsets[n] + i]
            if v < 0 or v >= C:
                return (ERR_LABEL_RANGE, n, i, v), None
            if v == blank:
                return (ERR_LABEL_BLANK, n, i, v), None

    cdef CtcArgs args
    cdef const float[::1] a32
    cdef const double[::1] a64
    cdef float[::1] g32
    cdef double[::1] g64
    cdef double dummy[1]
    cdef int64_t zero = 0
    args.T = T
    args.N = N
    args.C = C
    args.stride_t = stride_t
    args.stride_n = stride_n
    args.targets = &targets[0] if targets.shape[0] > 0 else &zero
    args.blank = blank
    args.from_logits = from_logits
    args.zero_infinity = zero_infinity
    args.n_threads = n_threads
    args.grad_reused = grad_reused
    args.grad = NULL
    if N > 0:
        args.target_offsets = offsets.data()
        args.input_lengths = &input_lengths[0]
        args.target_lengths = &target_lengths[0]
        args.losses = &losses[0]
        args.grad_scale = scale.data()
        if T * C == 0:  # every input length is 0: the kernel reads no activation
            args.acts = <const void*>dummy
            args.grad = <void*>dummy if grad is not None else NULL
            with nogil:
                ctc_loss_f64(args)
        elif acts.dtype.itemsize == 4:
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

    # reduction, in float64 and a fixed order
    cdef double total = 0.0
    if reduction == REDUCTION_NONE:
        return None, None
    if reduction == REDUCTION_SUM:
        for n in range(N):
            total += losses[n]
        return None, total
    if N == 0:
        return None, float("nan")
    for n in range(N):
        tl = target_lengths[n]
        total += losses[n] / (tl if tl > 0 else 1)
    return None, total / N
