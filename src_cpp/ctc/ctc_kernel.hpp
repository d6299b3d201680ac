// CTC forward-backward kernel, compiled once per instruction-set level.
//
// Included by ctc_kernels.cpp, which is compiled once per level (inside that
// level's namespace, see core/isa.hpp) with -fno-trapping-math
// -ffinite-math-only, so GCC vectorises the polynomial exp2/log2 loops.  Therefore this file never relies
// on IEEE inf/NaN semantics: impossible states hold the finite sentinel kSent,
// and non-finite inputs are detected from their bit patterns.
//
// Algorithm, per batch item (one thread per item; items largest first, in
// chunks of neighbours so threads do not share the gradient's cache lines):
//   pass 1  for each frame t < T_n: (from_logits) the row's log2-sum-exp2,
//           with the exponentials built in a row buffer (L1) and the
//           finished softmax row, times the gradient scale, written to the
//           gradient once; a bit-pattern scan for NaN/inf; and the gathered
//           base-2 emissions E[t][s] = log2 y_t(ext_s) of the 2L+1 states;
//   pass 2  alpha over t, restricted to the band of states that are both
//           reachable from the start and can still reach the end; each row
//           is stored minus the previous row's maximum, whose running sum is
//           kept in double (Oa[t]), so float values stay near 0 (accuracy,
//           no denormals);
//   pass 3  beta backwards (renormalised the same way); at each t the state
//           posterior gamma = exp2(A + B + Oa + Ob - log2 p) is formed and
//           scattered, times the scale, out of the gradient row's label and
//           blank classes where it is non-negligible (log-probs in: the row
//           is zeroed first).  Large items keep two beta rows and finish
//           each gradient row as beta reaches it; small items run the beta
//           recursion in the same loop as alpha (two independent dependency
//           chains for the core to overlap) and keep all of it.
// Long rows (>= 16 KB) written to a reused gradient buffer go out with
// non-temporal stores (see `stream`): directly from pass 1 when the item's
// labels touch few of a row's cache lines (see `direct`), else recomputed in
// pass 3 in the row buffer, which is patched there and streamed out once.
// Rows are padded to a multiple of kW elements (one native vector, see
// simd.hpp) with kW sentinel elements on either side, so every inner loop
// runs over whole vectors without tails.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <vector>

#include "core/fastmath.hpp"
#include "core/memory.hpp"
#include "core/simd.hpp"
#include "core/threads.hpp"
#include "ctc/ctc.hpp"


// The row recursions are inlined into the loop that runs alpha and beta
// together, so the compiler can interleave the two dependency chains.
#if defined(__GNUC__) || defined(__clang__)
#define SEQLOSS_INLINE inline __attribute__((always_inline))
#else
#define SEQLOSS_INLINE inline
#endif

SEQLOSS_ISA_BEGIN
namespace {

template <typename T>
struct CtcKernel {
    using M = fm::Math<T>;
    using UInt = typename M::UInt;
    using B = simd::Block<T>;
    using V = typename B::V;
    using I = typename B::I;
    static constexpr int64_t kW = B::N;  // block width: one native vector
    static constexpr T kSent = T(-1e30);           // log2 of "impossible"
    static constexpr T kLog2e = T(fm::kLog2e);
    // Softmax terms below 2^kRowCut are exactly 0: scaled by the gradient
    // factor they would otherwise become denormals (slow) - and they are far
    // below the rounding of the row sum anyway.
    static constexpr T kRowCut = sizeof(T) == 4 ? T(-100) : T(-1000);
    // Posteriors below this are flushed to 0 (not scattered; no denormals).
    static constexpr T kTiny = sizeof(T) == 4 ? T(1e-12) : T(1e-280);

    // Per-thread scratch, kept between calls (thread_local) when small so
    // that frequent small calls do not pay for allocations.
    struct Work {
        AlignedBuffer<T> E, A, B, Bt, gam, skip, lse2, lim, rowbuf, rmax;
        AlignedBuffer<double> Oa, Ob;
        AlignedBuffer<int32_t> cls;
        AlignedBuffer<uint8_t> live;
        std::size_t bytes() const {
            return E.capacity_bytes() + A.capacity_bytes() + B.capacity_bytes() +
                   Bt.capacity_bytes() + Ob.capacity_bytes() + rowbuf.capacity_bytes() +
                   rmax.capacity_bytes() +
                   gam.capacity_bytes() + skip.capacity_bytes() + lse2.capacity_bytes() +
                   lim.capacity_bytes() + Oa.capacity_bytes() + cls.capacity_bytes() +
                   live.capacity_bytes();
        }
        void release() {
            E.release(), A.release(), B.release(), Bt.release(), Ob.release();
            gam.release(), skip.release(), rowbuf.release(), rmax.release();
            lse2.release(), lim.release(), Oa.release(), cls.release(), live.release();
        }
    };
    static constexpr std::size_t kKeepBytes = std::size_t(1) << 22;  // 4 MiB per thread
    // Items whose beta table is at most this big run alpha and beta together.
    static constexpr std::size_t kTogetherBytes = std::size_t(1) << 21;

    const CtcArgs& a;
    const T* acts;
    T* grad;

    // Streaming mode for long rows of logits written to a reused gradient
    // buffer (fresh pages are zeroed into the cache anyway, where normal
    // stores are faster): pass 1 keeps only each row's
    // normaliser; pass 3 recomputes the softmax into a row buffer (in L1),
    // applies the posterior there and writes the gradient row once with
    // non-temporal stores (no read-for-ownership of the gradient's lines).
    bool stream;
    static constexpr std::size_t kStreamBytes = 16384;

    // Direct streaming, for streamed items whose label classes touch few of a
    // row's cache lines (large C, short targets: CJK OCR, BPE): pass 1 writes
    // the scaled softmax straight to the gradient with non-temporal stores
    // (the logits are read once, no exponential is recomputed) and pass 3
    // only subtracts the posterior at the label classes, a read-modify-write
    // of at most L + 1 lines per row.  Same operations in the same order as
    // the other paths, so the same bits.
    bool direct(int64_t L) const {
        return stream && static_cast<std::size_t>(L + 1) * 8 * 64 <=
                             static_cast<std::size_t>(a.C) * sizeof(T);
    }
    // Whether pass 1 writes the finished (scaled) softmax rows of an item
    // with L labels: always with logits and a gradient, except for streamed
    // items that recompute them in pass 3.  (Unstreamed rows are built in the
    // row buffer, in L1, and written once; pass 3 then touches only the
    // label classes instead of rescaling whole rows.)
    bool prescaled(int64_t L) const {
        return grad && a.from_logits && (!stream || direct(L));
    }

    explicit CtcKernel(const CtcArgs& args)
        : a(args), acts(static_cast<const T*>(args.acts)), grad(static_cast<T*>(args.grad)),
          stream(args.grad && args.grad_reused && args.from_logits &&
                 static_cast<std::size_t>(args.C) * sizeof(T) >= kStreamBytes) {}

    static inline T vmax(T x, T y) { return x > y ? x : y; }
    static int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }
    // kW is a power of two: block rounding with masks
    static_assert((kW & (kW - 1)) == 0, "block width must be a power of two");
    static int64_t block_down(int64_t v) { return v & ~(kW - 1); }
    static int64_t block_up(int64_t v) { return (v + kW - 1) & ~(kW - 1); }

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

    // Row tails.  A row with C >= kW ends with the overlapping vector
    // x[C - kW, C); `fresh` marks its lanes not covered by whole blocks.
    // (Building a vector from scalar stores would stall on store forwarding.)
    // Rows shorter than one vector are copied into a padded buffer first.
    static typename B::I fresh_lanes(int64_t rem) {
        return B::iota() >= B::isplat(static_cast<typename B::Int>(kW - rem));
    }

    // x padded to one vector with `fill` (only for C < kW).
    static const T* short_row(const T* x, int64_t C, T fill, T* buf) {
        for (int64_t j = 0; j < kW; ++j) buf[j] = j < C ? x[j] : fill;
        return buf;
    }

    // Max of a row, and whether it holds an inf or NaN (bit patterns), in
    // one pass with two accumulators each (the first touch of the row is
    // memory-bound: independent chains keep loads in flight); prefetches the
    // next row to be read.
    static T row_max(const T* x, int64_t C, const T* next, bool& nonfinite) {
        using Int = typename B::Int;
        const Int abs_mask = static_cast<Int>(M::kAbsMask);
        V mx0 = B::splat(std::numeric_limits<T>::lowest()), mx1 = mx0;
        I b0 = B::isplat(0), b1 = b0;
        int64_t c = 0;
        for (; c + 2 * kW <= C; c += 2 * kW) {
            if (next) {
                prefetch(next + c);
                if (2 * kW * sizeof(T) > 64) prefetch(next + c + kW);
            }
            const V v0 = B::load(x + c), v1 = B::load(x + c + kW);
            mx0 = B::max(mx0, v0);
            mx1 = B::max(mx1, v1);
            const I i0 = simd::bits<I>(v0) & abs_mask, i1 = simd::bits<I>(v1) & abs_mask;
            b0 = simd::select<I>(i0 > b0, i0, b0);
            b1 = simd::select<I>(i1 > b1, i1, b1);
        }
        for (; c < C; c += kW) {
            // max and the bit scan are idempotent: an overlapping last vector is fine
            const V v = C >= kW ? B::load(x + std::min(c, C - kW)) : B::load(x);
            mx0 = B::max(mx0, v);
            const I i0 = simd::bits<I>(v) & abs_mask;
            b0 = simd::select<I>(i0 > b0, i0, b0);
        }
        b0 = simd::select<I>(b1 > b0, b1, b0);
        nonfinite = B::any_ge(b0, static_cast<Int>(M::kInfBits));
        return B::hmax(B::max(mx0, mx1));
    }

    static inline void prefetch_bytes(const char* p, bool write) {
#if defined(__GNUC__) || defined(__clang__)
        if (write)
            __builtin_prefetch(p, 1, 3);
        else
            __builtin_prefetch(p, 0, 3);
#else
        (void)p, (void)write;
#endif
    }

    static inline void prefetch(const T* p) {
#if defined(__GNUC__) || defined(__clang__)
        __builtin_prefetch(p, 0, 3);
#else
        (void)p;
#endif
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

    // log2 of a sum of exponentials (in double), + mm.
    static double finish_lse2(V acc, T mm) {
        const T s = B::hsum(acc);
        if (sizeof(T) == 4)  // the result is used in float: a float log2 is enough
            return static_cast<double>(mm) + fm::Math<float>::log2(static_cast<float>(s));
        return static_cast<double>(mm) + fm::Math<double>::log2(static_cast<double>(s));
    }

    // log2 sum_c 2^((x_c - m) log2 e) + m log2 e; also stores the
    // unnormalised exponentials out[c] = 2^((x_c - m) log2 e) (the gradient
    // row, rescaled in pass 3, or scratch) and returns their sum in `sum`.
    // One code path for the loss with and without gradient, so both give the
    // same bits.  Needs C >= kW (callers pad shorter rows with lowest()).
    static double row_lse2_store(const T* x, int64_t C, T m, T* out, double& sum) {
        const T mm = m * kLog2e;
        V acc0 = B::splat(0), acc1 = acc0;
        int64_t c = 0;
        for (; c + 2 * kW <= C; c += 2 * kW) {
            const V p0 = B::exp2(B::load(x + c) * kLog2e - mm, kRowCut);
            const V p1 = B::exp2(B::load(x + c + kW) * kLog2e - mm, kRowCut);
            B::store(out + c, p0);
            B::store(out + c + kW, p1);
            acc0 += p0;
            acc1 += p1;
        }
        for (; c + kW <= C; c += kW) {
            const V p = B::exp2(B::load(x + c) * kLog2e - mm, kRowCut);
            B::store(out + c, p);
            acc0 += p;
        }
        if (c < C) {  // the overlapping last vector: same values rewritten
            const V p = B::exp2(B::load(x + C - kW) * kLog2e - mm, kRowCut);
            B::store(out + C - kW, p);
            acc1 += simd::select<V>(fresh_lanes(C - c), p, B::splat(0));
        }
        const V acc = acc0 + acc1;
        sum = static_cast<double>(B::hsum(acc));
        return finish_lse2(acc, mm);
    }

    // row_max for two rows of C >= kW elements at once (two independent
    // dependency chains: short rows are latency-bound); no prefetch.
    static void row_max2(const T* x0, const T* x1, int64_t C, T& m0, T& m1, bool& nf0,
                         bool& nf1) {
        using Int = typename B::Int;
        const Int abs_mask = static_cast<Int>(M::kAbsMask);
        V mx0 = B::splat(std::numeric_limits<T>::lowest()), mx1 = mx0;
        I b0 = B::isplat(0), b1 = b0;
        for (int64_t c = 0; c < C; c += kW) {
            const int64_t o = std::min(c, C - kW);  // overlapping last vector
            const V v0 = B::load(x0 + o), v1 = B::load(x1 + o);
            mx0 = B::max(mx0, v0);
            mx1 = B::max(mx1, v1);
            const I i0 = simd::bits<I>(v0) & abs_mask, i1 = simd::bits<I>(v1) & abs_mask;
            b0 = simd::select<I>(i0 > b0, i0, b0);
            b1 = simd::select<I>(i1 > b1, i1, b1);
        }
        nf0 = B::any_ge(b0, static_cast<Int>(M::kInfBits));
        nf1 = B::any_ge(b1, static_cast<Int>(M::kInfBits));
        m0 = B::hmax(mx0);
        m1 = B::hmax(mx1);
    }

    // row_lse2_store for two rows at once, each with exactly the operations
    // (and so the bits) of row_lse2_store.
    static void row_lse2_store2(const T* x0, const T* x1, int64_t C, T m0, T m1, T* out0,
                                T* out1, double& sum0, double& sum1, double& l0, double& l1) {
        const T mm0 = m0 * kLog2e, mm1 = m1 * kLog2e;
        V a00 = B::splat(0), a01 = a00, a10 = a00, a11 = a00;
        int64_t c = 0;
        for (; c + 2 * kW <= C; c += 2 * kW) {
            const V p00 = B::exp2(B::load(x0 + c) * kLog2e - mm0, kRowCut);
            const V p10 = B::exp2(B::load(x1 + c) * kLog2e - mm1, kRowCut);
            const V p01 = B::exp2(B::load(x0 + c + kW) * kLog2e - mm0, kRowCut);
            const V p11 = B::exp2(B::load(x1 + c + kW) * kLog2e - mm1, kRowCut);
            B::store(out0 + c, p00);
            B::store(out1 + c, p10);
            B::store(out0 + c + kW, p01);
            B::store(out1 + c + kW, p11);
            a00 += p00;
            a10 += p10;
            a01 += p01;
            a11 += p11;
        }
        for (; c + kW <= C; c += kW) {
            const V p0 = B::exp2(B::load(x0 + c) * kLog2e - mm0, kRowCut);
            const V p1 = B::exp2(B::load(x1 + c) * kLog2e - mm1, kRowCut);
            B::store(out0 + c, p0);
            B::store(out1 + c, p1);
            a00 += p0;
            a10 += p1;
        }
        if (c < C) {
            const V p0 = B::exp2(B::load(x0 + C - kW) * kLog2e - mm0, kRowCut);
            const V p1 = B::exp2(B::load(x1 + C - kW) * kLog2e - mm1, kRowCut);
            B::store(out0 + C - kW, p0);
            B::store(out1 + C - kW, p1);
            const I fresh = fresh_lanes(C - c);
            a01 += simd::select<V>(fresh, p0, B::splat(0));
            a11 += simd::select<V>(fresh, p1, B::splat(0));
        }
        const V acc0 = a00 + a01, acc1 = a10 + a11;
        sum0 = static_cast<double>(B::hsum(acc0));
        sum1 = static_cast<double>(B::hsum(acc1));
        l0 = finish_lse2(acc0, mm0);
        l1 = finish_lse2(acc1, mm1);
    }

    // log2(2^a + 2^b + 2^c), lane-wise, for the recursions.
    static inline V lse3(V a, V b, V c) {
        const V m01 = B::max(a, b), n01 = B::min(a, b);
        const V m = B::max(m01, c), n2 = B::min(m01, c);
        const V sum = B::exp2_nonpos(n01 - m) + B::exp2_nonpos(n2 - m) + T(1);
        return m + B::log2(sum);
    }

    // Band of states [lo, hi) alive at frame t (reachable and able to finish),
    // widened to whole blocks.
    static void band(int64_t t, int64_t Tn, int64_t S, int64_t& lo, int64_t& hi) {
        int64_t l = S - 2 * (Tn - t);
        if (l < 0) l = 0;
        int64_t h = 2 * t + 2;
        if (h > S) h = S;
        lo = block_down(l);
        hi = block_up(h);
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
        w.lim.resize(Sp);
        if (a.from_logits) w.rowbuf.resize(2 * (a.C + kW));  // two rows: see `pairs`
        if (stream) w.rmax.resize(Tn);
        w.live.resize(Sp / kW);

        // Extended-state classes and the additive skip mask (0 where s-2 -> s
        // is allowed, the sentinel elsewhere and in the padding).
        int32_t* cls = w.cls.data();
        T* skip = w.skip.data() + kW;
        for (int64_t s = -kW; s < Sp + kW; ++s) skip[s] = kSent;
        T* lim = w.lim.data();
        for (int64_t s = 0; s < Sp; ++s) {
            cls[s] = static_cast<int32_t>(a.blank);
            lim[s] = s < S ? std::numeric_limits<T>::max() : kSent;
        }
        for (int64_t s = 0; s < S; ++s) {
            cls[s] = static_cast<int32_t>((s & 1) ? lab[(s - 1) / 2] : a.blank);
            if ((s & 1) && s >= 3 && lab[(s - 1) / 2] != lab[(s - 3) / 2]) skip[s] = 0;
        }

        // ---- pass 1: row normalisers, non-finite scan, gathered emissions.
        bool bad = false;
        const bool pre = prescaled(L);
        T* lse2 = w.lse2.data();  // per frame: gradient scale / sum of exponentials (streaming: log2 normaliser)
        // Rows of <= 4 KB (frames far apart in the time-major layout) are
        // latency-bound when they come from memory: fetch the logits and the
        // gradient lines of the frame after next early - whole rows up to
        // 1 KB, else the first lines only (the hardware prefetcher follows a
        // row once it has started; more prefetches cost time on warm data).
        const std::size_t row_bytes = static_cast<std::size_t>(C) * sizeof(T);
        const bool ahead = row_bytes <= 4096;
        const std::size_t ahead_bytes = row_bytes <= 1024 ? row_bytes : 128;
        // Short rows of logits go in pairs (frames t, t + 1) through the
        // row max and log-sum-exp: two independent chains for the core.
        const bool pairs = a.from_logits && !stream && C >= kW &&
                           static_cast<std::size_t>(C) * sizeof(T) <= 1024;
        bool have_next = false;  // row t's normaliser came with row t - 1
        T next_sub = 0;
        for (int64_t t = 0; t < Tn; ++t) {
            const T* x = in_row(t, n);
            T sub = 0;
            if (ahead && t + 2 < Tn) {
                const char* xa = reinterpret_cast<const char*>(in_row(t + 2, n));
                for (std::size_t o = 0; o < ahead_bytes; o += 64) prefetch_bytes(xa + o, false);
                prefetch_bytes(xa + ahead_bytes - 1, false);
                if (pre) {
                    const char* ga = reinterpret_cast<const char*>(grad_row(t + 2, n));
                    for (std::size_t o = 0; o < ahead_bytes; o += 64) prefetch_bytes(ga + o, true);
                    prefetch_bytes(ga + ahead_bytes - 1, true);
                }
            }
            if (a.from_logits && have_next) {
                sub = next_sub;
                have_next = false;
            } else if (pairs && t + 1 < Tn) {
                const T* x1 = in_row(t + 1, n);
                T m0, m1;
                bool nf0, nf1;
                row_max2(x, x1, C, m0, m1, nf0, nf1);
                if ((nf0 && row_is_bad(x, C)) || (nf1 && row_is_bad(x1, C))) {
                    bad = true;
                    break;
                }
                double s0, s1, l0, l1;
                T* rb0 = w.rowbuf.data();
                T* rb1 = rb0 + C + kW;
                row_lse2_store2(x, x1, C, m0, m1, rb0, rb1, s0, s1, l0, l1);
                lse2[t] = static_cast<T>(gs / s0);
                lse2[t + 1] = static_cast<T>(gs / s1);
                if (pre) {
                    copy_row_scaled(grad_row(t, n), rb0, C, lse2[t]);
                    copy_row_scaled(grad_row(t + 1, n), rb1, C, lse2[t + 1]);
                }
                sub = static_cast<T>(l0);
                next_sub = static_cast<T>(l1);
                have_next = true;
            } else if (a.from_logits) {
                // rows shorter than one vector are padded (lowest() adds nothing)
                const bool pad = C < kW;
                T xbuf[kW], obuf[kW];
                const T* xr = pad ? short_row(x, C, std::numeric_limits<T>::lowest(), xbuf) : x;
                const int64_t Cr = pad ? kW : C;
                bool nonfinite;
                const T m = row_max(xr, Cr, t + 1 < Tn && !pad ? in_row(t + 1, n) : nullptr,
                                    nonfinite);
                if (nonfinite && row_is_bad(x, C)) {
                    bad = true;
                    break;
                }
                // the exponentials go to the row buffer (in L1); then either
                // the finished softmax rows go out (prescaled) or pass 3
                // recomputes them (streaming)
                double sum;
                T* rb = pad ? obuf : w.rowbuf.data();
                const double l2 = row_lse2_store(xr, Cr, m, rb, sum);
                lse2[t] = static_cast<T>(gs / sum);  // softmax scale
                if (stream) w.rmax.data()[t] = m * kLog2e;
                if (pre) {
                    if (stream)
                        stream_row_scaled(grad_row(t, n), rb, C, lse2[t]);
                    else
                        copy_row_scaled(grad_row(t, n), rb, C, lse2[t]);
                }
                sub = static_cast<T>(l2);
            }
            // Whole blocks [0, Sp): cls is padded with the blank, and lim
            // turns the padding states into the sentinel.  Each block is
            // gathered into a register (no scalar-store/vector-load stall).
            T* e = w.E.data() + t * RS + kW;
            using Int = typename B::Int;
            I seen = B::isplat(0);
            for (int64_t s = 0; s < Sp; s += kW) {
                const V v = B::gather(x, cls + s);
                const I b = simd::bits<I>(v) & static_cast<Int>(M::kAbsMask);
                seen = simd::select<I>(b > seen, b, seen);
                B::store(e + s, B::min(B::max(v * kLog2e - sub, B::splat(kSent)), B::load(lim + s)));
            }
            for (int64_t j = 0; j < kW; ++j) e[Sp + j] = kSent;
            // NaN or +inf in a used log-probability makes the loss NaN (-inf
            // is a valid zero probability); from_logits checked whole rows.
            if (!a.from_logits) {
                if (B::any_ge(seen, static_cast<Int>(M::kInfBits))) {
                    for (int64_t s = 0; s < S; ++s) {
                        const T v = x[cls[s]];
                        if (fm::is_nan_bits(v) || fm::is_posinf_bits(v)) bad = true;
                    }
                    if (bad) break;
                }
            }
        }
        if (bad) {
            a.losses[n] = static_cast<double>(qnan);
            if (grad) fill_rows(n, 0, Tn, true);
            return;
        }

        // ---- passes 2 and 3.
        const T* E = w.E.data() + kW;
        T* A = w.A.data() + kW;
        double* Oa = w.Oa.data();
        init_row(A, Sp);
        A[0] = E[0];
        if (S > 1) A[1] = E[1];
        Oa[0] = 0.0;
        const Rows rows{E, A, skip, Tn, S, RS};
        // Small items with a gradient: alpha and beta are independent
        // recursions; running them in the same loop gives the core two
        // dependency chains to overlap (short rows are latency-bound).  Beta
        // is then stored whole.  Large items keep two beta rows.
        const bool together = grad && Tn * RS * sizeof(T) <= kTogetherBytes;
        T* Bt = nullptr;
        double* Obt = nullptr;
        if (together) {
            w.Bt.resize(Tn * RS);
            w.Ob.resize(Tn);
            Bt = w.Bt.data() + kW;
            Obt = w.Ob.data();
            T* bl = Bt + (Tn - 1) * RS;
            init_row(bl, Sp);
            bl[S - 1] = 0;
            if (S > 1) bl[S - 2] = 0;
            Obt[Tn - 1] = 0.0;
        }
        T mu = S > 1 ? vmax(A[0], A[1]) : A[0];  // max of the stored alpha row t-1
        T nu = 0;                                  // max of the stored beta row t+1
        for (int64_t t = 1; t < Tn; ++t) {
            const T m = rows.alpha_row(t, mu);
            Oa[t] = Oa[t - 1] + static_cast<double>(mu);
            mu = m;
            if (together) {
                const int64_t tb = Tn - 1 - t;
                const T v = rows.beta_row(tb, Bt + (tb + 1) * RS, Bt + tb * RS, nu);
                Obt[tb] = Obt[tb + 1] + static_cast<double>(nu);
                nu = v;
            }
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

        if (together) {
            for (int64_t t = 0; t < Tn; ++t)
                gradient_row(n, t, rows, Bt + t * RS,
                             static_cast<T>(Oa[t] + Obt[t] - log2p), gsT, cls, lse2, w);
            return;
        }
        // Large items: beta backwards with two rows, the gradient as we go.
        T* Bcur = w.B.data() + kW;
        T* Bnxt = Bcur + RS;
        init_row(Bcur, Sp);
        Bcur[S - 1] = 0;
        if (S > 1) Bcur[S - 2] = 0;
        double Ob = 0.0;  // log2 offset of the stored row t
        for (int64_t t = Tn - 1; t >= 0; --t) {
            if (t < Tn - 1) {
                std::swap(Bcur, Bnxt);  // Bnxt now holds row t+1
                const T v = rows.beta_row(t, Bnxt, Bcur, nu);
                Ob += static_cast<double>(nu);
                nu = v;
            }
            gradient_row(n, t, rows, Bcur, static_cast<T>(Oa[t] + Ob - log2p), gsT, cls, lse2, w);
        }
    }

    static void init_row(T* row, int64_t Sp) {
        for (int64_t s = -kW; s < Sp + kW; s += kW) B::store(row + s, B::splat(kSent));
    }

    // The recursions of one item over its stored rows (index kW + s).
    struct Rows {
        const T* E;     // emissions, Tn rows
        T* A;           // alpha, Tn rows
        const T* skip;  // additive skip mask
        int64_t Tn, S, RS;

        // Alpha row t from row t-1 (stored minus mp, its predecessor's max);
        // returns the new row's max.
        SEQLOSS_INLINE T alpha_row(int64_t t, T mp) const {
            int64_t lo, hi;
            band(t, Tn, S, lo, hi);
            const T* prev = A + (t - 1) * RS;
            T* cur = A + t * RS;
            const T* e = E + t * RS;
            const V sent = B::splat(kSent);
            B::store(cur + lo - kW, sent);
            B::store(cur + hi, sent);
            // Only whole, aligned vectors of the previous row are loaded (they
            // were stored whole, so the loads forward from the stores); the
            // s-1 and s-2 neighbours are lane shifts in registers.
            V pb = B::load(prev + lo - kW);
            V mx = sent;
            for (int64_t s = lo; s < hi; s += kW) {
                const V p0 = B::load(prev + s);
                const V a1 = B::shift_in1(pb, p0);
                const V a2 = B::shift_in2(pb, p0) + B::load(skip + s);
                const V r = B::max(lse3(p0, a1, a2) + (B::load(e + s) - mp), sent);
                B::store(cur + s, r);
                mx = B::max(mx, r);
                pb = p0;
            }
            return B::hmax(mx);
        }

        // Beta row t (into cur) from row t+1 (nxt, stored minus np); returns
        // the new row's max.
        SEQLOSS_INLINE T beta_row(int64_t t, const T* nxt, T* cur, T np) const {
            int64_t lo, hi;
            band(t, Tn, S, lo, hi);
            const T* en = E + (t + 1) * RS;
            const V sent = B::splat(kSent);
            B::store(cur + lo - kW, sent);
            B::store(cur + hi, sent);
            V n0 = B::load(nxt + lo);  // whole vectors only, as in alpha_row
            V mx = sent;
            for (int64_t s = lo; s < hi; s += kW) {
                const V n1 = B::load(nxt + s + kW);
                const V b0 = n0 + B::load(en + s);
                const V b1 = B::shift_out1(n0, n1) + B::load(en + s + 1);
                const V b2 = B::shift_out2(n0, n1) + B::load(en + s + 2) + B::load(skip + s + 2);
                const V r = B::max(lse3(b0, b1, b2) - np, sent);
                B::store(cur + s, r);
                mx = B::max(mx, r);
                n0 = n1;
            }
            return B::hmax(mx);
        }
    };

    // Posterior of the states at frame t (alpha row t of `rows`, beta row
    // bt, c0 = Oa + Ob - log2 p) and the finished gradient row.
    void gradient_row(int64_t n, int64_t t, const Rows& rows, const T* bt, T c0, T gsT,
                      const int32_t* cls, const T* lse2, Work& w) const {
        const int64_t S = rows.S;
        int64_t lo, hi;
        band(t, rows.Tn, S, lo, hi);
        const T* at = rows.A + t * rows.RS;
        T* gam = w.gam.data() + kW;
        V bsum = B::splat(0);
        V even;  // 1 on the blank (even) states of a block, 0 on labels
        for (int64_t j = 0; j < kW; ++j) even[j] = (j & 1) ? T(0) : T(1);
        // Wide bands: remember which blocks hold a non-negligible posterior
        // and scatter only those; narrow ones scatter all.
        const bool sparse = hi - lo > 8 * kW;
        uint8_t* live = w.live.data();
        const V tiny = B::splat(kTiny), zero = B::splat(T(0));
        for (int64_t s = lo; s < hi; s += kW) {
            // Negligible posteriors are flushed to exactly 0: scaled, they
            // would be denormal numbers, whose arithmetic costs ~100 cycles
            // per operation on x86 (this was a third of the time of small
            // batches).
            V g = B::exp2_nonpos(B::load(at + s) + B::load(bt + s) + c0);
            g = simd::select<V>(g > tiny, g, zero);
            B::store(gam + s, g);
            bsum += g * even;
            if (sparse) live[s / kW] = B::hmax(g) > T(0);
        }
        const T blank_post = B::hsum(bsum);

        // gradient row: softmax * scale (or 0), minus the posterior
        T* gr = grad_row(t, n);
        if (prescaled((S - 1) / 2)) {  // the scaled softmax is already there
            gr[a.blank] -= gsT * blank_post;
            scatter(gr, lo, hi, S, sparse, gam, live, cls, gsT);
            return;
        }
        if (stream) {
            T* rb = w.rowbuf.data();
            softmax_row(in_row(t, n), a.C, w.rmax.data()[t], lse2[t], rb);
            rb[a.blank] -= gsT * blank_post;
            scatter(rb, lo, hi, S, sparse, gam, live, cls, gsT);
            stream_row(gr, rb, a.C);
            return;
        }
        std::memset(gr, 0, sizeof(T) * a.C);  // log-probs in: no softmax term
        gr[a.blank] -= gsT * blank_post;
        scatter(gr, lo, hi, S, sparse, gam, live, cls, gsT);
    }

    // gr[class of label state s] -= scale * posterior(s) over the band.
    static void scatter(T* gr, int64_t lo, int64_t hi, int64_t S, bool sparse, const T* gam,
                        const uint8_t* live, const int32_t* cls, T gsT) {
        if (sparse) {
            for (int64_t s0 = lo; s0 < hi; s0 += kW) {
                if (!live[s0 / kW]) continue;
                const int64_t s_end = std::min(s0 + kW, S);
                for (int64_t s = s0 + 1; s < s_end; s += 2) {
                    const T g = gam[s];
                    if (g > T(0)) gr[cls[s]] -= gsT * g;
                }
            }
        } else {
            const int64_t s_end = std::min(hi, S);
            for (int64_t s = lo + 1; s < s_end; s += 2) gr[cls[s]] -= gsT * gam[s];
        }
    }

    // out[c] = 2^(x_c log2 e - mm) * scale, C >= kW: the same operations as
    // row_lse2_store + copy_row_scaled, so all paths give the same bits.
    static void softmax_row(const T* x, int64_t C, T mm, T scale, T* out) {
        int64_t c = 0;
        for (; c + kW <= C; c += kW)
            B::store(out + c, B::exp2(B::load(x + c) * kLog2e - mm, kRowCut) * scale);
        if (c < C)  // overlapping last vector: same values rewritten
            B::store(out + C - kW, B::exp2(B::load(x + C - kW) * kLog2e - mm, kRowCut) * scale);
    }

    // dst[0, C) = src[0, C) with non-temporal stores where dst is aligned.
    static void stream_row(T* dst, const T* src, int64_t C) {
        int64_t c = 0;
        while (c < C && (reinterpret_cast<std::uintptr_t>(dst + c) % sizeof(V)) != 0) {
            dst[c] = src[c];
            ++c;
        }
        for (; c + kW <= C; c += kW) B::stream(dst + c, B::load(src + c));
        for (; c < C; ++c) dst[c] = src[c];
    }

    // dst[0, C) = src[0, C) * scale (normal stores)
    static void copy_row_scaled(T* dst, const T* src, int64_t C, T scale) {
        int64_t c = 0;
        for (; c + kW <= C; c += kW) B::store(dst + c, B::load(src + c) * scale);
        for (; c < C; ++c) dst[c] = src[c] * scale;
    }

    // dst[0, C) = src[0, C) * scale, streamed like stream_row (the product
    // rounds the same in a lane as in a scalar: same bits as copy_row_scaled).
    static void stream_row_scaled(T* dst, const T* src, int64_t C, T scale) {
        int64_t c = 0;
        while (c < C && (reinterpret_cast<std::uintptr_t>(dst + c) % sizeof(V)) != 0) {
            dst[c] = src[c] * scale;
            ++c;
        }
        for (; c + kW <= C; c += kW) B::stream(dst + c, B::load(src + c) * scale);
        for (; c < C; ++c) dst[c] = src[c] * scale;
    }

    // The calling thread's scratch (kept between calls when small).
    static Work& thread_work() {
        static thread_local Work w;
        return w;
    }

    // run_item without letting an exception out (OpenMP regions must not
    // throw); false on failure (allocation).
    bool run_item_safe(int64_t n) const {
        try {
            run_item(n, thread_work());
            return true;
        } catch (...) {
            return false;
        }
    }

    void finish_thread() const {
        if (stream) B::sfence();  // streamed gradient rows are visible after the region
        Work& w = thread_work();
        if (w.bytes() > kKeepBytes) w.release();  // large scratch is not kept
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

        // Chunks of consecutive items (in cost order, which keeps equal-cost
        // items in batch order): the rows of neighbouring items share cache
        // lines in the time-major layout, and two threads writing them at once
        // would bounce those lines between cores.
        const int64_t chunk = std::max<int64_t>(1, N / (2 * static_cast<int64_t>(nt)));

        int failed = 0;
        if (nt == 1) {  // no OpenMP region at all for one thread (small calls)
            for (int64_t i = 0; i < N && !failed; ++i) failed = !run_item_safe(order[i]);
            finish_thread();
        } else {
#if SEQLOSS_HAVE_OPENMP
#pragma omp parallel num_threads(nt)
#endif
            {
#if SEQLOSS_HAVE_OPENMP
#pragma omp for schedule(dynamic, chunk) nowait
#endif
                for (int64_t i = 0; i < N; ++i) {
                    if (!run_item_safe(order[i])) {
#if SEQLOSS_HAVE_OPENMP
#pragma omp atomic write
#endif
                        failed = 1;
                    }
                }
                finish_thread();
            }
        }
        if (failed) throw std::bad_alloc();
    }
};

}  // namespace

void ctc_run_f32(const CtcArgs& args) { CtcKernel<float>(args).run(); }
void ctc_run_f64(const CtcArgs& args) { CtcKernel<double>(args).run(); }

SEQLOSS_ISA_END
