// Vectorised row kernels for softmax / cross-entropy, compiled once per
// instruction set: each softmax_kernel_<isa>.cpp defines SEQLOSS_KERNEL_NS and
// includes this file (with -fno-trapping-math -ffinite-math-only, so GCC
// vectorises the polynomial exp2).  Layouts are documented in softmax.hpp.
//
// Row algorithm (pass 1, one read of the row from memory): the row is cut
// into L1-sized chunks; per chunk a lane-wise max (and a lane-wise max of the
// absolute bit patterns, which detects +-inf/NaN without float compares),
// then, if the chunk raised the running max m, the running double sum is
// rescaled by exp(m_old - m_new) once, and the chunk's exp2((x - m) log2 e)
// are summed lane-wise (the chunk is still in L1).  Lane arrays of a fixed
// width keep every loop a plain element-wise loop the auto-vectoriser takes
// without -fassociative-math.  Dot products needed by label smoothing and
// probability targets are taken relative to the row's first element r, so
// huge common offsets do not cancel.  Pass 2 writes the gradient
// exp2((x - m) log2 e) * A - w * B, with the target entry recomputed in double.
#ifndef SEQLOSS_KERNEL_NS
#error "define SEQLOSS_KERNEL_NS before including softmax_kernel_impl.hpp"
#endif

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "common.hpp"
#include "fastmath.hpp"
#include "softmax.hpp"

namespace seqloss {
namespace SEQLOSS_KERNEL_NS {
namespace {

template <typename T>
struct K {
    using M = fm::Math<T>;
    using Int = typename M::Int;
    static constexpr int L = 128 / static_cast<int>(sizeof(T));  // lanes: 32 float / 16 double
    static constexpr int64_t kChunk = 4096 / static_cast<int64_t>(sizeof(T));  // 4 KB: stays in L1
    static constexpr T kNegBig = sizeof(T) == 4 ? T(-1e30) : T(-1e300);
    static constexpr T kLog2e = T(fm::kLog2e);
};

// Row statistics from pass 1.
struct RowStats {
    double m;        // row max
    double s;        // sum_c exp(x_c - m)
    double ref;      // r: reference for the dot products (x[0])
    double dot_wx;   // sum_c w_c (x_c - r)
    double dot_wq;   // sum_c w_c q_c
    double dot_wqx;  // sum_c w_c q_c (x_c - r)
    bool nonfinite;  // the row holds +-inf or NaN
};

// Lane-wise pass over n elements (n a multiple of L) of one chunk.
template <typename T, bool kW, bool kQ, bool kDot>
struct ChunkAcc {
    using KT = K<T>;
    static constexpr int L = KT::L;
    T mx[L];
    typename KT::Int ab[L];
    T sm[L], wx[L], wq[L], wqx[L];

    inline void reset_max() {
        for (int j = 0; j < L; ++j) {
            mx[j] = KT::kNegBig;
            ab[j] = 0;
        }
    }
    inline void max_pass(const T* x, int64_t n) {
        for (int64_t i = 0; i < n; i += L) {
            for (int j = 0; j < L; ++j) {
                T v = x[i + j];
                mx[j] = v > mx[j] ? v : mx[j];
                typename KT::Int b = fm::bit_cast<typename KT::Int>(v) &
                                     static_cast<typename KT::Int>(KT::M::kAbsMask);
                ab[j] = b > ab[j] ? b : ab[j];
            }
        }
    }
    inline void reset_sum() {
        for (int j = 0; j < L; ++j) {
            sm[j] = T(0);
            wx[j] = T(0);
            wq[j] = T(0);
            wqx[j] = T(0);
        }
    }
    inline void sum_pass(const T* x, const T* w, const T* q, int64_t n, T m, T r) {
        for (int64_t i = 0; i < n; i += L) {
            for (int j = 0; j < L; ++j) {
                T v = x[i + j];
                sm[j] += KT::M::exp2((v - m) * KT::kLog2e);
                if (kDot) {
                    T d = v - r;
                    T wj = kW ? w[i + j] : T(1);
                    wx[j] += wj * d;
                    if (kQ) {
                        T wqj = wj * q[i + j];
                        wq[j] += wqj;
                        wqx[j] += wqj * d;
                    }
                }
            }
        }
    }
};

template <typename T, int L>
inline double hsum(const T* v) {
    double s = 0.0;
    for (int j = 0; j < L; ++j) s += static_cast<double>(v[j]);
    return s;
}

template <typename T, int L>
inline T hmax(const T* v) {
    T m = v[0];
    for (int j = 1; j < L; ++j) m = v[j] > m ? v[j] : m;
    return m;
}

// Pass 1 over one row x[0..C) (w, q rows or nullptr as the flags say).
template <typename T, bool kW, bool kQ, bool kDot>
RowStats row_stats(const T* x, const T* w, const T* q, int64_t C) {
    using KT = K<T>;
    constexpr int L = KT::L;
    ChunkAcc<T, kW, kQ, kDot> acc;
    RowStats st;
    st.m = static_cast<double>(KT::kNegBig);
    st.s = 0.0;
    st.ref = C > 0 ? static_cast<double>(x[0]) : 0.0;
    st.dot_wx = st.dot_wq = st.dot_wqx = 0.0;
    st.nonfinite = false;
    const T r = C > 0 ? x[0] : T(0);
    typename KT::Int abmax = 0;
    const int64_t full = (C / L) * L;
    // Padded copy of the tail (fewer than L elements).
    alignas(64) T xt[L], wt[L], qt[L];
    const int64_t tail = C - full;
    if (tail) {
        for (int j = 0; j < L; ++j) {
            xt[j] = j < tail ? x[full + j] : KT::kNegBig;
            wt[j] = (kW && j < tail) ? w[full + j] : T(0);
            qt[j] = (kQ && j < tail) ? q[full + j] : T(0);
        }
    }
    for (int64_t c0 = 0; c0 < C; c0 += KT::kChunk) {
        const int64_t c1 = std::min<int64_t>(C, c0 + KT::kChunk);
        const int64_t nfull = std::min<int64_t>(c1, full) - c0;  // multiple of L (or <= 0)
        const bool with_tail = c1 == C && tail;
        acc.reset_max();
        if (nfull > 0) acc.max_pass(x + c0, nfull);
        if (with_tail) acc.max_pass(xt, L);
        T cm = hmax<T, L>(acc.mx);
        for (int j = 0; j < L; ++j) abmax = acc.ab[j] > abmax ? acc.ab[j] : abmax;
        if (static_cast<double>(cm) > st.m) {
            st.s *= std::exp(st.m - static_cast<double>(cm));
            st.m = static_cast<double>(cm);
        }
        const T mT = static_cast<T>(st.m);
        acc.reset_sum();
        if (nfull > 0)
            acc.sum_pass(x + c0, kW ? w + c0 : nullptr, kQ ? q + c0 : nullptr, nfull, mT, r);
        if (with_tail) acc.sum_pass(xt, wt, qt, L, mT, r);
        st.s += hsum<T, L>(acc.sm);
        if (kDot) {
            st.dot_wx += hsum<T, L>(acc.wx);
            if (kQ) {
                st.dot_wq += hsum<T, L>(acc.wq);
                st.dot_wqx += hsum<T, L>(acc.wqx);
            }
        }
    }
    st.nonfinite = abmax >= static_cast<typename KT::Int>(KT::M::kInfBits);
    return st;
}

// Pass 2: g[c] = exp2((x[c] - m) log2e) * A - w[c] * (q[c] * Bq + B)
// (terms absent per the flags: kB = smoothing constant, kQ = prob targets).
template <typename T, bool kW, bool kQ, bool kB>
void write_grad(const T* x, const T* w, const T* q, T* g, int64_t C, T m, T A, T Bq,
                T B) {
    using KT = K<T>;
    for (int64_t c = 0; c < C; ++c) {
        T e = KT::M::exp2((x[c] - m) * KT::kLog2e) * A;
        if (kQ || kB) {
            T wc = kW ? w[c] : T(1);
            T t = kQ ? q[c] * Bq + B : B;
            e -= wc * t;
        }
        g[c] = e;
    }
}

template <typename T, bool kW, bool kQ, bool kDot>
void ce_rows_impl(const CeArgs<T>& a, const detail::CeCoef& k, double* contrib,
                  bool force_ieee, int64_t n0, int64_t n1) {
    const int64_t C = a.n_classes;
    const T* w = a.weight;
    const double eps = k.eps;
    for (int64_t n = n0; n < n1; ++n) {
        const T* x = a.logits + n * C;
        T* g = a.grad ? a.grad + n * C : nullptr;
        int64_t y = -1;
        if (!kQ) {
            y = a.targets[n];
            if (y == a.ignore_index) {
                contrib[n] = 0.0;
                if (g) std::fill(g, g + C, T(0));
                continue;
            }
        }
        const T* q = kQ ? a.probs + n * C : nullptr;
        RowStats st = row_stats<T, kW, kQ, kDot>(x, w, q, C);
        if (st.nonfinite || force_ieee) {
            contrib[n] = detail::ce_row_ieee<T>(a, k, n, g);
            continue;
        }
        const double lse_m = std::log(st.s);  // lse - m
        if (kQ) {
            // q' = (1 - eps) q + eps / C
            const double swq = (1.0 - eps) * st.dot_wq + eps / C * k.sum_w;
            const double swqx = (1.0 - eps) * st.dot_wqx + eps / C * st.dot_wx;
            // sum_c w q' (lse - x_c) = swq (lse - r) - sum w q' (x - r)
            contrib[n] = k.c1 * (swq * (st.m + lse_m - st.ref) - swqx);
            if (g) {
                const double f = k.gscale * k.c1;
                write_grad<T, kW, true, true>(x, w, q, g, C, static_cast<T>(st.m),
                                              static_cast<T>(f * swq / st.s),
                                              static_cast<T>(f * (1.0 - eps)),
                                              static_cast<T>(f * eps / C));
            }
            continue;
        }
        const double wy = w ? static_cast<double>(w[y]) : 1.0;
        const double xy = static_cast<double>(x[y]);
        const double lse = st.m + lse_m;
        double loss = k.c1 * wy * (lse - xy);
        if (kDot) loss += k.c2 * ((lse - st.ref) * k.sum_w - st.dot_wx);
        contrib[n] = loss;
        if (g) {
            const double amul = k.c1 * wy + k.c2 * k.sum_w;
            const double A = k.gscale * amul / st.s;
            if (kDot)
                write_grad<T, kW, false, true>(x, w, nullptr, g, C, static_cast<T>(st.m),
                                               static_cast<T>(A), T(0),
                                               static_cast<T>(k.gscale * k.c2));
            else
                write_grad<T, kW, false, false>(x, w, nullptr, g, C, static_cast<T>(st.m),
                                                static_cast<T>(A), T(0), T(0));
            // Target entry in double: p_y a - c2 w_y - c1 w_y.
            const double py = std::exp(xy - lse);
            g[y] = static_cast<T>(k.gscale * (py * amul - k.c2 * wy - k.c1 * wy));
        }
    }
}

template <typename T>
void softmax_rows_impl(const T* x, T* y, int64_t C, bool log, int64_t n0, int64_t n1) {
    using KT = K<T>;
    for (int64_t n = n0; n < n1; ++n) {
        const T* xr = x + n * C;
        T* yr = y + n * C;
        RowStats st = row_stats<T, false, false, false>(xr, nullptr, nullptr, C);
        if (st.nonfinite) {
            detail::softmax_row_ieee<T>(xr, yr, C, log);
            continue;
        }
        const T m = static_cast<T>(st.m);
        if (log) {
            // (x - m) - log(s): x - m is exact for nearby values.
            const T ls = static_cast<T>(std::log(st.s));
            for (int64_t c = 0; c < C; ++c) yr[c] = (xr[c] - m) - ls;
        } else {
            const T inv = static_cast<T>(1.0 / st.s);
            for (int64_t c = 0; c < C; ++c) yr[c] = KT::M::exp2((xr[c] - m) * KT::kLog2e) * inv;
        }
    }
}

// Split [0, n) into static contiguous blocks, one per thread (deterministic:
// each row's result does not depend on the split).
template <typename F>
void parallel_rows(int64_t n, int nt, F&& f) {
#if SEQLOSS_HAVE_OPENMP
    if (nt > 1 && n > 1) {
        const int64_t nth = std::min<int64_t>(nt, n);
#pragma omp parallel num_threads(static_cast<int>(nth))
        {
            const int64_t t = omp_get_thread_num();
            const int64_t T_ = omp_get_num_threads();
            const int64_t n0 = n * t / T_;
            const int64_t n1 = n * (t + 1) / T_;
            f(n0, n1);
        }
        return;
    }
#endif
    (void)nt;
    f(0, n);
}

template <typename T>
void ce_rows_t(const CeArgs<T>& a, const detail::CeCoef& k, double* contrib,
               bool force_ieee) {
    const bool kw = a.weight != nullptr;
    const bool kq = a.probs != nullptr;
    const bool kdot = k.need_dot || kq;
    auto run = [&](auto fn) {
        parallel_rows(a.n_rows, a.n_threads,
                      [&](int64_t n0, int64_t n1) { fn(a, k, contrib, force_ieee, n0, n1); });
    };
    if (kq) {
        if (kw) run(ce_rows_impl<T, true, true, true>);
        else run(ce_rows_impl<T, false, true, true>);
    } else if (kdot) {
        if (kw) run(ce_rows_impl<T, true, false, true>);
        else run(ce_rows_impl<T, false, false, true>);
    } else {
        if (kw) run(ce_rows_impl<T, true, false, false>);
        else run(ce_rows_impl<T, false, false, false>);
    }
    (void)kdot;
}

}  // namespace

void ce_rows(const CeArgs<float>& a, const detail::CeCoef& k, double* contrib,
             bool force_ieee) {
    ce_rows_t<float>(a, k, contrib, force_ieee);
}
void ce_rows(const CeArgs<double>& a, const detail::CeCoef& k, double* contrib,
             bool force_ieee) {
    ce_rows_t<double>(a, k, contrib, force_ieee);
}
void softmax_rows(const float* x, float* y, int64_t n, int64_t c, bool log, int nt) {
    parallel_rows(n, nt, [&](int64_t n0, int64_t n1) { softmax_rows_impl<float>(x, y, c, log, n0, n1); });
}
void softmax_rows(const double* x, double* y, int64_t n, int64_t c, bool log, int nt) {
    parallel_rows(n, nt, [&](int64_t n0, int64_t n1) { softmax_rows_impl<double>(x, y, c, log, n0, n1); });
}

}  // namespace SEQLOSS_KERNEL_NS
}  // namespace seqloss
