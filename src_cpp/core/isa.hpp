// Instruction-set levels and the per-ISA namespace.  Pure C++17.
//
// Every kernel family is compiled once per level into its own extension
// module (seqloss._kernels_base / _avx2 / _avx512, see docs/ARCHITECTURE.md):
// code compiled with -mavx2 or -mavx512* can then never be picked by the
// linker for the baseline path, not even the std:: template instances it
// shares names with (each module is linked alone and exports only its PyInit
// symbol).  On top of that, everything a kernel translation unit defines
// lives in `seqloss::<level namespace>` (SEQLOSS_ISA_BEGIN/END), named from
// the compiler's own target macros, so no two levels share a symbol name.
#pragma once

#if defined(__AVX512F__)
#define SEQLOSS_ISA_NS isa_avx512
#define SEQLOSS_ISA_TOKEN avx512
#define SEQLOSS_ISA_NAME "avx512"
#elif defined(__AVX2__)
#define SEQLOSS_ISA_NS isa_avx2
#define SEQLOSS_ISA_TOKEN avx2
#define SEQLOSS_ISA_NAME "avx2"
#else
#define SEQLOSS_ISA_NS isa_base
#define SEQLOSS_ISA_TOKEN base
#define SEQLOSS_ISA_NAME "base"
#endif

// Intrinsic code paths.  Kernels test these, never the compiler's __AVX2__ &
// co: SEQLOSS_GENERIC_SIMD=1 (setup.py passes it when the environment
// variable SEQLOSS_GENERIC_SIMD=1) leaves them all undefined, so every kernel
// is built from portable C++ only (core/simd.hpp's array fallback, the scalar
// branches of the edit-distance and softmax kernels), as on a compiler
// without GNU vector extensions; the level namespace above is unchanged.
#if !(defined(SEQLOSS_GENERIC_SIMD) && SEQLOSS_GENERIC_SIMD)
#if defined(__SSE2__)
#define SEQLOSS_USE_SSE2 1
#endif
#if defined(__AVX__)
#define SEQLOSS_USE_AVX 1
#endif
#if defined(__AVX2__)
#define SEQLOSS_USE_AVX2 1
#endif
#if defined(__AVX512F__)
#define SEQLOSS_USE_AVX512F 1
#endif
#if defined(__AVX512BW__)
#define SEQLOSS_USE_AVX512BW 1
#endif
#endif

// Forces inlining where the compiler's heuristics would not (e.g. the CTC
// row recursions, inlined into the loop that runs alpha and beta together
// so that the two dependency chains interleave).
#if defined(__GNUC__) || defined(__clang__)
#define SEQLOSS_INLINE inline __attribute__((always_inline))
#else
#define SEQLOSS_INLINE inline
#endif

// Open / close the namespace of the level this translation unit targets.
#define SEQLOSS_ISA_BEGIN \
    namespace seqloss {   \
    inline namespace SEQLOSS_ISA_NS {
#define SEQLOSS_ISA_END \
    }                   \
    }

namespace seqloss {

// Instruction-set levels, in increasing order.
enum class Isa : int { Base = 0, Avx2 = 1, Avx512 = 2 };
constexpr int kIsaLevels = 3;

// The best level this CPU runs (Base off x86-64 or without GNU builtins).
// The Python layer caps it with SEQLOSS_ISA and loads the matching module.
inline Isa detect_isa() {
#if defined(SEQLOSS_X86_DISPATCH) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("bmi2"))
        return Isa::Avx512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
        __builtin_cpu_supports("bmi2"))
        return Isa::Avx2;
#endif
    return Isa::Base;
}

}  // namespace seqloss
