// Edit-distance kernels compiled with -mavx2 -mbmi2; used only when the CPU has them.
#if defined(SEQLOSS_X86_DISPATCH)
#define SEQLOSS_KERNEL_NS edit_avx2
#include "edit_distance_kernel_impl.hpp"
#endif
