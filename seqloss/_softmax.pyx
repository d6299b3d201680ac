# distutils: language = c++
"""Cython glue for the fused softmax / cross-entropy kernels (src_cpp/softmax/softmax.hpp).

Callers (seqloss/softmax.py) pass C-contiguous float32/float64 arrays already
validated; this module only turns them into raw pointers (buffer protocol,
cheaper than typed memoryviews for the per-call overhead), releases the GIL
and calls C++.  One cheap validation loop over the targets lives here
(`check_targets`), and `fast_loss` runs the common call in one step, so that
the server-sized call path stays a few microseconds.
"""
from cpython.buffer cimport (PyObject_GetBuffer, PyBuffer_Release, PyBUF_C_CONTIGUOUS,
                             PyBUF_FORMAT, PyBUF_WRITABLE)
from libc.stdint cimport int64_t
from cpython.pycapsule cimport PyCapsule_GetPointer

import numpy as np

from . import _core, _isa

for _level, _table in _isa.tables("softmax"):
    install_softmax_kernels(_level, PyCapsule_GetPointer(_table, b"seqloss.softmax"))
install_workers(PyCapsule_GetPointer(_core._workers, b"seqloss.workers"))

from . import _validate
from ._validate import overlap_error


cdef extern from "softmax/softmax.hpp" namespace "seqloss":
    cdef enum class Reduction "seqloss::Reduction":
        pass

    cdef cppclass CeArgs[T]:
        CeArgs()
        const T* logits          # (N, C)
        int64_t n_rows
        int64_t n_classes
        const int64_t* targets   # (N,) or NULL
        const T* probs           # (N, C) or NULL
        const T* weight          # (C,) or NULL
        int64_t ignore_index
        double label_smoothing
        Reduction reduction
        T* grad                  # (N, C) or NULL
        bint grad_reused
        double grad_scale
        T* loss_rows             # (N,) or NULL
        int n_threads

    double cross_entropy[T](const CeArgs[T]&) except + nogil
    double nll_loss[T](const CeArgs[T]&) except + nogil
    void softmax_rows[T](const T* x, T* y, int64_t n_rows, int64_t n_classes, bint log,
                         int n_threads) except + nogil
    void install_softmax_kernels(int level, const void* table) except +

cdef extern from "core/threads.hpp" namespace "seqloss":
    int max_threads() nogil

cdef extern from "core/parallel.hpp" namespace "seqloss":
    void install_workers(const void* api)
    int64_t softmax_tune(int knob, int64_t value) except + nogil


cdef class _Buffers:
    """Holds up to 6 acquired buffers and releases them (also on error)."""
    cdef Py_buffer views[6]
    cdef const char* names[6]
    cdef int n

    def __cinit__(self):
        self.n = 0

    cdef void* get(self, object arr, bint writable, const char* name=NULL) except? NULL:
        if arr is None:
            return NULL
        cdef int flags = PyBUF_C_CONTIGUOUS | (PyBUF_WRITABLE if writable else 0)
        PyObject_GetBuffer(arr, &self.views[self.n], flags)
        self.names[self.n] = name
        self.n += 1
        return self.views[self.n - 1].buf

    cdef int check_no_overlap(self, int k) except -1:
        """Raise _validate's ValueError if buffer k overlaps any buffer acquired before it."""
        cdef char* s0 = <char*>self.views[k].buf
        cdef char* e0 = s0 + self.views[k].len
        cdef char* s1
        cdef int i
        for i in range(k):
            s1 = <char*>self.views[i].buf
            if s1 < e0 and s0 < s1 + self.views[i].len:
                raise overlap_error(self.names[i].decode())
        return 0

    def __dealloc__(self):
        cdef int i
        for i in range(self.n):
            PyBuffer_Release(&self.views[i])


def kernel_isa():
    """Kernel variant in use: 'base', 'avx2' or 'avx512'.

    (Rows of fewer than 256 classes run the AVX2 variant on AVX-512 machines.)
    """
    return _isa.simd_level()


def tune(int knob, int64_t value=-1):
    """Process-wide tuning knobs for benchmarks (not thread-safe).

    knob 0: reused gradients of at least `value` bytes are written with
    non-temporal stores; knob 1: prefetch the next row during the gradient
    pass (1) or not (0).  Returns the previous value; a negative value only
    queries.
    """
    return softmax_tune(knob, value)


def check_targets(object targets, int64_t n_classes, int64_t ignore_index):
    """Return the first target outside [0, n_classes) other than ignore_index, or None.

    targets: C-contiguous int64 array (any shape).
    """
    cdef _Buffers b = _Buffers()
    cdef const int64_t* t = <const int64_t*>b.get(targets, False)
    cdef Py_ssize_t i
    with nogil:
        i = _first_bad_target(t, b.views[0].len // 8, n_classes, ignore_index)
    return t[i] if i >= 0 else None


cdef inline Py_ssize_t _first_bad_target(const int64_t* t, Py_ssize_t n, int64_t n_classes,
                                         int64_t ignore_index) noexcept nogil:
    """Index of the first target outside [0, n_classes) other than ignore_index, or -1."""
    cdef Py_ssize_t i
    cdef int64_t v
    for i in range(n):
        v = t[i]
        if (v < 0 or v >= n_classes) and v != ignore_index:
            return i
    return -1


ctypedef fused real:
    float
    double


cdef double _ce(const real* tag, bint nll, object x, int64_t n, int64_t c, object targets,
                object probs, object weight, int64_t ignore_index, double label_smoothing,
                int reduction, object grad, double grad_scale, object loss_rows,
                int n_threads, bint check_overlap) except *:
    """One body for float32 and float64 (``tag`` only selects ``real``)."""
    cdef _Buffers b = _Buffers()
    cdef CeArgs[real] a
    a.logits = <const real*>b.get(x, False, "log_probs" if nll else "logits")
    a.n_rows = n
    a.n_classes = c
    a.targets = <const int64_t*>b.get(targets, False, "targets")
    a.probs = <const real*>b.get(probs, False, "targets")
    a.weight = <const real*>b.get(weight, False, "weight")
    a.ignore_index = ignore_index
    a.label_smoothing = label_smoothing
    a.reduction = <Reduction>reduction
    a.grad = <real*>b.get(grad, True)
    if check_overlap and a.grad != NULL:
        b.check_no_overlap(b.n - 1)
    a.grad_reused = check_overlap
    a.grad_scale = grad_scale
    a.loss_rows = <real*>b.get(loss_rows, True)
    a.n_threads = n_threads
    cdef double r
    with nogil:  # (Cython cannot name a template instance by a fused type)
        if real is float:
            r = nll_loss[float](a) if nll else cross_entropy[float](a)
        else:
            r = nll_loss[double](a) if nll else cross_entropy[double](a)
    return r


def loss_kernel(bint nll, bint is_double, x, int64_t n_rows, int64_t n_classes, targets, probs,
                weight, int64_t ignore_index, double label_smoothing, int reduction, grad,
                double grad_scale, loss_rows, int n_threads, bint check_overlap=False):
    """Run the fused cross-entropy (nll=False) or NLL (nll=True) kernel.

    x        # IN  (N, C) C-contiguous, float32 (is_double=False) or float64
    targets  # IN  (N,) int64 or None (then probs)
    probs    # IN  (N, C) same dtype as x, or None
    weight   # IN  (C,) same dtype as x, or None
    grad     # OUT (N, C) same dtype as x, or None for the loss only
    loss_rows# OUT (N,) same dtype as x (reduction 0 = none), or None
    reduction: 0 none, 1 mean, 2 sum.  check_overlap: raise ValueError when grad
    overlaps x, targets, probs or weight.  Returns the reduced loss as a float.
    """
    if is_double:
        return _ce(<const double*>NULL, nll, x, n_rows, n_classes, targets, probs, weight,
                   ignore_index, label_smoothing, reduction, grad, grad_scale, loss_rows,
                   n_threads, check_overlap)
    return _ce(<const float*>NULL, nll, x, n_rows, n_classes, targets, probs, weight,
               ignore_index, label_smoothing, reduction, grad, grad_scale, loss_rows,
               n_threads, check_overlap)


def softmax_kernel(bint is_double, x, y, int64_t n_rows, int64_t n_classes, bint log,
                   int n_threads):
    """y = log_softmax(x) or softmax(x) along the rows of (N, C) C-contiguous arrays.

    x  # IN  (N, C) float32 / float64
    y  # OUT (N, C) same dtype (may be x itself)
    """
    cdef _Buffers b = _Buffers()
    cdef void* xp = b.get(x, False)
    cdef void* yp = b.get(y, True)
    with nogil:
        if is_double:
            softmax_rows[double](<const double*>xp, <double*>yp, n_rows, n_classes, log,
                                 n_threads)
        else:
            softmax_rows[float](<const float*>xp, <float*>yp, n_rows, n_classes, log,
                                n_threads)


# ---------------------------------------------------------------------------
# The common call in one step.  A server's small cross-entropy is a few
# microseconds, and the Python-level checks were half of it (more with caches
# cold after the model's own work): ``fast_loss`` takes C-contiguous (N, C)
# float32/float64 logits and (N,) int64 targets, default options and no
# grad_out, checks them in C and runs the kernel.  Anything else - and any
# mistake - returns None and the caller takes the general path, which owns
# every message (seqloss/_validate.py).
# ---------------------------------------------------------------------------
cdef dict _FAST_REDUCTIONS = {"none": 0, "mean": 1, "sum": 2}
_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)


cdef inline bint _is_format(const char* f, char code):
    # '<d', '=d', 'd' ... (native byte order only)
    if f[0] == b'@' or f[0] == b'=' or f[0] == b'<':
        f += 1
    return f[0] == code and f[1] == 0


def fast_loss(bint nll, x, targets, reduction, bint want_grad):
    """(loss, grad or None) for the common case, or None (use the general path)."""
    if type(x) is not np.ndarray or type(targets) is not np.ndarray:
        return None
    red_obj = _FAST_REDUCTIONS.get(reduction) if type(reduction) is str else None
    if red_obj is None:
        return None
    cdef int red = red_obj
    cdef Py_buffer xv, tv
    try:  # NumPy refuses a C-contiguous buffer of an array that is not
        PyObject_GetBuffer(x, &xv, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT)
    except (BufferError, ValueError):
        return None
    try:
        PyObject_GetBuffer(targets, &tv, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT)
    except (BufferError, ValueError):
        PyBuffer_Release(&xv)
        return None
    try:
        if (<size_t>xv.buf) % <size_t>max(xv.itemsize, 1) != 0 or (<size_t>tv.buf) % 8 != 0:
            return None  # misaligned: the general path copies
        return _fast_loss(nll, x, xv, tv, red, want_grad)
    finally:
        PyBuffer_Release(&tv)
        PyBuffer_Release(&xv)


cdef double _fast_run(const real* x, bint nll, int64_t n, int64_t c, const int64_t* t,
                      int red, object grad, object loss_rows) except *:
    """The kernel call of fast_loss: default options, fresh outputs."""
    cdef _Buffers b = _Buffers()
    cdef CeArgs[real] a
    a.logits = x
    a.n_rows = n
    a.n_classes = c
    a.targets = t
    a.probs = NULL
    a.weight = NULL
    a.ignore_index = -100
    a.label_smoothing = 0.0
    a.reduction = <Reduction>red
    a.grad = <real*>b.get(grad, True)
    a.grad_reused = False
    a.grad_scale = 1.0
    a.loss_rows = <real*>b.get(loss_rows, True)
    a.n_threads = max_threads()
    cdef double r
    with nogil:
        if real is float:
            r = nll_loss[float](a) if nll else cross_entropy[float](a)
        else:
            r = nll_loss[double](a) if nll else cross_entropy[double](a)
    return r


cdef object _fast_loss(bint nll, object x, Py_buffer& xv, Py_buffer& tv, int red,
                       bint want_grad):
    cdef bint dbl
    if _is_format(xv.format, b'f'):
        dbl = False
    elif _is_format(xv.format, b'd'):
        dbl = True
    else:
        return None
    if xv.ndim != 2 or tv.ndim != 1 or tv.itemsize != 8 or \
            not (_is_format(tv.format, b'l') or _is_format(tv.format, b'q')):
        return None
    cdef int64_t n = xv.shape[0], c = xv.shape[1]
    if tv.shape[0] != n or c < 1:
        return None
    cdef const int64_t* t = <const int64_t*>tv.buf
    if _first_bad_target(t, n, c, -100) >= 0:
        return None  # the general path raises the error
    dt = _F64 if dbl else _F32
    grad = None
    if want_grad:
        if n * c * xv.itemsize >= min(1 << 20, _validate.MEMORY_CHECK_BYTES):
            return None  # large: the pool and the memory check of the general path
        grad = np.empty((n, c), dtype=dt)
    loss_rows = np.empty(n, dtype=dt) if red == 0 else None
    cdef double total
    if dbl:
        total = _fast_run(<const double*>xv.buf, nll, n, c, t, red, grad, loss_rows)
    else:
        total = _fast_run(<const float*>xv.buf, nll, n, c, t, red, grad, loss_rows)
    return (loss_rows if red == 0 else dt.type(total)), grad
