// Row argmax for greedy decoding, one native vector at a time (per-ISA).
//
// torch.argmax's result exactly: the first index of the maximum, and a NaN
// counts as the maximum (the first NaN wins).  One pass keeps each lane's
// maximum and the first index where the lane saw it (strict >), then the
// lanes holding the row's maximum give the smallest index; a row with a NaN
// is scanned again for its first NaN.
// Compiled without the fast-math group: the NaN tests must stay.
#pragma once

#include <algorithm>
#include <cstdint>

#include "core/simd_math.hpp"
#include "decode/decode.hpp"

SEQLOSS_ISA_BEGIN

template <typename T>
void argmax_rows(const T* x, int64_t n_rows, int64_t row_stride, int64_t C, int32_t* idx,
                 T* val) {
    using B = simd::Block<T>;
    using V = typename B::V;
    using I = typename B::I;
    using Int = typename B::Int;
    constexpr int N = B::N;
    for (int64_t r = 0; r < n_rows; ++r) {
        const T* row = x + r * row_stride;
        // lane-wise maximum with the lane's first index of it; NaNs noted
        T m = row[0];
        int64_t k = 0;
        bool nan = false;
        int64_t c = 0;
        if (C >= N) {
            V vm = B::load(row);
            I vi = B::iota();
            I vnan = (vm != vm);  // -1 in lanes that saw a NaN
            const I step = B::isplat(static_cast<Int>(N));
            I cur = vi;
            for (c = N; c + N <= C; c += N) {
                const V v = B::load(row + c);
                cur = cur + step;
                vnan = vnan | (v != v);
                const auto gt = v > vm;
                vm = simd::select<V>(gt, v, vm);
                vi = simd::select<I>(gt, cur, vi);
            }
            m = B::hmax(vm);
            nan = B::any_ge(vnan & B::isplat(1), 1);
            const I cand = simd::select<I>(vm == B::splat(m), vi, B::isplat(static_cast<Int>(C)));
            k = C;
            for (int j = 0; j < N; ++j) k = std::min<int64_t>(k, cand[j]);
        }
        for (; c < C; ++c) {  // the tail (or a short row)
            const T v = row[c];
            nan |= v != v;
            if (v > m) {
                m = v;
                k = c;
            }
        }
        if (nan) {  // the first NaN is the maximum
            k = 0;
            while (row[k] == row[k]) ++k;
        }
        idx[r] = static_cast<int32_t>(k);
        val[r] = row[k];
    }
}

SEQLOSS_ISA_END
