// Portable CTC kernel (SSE2 on x86-64; whatever the target offers elsewhere).
#define SEQLOSS_KERNEL_NS base
#include "ctc_kernel_impl.hpp"
