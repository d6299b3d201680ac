// The CTC kernel table of one instruction-set level.  Compiled once per level
// (with that level's -m flags and the fast-math group, see setup.py) into
// seqloss._kernels_<level>.
#include "ctc/ctc_kernel.hpp"

SEQLOSS_ISA_BEGIN

const CtcKernels* ctc_kernels() {
    static const CtcKernels table = {&ctc_run_f32, &ctc_run_f64};
    return &table;
}

SEQLOSS_ISA_END
