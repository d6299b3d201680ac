// Vectorised row kernels for softmax / cross-entropy, compiled once per
// instruction-set level: softmax_kernels.cpp includes this file inside the
// level's namespace (core/isa.hpp) and is compiled -fno-trapping-math -ffinite-math-only, so GCC
// vectorises the polynomial exp2).  Layouts are documented in softmax.hpp.
//
// Row algorithm.  Pass 1 reads the row from memory once: it is cut into
// L1-sized chunks (4 KB); per chunk a lane-wise max (and a lane-wise max of
// the absolute bit patterns, which detects +-inf/NaN without float compares),
// then, if the chunk raised the running max m, the running double sum is
// rescaled by exp(m_old - m_new) once (online log-sum-exp), and the chunk's
// exp2((x - m) log2 e) are summed lane-wise while the chunk is still in L1.
// When a gradient is wanted these exponentials are also stored in a per-thread
// row buffer, so pass 2 does no exp at all: it writes
// e * A_k - w * Bs (A_k rescales chunk k to the final max), with the target
// entry computed in double, optionally through streaming stores, while
// prefetching the next row (the read stream keeps going during the write).
// Lane arrays of a fixed width (16 float / 8 double, the same for every ISA,
// so all variants add in the same order) keep the loops plain element-wise
// loops the auto-vectoriser takes without -fassociative-math.  Rows of at most
// kSmallC classes use OpenMP-SIMD reductions instead (no chunk bookkeeping).
// Dot products needed by label smoothing and probability targets are taken
// relative to the row's first element r, so huge common offsets do not
// cancel.  Rows holding +-inf or NaN go to the IEEE path of softmax_ieee.cpp (compiled
// once, handed over as a pointer).
// Vectorisation checked with -fopt-info-vec (all row loops: "loop vectorized
// using 64 byte vectors" in the AVX-512 variant, 32 in AVX2).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>


#include "core/fastmath.hpp"
#include "core/memory.hpp"
#include "core/parallel.hpp"
#include "core/simd.hpp"
#include "softmax/softmax.hpp"

// `#pragma omp simd` (with reduction clauses) only when compiling with
// OpenMP, so a build without it has no unknown-pragma warnings.
#ifndef SEQLOSS_OMP_SIMD
#if defined(_OPENMP)
#define SEQLOSS_PRAGMA_(x) _Pragma(#x)
#define SEQLOSS_OMP_SIMD(clauses) SEQLOSS_PRAGMA_(omp simd clauses)
#else
#define SEQLOSS_OMP_SIMD(clauses)
#endif
#endif

SEQLOSS_ISA_BEGIN
namespace {

template <typename T>
struct K {
    using M = fm::Math<T>;
    using Int = typename M::Int;
    // Lanes: 16 float / 8 double (one AVX-512 vector, two AVX2 vectors); the
    // same for every ISA variant, so they all sum in the same order.
    static constexpr int kLanes = 64 / static_cast<int>(sizeof(T));
    static constexpr int64_t kSmallC = 128;  // rows up to this many classes: row_stats_small
    static constexpr int64_t kChunk = 4096 / static_cast<int64_t>(sizeof(T));  // 4 KB: stays in L1
    static constexpr T kLog2e = T(fm::kLog2e);

    // 2^x for x <= 0 (the argument is always x - max here), never a
    // denormal and never exactly 0: fm::Math<T>::exp2_nonpos.
    static inline T exp2_neg(T x) { return M::exp2_nonpos(x); }
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
    double absmax;   // max_c |x_c| (with nonfinite: meaningless)
};

// Rows whose largest |x| is above this go to the IEEE path (double
// accumulation): the lane sums of (x - r) over C classes in T could
// overflow (x - r up to 2 |x|, C of them), and a 0 * inf or inf - inf in the
// dot products would make the loss NaN.  float32: |x| > ~1.7e35 for 1000
// classes.
template <typename T>
inline double huge_row_threshold(int64_t C) {
    return static_cast<double>(std::numeric_limits<T>::max()) / (4.0 * static_cast<double>(C + 1));
}

// Lane-wise pass over n elements (n a multiple of kLanes) of one chunk.
template <typename T, bool kWeighted, bool kQ, bool kDot, bool kStore>
struct ChunkAcc {
    using KT = K<T>;
    using Int = typename KT::Int;
    static constexpr int kLanes = KT::kLanes;
    T mx[kLanes];
    Int ab[kLanes];
    T sm[kLanes];
    T wx[kDot ? kLanes : 1], wq[kQ ? kLanes : 1], wqx[kQ ? kLanes : 1];

    inline void reset_max(T init) {
        for (int j = 0; j < kLanes; ++j) {
            mx[j] = init;
            ab[j] = 0;
        }
    }
    inline void max_pass(const T* x, int64_t n) {
        for (int64_t i = 0; i < n; i += kLanes) {
SEQLOSS_OMP_SIMD()
            for (int j = 0; j < kLanes; ++j) {
                T v = x[i + j];
                mx[j] = v > mx[j] ? v : mx[j];
                Int b = fm::bit_cast<Int>(v) & static_cast<Int>(KT::M::kAbsMask);
                ab[j] = b > ab[j] ? b : ab[j];
            }
        }
    }
    inline void reset_sum() {
        for (int j = 0; j < kLanes; ++j) sm[j] = T(0);
        if (kDot)
            for (int j = 0; j < kLanes; ++j) wx[j] = T(0);
        if (kQ)
            for (int j = 0; j < kLanes; ++j) wq[j] = wqx[j] = T(0);
    }
    // e[i] = exp2((x[i] - m) log2e) is also stored when kStore.  kMask: only
    // the first `valid` lanes count (the padded tail group).
    template <bool kMask>
    inline void sum_pass(const T* x, const T* w, const T* q, T* e, int64_t n, T m, T r,
                         int valid = kLanes) {
        for (int64_t i = 0; i < n; i += kLanes) {
SEQLOSS_OMP_SIMD()
            for (int j = 0; j < kLanes; ++j) {
                T v = x[i + j];
                T ev = KT::exp2_neg((v - m) * KT::kLog2e);
                if (kMask) ev = j < valid ? ev : T(0);
                sm[j] += ev;
                if (kStore) e[i + j] = ev;
                if (kDot) {
                    T d = v - r;
                    T wj = kWeighted ? w[i + j] : T(1);
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

// Horizontal reductions: fold the kLanes lanes onto 8 with an element-wise loop
// (one or two vector operations), then finish the 8 in scalar code.
template <int kLanes, typename T, typename Op>
SEQLOSS_INLINE void fold_to_8(const T* v, T* t, Op op) {
    static_assert(kLanes % 8 == 0, "lane count must be a multiple of 8");
    for (int j = 0; j < 8; ++j) t[j] = v[j];
    for (int i = 8; i < kLanes; i += 8)
        for (int j = 0; j < 8; ++j) t[j] = op(t[j], v[i + j]);
}

template <typename T, int kLanes>
inline double hsum(const T* v) {
    alignas(64) T t[8];
    fold_to_8<kLanes>(v, t, [](T a, T b) { return a + b; });
    return static_cast<double>(((t[0] + t[4]) + (t[2] + t[6])) + ((t[1] + t[5]) + (t[3] + t[7])));
}

template <typename T, int kLanes>
inline T hmax(const T* v) {
    alignas(64) T t[8];
    fold_to_8<kLanes>(v, t, [](T a, T b) { return b > a ? b : a; });
    T m = t[0];
    for (int j = 1; j < 8; ++j) m = t[j] > m ? t[j] : m;
    return m;
}

// Pass 1 for short rows (C <= kSmallC): plain OpenMP-SIMD reductions over
// exactly C elements, without the chunk and lane-array bookkeeping that
// dominates for a few dozen classes.  Same outputs as row_stats (one chunk).
template <typename T, bool kWeighted, bool kQ, bool kDot, bool kStore>
RowStats row_stats_small(const T* x, const T* w, const T* q, int64_t C, T* e, T* chunk_m) {
    using KT = K<T>;
    using Int = typename KT::Int;
    const T r = x[0];
    T m = r;
    Int ab = 0;
SEQLOSS_OMP_SIMD(reduction(max : m, ab))
    for (int64_t c = 0; c < C; ++c) {
        const T v = x[c];
        m = v > m ? v : m;
        const Int b = fm::bit_cast<Int>(v) & static_cast<Int>(KT::M::kAbsMask);
        ab = b > ab ? b : ab;
    }
    T s = T(0), wx = T(0), wq = T(0), wqx = T(0);
SEQLOSS_OMP_SIMD(reduction(+ : s, wx, wq, wqx))
    for (int64_t c = 0; c < C; ++c) {
        const T v = x[c];
        const T ev = KT::exp2_neg((v - m) * KT::kLog2e);
        s += ev;
        if (kStore) e[c] = ev;
        if (kDot) {
            const T d = v - r;
            const T wc = kWeighted ? w[c] : T(1);
            wx += wc * d;
            if (kQ) {
                const T wqc = wc * q[c];
                wq += wqc;
                wqx += wqc * d;
            }
        }
    }
    if (kStore) chunk_m[0] = m;
    RowStats st;
    st.m = static_cast<double>(m);
    st.s = static_cast<double>(s);
    st.ref = static_cast<double>(r);
    st.dot_wx = static_cast<double>(wx);
    st.dot_wq = static_cast<double>(wq);
    st.dot_wqx = static_cast<double>(wqx);
    st.nonfinite = ab >= static_cast<Int>(KT::M::kInfBits);
    st.absmax = static_cast<double>(fm::bit_cast<T>(ab));
    return st;
}

// Pass 1 over one row x[0..C) (w, q rows or nullptr as the flags say).  w
// must be readable (zero) up to C rounded up to kLanes; x and q may be read past
// C up to the next multiple of kLanes when overread is true (values there are
// masked out), otherwise the tail is copied.  With kStore, e[0..C) receives
// exp2((x - m_k) log2e) where m_k = chunk_m[k] is the running max used for
// chunk k (e must hold C rounded up to kLanes elements).
template <typename T, bool kWeighted, bool kQ, bool kDot, bool kStore>
RowStats row_stats(const T* x, const T* w, const T* q, int64_t C, bool overread, T* e,
                   T* chunk_m) {
    using KT = K<T>;
    constexpr int kLanes = KT::kLanes;
    ChunkAcc<T, kWeighted, kQ, kDot, kStore> acc;
    RowStats st;
    st.m = 0.0;
    st.s = 0.0;
    st.ref = C > 0 ? static_cast<double>(x[0]) : 0.0;
    st.dot_wx = st.dot_wq = st.dot_wqx = 0.0;
    st.nonfinite = false;
    st.absmax = 0.0;
    const T r = C > 0 ? x[0] : T(0);
    typename KT::Int abmax = 0;
    const int64_t full = (C / kLanes) * kLanes;
    // The tail group is padded with r = x[0]: it cannot change the max, and
    // x - r = 0 there, so the dot products get nothing from the padding; the
    // sum of exponentials masks it out.
    alignas(64) T xt[kLanes] = {}, qt[kQ ? kLanes : 1] = {};  // (init: silences -Wmaybe-uninitialized)
    const T* wt = kWeighted ? w + full : nullptr;
    const int64_t tail = C - full;
    if (tail) {
        if (overread) {
            for (int j = 0; j < kLanes; ++j) {
                T v = x[full + j];
                xt[j] = j < tail ? v : r;
            }
            if (kQ)
                for (int j = 0; j < kLanes; ++j) {
                    T v = q[full + j];
                    qt[j] = j < tail ? v : T(0);
                }
        } else {
            for (int j = 0; j < kLanes; ++j) xt[j] = j < tail ? x[full + j] : r;
            if (kQ)
                for (int j = 0; j < kLanes; ++j) qt[j] = j < tail ? q[full + j] : T(0);
        }
    }
    int64_t k = 0;
    for (int64_t c0 = 0; c0 < C; c0 += KT::kChunk, ++k) {
        const int64_t c1 = std::min<int64_t>(C, c0 + KT::kChunk);
        const int64_t nfull = std::min<int64_t>(c1, full) - c0;  // multiple of kLanes (or <= 0)
        const bool with_tail = c1 == C && tail;
        acc.reset_max(r);
        if (nfull > 0) acc.max_pass(x + c0, nfull);
        if (with_tail) acc.max_pass(xt, kLanes);
        const T cm = hmax<T, kLanes>(acc.mx);
        {
            const typename KT::Int ab = hmax<typename KT::Int, kLanes>(acc.ab);
            abmax = ab > abmax ? ab : abmax;
        }
        if (c0 == 0) {
            st.m = static_cast<double>(cm);
        } else if (static_cast<double>(cm) > st.m) {
            st.s *= std::exp(st.m - static_cast<double>(cm));
            st.m = static_cast<double>(cm);
        }
        const T mT = static_cast<T>(st.m);
        if (kStore) chunk_m[k] = mT;
        acc.reset_sum();
        if (nfull > 0)
            acc.template sum_pass<false>(x + c0, kWeighted ? w + c0 : nullptr,
                                         kQ ? q + c0 : nullptr, kStore ? e + c0 : nullptr,
                                         nfull, mT, r);
        if (with_tail)
            acc.template sum_pass<true>(xt, wt, qt, kStore ? e + full : nullptr, kLanes, mT, r,
                                        static_cast<int>(tail));
        st.s += hsum<T, kLanes>(acc.sm);
        if (kDot) st.dot_wx += hsum<T, kLanes>(acc.wx);
        if (kQ) {
            st.dot_wq += hsum<T, kLanes>(acc.wq);
            st.dot_wqx += hsum<T, kLanes>(acc.wqx);
        }
    }
    st.nonfinite = abmax >= static_cast<typename KT::Int>(KT::M::kInfBits);
    st.absmax = static_cast<double>(fm::bit_cast<T>(abmax));
    return st;
}

// Copy n elements to dst with non-temporal (streaming) stores where dst is
// vector aligned (core/simd.hpp): the gradient of a large call is not read
// again soon, and streaming skips the read-for-ownership of every
// destination line.
template <typename T>
inline void stream_store(T* dst, const T* src, int64_t n) {
    simd::stream_copy(dst, src, n);
}

inline void stream_fence() { simd::stream_fence(); }

// Pass 2 on n elements: out[c] = e[c] * A - w[c] * (q[c] * Bq + Bs) (terms
// absent per the flags: kB = smoothing constant Bs, kQ = prob targets).  out
// may be e itself.
template <typename T, bool kWeighted, bool kQ, bool kB>
inline void grad_block(const T* e, const T* w, const T* q, T* out, int64_t n, T A, T Bq,
                       T Bs) {
    for (int64_t c = 0; c < n; ++c) {
        T v = e[c] * A;
        if (kQ || kB) {
            T wc = kWeighted ? w[c] : T(1);
            T t = kQ ? q[c] * Bq + Bs : Bs;
            v -= wc * t;
        }
        out[c] = v;
    }
}

// Gradient row g[0..C) from the stored exponentials e (pass 1): per chunk k,
// A_k = A * exp(m_k - m) rescales to the final max; then g[y] = gy when
// y >= 0.  With stream, each chunk is finished in e (L1) and streamed out.
template <typename T, bool kWeighted, bool kQ, bool kB>
void write_grad(T* e, const T* chunk_m, const T* w, const T* q, T* g, int64_t C, T m,
                double A, T Bq, T Bs, int64_t y, T gy, bool stream, const T* next) {
    using KT = K<T>;
    int64_t k = 0;
    for (int64_t c0 = 0; c0 < C; c0 += KT::kChunk, ++k) {
        const int64_t n = std::min<int64_t>(KT::kChunk, C - c0);
        if (next) {
            // Keep the read stream going while this pass only writes: fetch
            // the same span of the next row (pass 1 then finds it in cache).
            const char* p = reinterpret_cast<const char*>(next + c0);
            const int64_t bytes = n * static_cast<int64_t>(sizeof(T));
            for (int64_t o = 0; o < bytes; o += 64) __builtin_prefetch(p + o, 0, 3);
        }
        const T Ak = static_cast<T>(
            chunk_m[k] == m ? A : A * std::exp(static_cast<double>(chunk_m[k]) - m));
        const T* wk = kWeighted ? w + c0 : nullptr;
        const T* qk = kQ ? q + c0 : nullptr;
        if (stream) {
            T* ek = e + c0;
            grad_block<T, kWeighted, kQ, kB>(ek, wk, qk, ek, n, Ak, Bq, Bs);
            if (y >= c0 && y < c0 + n) ek[y - c0] = gy;
            stream_store(g + c0, ek, n);
        } else {
            grad_block<T, kWeighted, kQ, kB>(e + c0, wk, qk, g + c0, n, Ak, Bq, Bs);
        }
    }
    if (!stream && y >= 0) g[y] = gy;
}

// Per-thread scratch: the row's exponentials and per-chunk maxima, kept by
// the thread between calls (grown only; a row of C classes needs about 4 C
// bytes) so that small calls allocate nothing.
template <typename T>
struct Scratch {
    AlignedBuffer<T>& e;
    AlignedBuffer<T>& chunk_m;
    explicit Scratch(int64_t C) : e(kept(0)), chunk_m(kept(1)) {
        const int64_t cp = (C + K<T>::kLanes - 1) / K<T>::kLanes * K<T>::kLanes;
        e.resize(static_cast<size_t>(cp));
        chunk_m.resize(static_cast<size_t>((C + K<T>::kChunk - 1) / K<T>::kChunk + 1));
    }
    static AlignedBuffer<T>& kept(int which) {
        static thread_local AlignedBuffer<T> buffers[2];
        return buffers[which];
    }
};

template <typename T, bool kWeighted, bool kQ, bool kDot>
void ce_rows_impl(const CeArgs<T>& a, const detail::CeCoef& k, double* contrib,
                  bool force_ieee, int64_t n0, int64_t n1) {
    using KT = K<T>;
    const int64_t C = a.n_classes;
    const T* w = a.weight;
    const double eps = k.eps;
    Scratch<T> scratch(a.grad ? C : 1);
    T* e = scratch.e.data();
    T* cmax = scratch.chunk_m.data();
    const double huge = huge_row_threshold<T>(C);
    for (int64_t n = n0; n < n1; ++n) {
        const T* x = a.logits + n * C;
        T* g = a.grad ? a.grad + n * C : nullptr;
        const T* next = (k.prefetch && n + 1 < n1 && C >= 256) ? x + C : nullptr;
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
        const bool overread = (n + 1) * C + KT::kLanes <= a.n_rows * C;
        RowStats st;
        if (C <= KT::kSmallC)
            st = g ? row_stats_small<T, kWeighted, kQ, kDot, true>(x, w, q, C, e, cmax)
                   : row_stats_small<T, kWeighted, kQ, kDot, false>(x, w, q, C, nullptr, nullptr);
        else
            st = g ? row_stats<T, kWeighted, kQ, kDot, true>(x, w, q, C, overread, e, cmax)
                   : row_stats<T, kWeighted, kQ, kDot, false>(x, w, q, C, overread, nullptr, nullptr);
        if (st.nonfinite || force_ieee || st.absmax > huge) {
            contrib[n] = a.ieee_row(a, k, n, g);
            continue;
        }
        const double lse_m = std::log(st.s);  // lse - m
        const T mT = static_cast<T>(st.m);
        if (kQ) {
            // q' = (1 - eps) q + eps / C
            const double swq = (1.0 - eps) * st.dot_wq + eps / C * k.sum_w;
            const double swqx = eps > 0.0 ? (1.0 - eps) * st.dot_wqx + eps / C * st.dot_wx
                                          : st.dot_wqx;
            // sum_c w q' (lse - x_c) = swq (lse - r) - sum w q' (x - r)
            contrib[n] = k.c1 * (swq * ((st.m - st.ref) + lse_m) - swqx);
            if (g) {
                const double f = k.gscale * k.c1;
                write_grad<T, kWeighted, true, true>(e, cmax, w, q, g, C, mT, f * swq / st.s,
                                              static_cast<T>(f * (1.0 - eps)),
                                              static_cast<T>(f * eps / C), -1, T(0),
                                              k.stream, next);
            }
            continue;
        }
        const double wy = w ? static_cast<double>(w[y]) : 1.0;
        const double xy = static_cast<double>(x[y]);
        // lse - v computed as (m - v) + log(s): no absorption for huge logits
        double loss = k.c1 * wy * ((st.m - xy) + lse_m);
        if (kDot) loss += k.c2 * (((st.m - st.ref) + lse_m) * k.sum_w - st.dot_wx);
        contrib[n] = loss;
        if (g) {
            const double amul = k.c1 * wy + k.c2 * k.sum_w;
            const double A = k.gscale * amul / st.s;
            // Target entry in double: p_y a - c2 w_y - c1 w_y.
            const double py = std::exp((xy - st.m) - lse_m);  // x_y - m is exact
            const T gy = static_cast<T>(k.gscale * (py * amul - k.c2 * wy - k.c1 * wy));
            if (kDot)
                write_grad<T, kWeighted, false, true>(e, cmax, w, nullptr, g, C, mT, A, T(0),
                                               static_cast<T>(k.gscale * k.c2), y, gy,
                                               k.stream, next);
            else
                write_grad<T, kWeighted, false, false>(e, cmax, w, nullptr, g, C, mT, A, T(0), T(0),
                                                y, gy, k.stream, next);
        }
    }
    if (k.stream) stream_fence();
}

template <typename T>
void softmax_rows_impl(const T* x, T* y, int64_t C, bool log, SoftmaxRowIeee<T> ieee_row,
                       int64_t n0, int64_t n1) {
    using KT = K<T>;
    Scratch<T> scratch(log ? 1 : C);
    T* e = scratch.e.data();
    T* cmax = scratch.chunk_m.data();
    for (int64_t n = n0; n < n1; ++n) {
        const T* xr = x + n * C;
        T* yr = y + n * C;
        const bool overread = (n + 1) * C + KT::kLanes <= n1 * C;
        RowStats st = log ? row_stats<T, false, false, false, false>(xr, nullptr, nullptr, C,
                                                                    overread, nullptr, nullptr)
                          : row_stats<T, false, false, false, true>(xr, nullptr, nullptr, C,
                                                                   overread, e, cmax);
        if (st.nonfinite) {
            ieee_row(xr, yr, C, log);
            continue;
        }
        const T m = static_cast<T>(st.m);
        if (log) {
            // (x - m) - log(s): x - m is exact for nearby values.
            const T ls = static_cast<T>(std::log(st.s));
            for (int64_t c = 0; c < C; ++c) yr[c] = (xr[c] - m) - ls;
        } else {
            write_grad<T, false, false, false>(e, cmax, nullptr, nullptr, yr, C, m, 1.0 / st.s,
                                               T(0), T(0), -1, T(0), false,
                                               n + 1 < n1 ? xr + C : nullptr);
        }
    }
}

template <typename T>
void ce_rows_t(const CeArgs<T>& in, const detail::CeCoef& k, double* contrib,
               bool force_ieee) {
    const bool kw = in.weight != nullptr;
    const bool kq = in.probs != nullptr;
    const bool kdot = k.need_dot || kq;
    // Weights padded with zeros to a multiple of the lane count (row_stats
    // reads whole lane groups).
    CeArgs<T> a = in;
    AlignedBuffer<T> wpad;
    if (kw) {
        const int64_t C = a.n_classes;
        const int64_t cp = (C + K<T>::kLanes - 1) / K<T>::kLanes * K<T>::kLanes;
        wpad.resize(static_cast<size_t>(cp));
        std::copy(in.weight, in.weight + C, wpad.data());
        std::fill(wpad.data() + C, wpad.data() + cp, T(0));
        a.weight = wpad.data();
    }
    auto run = [&](auto fn) {
        // rows in static blocks, one per thread: a row's result does not
        // depend on the split
        parallel_for(a.n_rows, a.n_threads, Schedule::blocks(),
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
void softmax_rows(const float* x, float* y, int64_t n, int64_t c, bool log, int nt,
                  SoftmaxRowIeee<float> ieee_row) {
    parallel_for(n, nt, Schedule::blocks(), [&](int64_t n0, int64_t n1) {
        softmax_rows_impl<float>(x, y, c, log, ieee_row, n0, n1);
    });
}
void softmax_rows(const double* x, double* y, int64_t n, int64_t c, bool log, int nt,
                  SoftmaxRowIeee<double> ieee_row) {
    parallel_for(n, nt, Schedule::blocks(), [&](int64_t n0, int64_t n1) {
        softmax_rows_impl<double>(x, y, c, log, ieee_row, n0, n1);
    });
}

SEQLOSS_ISA_END
