// AVX512 variant of the softmax / cross-entropy row kernels (compiled with the
// ISA flags from setup.py; empty unless SEQLOSS_X86_DISPATCH is defined).
#if defined(SEQLOSS_X86_DISPATCH)
#define SEQLOSS_KERNEL_NS avx512
#include "softmax_kernel_impl.hpp"
#endif
