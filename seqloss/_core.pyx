# distutils: language = c++
"""Build and threading facts shared by all seqloss kernels."""

cdef extern from "common.hpp" namespace "seqloss":
    int max_threads() nogil
    bint openmp_enabled "seqloss::openmp_enabled"() nogil
    cdef enum class Isa "seqloss::Isa":
        pass
    Isa active_isa() nogil
    const char* isa_name(Isa) nogil


def get_max_threads():
    """OpenMP's maximum thread count (honours OMP_NUM_THREADS); 1 without OpenMP."""
    return max_threads()


def is_openmp_enabled():
    """True when the extension modules were compiled with OpenMP."""
    return bool(openmp_enabled())


def simd_level():
    """Instruction-set level the kernels dispatch to: 'base', 'avx2' or 'avx512'."""
    return isa_name(active_isa()).decode()


# ---------------------------------------------------------------------------
# A small pool of large output buffers.
#
# Fresh pages cost the kernel's page-fault and zeroing time (~5 GB/s here),
# which for large gradients is a big share of a call.  Gradients returned by
# seqloss are NumPy arrays whose base is a _PoolBlock; when the caller drops
# the array, the block's memory goes back to this pool instead of to the
# system, and the next call of the same size reuses the warm pages (like a
# caching allocator).  Only the GIL guards the pool: blocks are taken and
# returned with it held.  Bounded: at most _POOL_MAX blocks and
# SEQLOSS_POOL_BYTES bytes (default 1 GiB; 0 disables the pool);
# release_memory() empties it.
# ---------------------------------------------------------------------------
from libc.stdlib cimport free
from libc.stdint cimport uintptr_t
from cpython.buffer cimport PyBUF_WRITABLE

cdef extern from "stdlib.h":
    int posix_memalign(void** memptr, size_t alignment, size_t size) nogil

cdef enum:
    _POOL_MAX = 8
cdef Py_ssize_t _POOL_MIN_BYTES = 1 << 20


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


cdef Py_ssize_t _POOL_MAX_BYTES = _pool_limit_from_env()

cdef void* _pool_ptr[_POOL_MAX]
cdef Py_ssize_t _pool_size[_POOL_MAX]
cdef int _pool_n = 0
cdef Py_ssize_t _pool_bytes = 0


cdef void* _pool_take(Py_ssize_t nbytes):
    global _pool_n, _pool_bytes
    cdef int i
    cdef void* p
    for i in range(_pool_n):
        if _pool_size[i] == nbytes:
            p = _pool_ptr[i]
            _pool_n -= 1
            _pool_ptr[i] = _pool_ptr[_pool_n]
            _pool_size[i] = _pool_size[_pool_n]
            _pool_bytes -= nbytes
            return p
    return NULL


cdef void _pool_give(void* p, Py_ssize_t nbytes):
    global _pool_n, _pool_bytes
    if _pool_n < _POOL_MAX and _pool_bytes + nbytes <= _POOL_MAX_BYTES:
        _pool_ptr[_pool_n] = p
        _pool_size[_pool_n] = nbytes
        _pool_n += 1
        _pool_bytes += nbytes
    else:
        free(p)


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
            _pool_give(self.ptr, self.nbytes)
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
    if nbytes < _POOL_MIN_BYTES:
        return np.empty(shape, dtype=dt), False
    cdef void* p = _pool_take(nbytes)
    cdef bint reused = p != NULL
    if p == NULL:
        if posix_memalign(&p, 64, <size_t>nbytes) != 0:
            raise MemoryError("cannot allocate %d bytes" % nbytes)
    cdef _PoolBlock block = _PoolBlock.__new__(_PoolBlock)
    block.ptr = p
    block.nbytes = nbytes
    return np.frombuffer(block, dtype=dt, count=count).reshape(shape), reused


def pool_stats():
    """(blocks, bytes) currently held by the output pool."""
    return _pool_n, _pool_bytes


def release_memory():
    """Free the cached output blocks (gradients returned earlier and since dropped)."""
    global _pool_n, _pool_bytes
    cdef int i
    for i in range(_pool_n):
        free(_pool_ptr[i])
    _pool_n = 0
    _pool_bytes = 0
