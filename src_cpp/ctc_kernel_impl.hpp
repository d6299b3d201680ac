// CTC forward-backward kernel, compiled once per instruction-set level.
//
// Included by ctc_kernel_{base,avx2,avx512}.cpp with SEQLOSS_KERNEL_NS set;
// those files are compiled with -fno-trapping-math -ffinite-math-only so GCC
// vectorises the polynomial exp2/log2 loops.  Therefore this file never relies
// on IEEE inf/NaN semantics: impossible states hold the finite sentinel kSent,
// and non-finite inputs are detected from their bit patterns.
//
// Algorithm, per batch item (one thread per item, items largest first):
//   pass 1  for each frame t < T_n: (from_logits) the row's log2-sum-exp2, a
//           bit-pattern scan for NaN/inf, and the gathered base-2 emissions
//           E[t][s] = log2 y_t(ext_s) of the 2L+1 extended states;
//   pass 2  alpha over t, restricted to the band of states that are both
//           reachable from the start and can still reach the end; each row
//           is stored minus the previous row's maximum, whose running sum is
//           kept in double (Oa[t]), so float values stay near 0 (accuracy,
//           no denormals);
//   pass 3  beta backwards with two rows (renormalised the same way); at each
//           t the state posterior gamma = exp2(A + B + Oa + Ob - log2 p) is
//           formed and the gradient row is written once: softmax (or 0) times
//           the item's scale, minus the posterior scattered to the classes
//           where it is non-negligible.
// Rows are padded to a multiple of W elements (one cache line) with kW
// sentinel elements on either side, so every inner loop runs over whole
// W-blocks and vectorises without tails.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <vector>

#include "common.hpp"
#include "ctc.hpp"
#include "fastmath.hpp"

#ifndef SEQLOSS_KERNEL_NS
#error "SEQLOSS_KERNEL_NS must name the instruction-set namespace"
#endif

namespace seqloss {
namespace SEQLOSS_KERNEL_NS {
namespace {

template <typename T>
struct CtcKernel {
    using M = fm::Math<T>;
    using UInt = typename M::UInt;
    static constexpr int64_t kW = 64 / sizeof(T);  // block width: one cache line
    static constexpr T kSent = T(-1e30);           // log2 of "impossible"
    static constexpr T kLog2e = T(fm::kLog2e);
    // Posteriors below this are not scattered into the gradient.
    static constexpr T kTiny = sizeof(T) == 4 ? T(1e-12) : T(1e-280);

    struct Work {
        AlignedBuffer<T> E, A, B, gam, skip, lse2;
        AlignedBuffer<double> Oa;
        AlignedBuffer<int32_t> cls;
        AlignedBuffer<uint8_t> live;
    };

    const CtcArgs& a;
    const T* acts;
    T* grad;

    explicit CtcKernel(const CtcArgs& args)
        : a(args), acts(static_cast<const T*>(args.acts)), grad(static_cast<T*>(args.grad)) {}

    static inline T vmax(T x, T y) { return x > y ? x : y; }
    static inline T vmin(T x, T y) { return x < y ? x : y; }
    static int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

    const T* in_row(int64_t t, int64_t n) const { return acts + t * a.stride_t + n * a.stride_n; }
    T* grad_row(int64_t t, int64_t n) const { return grad + t * a.stride_t + n * a.stride_n; }

    // Gradient rows [t0, t1) of item n set to 0, or to NaN.  (No float
    // compare here: under -ffinite-math-only NaN == 0 may test true.)
    void fill_rows(int64_t n, int64_t t0, int64_t t1, bool nan) const {
        const T qnan = std::numeric_limits<T>::quiet_NaN();
        for (int64_t t = t0; t < t1; ++t) {
            T* g = grad_row(t, n);
            if (!nan) {
                std::memset(g, 0, sizeof(T) * a.C);
            } else {
                for (int64_t c = 0; c < a.C; ++c) g[c] = qnan;
            }
        }
    }

    // Max of a row and a flag for any inf/NaN in it (bit test).  Two simple
    // W-lane loops (the row is in L1 for the second) so both vectorise.
    static T row_max(const T* x, int64_t C, bool& nonfinite) {
        T mx[kW];
        for (int64_t j = 0; j < kW; ++j) mx[j] = std::numeric_limits<T>::lowest();
        int64_t c = 0;
        for (; c + kW <= C; c += kW)
            for (int64_t j = 0; j < kW; ++j) mx[j] = vmax(mx[j], x[c + j]);
        T m = std::numeric_limits<T>::lowest();
        for (int64_t c2 = c; c2 < C; ++c2) m = vmax(m, x[c2]);
        for (int64_t j = 0; j < kW; ++j) m = vmax(m, mx[j]);
        nonfinite = any_nonfinite(x, C);
        return m;
    }

    static bool any_nonfinite(const T* x, int64_t C) {
        UInt bad[kW];
        for (int64_t j = 0; j < kW; ++j) bad[j] = 0;
        int64_t c = 0;
        for (; c + kW <= C; c += kW)
            for (int64_t j = 0; j < kW; ++j) {
                const UInt b = fm::bit_cast<UInt>(x[c + j]) & M::kAbsMask;
                bad[j] = bad[j] > b ? bad[j] : b;
            }
        UInt bb = 0;
        for (; c < C; ++c) {
            const UInt b = fm::bit_cast<UInt>(x[c]) & M::kAbsMask;
            bb = bb > b ? bb : b;
        }
        for (int64_t j = 0; j < kW; ++j) bb = bb > bad[j] ? bb : bad[j];
        return bb >= M::kInfBits;
    }

    // A row with an inf or NaN: true when the softmax is undefined (a NaN, a
    // +inf, or every entry -inf), as in torch.  Rare path, scalar.
    static bool row_is_bad(const T* x, int64_t C) {
        bool all_neg_inf = true;
        for (int64_t c = 0; c < C; ++c) {
            if (fm::is_nan_bits(x[c]) || fm::is_posinf_bits(x[c])) return true;
            if (!fm::is_nonfinite_bits(x[c])) all_neg_inf = false;
        }
        return all_neg_inf;
    }

    // log2 sum_c 2^((x_c - m) log2 e) + m log2 e, in double.
    static double row_lse2(const T* x, int64_t C, T m) {
        const T mm = m * kLog2e;
        T acc[kW];
        for (int64_t j = 0; j < kW; ++j) acc[j] = 0;
        int64_t c = 0;
        for (; c + kW <= C; c += kW)
            for (int64_t j = 0; j < kW; ++j) acc[j] += M::exp2(x[c + j] * kLog2e - mm);
        double s = 0;
        for (; c < C; ++c) s += M::exp2(x[c] * kLog2e - mm);
        for (int64_t j = 0; j < kW; ++j) s += acc[j];
        return static_cast<double>(mm) + std::log2(s);
    }

    // Band of states [lo, hi) alive at frame t (reachable and able to finish),
    // widened to whole blocks.
    static void band(int64_t t, int64_t Tn, int64_t S, int64_t& lo, int64_t& hi) {
        int64_t l = S - 2 * (Tn - t);
        if (l < 0) l = 0;
        int64_t h = 2 * t + 2;
        if (h > S) h = S;
        lo = l / kW * kW;
        hi = round_up(h, kW);
    }

    // Returns the loss of item n (natural log), writes its gradient rows.
    void run_item(int64_t n, Work& w) const {
        const int64_t T_all = a.T, C = a.C;
        const int64_t Tn = a.input_lengths[n];
        const int64_t L = a.target_lengths[n];
        const int64_t* lab = a.targets + a.target_offsets[n];
        const int64_t S = 2 * L + 1;
        const double gs = grad ? a.grad_scale[n] : 0.0;
        const T gsT = static_cast<T>(gs);
        const T inf = std::numeric_limits<T>::infinity();
        const T qnan = std::numeric_limits<T>::quiet_NaN();

        if (grad) fill_rows(n, Tn, T_all, false);
        int64_t repeats = 0;
        for (int64_t i = 1; i < L; ++i) repeats += lab[i] == lab[i - 1];
        if (Tn < L + repeats) {  // no alignment exists (includes Tn == 0 < L)
            a.losses[n] = a.zero_infinity ? 0.0 : static_cast<double>(inf);
            if (grad) fill_rows(n, 0, Tn, !a.zero_infinity);
            return;
        }
        if (Tn == 0) {  // empty input, empty target: probability 1
            a.losses[n] = 0.0;
            return;
        }

        const int64_t Sp = round_up(S, kW);
        const int64_t RS = Sp + 2 * kW;  // row stride; state s at index kW + s
        w.E.resize(Tn * RS);
        w.A.resize(Tn * RS);
        w.B.resize(2 * RS);
        w.gam.resize(RS);
        w.skip.resize(RS);
        w.lse2.resize(Tn);
        w.Oa.resize(Tn);
        w.cls.resize(Sp);
        w.live.resize(Sp / kW);

        // Extended-state classes and the additive skip mask (0 where s-2 -> s
        // is allowed, the sentinel elsewhere and in the padding).
        int32_t* cls = w.cls.data();
        T* skip = w.skip.data() + kW;
        for (int64_t s = -kW; s < Sp + kW; ++s) skip[s] = kSent;
        for (int64_t s = 0; s < S; ++s) {
            cls[s] = static_cast<int32_t>((s & 1) ? lab[(s - 1) / 2] : a.blank);
            if ((s & 1) && s >= 3 && lab[(s - 1) / 2] != lab[(s - 3) / 2]) skip[s] = 0;
        }

        // ---- pass 1: row normalisers, non-finite scan, gathered emissions.
        bool bad = false;
        T* lse2 = w.lse2.data();
        for (int64_t t = 0; t < Tn; ++t) {
            const T* x = in_row(t, n);
            T sub = 0;
            if (a.from_logits) {
                bool nonfinite = false;
                const T m = row_max(x, C, nonfinite);
                if (nonfinite && row_is_bad(x, C)) {
                    bad = true;
                    break;
                }
                const double l2 = row_lse2(x, C, m);
                sub = static_cast<T>(l2);
                lse2[t] = sub;
            }
            T* e = w.E.data() + t * RS + kW;
            for (int64_t s = 0; s < S; ++s) e[s] = x[cls[s]];  // gather
            // NaN or +inf in a used log-probability makes the loss NaN (-inf
            // is a valid zero probability); from_logits checked whole rows.
            if (!a.from_logits && any_nonfinite(e, S)) {
                for (int64_t s = 0; s < S; ++s)
                    if (fm::is_nan_bits(e[s]) || fm::is_posinf_bits(e[s])) bad = true;
                if (bad) break;
            }
            for (int64_t s = 0; s < S; ++s) e[s] = vmax(e[s] * kLog2e - sub, kSent);
            for (int64_t s = S; s < Sp + kW; ++s) e[s] = kSent;
        }
        if (bad) {
            a.losses[n] = static_cast<double>(qnan);
            if (grad) fill_rows(n, 0, Tn, true);
            return;
        }

        // ---- pass 2: alpha.
        const T* E = w.E.data() + kW;
        T* A = w.A.data() + kW;
        double* Oa = w.Oa.data();
        {
            T* a0 = A;
            for (int64_t s = -kW; s < Sp + kW; ++s) a0[s] = kSent;
            a0[0] = E[0];
            if (S > 1) a0[1] = E[1];
            Oa[0] = 0.0;
        }
        T mu_prev = S > 1 ? vmax(A[0], A[1]) : A[0];
        for (int64_t t = 1; t < Tn; ++t) {
            int64_t lo, hi;
            band(t, Tn, S, lo, hi);
            const T* prev = A + (t - 1) * RS;
            T* cur = A + t * RS;
            const T* e = E + t * RS;
            for (int64_t j = 0; j < kW; ++j) {
                cur[lo - kW + j] = kSent;
                cur[hi + j] = kSent;
            }
            T mx[kW];
            for (int64_t j = 0; j < kW; ++j) mx[j] = kSent;
            const T mp = mu_prev;
            for (int64_t s = lo; s < hi; s += kW) {
                for (int64_t j = 0; j < kW; ++j) {
                    const T a0 = prev[s + j];
                    const T a1 = prev[s + j - 1];
                    const T a2 = prev[s + j - 2] + skip[s + j];
                    const T m01 = vmax(a0, a1), n01 = vmin(a0, a1);
                    const T m = vmax(m01, a2), n2 = vmin(m01, a2);
                    const T sum = T(1) + M::exp2(n01 - m) + M::exp2(n2 - m);
                    T r = m + M::log2(sum) + (e[s + j] - mp);
                    r = vmax(r, kSent);
                    cur[s + j] = r;
                    mx[j] = vmax(mx[j], r);
                }
            }
            T mu = kSent;
            for (int64_t j = 0; j < kW; ++j) mu = vmax(mu, mx[j]);
            Oa[t] = Oa[t - 1] + static_cast<double>(mp);
            mu_prev = mu;
        }
        double log2p;
        {
            const T* al = A + (Tn - 1) * RS;
            const double x1 = al[S - 1];
            const double x2 = S > 1 ? static_cast<double>(al[S - 2]) : static_cast<double>(kSent);
            const double m = std::max(x1, x2);
            log2p = Oa[Tn - 1] + m + std::log2(std::exp2(x1 - m) + std::exp2(x2 - m));
        }
        if (!(log2p > 0.5 * static_cast<double>(kSent))) {  // every path has an impossible emission
            a.losses[n] = a.zero_infinity ? 0.0 : std::numeric_limits<double>::infinity();
            if (grad) fill_rows(n, 0, Tn, !a.zero_infinity);
            return;
        }
        a.losses[n] = -log2p * fm::kLn2;
        if (!grad) return;

        // ---- pass 3: beta (two rows) and the gradient, frame by frame.
        T* Bcur = w.B.data() + kW;
        T* Bnxt = Bcur + RS;
        T* gam = w.gam.data() + kW;
        for (int64_t s = -kW; s < Sp + kW; ++s) Bcur[s] = kSent;
        Bcur[S - 1] = 0;
        if (S > 1) Bcur[S - 2] = 0;
        T nu_cur = 0;     // max of the stored row t
        double Ob = 0.0;  // log2 offset of the stored row t
        for (int64_t t = Tn - 1; t >= 0; --t) {
            int64_t lo, hi;
            band(t, Tn, S, lo, hi);
            if (t < Tn - 1) {
                std::swap(Bcur, Bnxt);  // Bnxt now holds row t+1
                const T* nxt = Bnxt;
                const T* en = E + (t + 1) * RS;
                T* cur = Bcur;
                for (int64_t j = 0; j < kW; ++j) {
                    cur[lo - kW + j] = kSent;
                    cur[hi + j] = kSent;
                }
                T mx[kW];
                for (int64_t j = 0; j < kW; ++j) mx[j] = kSent;
                const T np = nu_cur;
                for (int64_t s = lo; s < hi; s += kW) {
                    for (int64_t j = 0; j < kW; ++j) {
                        const T b0 = nxt[s + j] + en[s + j];
                        const T b1 = nxt[s + j + 1] + en[s + j + 1];
                        const T b2 = nxt[s + j + 2] + en[s + j + 2] + skip[s + j + 2];
                        const T m01 = vmax(b0, b1), n01 = vmin(b0, b1);
                        const T m = vmax(m01, b2), n2 = vmin(m01, b2);
                        const T sum = T(1) + M::exp2(n01 - m) + M::exp2(n2 - m);
                        T r = m + M::log2(sum) - np;
                        r = vmax(r, kSent);
                        cur[s + j] = r;
                        mx[j] = vmax(mx[j], r);
                    }
                }
                T nu = kSent;
                for (int64_t j = 0; j < kW; ++j) nu = vmax(nu, mx[j]);
                Ob += static_cast<double>(np);
                nu_cur = nu;
            }
            // posterior of the states at t
            const T* at = A + t * RS;
            const T* bt = Bcur;
            const T c0 = static_cast<T>(Oa[t] + Ob - log2p);
            T bsum[kW];
            for (int64_t j = 0; j < kW; ++j) bsum[j] = 0;
            uint8_t* live = w.live.data();  // blocks holding a non-negligible posterior
            for (int64_t s = lo; s < hi; s += kW) {
                int any = 0;
                for (int64_t j = 0; j < kW; ++j) {
                    const T g = M::exp2(at[s + j] + bt[s + j] + c0);
                    gam[s + j] = g;
                    bsum[j] += (j & 1) ? T(0) : g;  // even states are blanks
                    any |= g > kTiny;
                }
                live[s / kW] = static_cast<uint8_t>(any);
            }
            T blank_post = 0;
            for (int64_t j = 0; j < kW; ++j) blank_post += bsum[j];

            // gradient row: softmax * scale (or 0), minus the posterior
            T* gr = grad_row(t, n);
            if (a.from_logits) {
                const T* x = in_row(t, n);
                const T l2 = lse2[t];
                int64_t c = 0;
                for (; c + kW <= C; c += kW)
                    for (int64_t j = 0; j < kW; ++j)
                        gr[c + j] = gsT * M::exp2(x[c + j] * kLog2e - l2);
                for (; c < C; ++c) gr[c] = gsT * M::exp2(x[c] * kLog2e - l2);
            } else {
                std::memset(gr, 0, sizeof(T) * C);
            }
            gr[a.blank] -= gsT * blank_post;
            for (int64_t s0 = lo; s0 < hi; s0 += kW) {
                if (!live[s0 / kW]) continue;
                const int64_t s_end = std::min(s0 + kW, S);
                for (int64_t s = s0 + 1; s < s_end; s += 2) {
                    const T g = gam[s];
                    if (g > kTiny) gr[cls[s]] -= gsT * g;
                }
            }
        }
    }

    void run() const {
        const int64_t N = a.N;
        if (N == 0) return;
        // Cost model: states x frames for the recursions, classes x frames
        // for the softmax rows; items run largest first.
        std::vector<int64_t> order(N);
        std::vector<double> cost(N);
        double total = 0;
        const bool rows = a.from_logits || grad;
        for (int64_t n = 0; n < N; ++n) {
            order[n] = n;
            const double tn = static_cast<double>(a.input_lengths[n]);
            cost[n] = tn * (2.0 * a.target_lengths[n] + 1.0 + (rows ? a.C : 0.0));
            total += cost[n];
        }
        std::stable_sort(order.begin(), order.end(),
                         [&](int64_t x, int64_t y) { return cost[x] > cost[y]; });
        int nt = a.n_threads;
        if (nt > N) nt = static_cast<int>(N);
        if (total < 50000.0) nt = 1;  // threads cost more than they give
        if (nt < 1) nt = 1;

        int failed = 0;
#if SEQLOSS_HAVE_OPENMP
#pragma omp parallel num_threads(nt) if (nt > 1)
#endif
        {
            Work w;
#if SEQLOSS_HAVE_OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
            for (int64_t i = 0; i < N; ++i) {
                try {
                    run_item(order[i], w);
                } catch (...) {
#if SEQLOSS_HAVE_OPENMP
#pragma omp atomic write
#endif
                    failed = 1;
                }
            }
        }
        if (failed) throw std::bad_alloc();
    }
};

}  // namespace

void ctc_run_f32(const CtcArgs& args) { CtcKernel<float>(args).run(); }
void ctc_run_f64(const CtcArgs& args) { CtcKernel<double>(args).run(); }

}  // namespace SEQLOSS_KERNEL_NS
}  // namespace seqloss
