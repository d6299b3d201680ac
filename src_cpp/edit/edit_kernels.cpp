// The edit-distance kernel table of one instruction-set level.  Compiled once
// per level (with that level's -m flags, see setup.py) into
// seqloss._kernels_<level>.
#include "edit/edit_kernel.hpp"

SEQLOSS_ISA_BEGIN

const EditKernels* edit_kernels() {
    static const EditKernels table = {&levenshtein_batch_impl, &levenshtein_pair_impl,
                                      &error_counts_impl};
    return &table;
}

SEQLOSS_ISA_END
