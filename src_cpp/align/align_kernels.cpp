// The forced-alignment kernel table of one instruction-set level (compiled
// once per level into seqloss._kernels_<level>, without the fast-math group:
// IEEE comparisons, see align_kernel.hpp).
#include "align/align_kernel.hpp"

SEQLOSS_ISA_BEGIN

const AlignKernels* align_kernels() {
    static const AlignKernels table = {&ctc_align_run_f32, &ctc_align_run_f64};
    return &table;
}

SEQLOSS_ISA_END
