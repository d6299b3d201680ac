// Row argmax for greedy decoding, one native vector at a time (per-ISA).
//
// torch.argmax's result exactly: the first index of the maximum, and a NaN
// counts as the maximum (the first NaN wins).  Rows are short (tens to a few
// thousand classes) and mostly in cache; one pass takes the lane-wise maximum
// and notes any NaN, a second (scalar, stops at the hit) finds the first index.
// Compiled without the fast-math group: the NaN tests must stay.
#pragma once

#include <cstdint>

#include "core/simd_math.hpp"
#include "decode/decode.hpp"

SEQLOSS_ISA_BEGIN

template <typename T>
void argmax_rows(const T* x, int64_t n_rows, int64_t row_stride, int64_t C, int32_t* idx,
                 T* val) {
    using B = simd::Block<T>;
    using V = typename B::V;
    constexpr int N = B::N;
    for (int64_t r = 0; r < n_rows; ++r) {
        const T* row = x + r * row_stride;
        T m = row[0];
        bool nan = false;
        int64_t c = 0;
        if (C >= N) {
            V vm = B::load(row);
            V vnan = B::splat(T(0));
            for (; c + N <= C; c += N) {
                const V v = B::load(row + c);
                vnan = simd::select<V>(v != v, B::splat(T(1)), vnan);
                vm = simd::select<V>(v > vm, v, vm);
            }
            m = B::hmax(vm);
            for (int j = 0; j < N; ++j) nan |= vnan[j] != T(0);
        }
        for (; c < C; ++c) {
            const T v = row[c];
            nan |= v != v;
            if (v > m) m = v;
        }
        int64_t k = 0;
        if (nan) {
            while (row[k] == row[k]) ++k;
        } else {
            while (row[k] != m) ++k;
        }
        idx[r] = static_cast<int32_t>(k);
        val[r] = row[k];
    }
}

SEQLOSS_ISA_END
