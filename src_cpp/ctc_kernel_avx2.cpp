// CTC kernel compiled with -mavx2 -mfma; used only when the CPU has them.
#if defined(SEQLOSS_X86_DISPATCH)
#define SEQLOSS_KERNEL_NS avx2
#include "ctc_kernel_impl.hpp"
#endif
