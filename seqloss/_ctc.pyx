# distutils: language = c++
"""Cython glue for the CTC kernel: buffers -> raw pointers, GIL released.

One call scans the per-item lengths and labels (the first offence is raised
with the message written in seqloss/_validate.py), builds the target offsets
and the gradient scales, runs the kernel without the GIL and reduces the
losses (the one place CTC losses are reduced).  ``fast`` does the whole call
for the common case (C-contiguous float32/64 input, int64 arrays) with almost
no Python-level work, using _validate's limits and reduction table; anything
else goes through the general Python path (seqloss/ctc.py).
"""
from cpython.buffer cimport (PyBUF_C_CONTIGUOUS, PyBUF_FORMAT, PyBUF_WRITABLE, PyBuffer_Release,
                             PyObject_GetBuffer)
from libc.stdint cimport int64_t
from libcpp cimport bool as cbool
from libcpp.vector cimport vector

import numpy as np

from cpython.pycapsule cimport PyCapsule_GetPointer

from . import _core, _isa
from ._validate import (DEFAULT_MAX_MEMORY, MAX_CLASSES, MAX_THREADS, MEMORY_CHECK_BYTES,
                        REDUCTIONS, check_memory, ctc_item_error)

for _level, _table in _isa.tables("ctc"):
    install_ctc_kernels(_level, PyCapsule_GetPointer(_table, b"seqloss.ctc"))
install_workers(PyCapsule_GetPointer(_core._workers, b"seqloss.workers"))

cdef extern from "ctc/ctc.hpp" namespace "seqloss":
    cdef cppclass CtcArgs:
        CtcArgs()
        const void* acts
        void* grad
        int64_t T, N, C, stride_t, stride_n
        const int64_t* targets
        const int64_t* target_offsets
        const int64_t* input_lengths
        const int64_t* target_lengths
        int64_t n_targets
        const double* grad_scale
        double* losses
        int64_t blank
        cbool from_logits
        cbool zero_infinity
        cbool grad_reused
        int64_t max_memory, max_segment
        int n_threads
    void ctc_loss_f32(const CtcArgs&) except + nogil
    void ctc_loss_f64(const CtcArgs&) except + nogil
    void install_ctc_kernels(int level, const void* table) except +

cdef extern from "core/parallel.hpp" namespace "seqloss":
    void install_workers(const void* api)

cdef extern from "core/reduce.hpp" namespace "seqloss":
    double reduce_losses "seqloss::reduce_items"(const double* v, const int64_t* lengths,
                                                   int64_t n, int reduction) nogil

cdef extern from "core/threads.hpp" namespace "seqloss":
    int max_threads() nogil

# Item-scan results of check_items (the messages live in _validate.ctc_item_error).
cdef enum:
    E_INPUT_LENGTH_NEGATIVE = 1
    E_INPUT_LENGTH_OVER_T = 2
    E_TARGET_LENGTH_NEGATIVE = 3
    E_TARGET_LENGTH_OVER_WIDTH = 4
    E_TARGETS_SIZE = 5
    E_LABEL_RANGE = 6
    E_LABEL_BLANK = 7

cdef tuple _KINDS = (None, "input_length", "input_length", "target_length", "target_length",
                     "targets_size", "label_range", "label_blank")

# one source for the limits and the reduction codes: seqloss/_validate.py
cdef dict _REDUCTIONS = REDUCTIONS
cdef int R_NONE = REDUCTIONS["none"]
cdef int R_MEAN = REDUCTIONS["mean"]
cdef int R_SUM = REDUCTIONS["sum"]
cdef int64_t _MAX_THREADS = MAX_THREADS
cdef int64_t _MAX_CLASSES = MAX_CLASSES
cdef double _MEMORY_CHECK_BYTES = MEMORY_CHECK_BYTES
cdef int64_t _MAX_MEMORY = DEFAULT_MAX_MEMORY


cdef object item_error(int err, const int64_t* where, int64_t T, int64_t C, int64_t width,
                       int64_t n_targets, str width_name, const int64_t* tl, int64_t N):
    """The ValueError for check_items' report (phrased by _validate)."""
    value = where[2]
    if err == E_TARGETS_SIZE:  # the exact sum (it may not fit int64)
        value = sum([tl[n] for n in range(N)])
    return ctc_item_error(_KINDS[err], where[0], where[1], value, T, C,
                          width if width >= 0 else n_targets, width_name)


cdef inline int check_scratch(double cost, int64_t T, int64_t N, const int64_t* il, const int64_t* tl,
                       int64_t nt, int64_t itemsize, int64_t grad_bytes,
                       double cap) except -1:
    """MemoryError (seqloss._validate.check_memory) when the kernel's scratch
    plus a fresh gradient of ``grad_bytes`` cannot fit in memory.

    ``cost``: check_items' largest ``input_length * (2 * target_length + 49)``
    (elements of one item's tables: the kernel keeps two (T_n, 2 L + 1 padded)
    tables per item, one item per thread), each at most ``cap`` bytes (the
    budget a thread's item gets: 0 for the loss alone, which keeps O(S)).
    Cheap unless the bound is large; then the ``nt`` largest items are summed
    exactly."""
    cdef double per_item = cost * 2.0 * itemsize
    if per_item > cap:
        per_item = cap
    cdef double bound = per_item * (nt if nt < N else N) + grad_bytes
    if bound < _MEMORY_CHECK_BYTES:
        return 0
    il_a = np.asarray(<const int64_t[:N]>il).astype(np.float64)
    tl_a = np.asarray(<const int64_t[:N]>tl).astype(np.float64)
    per = np.minimum(np.where(il_a >= tl_a, il_a * (2.0 * tl_a + 49.0), 0.0) * 2.0 * itemsize,
                     cap)
    k = nt if nt < N else N
    top = np.sort(per)[N - k:]
    need = float(top.sum()) + grad_bytes
    big = int(np.argmax(per))
    if need >= 2.0**63:
        need = 2.0**63 - 1
    check_memory(int(need), "ctc_loss (T=%d, N=%d; item %d: input length %d, target length %d; "
                 "%d thread(s) of scratch%s)" % (T, N, big, il[big], tl[big], k,
                 ", and a gradient of %d bytes" % grad_bytes if grad_bytes else ""))
    return 0


cdef int check_items(int64_t T, int64_t N, int64_t C, const int64_t* targets,
                     int64_t n_targets, int64_t width, const int64_t* il,
                     const int64_t* tl, int64_t blank, int reduction,
                     vector[int64_t]& offsets, vector[double]& scale,
                     int64_t* where, double* cost) noexcept nogil:
    """Validate lengths and labels, fill offsets and gradient scales.

    Returns 0, or an E_* code with where = (n, i, value) (see item_error).
    ``cost``: the largest ``input_length * (2 * target_length + 49)`` of an
    item with input_length >= target_length (see check_scratch).  Sums of
    lengths never overflow: concatenated targets stop at the first length
    that goes past the targets' size."""
    cdef int64_t n, i, a, b, v, acc = 0
    cdef double c
    cost[0] = 0.0
    offsets.resize(N)
    scale.resize(N)
    for n in range(N):
        a = il[n]
        b = tl[n]
        where[0] = n
        where[1] = 0
        where[2] = a
        if a < 0:
            return E_INPUT_LENGTH_NEGATIVE
        if a > T:
            return E_INPUT_LENGTH_OVER_T
        where[2] = b
        if b < 0:
            return E_TARGET_LENGTH_NEGATIVE
        if width >= 0:
            if b > width:
                return E_TARGET_LENGTH_OVER_WIDTH
            offsets[n] = n * width
        else:
            offsets[n] = acc
            if b > n_targets - acc:  # (acc <= n_targets: no overflow)
                where[0] = 0
                where[1] = 0
                return E_TARGETS_SIZE
            acc += b
        if a >= b:
            c = <double>a * (2.0 * <double>b + 49.0)
            if c > cost[0]:
                cost[0] = c
        scale[n] = 1.0 / (N * (b if b > 0 else 1)) if reduction == R_MEAN else 1.0
    if width < 0 and acc != n_targets:
        where[0] = 0
        where[1] = 0
        where[2] = acc
        return E_TARGETS_SIZE
    for n in range(N):
        for i in range(tl[n]):
            v = targets[offsets[n] + i]
            if v < 0 or v >= C or v == blank:
                where[0] = n
                where[1] = i
                where[2] = v
                return E_LABEL_RANGE if v != blank else E_LABEL_BLANK
    return 0


cdef void fill_args(CtcArgs& args, int64_t T, int64_t N, int64_t C, int64_t stride_t,
                    int64_t stride_n, const int64_t* targets, const int64_t* il,
                    const int64_t* tl, vector[int64_t]& offsets, vector[double]& scale,
                    double* losses, int64_t blank, bint from_logits, bint zero_infinity,
                    int n_threads, bint grad_reused) noexcept nogil:
    """Everything but the activation and gradient pointers."""
    args.T = T
    args.N = N
    args.C = C
    args.stride_t = stride_t
    args.stride_n = stride_n
    args.targets = targets
    args.target_offsets = offsets.data()
    args.input_lengths = il
    args.target_lengths = tl
    args.n_targets = -1
    args.grad_scale = scale.data()
    args.losses = losses
    args.blank = blank
    args.from_logits = from_logits
    args.zero_infinity = zero_infinity
    args.n_threads = n_threads
    args.grad_reused = grad_reused
    args.acts = NULL
    args.grad = NULL
    args.max_memory = _MAX_MEMORY
    args.max_segment = 0


cdef int launch(CtcArgs& args, bint is32) except -1 nogil:
    cdef double dummy[1]
    if args.N == 0:
        return 0
    if args.T * args.C == 0:  # every input length is 0: the kernel reads no activation
        args.acts = <const void*>dummy
        if args.grad != NULL:
            args.grad = <void*>dummy
        ctc_loss_f64(args)
    elif is32:
        ctc_loss_f32(args)
    else:
        ctc_loss_f64(args)
    return 0


def run(acts, grad,                     # IN (T,N,C)/(N,T,C) flat; OUT same or None
        int64_t T, int64_t N, int64_t C, int64_t stride_t, int64_t stride_n,
        const int64_t[::1] targets,     # IN padded (N*width,) or concatenated labels
        int64_t width,                  # IN >= 0: padded row width; -1: concatenated
        const int64_t[::1] input_lengths,   # IN (N,)
        const int64_t[::1] target_lengths,  # IN (N,)
        double[::1] losses,             # OUT (N,) per-item losses
        int64_t blank, int reduction, bint zero_infinity, bint from_logits,
        int n_threads, bint grad_reused=False, str width_name="padded width of targets",
        int64_t grad_bytes=0, int64_t max_memory=-1, int64_t max_segment=0):
    """Check the items, run the kernel, reduce (the general path).

    Returns the mean or sum in float64, or None for reduction "none".  The
    first invalid length or label raises ValueError (see item_error) before
    anything is computed; ``width_name`` names ``width`` in that message.
    ``grad_bytes``: a fresh gradient's size, counted with the kernel's scratch
    in the memory check (check_scratch).
    """
    cdef vector[int64_t] offsets
    cdef vector[double] scale
    cdef int64_t where[3]
    cdef int64_t zero = 0
    cdef double cost
    cdef const float[::1] a32
    cdef const double[::1] a64
    cdef float[::1] g32
    cdef double[::1] g64
    cdef CtcArgs args
    if input_lengths.shape[0] != N or target_lengths.shape[0] != N or losses.shape[0] != N:
        raise ValueError("internal error: per-item arrays do not match the batch")
    if acts.shape[0] != T * N * C or (grad is not None and grad.shape[0] != T * N * C):
        raise ValueError("internal error: activations do not have T * N * C elements")
    cdef const int64_t* tp = &targets[0] if targets.shape[0] > 0 else &zero
    cdef const int64_t* ilp = &input_lengths[0] if N > 0 else &zero
    cdef const int64_t* tlp = &target_lengths[0] if N > 0 else &zero
    cdef int err = check_items(T, N, C, tp, targets.shape[0], width, ilp, tlp, blank,
                               reduction, offsets, scale, where, &cost)
    if err:
        raise item_error(err, where, T, C, width, targets.shape[0], width_name, tlp, N)
    cdef bint is32 = acts.dtype.itemsize == 4
    if max_memory < 0:
        max_memory = _MAX_MEMORY
    check_scratch(cost, T, N, ilp, tlp, n_threads, 4 if is32 else 8, grad_bytes,
                  _per_thread(max_memory, n_threads, N) if grad is not None else 0.0)
    fill_args(args, T, N, C, stride_t, stride_n, tp, ilp, tlp, offsets, scale,
              &losses[0] if N > 0 else NULL, blank, from_logits, zero_infinity, n_threads,
              grad_reused)
    args.max_memory = max_memory
    args.max_segment = max_segment
    args.n_targets = targets.shape[0]
    if N > 0:
        if T * C > 0:
            if is32:
                a32 = acts
                args.acts = &a32[0]
                if grad is not None:
                    g32 = grad
                    args.grad = &g32[0]
            else:
                a64 = acts
                args.acts = &a64[0]
                if grad is not None:
                    g64 = grad
                    args.grad = &g64[0]
        elif grad is not None:
            args.grad = <void*>1  # non-null marker; launch() swaps in a dummy
        with nogil:
            launch(args, is32)
    if reduction == R_NONE:
        return None
    return reduce_losses(&losses[0] if N > 0 else NULL, tlp, N, reduction)


cdef inline bint _get(object obj, Py_buffer* view, int flags):
    """Acquire a C-contiguous, aligned buffer; False (no exception, nothing held) when
    impossible (the general path then copies: the kernels read typed pointers)."""
    try:
        PyObject_GetBuffer(obj, view, flags)
    except Exception:
        return False
    if view.itemsize > 0 and (<size_t>view.buf) % <size_t>view.itemsize != 0:
        PyBuffer_Release(view)
        return False
    return True


def fast(x, targets, input_lengths, target_lengths, blank, reduction, zero_infinity,
         from_logits, batch_first, n_threads, bint want_grad, grad_out=None):
    """The whole call for the common case, or None to take the general path.

    Applies when x is a C-contiguous float32/float64 ndarray of 3 dims,
    targets a C-contiguous int64 ndarray of 1 or 2 dims, the lengths int64
    1-D ndarrays, blank an int, reduction a known string, n_threads None or a
    positive int up to MAX_THREADS, the flags bools, and grad_out (if given) a
    writeable C-contiguous ndarray of x's shape and dtype overlapping no input.
    An invalid length or label raises the general path's ValueError.
    """
    if grad_out is not None and type(grad_out) is not np.ndarray:
        return None
    if (type(x) is not np.ndarray or type(targets) is not np.ndarray
            or type(input_lengths) is not np.ndarray or type(target_lengths) is not np.ndarray
            or type(blank) is not int or not 0 <= blank <= _MAX_CLASSES
            or type(zero_infinity) is not bool
            or type(from_logits) is not bool or type(batch_first) is not bool):
        return None
    red = _REDUCTIONS.get(reduction) if type(reduction) is str else None
    if red is None:
        return None
    cdef int nt
    if n_threads is None:
        nt = max_threads()
    elif type(n_threads) is int and 0 < n_threads <= _MAX_THREADS:  # else: general path
        nt = n_threads
    else:
        return None
    cdef Py_buffer vx, vt, vi, vl
    cdef int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT
    if not _get(x, &vx, flags):
        return None
    cdef bint ok_t = _get(targets, &vt, flags)
    cdef bint ok_i = ok_t and _get(input_lengths, &vi, flags)
    cdef bint ok_l = ok_i and _get(target_lengths, &vl, flags)
    try:
        if not ok_l:
            return None
        return _fast(x, vx, vt, vi, vl, blank, red, zero_infinity, from_logits, batch_first,
                     nt, want_grad, grad_out)
    finally:
        PyBuffer_Release(&vx)
        if ok_t:
            PyBuffer_Release(&vt)
        if ok_i:
            PyBuffer_Release(&vi)
        if ok_l:
            PyBuffer_Release(&vl)


cdef inline bint _is_int64(Py_buffer* v) noexcept:
    return v.itemsize == 8 and v.format != NULL and v.format[1] == 0 and (
        v.format[0] == b'l' or v.format[0] == b'q')


cdef object _fast(x, Py_buffer& vx, Py_buffer& vt, Py_buffer& vi, Py_buffer& vl,
                  int64_t blank, int reduction, bint zero_infinity, bint from_logits,
                  bint batch_first, int nt, bint want_grad, grad_out):
    if vx.ndim != 3 or vx.format == NULL or vx.format[1] != 0:
        return None
    cdef bint is32
    if vx.format[0] == b'f' and vx.itemsize == 4:
        is32 = True
    elif vx.format[0] == b'd' and vx.itemsize == 8:
        is32 = False
    else:
        return None
    if not (_is_int64(&vt) and _is_int64(&vi) and _is_int64(&vl)):
        return None
    if vi.ndim != 1 or vl.ndim != 1 or not (vt.ndim == 1 or vt.ndim == 2):
        return None
    cdef int64_t T, N, C, stride_t, stride_n, width
    if batch_first:
        N, T, C = vx.shape[0], vx.shape[1], vx.shape[2]
        stride_t, stride_n = C, T * C
    else:
        T, N, C = vx.shape[0], vx.shape[1], vx.shape[2]
        stride_t, stride_n = N * C, C
    if C < 1 or C > _MAX_CLASSES or blank < 0 or blank >= C:
        return None
    if vi.shape[0] != N or vl.shape[0] != N:
        return None
    if vt.ndim == 2:
        if vt.shape[0] != N:
            return None
        width = vt.shape[1]
    else:
        width = -1
    cdef int64_t n_targets = vt.len // 8
    cdef const int64_t* tp = <const int64_t*>vt.buf
    cdef const int64_t* ilp = <const int64_t*>vi.buf
    cdef const int64_t* tlp = <const int64_t*>vl.buf
    cdef vector[int64_t] offsets
    cdef vector[double] scale
    cdef int64_t where[3]
    cdef int64_t zero = 0
    cdef double cost
    cdef Py_buffer vg
    cdef bint have_g = False
    cdef int err
    if want_grad and grad_out is not None:
        # checked before the items, as the general path does
        if not _get(grad_out, &vg, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE):
            return None
        if (vg.ndim != 3 or vg.shape[0] != vx.shape[0] or vg.shape[1] != vx.shape[1]
                or vg.shape[2] != vx.shape[2] or vg.itemsize != vx.itemsize
                or vg.format == NULL or vg.format[0] != vx.format[0] or vg.format[1] != 0
                or _overlap(&vg, &vx) or _overlap(&vg, &vt) or _overlap(&vg, &vi)
                or _overlap(&vg, &vl)):
            PyBuffer_Release(&vg)
            return None
        have_g = True
    try:
        err = check_items(T, N, C, tp if n_targets > 0 else &zero, n_targets, width, ilp, tlp,
                          blank, reduction, offsets, scale, where, &cost)
        if err:
            raise item_error(err, where, T, C, width, n_targets,
                             "padded width of targets" if width >= 0 else "length of targets",
                             tlp, N)
        check_scratch(cost, T, N, ilp, tlp, nt, vx.itemsize,
                      vx.len if want_grad and not have_g else 0,
                      _per_thread(_MAX_MEMORY, nt, N) if want_grad else 0.0)
        return _fast_run(vx, vg, have_g, T, N, C, stride_t, stride_n,
                         tp if n_targets > 0 else &zero, n_targets, ilp, tlp, offsets, scale,
                         blank,
                         reduction, zero_infinity, from_logits, nt, is32, want_grad, grad_out)
    finally:
        if have_g:
            PyBuffer_Release(&vg)


cdef inline double _per_thread(int64_t budget, int64_t nt, int64_t N) noexcept:
    """An item's share of the scratch budget (the kernel's split), plus the
    rows a checkpointed item may need beyond a tiny budget."""
    cdef int64_t k = nt if nt < N else N
    if k < 1:
        k = 1
    return <double>budget / k + 4.0 * 1048576.0


cdef inline bint _overlap(Py_buffer* a, Py_buffer* b) noexcept:
    cdef char* a0 = <char*>a.buf
    cdef char* b0 = <char*>b.buf
    return a.len > 0 and b.len > 0 and a0 < b0 + b.len and b0 < a0 + a.len


cdef object _fast_run(Py_buffer& vx, Py_buffer& vg, bint have_g, int64_t T, int64_t N,
                      int64_t C, int64_t stride_t, int64_t stride_n, const int64_t* tp,
                      int64_t n_targets, const int64_t* ilp, const int64_t* tlp, vector[int64_t]& offsets,
                      vector[double]& scale, int64_t blank, int reduction, bint zero_infinity,
                      bint from_logits, int nt, bint is32, bint want_grad, grad_out):
    """Allocate the outputs, run the kernel, reduce (inputs already checked)."""
    dtype = np.float32 if is32 else np.float64
    losses = np.empty(N, dtype=np.float64)
    cdef double[::1] lv = losses
    grad = None
    cdef bint reused = False
    cdef Py_buffer vn
    cdef bint have_n = False
    cdef CtcArgs args
    fill_args(args, T, N, C, stride_t, stride_n, tp, ilp, tlp, offsets, scale,
              &lv[0] if N > 0 else NULL, blank, from_logits, zero_infinity, nt, False)
    args.n_targets = n_targets
    args.acts = vx.buf
    if have_g:
        grad = grad_out
        reused = True
        args.grad = vg.buf
    elif want_grad:
        grad, reused = _core.empty_ex((vx.shape[0], vx.shape[1], vx.shape[2]), dtype)
        PyObject_GetBuffer(grad, &vn, PyBUF_C_CONTIGUOUS)
        have_n = True
        args.grad = vn.buf
    args.grad_reused = reused
    try:
        if N > 0:
            with nogil:
                launch(args, is32)
    finally:
        if have_n:
            PyBuffer_Release(&vn)
    if reduction == R_NONE:
        loss = losses.astype(dtype)
    else:
        loss = dtype(reduce_losses(&lv[0] if N > 0 else NULL, tlp, N, reduction))
    return loss, grad


def item_offsets(int64_t T, int64_t N, int64_t C, const int64_t[::1] targets, int64_t width,
                 const int64_t[::1] input_lengths, const int64_t[::1] target_lengths,
                 int64_t blank, str width_name="padded width of targets"):
    """(offsets, n, repeats): the per-item target offsets (int64 (N,)) after the
    CTC loss's own item checks, raising its errors (forced alignment takes the
    same inputs), and the first item without an alignment (input length <
    target length + repeats) with its repeats, or (-1, 0)."""
    cdef vector[int64_t] offsets
    cdef vector[double] scale
    cdef int64_t where[3]
    cdef int64_t zero = 0
    cdef double cost
    cdef const int64_t* tp = &targets[0] if targets.shape[0] > 0 else &zero
    cdef const int64_t* ilp = &input_lengths[0] if N > 0 else &zero
    cdef const int64_t* tlp = &target_lengths[0] if N > 0 else &zero
    cdef int err = check_items(T, N, C, tp, targets.shape[0], width, ilp, tlp, blank,
                               R_SUM, offsets, scale, where, &cost)
    if err:
        raise item_error(err, where, T, C, width, targets.shape[0], width_name, tlp, N)
    out = np.empty(N, dtype=np.int64)
    cdef int64_t[::1] o = out
    cdef int64_t n, i, rep
    cdef const int64_t* lab
    for n in range(N):
        o[n] = offsets[n]
    for n in range(N):
        lab = tp + offsets[n]
        rep = 0
        for i in range(1, tlp[n]):
            rep += lab[i] == lab[i - 1]
        if ilp[n] < tlp[n] + rep:
            return out, n, rep
    return out, -1, 0
