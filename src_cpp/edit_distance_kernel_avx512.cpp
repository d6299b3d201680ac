// Edit-distance kernels compiled with -mavx512bw; used only when the CPU has it.
#if defined(SEQLOSS_X86_DISPATCH)
#define SEQLOSS_KERNEL_NS edit_avx512
#include "edit_distance_kernel_impl.hpp"
#endif
