// Dispatch, normalisers and reductions for the softmax / cross-entropy
// kernels (compiled once, into seqloss._softmax).
#include "softmax/softmax.hpp"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/dispatch.hpp"
#include "core/parallel.hpp"

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
            throw std::invalid_argument("target " + std::to_string(y) + " out of range [0, " +
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

using Registry = KernelRegistry<SoftmaxKernels>;

const SoftmaxKernels& kernels_for(int64_t n_classes) {
    return Registry::at_most(n_classes < kAvx512MinClasses ? Isa::Avx2 : Isa::Avx512);
}

void dispatch_ce_rows(const CeArgs<float>& a, const detail::CeCoef& k, double* contrib,
                      bool force_ieee) {
    kernels_for(a.n_classes).ce_rows_f32(a, k, contrib, force_ieee);
}
void dispatch_ce_rows(const CeArgs<double>& a, const detail::CeCoef& k, double* contrib,
                      bool force_ieee) {
    kernels_for(a.n_classes).ce_rows_f64(a, k, contrib, force_ieee);
}
void dispatch_softmax_rows(const float* x, float* y, int64_t n, int64_t c, bool log, int nt) {
    kernels_for(c).softmax_rows_f32(x, y, n, c, log, nt, &softmax_row_ieee<float>);
}
void dispatch_softmax_rows(const double* x, double* y, int64_t n, int64_t c, bool log, int nt) {
    kernels_for(c).softmax_rows_f64(x, y, n, c, log, nt, &softmax_row_ieee<double>);
}

template <typename T>
double finish(const CeArgs<T>& a, const std::vector<double>& contrib, bool nan_mean) {
    if (a.reduction == Reduction::None) {
        for (int64_t n = 0; n < a.n_rows; ++n) a.loss_rows[n] = static_cast<T>(contrib[n]);
        return 0.0;
    }
    if (nan_mean) return std::numeric_limits<double>::quiet_NaN();
    return sum_in_order(contrib.data(), a.n_rows);
}

}  // namespace

void install_softmax_kernels(int level, const void* table) { Registry::install(level, table); }

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
    a.ieee_row = &ce_row_ieee<T>;
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
    parallel_for(N, nt, Schedule::blocks(), rows);
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
    dispatch_softmax_rows(x, y, n_rows, n_classes, log, nt);
}


template double cross_entropy<float>(const CeArgs<float>&);
template double cross_entropy<double>(const CeArgs<double>&);
template double nll_loss<float>(const CeArgs<float>&);
template double nll_loss<double>(const CeArgs<double>&);
template void softmax_rows<float>(const float*, float*, int64_t, int64_t, bool, int);
template void softmax_rows<double>(const double*, double*, int64_t, int64_t, bool, int);

}  // namespace seqloss
