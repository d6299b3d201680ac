// Edit-distance kernels for any CPU (scalar pattern compares).
#define SEQLOSS_KERNEL_NS edit_base
#include "edit_distance_kernel_impl.hpp"
