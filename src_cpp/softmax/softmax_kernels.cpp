// The softmax / cross-entropy kernel table of one instruction-set level.
// Compiled once per level (with that level's -m flags and the fast-math
// group, see setup.py) into seqloss._kernels_<level>.
#include "softmax/softmax_kernel.hpp"

SEQLOSS_ISA_BEGIN

const SoftmaxKernels* softmax_kernels() {
    using CeF = void (*)(const CeArgs<float>&, const detail::CeCoef&, double*, bool);
    using CeD = void (*)(const CeArgs<double>&, const detail::CeCoef&, double*, bool);
    using SmF = void (*)(const float*, float*, int64_t, int64_t, bool, int,
                         SoftmaxRowIeee<float>);
    using SmD = void (*)(const double*, double*, int64_t, int64_t, bool, int,
                         SoftmaxRowIeee<double>);
    static const SoftmaxKernels table = {
        static_cast<CeF>(&ce_rows), static_cast<CeD>(&ce_rows),
        static_cast<SmF>(&softmax_rows), static_cast<SmD>(&softmax_rows)};
    return &table;
}

SEQLOSS_ISA_END
