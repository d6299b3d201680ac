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
