// OpenMP shim: the kernels call these instead of omp_* so that a build
// without OpenMP (SEQLOSS_OPENMP=0, or a compiler without it) still works on
// one thread.  Pure C++17.
#pragma once

#if defined(_OPENMP) && !defined(SEQLOSS_OPENMP_DISABLED)
#include <omp.h>
#define SEQLOSS_HAVE_OPENMP 1
#else
#define SEQLOSS_HAVE_OPENMP 0
#endif

#include "core/isa.hpp"

// A spin-wait hint to the core (x86 `pause`, Arm `yield`).
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define SEQLOSS_CPU_RELAX() __builtin_ia32_pause()
#elif defined(__GNUC__) && defined(__aarch64__)
#define SEQLOSS_CPU_RELAX() __asm__ __volatile__("yield")
#else
#define SEQLOSS_CPU_RELAX() ((void)0)
#endif

SEQLOSS_ISA_BEGIN

// Maximum number of threads OpenMP would use (honours OMP_NUM_THREADS); 1
// without OpenMP.
inline int max_threads() {
#if SEQLOSS_HAVE_OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

inline int thread_id() {
#if SEQLOSS_HAVE_OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

inline bool openmp_enabled() { return SEQLOSS_HAVE_OPENMP != 0; }

SEQLOSS_ISA_END
