// IEEE slow path of the softmax / cross-entropy row kernels: rows holding
// +-inf or NaN, and non-finite coefficients, computed as torch computes them.
// Compiled once, into seqloss._softmax, WITHOUT the fast-math group (this
// file relies on IEEE inf/NaN semantics); the per-level row kernels get these
// functions as pointers (CeArgs::ieee_row, softmax_rows' ieee_row).
#include <cmath>
#include <cstdint>
#include <limits>

#include "softmax/softmax.hpp"

namespace seqloss {

namespace {
// Row log-sum-exp as torch computes it, kept as max + log(sum): NaN if the
// row holds a NaN or its max is +-inf (inf - inf).  x - lse is computed as
// (x - m) - r, so huge logits (float32 near 1e38, float64 near 1e308) lose
// nothing to absorption: x - m is exact.
struct Lse {
    double m;  // row max
    double r;  // log(sum_c exp(x_c - m))
    double minus(double v) const { return (v - m) - r; }  // v - lse
};

template <typename T>
Lse row_lse_ieee(const T* x, int64_t C) {
    const double qnan = std::numeric_limits<double>::quiet_NaN();
    double m = -std::numeric_limits<double>::infinity();
    for (int64_t c = 0; c < C; ++c) {
        const double v = static_cast<double>(x[c]);
        if (std::isnan(v)) return Lse{qnan, qnan};
        if (v > m) m = v;
    }
    if (!std::isfinite(m)) return Lse{qnan, qnan};
    double s = 0.0;
    for (int64_t c = 0; c < C; ++c) s += std::exp(static_cast<double>(x[c]) - m);
    return Lse{m, std::log(s)};
}
}  // namespace

template <typename T>
double ce_row_ieee(const CeArgs<T>& a, const detail::CeCoef& k, int64_t n, T* g) {
    const int64_t C = a.n_classes;
    const T* x = a.logits + n * C;
    const T* w = a.weight;
    const double eps = k.eps;
    const Lse lse = row_lse_ieee(x, C);
    auto wc = [&](int64_t c) { return w ? static_cast<double>(w[c]) : 1.0; };
    if (a.probs) {
        const T* q = a.probs + n * C;
        auto qp = [&](int64_t c) {
            const double qc = static_cast<double>(q[c]);
            return eps > 0.0 ? (1.0 - eps) * qc + eps / C : qc;
        };
        double loss = 0.0, swq = 0.0;
        for (int64_t c = 0; c < C; ++c) {
            const double wq = wc(c) * qp(c);
            loss -= lse.minus(static_cast<double>(x[c])) * wq;
            swq += wq;
        }
        if (g) {
            const double f = k.gscale * k.c1;
            for (int64_t c = 0; c < C; ++c)
                g[c] = static_cast<T>(
                    f * (std::exp(lse.minus(static_cast<double>(x[c]))) * swq - wc(c) * qp(c)));
        }
        return k.c1 * loss;
    }
    const int64_t y = a.targets[n];
    const double wy = wc(y);
    const double nll = -(wy * lse.minus(static_cast<double>(x[y])));
    double contrib = k.c1 * nll;
    if (eps > 0.0) {
        double smooth = 0.0;
        for (int64_t c = 0; c < C; ++c) smooth -= lse.minus(static_cast<double>(x[c])) * wc(c);
        contrib += k.c2 * smooth;
    }
    if (g) {
        const double amul = k.c1 * wy + k.c2 * k.sum_w;
        for (int64_t c = 0; c < C; ++c) {
            double v = std::exp(lse.minus(static_cast<double>(x[c]))) * amul;
            if (eps > 0.0) v -= k.c2 * wc(c);
            if (c == y) v -= k.c1 * wy;
            g[c] = static_cast<T>(k.gscale * v);
        }
    }
    return contrib;
}

template <typename T>
void softmax_row_ieee(const T* x, T* y, int64_t C, bool log) {
    const Lse lse = row_lse_ieee(x, C);
    for (int64_t c = 0; c < C; ++c) {
        const double v = lse.minus(static_cast<double>(x[c]));
        y[c] = static_cast<T>(log ? v : std::exp(v));
    }
}

template double ce_row_ieee<float>(const CeArgs<float>&, const detail::CeCoef&, int64_t, float*);
template double ce_row_ieee<double>(const CeArgs<double>&, const detail::CeCoef&, int64_t, double*);
template void softmax_row_ieee<float>(const float*, float*, int64_t, bool);
template void softmax_row_ieee<double>(const double*, double*, int64_t, bool);


}  // namespace seqloss
