// The reductions of per-item losses, in one place: double accumulation in a
// fixed order, so results are bit-identical for any thread count.  Pure C++17.
#pragma once

#include <cstdint>
#include <limits>

#include "core/isa.hpp"

namespace seqloss {

// Codes shared with the Python layer (seqloss/_validate.py REDUCTIONS).
enum class Reduction : int { None = 0, Mean = 1, Sum = 2 };

}  // namespace seqloss

SEQLOSS_ISA_BEGIN

// sum_i v[i], i = 0 .. n-1 in order.
inline double sum_in_order(const double* v, int64_t n) {
    double total = 0.0;
    for (int64_t i = 0; i < n; ++i) total += v[i];
    return total;
}

// torch's per-item reductions (CTC): Sum = sum_i v[i]; Mean = the mean over
// items of v[i] / max(lengths[i], 1), NaN for an empty batch.  (None is not
// a reduction: the caller returns the items.)
inline double reduce_items(const double* v, const int64_t* lengths, int64_t n, int reduction) {
    if (static_cast<Reduction>(reduction) == Reduction::Sum) return sum_in_order(v, n);
    if (n == 0) return std::numeric_limits<double>::quiet_NaN();
    double total = 0.0;
    for (int64_t i = 0; i < n; ++i)
        total += v[i] / static_cast<double>(lengths[i] > 0 ? lengths[i] : 1);
    return total / static_cast<double>(n);
}

SEQLOSS_ISA_END
