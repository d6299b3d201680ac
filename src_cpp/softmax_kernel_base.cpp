// Portable (baseline ISA) variant of the softmax / cross-entropy row kernels.
#define SEQLOSS_KERNEL_NS base
#include "softmax_kernel_impl.hpp"
