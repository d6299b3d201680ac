// CTC kernel compiled with AVX-512 (F/BW/VL/DQ); used only when the CPU has them.
#if defined(SEQLOSS_X86_DISPATCH)
#define SEQLOSS_KERNEL_NS avx512
#include "ctc_kernel_impl.hpp"
#endif
