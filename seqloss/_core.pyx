# distutils: language = c++
"""Build and threading facts shared by all seqloss kernels, the output pool and
the helper-thread pool.

Glue only: both pools are C++ (src_cpp/core/pool.hpp, src_cpp/core/workers.hpp);
the instruction-set level is chosen in seqloss/_isa.py.
"""
from libc.stdint cimport int64_t
from libcpp cimport bool as cbool
from cpython.pycapsule cimport PyCapsule_New

cdef extern from "core/threads.hpp" namespace "seqloss":
    int max_threads() nogil
    bint openmp_enabled() nogil

cdef extern from "core/isa.hpp" namespace "seqloss":
    cdef enum class Isa "seqloss::Isa":
        pass
    Isa detect_isa() nogil

cdef extern from "core/workers.hpp" namespace "seqloss":
    const void* worker_api() nogil
    void workers_set_poll(int (*poll)() noexcept nogil) nogil

cdef extern from "Python.h":
    unsigned long PyThread_get_thread_ident() nogil
    int PyErr_CheckSignals_ "PyErr_CheckSignals"()

cdef extern from "core/pool.hpp" namespace "seqloss":
    size_t kPoolMinBytes
    void* pool_take(size_t nbytes, cbool* reused) nogil
    void pool_give(void* p, size_t nbytes) nogil
    void pool_release() nogil
    void c_pool_stats "seqloss::pool_stats"(int64_t* blocks, int64_t* nbytes) nogil
    void pool_set_limit(size_t max_bytes) nogil


# ---------------------------------------------------------------------------
# Helper-thread pool (src_cpp/core/workers.hpp).  Every module that runs
# kernels installs this capsule at import.  The signal check lets long calls
# stop on Ctrl-C: Python runs signal handlers on the main thread only, so the
# check does nothing elsewhere (and never takes the GIL there).
# ---------------------------------------------------------------------------
import threading as _threading

cdef unsigned long _main_thread = <unsigned long>_threading.main_thread().ident


cdef int _poll_signals() noexcept nogil:
    if PyThread_get_thread_ident() != _main_thread:
        return 0
    with gil:
        # a handler that raised leaves its exception set on this thread;
        # the kernel stops and Cython's `except +` passes that exception on
        return PyErr_CheckSignals_() != 0


workers_set_poll(_poll_signals)
_workers = PyCapsule_New(<void*>worker_api(), b"seqloss.workers", NULL)


def get_max_threads():
    """OpenMP's maximum thread count (honours OMP_NUM_THREADS); 1 without OpenMP."""
    return max_threads()


def is_openmp_enabled():
    """True when the extension modules were compiled with OpenMP."""
    return bool(openmp_enabled())


def detected_level():
    """The best instruction-set level this CPU runs: 0 base, 1 avx2, 2 avx512."""
    return <int>detect_isa()


# ---------------------------------------------------------------------------
# Output pool (see src_cpp/core/pool.hpp).  Gradients returned by seqloss are
# NumPy arrays whose base is a _PoolBlock; dropping the array returns the
# block to the pool.
# ---------------------------------------------------------------------------
def _pool_limit_from_env():
    import os
    v = os.environ.get("SEQLOSS_POOL_BYTES")
    if v is None:
        return 1 << 30
    try:
        return max(int(v), 0)
    except ValueError:
        raise ValueError("Expected SEQLOSS_POOL_BYTES to be an integer number of bytes, "
                         "but got %r" % (v,))


pool_set_limit(<size_t>_pool_limit_from_env())


cdef class _PoolBlock:
    """Owner of one pooled allocation, exposed through the buffer protocol."""
    cdef void* ptr
    cdef Py_ssize_t nbytes
    cdef Py_ssize_t shape[1]
    cdef Py_ssize_t strides[1]

    def __getbuffer__(self, Py_buffer* buf, int flags):
        buf.buf = self.ptr
        buf.obj = self
        buf.len = self.nbytes
        buf.readonly = 0
        buf.itemsize = 1
        buf.format = "B"
        buf.ndim = 1
        self.shape[0] = self.nbytes
        self.strides[0] = 1
        buf.shape = self.shape
        buf.strides = self.strides
        buf.suboffsets = NULL
        buf.internal = NULL

    def __releasebuffer__(self, Py_buffer* buf):
        pass

    def __dealloc__(self):
        if self.ptr != NULL:
            pool_give(self.ptr, <size_t>self.nbytes)
            self.ptr = NULL


def empty(shape, dtype):
    """np.empty(shape, dtype), reusing a pooled block for large arrays.

    The contents are undefined (the kernels overwrite every element).
    """
    return empty_ex(shape, dtype)[0]


def empty_ex(shape, dtype):
    """Like empty(); returns (array, reused) where reused says the memory is
    a recycled pool block (warm pages) rather than fresh pages."""
    import numpy as np
    dt = np.dtype(dtype)
    cdef Py_ssize_t count = 1
    for d in shape:
        count *= d
    cdef Py_ssize_t nbytes = count * dt.itemsize
    if <size_t>nbytes < kPoolMinBytes:
        return np.empty(shape, dtype=dt), False
    cdef cbool reused = False
    cdef void* p = pool_take(<size_t>nbytes, &reused)
    if p == NULL:
        raise MemoryError("cannot allocate %d bytes" % nbytes)
    cdef _PoolBlock block = _PoolBlock.__new__(_PoolBlock)
    block.ptr = p
    block.nbytes = nbytes
    return np.frombuffer(block, dtype=dt, count=count).reshape(shape), reused


def pool_stats():
    """(blocks, bytes) currently held by the output pool."""
    cdef int64_t blocks = 0, nbytes = 0
    c_pool_stats(&blocks, &nbytes)
    return blocks, nbytes


def release_memory():
    """Free the memory seqloss keeps for reuse: the pooled output blocks (gradients
    returned earlier and since dropped) and the kernels' cached large scratch blocks."""
    pool_release()
    from . import _isa
    _isa.release_scratch()
