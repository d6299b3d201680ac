// Dispatch, normalisers, reductions and IEEE slow paths for the softmax /
// cross-entropy kernels.  Compiled with normal (IEEE) floating-point flags:
// the row kernels in softmax_kernel_<isa>.cpp call back into the
// detail::*_ieee functions here for rows holding +-inf or NaN.
#include "softmax.hpp"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "common.hpp"

namespace seqloss {
namespace {

// Below this many elements a call runs on one thread (thread start-up costs
// more than the work).
constexpr int64_t kMinParallelElems = 1 << 15;

int effective_threads(int n_threads, int64_t n_rows, int64_t n_classes) {
    if (n_threads < 1) throw std::invalid_argument("n_threads must be positive");
    if (n_rows * n_classes < kMinParallelElems) return 1;
    return n_threads;
}

// Reused gradient buffers at least this large are written with non-temporal
// stores: they are not read again soon, and streaming skips the
// read-for-ownership of every line (measured here with grad_out: 4096 x 32000
// 65 -> 51 ms, 16384 x 1000 7.4 -> 6.1 ms, 4096 x 2000 3.5 -> 2.4 ms; no gain
// at 8 MB).  Fresh pages are never streamed: the kernel has just zeroed them
// into the cache, and streaming over them cost 10-20% there.
int64_t g_stream_min_bytes = int64_t(16) << 20;
int64_t g_prefetch = 1;

bool stream_gradient(int64_t bytes) { return bytes >= g_stream_min_bytes; }

template <typename T>
void check_args(const CeArgs<T>& a, bool nll) {
    if (a.n_rows < 0) throw std::invalid_argument("n_rows must be non-negative");
    if (a.n_classes < 1) throw std::invalid_argument("n_classes must be positive");
    if (a.n_rows > 0 && !a.logits) throw std::invalid_argument("logits is null");
    if ((a.targets == nullptr) == (a.probs == nullptr))
        throw std::invalid_argument("exactly one of targets and probs must be given");
    if (nll && a.probs) throw std::invalid_argument("nll_loss takes index targets only");
    if (!(a.label_smoothing >= 0.0 && a.label_smoothing <= 1.0))
        throw std::invalid_argument("label_smoothing must be in [0, 1]");
    if (a.reduction == Reduction::None && a.n_rows > 0 && !a.loss_rows)
        throw std::invalid_argument("loss_rows is required for reduction 'none'");
    if (a.weight) {
        for (int64_t c = 0; c < a.n_classes; ++c)
            if (!(a.weight[c] >= T(0)))
                throw std::invalid_argument("weight must be non-negative");
    }
}

struct TargetStats {
    double sum_w = 0.0;  // sum of w[y] over non-ignored rows
    int64_t count = 0;   // number of non-ignored rows
};

template <typename T>
TargetStats target_stats(const CeArgs<T>& a) {
    TargetStats ts;
    for (int64_t n = 0; n < a.n_rows; ++n) {
        const int64_t y = a.targets[n];
        if (y == a.ignore_index) continue;
        if (y < 0 || y >= a.n_classes)
            throw std::out_of_range("target " + std::to_string(y) + " out of range [0, " +
                                    std::to_string(a.n_classes) + ")");
        ts.sum_w += a.weight ? static_cast<double>(a.weight[y]) : 1.0;
        ++ts.count;
    }
    return ts;
}

// Short rows run the AVX2 variant even where AVX-512 is available: with a
// few dozen classes the 512-bit loops spend their time in remainder handling
// (measured 3x slower per element at C = 40; faster from C ~ 1000 on).
constexpr int64_t kAvx512MinClasses = 256;

Isa kernel_isa(int64_t n_classes) {
    const Isa isa = active_isa();
    if (isa == Isa::Avx512 && n_classes < kAvx512MinClasses) return Isa::Avx2;
    return isa;
}

template <typename T>
void dispatch_ce_rows(const CeArgs<T>& a, const detail::CeCoef& k, double* contrib,
                      bool force_ieee) {
    switch (kernel_isa(a.n_classes)) {
#if defined(SEQLOSS_X86_DISPATCH)
        case Isa::Avx512: avx512::ce_rows(a, k, contrib, force_ieee); return;
        case Isa::Avx2: avx2::ce_rows(a, k, contrib, force_ieee); return;
#endif
        default: base::ce_rows(a, k, contrib, force_ieee); return;
    }
}

template <typename T>
double finish(const CeArgs<T>& a, const std::vector<double>& contrib, bool nan_mean) {
    if (a.reduction == Reduction::None) {
        for (int64_t n = 0; n < a.n_rows; ++n) a.loss_rows[n] = static_cast<T>(contrib[n]);
        return 0.0;
    }
    double total = 0.0;
    for (int64_t n = 0; n < a.n_rows; ++n) total += contrib[n];  // fixed order
    if (nan_mean) total = std::numeric_limits<double>::quiet_NaN();
    return total;
}

}  // namespace

const char* softmax_isa() { return isa_name(active_isa()); }

int64_t softmax_tune(int knob, int64_t value) {
    int64_t* p = knob == kTuneStreamMinBytes ? &g_stream_min_bytes
               : knob == kTunePrefetch       ? &g_prefetch
                                             : nullptr;
    if (!p) throw std::invalid_argument("unknown tuning knob");
    const int64_t old = *p;
    if (value >= 0) *p = value;
    return old;
}

template <typename T>
double cross_entropy(const CeArgs<T>& in) {
    check_args(in, false);
    CeArgs<T> a = in;
    a.n_threads = effective_threads(in.n_threads, in.n_rows, in.n_classes);
    const int64_t N = a.n_rows, C = a.n_classes;
    const double eps = a.label_smoothing;
    const bool mean = a.reduction == Reduction::Mean;
    detail::CeCoef k;
    k.eps = eps;
    k.gscale = a.grad_scale;
    k.need_dot = eps > 0.0;
    if (a.weight) {
        for (int64_t c = 0; c < C; ++c) k.sum_w += static_cast<double>(a.weight[c]);
    } else {
        k.sum_w = static_cast<double>(C);
    }
    bool nan_mean = false;
    if (a.probs) {
        // torch: -(log_softmax * q' * w).sum() / (numel / C) for "mean".
        k.c1 = mean ? 1.0 / static_cast<double>(N) : 1.0;
        nan_mean = mean && N == 0;
    } else {
        const TargetStats ts = target_stats(a);
        double d1 = 1.0, d2 = 1.0;
        if (mean) {
            d1 = a.weight ? ts.sum_w : static_cast<double>(ts.count);
            d2 = d1;  // torch 2.x divides the smoothing term by it too (checked: 2.13)
            nan_mean = d1 == 0.0;
        }
        k.c1 = (1.0 - eps) / d1;
        k.c2 = eps / (static_cast<double>(C) * d2);
    }
    const bool force_ieee = !std::isfinite(k.c1) || !std::isfinite(k.c2);
    k.stream = a.grad != nullptr && a.grad_reused &&
               stream_gradient(N * C * static_cast<int64_t>(sizeof(T)));
    k.prefetch = g_prefetch != 0;
    std::vector<double> contrib(static_cast<size_t>(N));
    if (N > 0) dispatch_ce_rows(a, k, contrib.data(), force_ieee);
    return finish(a, contrib, nan_mean);
}

template <typename T>
double nll_loss(const CeArgs<T>& in) {
    check_args(in, true);
    if (in.label_smoothing != 0.0)
        throw std::invalid_argument("nll_loss does not take label_smoothing");
    const int64_t N = in.n_rows, C = in.n_classes;
    const TargetStats ts = target_stats(in);
    const bool mean = in.reduction == Reduction::Mean;
    const double d1 = mean ? (in.weight ? ts.sum_w : static_cast<double>(ts.count)) : 1.0;
    const double c1 = 1.0 / d1;
    std::vector<double> contrib(static_cast<size_t>(N));
    const int nt = in.grad ? effective_threads(in.n_threads, N, C) : 1;
    const CeArgs<T>& a = in;
    auto rows = [&](int64_t n0, int64_t n1) {
        for (int64_t n = n0; n < n1; ++n) {
            const int64_t y = a.targets[n];
            T* g = a.grad ? a.grad + n * C : nullptr;
            if (g) std::memset(static_cast<void*>(g), 0, sizeof(T) * static_cast<size_t>(C));
            if (y == a.ignore_index) {
                contrib[n] = 0.0;
                continue;
            }
            const double wy = a.weight ? static_cast<double>(a.weight[y]) : 1.0;
            contrib[n] = c1 * (-(wy * static_cast<double>(a.logits[n * C + y])));
            if (g) g[y] = static_cast<T>(a.grad_scale * (-wy * c1));
        }
    };
#if SEQLOSS_HAVE_OPENMP
    if (nt > 1 && N > 1) {
#pragma omp parallel num_threads(nt)
        {
            const int64_t t = omp_get_thread_num(), tt = omp_get_num_threads();
            rows(N * t / tt, N * (t + 1) / tt);
        }
    } else {
        rows(0, N);
    }
#else
    (void)nt;
    rows(0, N);
#endif
    return finish(a, contrib, mean && d1 == 0.0);
}

template <typename T>
void softmax_rows(const T* x, T* y, int64_t n_rows, int64_t n_classes, bool log,
                  int n_threads) {
    if (n_rows < 0 || n_classes < 0)
        throw std::invalid_argument("n_rows and n_classes must be non-negative");
    if (n_rows == 0 || n_classes == 0) return;
    if (!x || !y) throw std::invalid_argument("null array");
    const int nt = effective_threads(n_threads, n_rows, n_classes);
    switch (kernel_isa(n_classes)) {
#if defined(SEQLOSS_X86_DISPATCH)
        case Isa::Avx512: avx512::softmax_rows(x, y, n_rows, n_classes, log, nt); return;
        case Isa::Avx2: avx2::softmax_rows(x, y, n_rows, n_classes, log, nt); return;
#endif
        default: base::softmax_rows(x, y, n_rows, n_classes, log, nt); return;
    }
}

namespace detail {

namespace {
// Row max and log-sum-exp as torch computes them: NaN if the row holds a NaN
// or its max is +-inf (inf - inf).
template <typename T>
double row_lse_ieee(const T* x, int64_t C) {
    double m = -std::numeric_limits<double>::infinity();
    for (int64_t c = 0; c < C; ++c) {
        const double v = static_cast<double>(x[c]);
        if (std::isnan(v)) return std::numeric_limits<double>::quiet_NaN();
        if (v > m) m = v;
    }
    if (!std::isfinite(m)) return std::numeric_limits<double>::quiet_NaN();
    double s = 0.0;
    for (int64_t c = 0; c < C; ++c) s += std::exp(static_cast<double>(x[c]) - m);
    return m + std::log(s);
}
}  // namespace

template <typename T>
double ce_row_ieee(const CeArgs<T>& a, const CeCoef& k, int64_t n, T* g) {
    const int64_t C = a.n_classes;
    const T* x = a.logits + n * C;
    const T* w = a.weight;
    const double eps = k.eps;
    const double lse = row_lse_ieee(x, C);
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
            loss -= (static_cast<double>(x[c]) - lse) * wq;
            swq += wq;
        }
        if (g) {
            const double f = k.gscale * k.c1;
            for (int64_t c = 0; c < C; ++c)
                g[c] = static_cast<T>(
                    f * (std::exp(static_cast<double>(x[c]) - lse) * swq - wc(c) * qp(c)));
        }
        return k.c1 * loss;
    }
    const int64_t y = a.targets[n];
    const double wy = wc(y);
    const double nll = -(wy * (static_cast<double>(x[y]) - lse));
    double contrib = k.c1 * nll;
    if (eps > 0.0) {
        double smooth = 0.0;
        for (int64_t c = 0; c < C; ++c) smooth -= (static_cast<double>(x[c]) - lse) * wc(c);
        contrib += k.c2 * smooth;
    }
    if (g) {
        const double amul = k.c1 * wy + k.c2 * k.sum_w;
        for (int64_t c = 0; c < C; ++c) {
            double v = std::exp(static_cast<double>(x[c]) - lse) * amul;
            if (eps > 0.0) v -= k.c2 * wc(c);
            if (c == y) v -= k.c1 * wy;
            g[c] = static_cast<T>(k.gscale * v);
        }
    }
    return contrib;
}

template <typename T>
void softmax_row_ieee(const T* x, T* y, int64_t C, bool log) {
    const double lse = row_lse_ieee(x, C);
    for (int64_t c = 0; c < C; ++c) {
        const double v = static_cast<double>(x[c]) - lse;
        y[c] = static_cast<T>(log ? v : std::exp(v));
    }
}

template double ce_row_ieee<float>(const CeArgs<float>&, const CeCoef&, int64_t, float*);
template double ce_row_ieee<double>(const CeArgs<double>&, const CeCoef&, int64_t, double*);
template void softmax_row_ieee<float>(const float*, float*, int64_t, bool);
template void softmax_row_ieee<double>(const double*, double*, int64_t, bool);

}  // namespace detail

template double cross_entropy<float>(const CeArgs<float>&);
template double cross_entropy<double>(const CeArgs<double>&);
template double nll_loss<float>(const CeArgs<float>&);
template double nll_loss<double>(const CeArgs<double>&);
template void softmax_rows<float>(const float*, float*, int64_t, int64_t, bool, int);
template void softmax_rows<double>(const double*, double*, int64_t, int64_t, bool, int);

}  // namespace seqloss
