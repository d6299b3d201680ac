// The decoding kernel table of one instruction-set level (compiled once per
// level into seqloss._kernels_<level>, without the fast-math group).
#include "decode/argmax_kernel.hpp"

SEQLOSS_ISA_BEGIN

const DecodeKernels* decode_kernels() {
    using AF = void (*)(const float*, int64_t, int64_t, int64_t, int32_t*, float*);
    using AD = void (*)(const double*, int64_t, int64_t, int64_t, int32_t*, double*);
    static const DecodeKernels table = {static_cast<AF>(&argmax_rows),
                                        static_cast<AD>(&argmax_rows)};
    return &table;
}

SEQLOSS_ISA_END
