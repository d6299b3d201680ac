// CTC forward-backward kernel, compiled once per instruction-set level.
//
// Included by ctc_kernels.cpp, which is compiled once per level (inside that
// level's namespace, see core/isa.hpp) with -fno-trapping-math
// -ffinite-math-only, so GCC vectorises the polynomial exp2/log2 loops.
// Therefore no part of this kernel relies on IEEE inf/NaN semantics:
// impossible states hold the finite sentinel kSent, and non-finite inputs
// are detected from their bit patterns.
//
// Layout: acts and grad as in ctc.hpp (row (t, n) at t * stride_t + n *
// stride_n, C classes); per item the scratch tables of ctc/ctc_common.hpp
// (rows of RS = Sp + 2 kLanes elements, state s at index kLanes + s).
//
// Algorithm, per batch item (items largest first, in dynamic chunks of
// neighbours so threads do not share the gradient's cache lines):
//   pass 1  (normalise_rows) for each frame t < T_n: with logits, the row's
//           log2-sum-exp2 (ctc/row_softmax.hpp), with the exponentials built
//           in a row buffer (L1) and the finished softmax row, times the
//           gradient scale, written to the gradient once; a bit-pattern scan
//           for NaN/inf; and the gathered base-2 emissions E[t][s] = log2
//           y_t(ext_s) of the 2L+1 states (ctc/emissions.hpp);
//   pass 2  (forward) alpha over t (ctc/recursions.hpp), restricted to the
//           band of states that are both reachable from the start and can
//           still reach the end; each row is stored minus the previous row's
//           maximum, whose running sum is kept in double (Oa[t]), so float
//           values stay near 0 (accuracy, no denormals);
//   pass 3  (gradient_rows) beta backwards (renormalised the same way); at
//           each t the state posterior gamma = exp2(A + B + Oa + Ob - log2 p)
//           is formed and subtracted, times the scale, from the gradient
//           row's label and blank classes where it is non-negligible
//           (ctc/gradient.hpp; log-probs in: the row is zeroed first).
//           Large items keep two beta rows and finish each gradient row as
//           beta reaches it; small items run the beta recursion in the same
//           loop as alpha (two independent dependency chains for the core to
//           overlap) and keep all of it.
// Long rows (>= 16 KB) written to a reused gradient buffer go out with
// non-temporal stores (see `stream`): directly from pass 1 when the item's
// labels touch few of a row's cache lines (see `direct`), else recomputed in
// pass 3 in the row buffer, which is patched there and streamed out once.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "core/fastmath.hpp"
#include "core/memory.hpp"
#include "core/parallel.hpp"
#include "ctc/ctc.hpp"
#include "ctc/ctc_common.hpp"
#include "ctc/emissions.hpp"
#include "ctc/gradient.hpp"
#include "ctc/recursions.hpp"
#include "ctc/row_softmax.hpp"

SEQLOSS_ISA_BEGIN
namespace {

template <typename T>
struct CtcKernel : ctc::Common<T> {
    SEQLOSS_CTC_COMMON_NAMES;
    using Softmax = ctc::RowSoftmax<T>;
    using Emit = ctc::Emissions<T>;
    using Rec = ctc::Recursions<T>;
    using Rows = typename Rec::Rows;
    using Grad = ctc::Gradient<T>;

    // Per-thread scratch, kept between calls (thread_local) when small so
    // that frequent small calls do not pay for allocations.
    struct Work {
        AlignedBuffer<T> E, A, beta2, Bt, gam, skip, scale, lim, rowbuf, shift;
        AlignedBuffer<T> ck, ck_mu, norm_lo;  // checkpoints (budgeted gradients)
        AlignedBuffer<typename ctc::RowSoftmax<T>::Shift> norm_sh;
        AlignedBuffer<double> Oa, Ob;
        AlignedBuffer<int32_t> cls;
        AlignedBuffer<uint8_t> live;
        std::size_t bytes() const {
            return E.capacity_bytes() + A.capacity_bytes() + beta2.capacity_bytes() +
                   Bt.capacity_bytes() + Ob.capacity_bytes() + rowbuf.capacity_bytes() +
                   shift.capacity_bytes() +
                   gam.capacity_bytes() + skip.capacity_bytes() + scale.capacity_bytes() +
                   lim.capacity_bytes() + Oa.capacity_bytes() + cls.capacity_bytes() +
                   live.capacity_bytes() + ck.capacity_bytes() + ck_mu.capacity_bytes() +
                   norm_lo.capacity_bytes() + norm_sh.capacity_bytes();
        }
        void release() {
            E.release(), A.release(), beta2.release(), Bt.release(), Ob.release();
            gam.release(), skip.release(), rowbuf.release(), shift.release();
            scale.release(), lim.release(), Oa.release(), cls.release(), live.release();
            ck.release(), ck_mu.release(), norm_lo.release(), norm_sh.release();
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

    // One item's sizes and scratch pointers, shared by its steps.
    struct Item {
        int64_t n;       // batch index
        int64_t Tn;      // frames
        int64_t L;       // labels
        int64_t S;       // extended states, 2 L + 1
        int64_t Sp;      // S padded to whole vectors
        int64_t RS;      // row stride of the tables
        double gs;       // gradient scale of the item
        T gsT;
        int32_t* cls;    // class of each state (ctc/emissions.hpp)
        T* skip;         // additive skip mask, index kLanes + s
        T* lim;          // upper clamp of the emissions
        T* scale;        // per frame: gradient scale / sum of the row's exponentials
    };

    // Frames between two Ctrl-C checks of a long item's passes.
    static constexpr int64_t kCheckFrames = 256;

    // State of normalise_rows carried from one range of frames to the next.
    struct Carry {
        bool have_next = false;
        typename ctc::RowSoftmax<T>::Shift next_sh{0, 0, false};
        T next_lo = 0;
        bool keep = false;  // store every frame's normaliser
    };

    // Scratch bytes of the tables one item may use (max_memory shared by the
    // threads working at once); set by run().
    int64_t budget = INT64_MAX;

    // Returns the loss of item n (natural log), writes its gradient rows.
    void run_item(int64_t n, Work& w) const {
        check_interrupt();
        const int64_t Tn = a.input_lengths[n];
        const int64_t L = a.target_lengths[n];
        const int64_t* lab = a.targets + a.target_offsets[n];
        if (grad) fill_rows(n, Tn, a.T, false);
        int64_t repeats = 0;
        for (int64_t i = 1; i < L; ++i) repeats += lab[i] == lab[i - 1];
        if (Tn < L + repeats) {  // no alignment exists (includes Tn == 0 < L)
            impossible(n, Tn);
            return;
        }
        if (Tn == 0) {  // empty input, empty target: probability 1
            a.losses[n] = 0.0;
            return;
        }
        // Loss only: two alpha rows and a few frames of emissions (O(S)).  A
        // gradient whose tables exceed the item's share of max_memory:
        // checkpointed alpha, segments recomputed on the way back.
        const int64_t RS0 = round_up(2 * L + 1, kLanes) + 2 * kLanes;
        const double table = 2.0 * static_cast<double>(Tn) * RS0 * sizeof(T);
        const bool capped = a.max_segment > 0 && a.max_segment < Tn;
        if (!grad || capped || table > static_cast<double>(budget)) {
            run_streamed(n, Tn, L, lab, w);
            return;
        }
        const Item it = prepare(n, Tn, L, lab, w, Tn, Tn);
        Carry carry;
        if (!normalise_rows(it, w, 0, Tn, w.E.data(), carry)) {  // a NaN or +inf was used
            nan_item(n, Tn);
            return;
        }
        const Rows rows{w.E.data() + kLanes, w.A.data() + kLanes, it.skip, Tn, it.S, it.RS};
        // Small items with a gradient: alpha and beta are independent
        // recursions; running them in the same loop gives the core two
        // dependency chains to overlap (short rows are latency-bound).  Beta
        // is then stored whole.  Large items keep two beta rows.
        const bool together = grad && Tn * it.RS * sizeof(T) <= kTogetherBytes;
        const double log2p = forward(it, rows, together, w);
        if (!(log2p > 0.5 * static_cast<double>(kSent))) {  // every path has an impossible emission
            impossible(n, Tn);
            return;
        }
        a.losses[n] = -log2p * fm::kLn2;
        if (grad) gradient_rows(it, rows, together, log2p, w);
    }

    void nan_item(int64_t n, int64_t Tn) const {
        a.losses[n] = static_cast<double>(std::numeric_limits<T>::quiet_NaN());
        if (grad) fill_rows(n, 0, Tn, true);
    }

    // Segments of the checkpointed gradient: nseg segments of K frames.
    struct Plan {
        int64_t K = 0, nseg = 0;
    };
    Plan plan(int64_t Tn, int64_t RS) const {
        Plan p;
        const double row = static_cast<double>(RS) * sizeof(T);
        double best = -1;
        // rows: nseg checkpoints + K alpha + K + 1 emissions
        for (int64_t g = 1; g <= Tn; ++g) {
            const int64_t k = (Tn + g - 1) / g;
            if (a.max_segment > 0 && k > a.max_segment) continue;
            const double cost = (static_cast<double>(g) + 2.0 * k + 1.0) * row;
            if (best < 0 || cost < best) best = cost, p.nseg = g, p.K = k;
            if (cost <= static_cast<double>(budget)) break;
            if (cost > 2 * best && k < 4) break;
        }
        p.nseg = (Tn + p.K - 1) / p.K;
        return p;
    }

    // The loss (and with a gradient, the checkpointed pass 3) of an item
    // without its full tables.
    void run_streamed(int64_t n, int64_t Tn, int64_t L, const int64_t* lab, Work& w) const {
        const int64_t RS0 = round_up(2 * L + 1, kLanes) + 2 * kLanes;
        // emissions in chunks of <= 1 MiB (at least 2 frames, at most 256)
        const int64_t KC = std::max<int64_t>(
            2, std::min<int64_t>(kCheckFrames, (int64_t(1) << 20) / (RS0 * int64_t(sizeof(T)))));
        Plan p;
        if (grad) p = plan(Tn, RS0);
        const int64_t e_rows = grad ? std::max(KC, p.K + 1) : KC;
        const int64_t a_rows = grad ? std::max<int64_t>(2, p.K) : 2;
        const Item it = prepare(n, Tn, L, lab, w, e_rows, a_rows);
        const int64_t RS = it.RS, Sp = it.Sp, S = it.S;
        if (grad) {
            w.ck.resize(p.nseg * RS);
            w.ck_mu.resize(p.nseg);
            w.norm_lo.resize(Tn);
            w.norm_sh.resize(Tn);
        }
        const Rows rows{nullptr, nullptr, it.skip, Tn, S, RS};
        double* Oa = w.Oa.data();
        T* prev = w.A.data() + kLanes;
        T* cur = prev + RS;
        Rec::init_row(prev, Sp);
        Rec::init_row(cur, Sp);
        Carry carry;
        carry.keep = grad != nullptr;
        T mu = 0;
        for (int64_t c0 = 0; c0 < Tn; c0 += KC) {
            const int64_t c1 = std::min(Tn, c0 + KC);
            if (!normalise_rows(it, w, c0, c1, w.E.data(), carry)) {
                nan_item(n, Tn);
                return;
            }
            for (int64_t t = c0; t < c1; ++t) {
                const T* e = w.E.data() + kLanes + (t - c0) * RS;
                if (t == 0) {
                    prev[0] = e[0];
                    if (S > 1) prev[1] = e[1];
                    Oa[0] = 0.0;
                    mu = S > 1 ? vmax(prev[0], prev[1]) : prev[0];
                } else {
                    const T m = rows.alpha_step(t, prev, cur, e, mu);
                    Oa[t] = Oa[t - 1] + static_cast<double>(mu);
                    mu = m;
                    std::swap(prev, cur);
                }
                if (grad && t % p.K == 0) {  // checkpoint: row t and its max
                    std::memcpy(w.ck.data() + (t / p.K) * RS, prev - kLanes, RS * sizeof(T));
                    w.ck_mu.data()[t / p.K] = mu;
                }
            }
        }
        const double x1 = prev[S - 1];
        const double x2 = S > 1 ? static_cast<double>(prev[S - 2]) : static_cast<double>(kSent);
        const double m = std::max(x1, x2);
        const double log2p = Oa[Tn - 1] + m + std::log2(std::exp2(x1 - m) + std::exp2(x2 - m));
        if (!(log2p > 0.5 * static_cast<double>(kSent))) {
            impossible(n, Tn);
            return;
        }
        a.losses[n] = -log2p * fm::kLn2;
        if (grad) gradient_checkpointed(it, rows, p, log2p, w);
    }

    // Pass 3 of a checkpointed item: per segment (last first) its emissions
    // regathered with the stored normalisers, its alpha rows recomputed from
    // the checkpoint, then beta backwards through it and the gradient rows.
    // The same operations on the same values as gradient_rows: the same bits.
    void gradient_checkpointed(const Item& it, const Rows& rows, const Plan& p, double log2p,
                               Work& w) const {
        const int64_t Tn = it.Tn, S = it.S, Sp = it.Sp, RS = it.RS, K = p.K;
        const double* Oa = w.Oa.data();
        T* Aseg = w.A.data() + kLanes;
        T* Eseg = w.E.data() + kLanes;
        T* Bcur = w.beta2.data() + kLanes;
        T* Bnxt = Bcur + RS;
        Rec::init_row(Bcur, Sp);
        Bcur[S - 1] = 0;
        if (S > 1) Bcur[S - 2] = 0;
        double Ob = 0.0;
        T nu = 0;
        for (int64_t j = p.nseg - 1; j >= 0; --j) {
            check_interrupt();
            const int64_t s0 = j * K, s1 = std::min(Tn, s0 + K);
            const int64_t e1 = std::min(Tn, s1 + 1);
            for (int64_t t = s0; t < e1; ++t) regather(it, w, t, Eseg + (t - s0) * RS);
            std::memcpy(Aseg - kLanes, w.ck.data() + j * RS, RS * sizeof(T));
            T mu = w.ck_mu.data()[j];
            for (int64_t t = s0 + 1; t < s1; ++t) {
                if ((t - s0) % kCheckFrames == 0) check_interrupt();
                mu = rows.alpha_step(t, Aseg + (t - 1 - s0) * RS, Aseg + (t - s0) * RS,
                                     Eseg + (t - s0) * RS, mu);
            }
            for (int64_t t = s1 - 1; t >= s0; --t) {
                if ((s1 - 1 - t) % kCheckFrames == kCheckFrames - 1) check_interrupt();
                if (t < Tn - 1) {
                    std::swap(Bcur, Bnxt);
                    const T v = rows.beta_step(t, Bnxt, Bcur, Eseg + (t + 1 - s0) * RS, nu);
                    Ob += static_cast<double>(nu);
                    nu = v;
                }
                gradient_row(it, t, rows, Aseg + (t - s0) * RS, Bcur,
                             static_cast<T>(Oa[t] + Ob - log2p), w);
            }
        }
    }

    // Emission row of frame t into e (index 0 = state 0), from the
    // normaliser pass 1 stored.
    void regather(const Item& it, Work& w, int64_t t, T* e) const {
        const typename Softmax::Shift sh = w.norm_sh.data()[t];
        Emit::gather(in_row(t, it.n), it.cls, it.lim, it.Sp, sh.m, sh.mm, sh.exact,
                     w.norm_lo.data()[t], e);
    }

    // Loss and gradient of an item without any alignment.
    void impossible(int64_t n, int64_t Tn) const {
        a.losses[n] = a.zero_infinity ? 0.0 : std::numeric_limits<double>::infinity();
        if (grad) fill_rows(n, 0, Tn, !a.zero_infinity);
    }

    // Scratch of the item sized, its extended states set up.
    Item prepare(int64_t n, int64_t Tn, int64_t L, const int64_t* lab, Work& w, int64_t e_rows,
                 int64_t a_rows) const {
        Item it;
        it.n = n, it.Tn = Tn, it.L = L;
        it.S = 2 * L + 1;
        it.Sp = round_up(it.S, kLanes);
        it.RS = it.Sp + 2 * kLanes;  // row stride; state s at index kLanes + s
        it.gs = grad ? a.grad_scale[n] : 0.0;
        it.gsT = static_cast<T>(it.gs);
        const int64_t Sp = it.Sp, RS = it.RS;
        w.E.resize(e_rows * RS);
        w.A.resize(a_rows * RS);
        w.beta2.resize(2 * RS);
        w.gam.resize(RS);
        w.skip.resize(RS);
        w.scale.resize(Tn);
        w.Oa.resize(Tn);
        w.cls.resize(Sp);
        w.lim.resize(Sp);
        if (a.from_logits) w.rowbuf.resize(2 * (a.C + kLanes));  // two rows: see `pairs`
        if (stream) w.shift.resize(Tn);
        w.live.resize(Sp / kLanes);
        it.cls = w.cls.data();
        it.skip = w.skip.data() + kLanes;
        it.lim = w.lim.data();
        it.scale = w.scale.data();
        Emit::states(lab, L, a.blank, Sp, it.cls, it.skip, it.lim);
        return it;
    }

    // Pass 1: row normalisers (from_logits), the softmax rows of the
    // gradient (prescaled), the non-finite scan and the gathered emissions
    // E.  False when the loss is NaN (a NaN or +inf in a used input).
    // Frames [t0, t1); emission row t at E0 + (t - t0) * RS (+ kLanes).  The
    // carry holds a pair's second normaliser across calls; with carry.keep
    // every frame's normaliser is stored (w.norm_sh, w.norm_lo) for regather.
    bool normalise_rows(const Item& it, Work& w, int64_t t0, int64_t t1, T* E0,
                        Carry& carry) const {
        const int64_t n = it.n, Tn = it.Tn, C = a.C, RS = it.RS, Sp = it.Sp;
        const double gs = it.gs;
        const bool pre = prescaled(it.L);
        T* scale = it.scale;
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
        const bool pairs = a.from_logits && !stream && C >= kLanes &&
                           static_cast<std::size_t>(C) * sizeof(T) <= 1024;
        bool& have_next = carry.have_next;  // row t's normaliser came with row t - 1
        typename Softmax::Shift& next_sh = carry.next_sh;  // (log-probabilities: no shift)
        T& next_lo = carry.next_lo;
        for (int64_t tb = t0; tb < t1; tb += kCheckFrames) {
            check_interrupt();  // long items stop on Ctrl-C
            const int64_t te = std::min<int64_t>(t1, tb + kCheckFrames);
            for (int64_t t = tb; t < te; ++t) {
                const T* x = in_row(t, n);
                // the row's log2 normaliser sh.mm + lo (RowSoftmax::expo, Emissions::gather)
                typename Softmax::Shift sh{0, 0, false};
                T lo = 0;
                if (ahead && t + 2 < Tn) {
                    const char* xa = reinterpret_cast<const char*>(in_row(t + 2, n));
                    for (std::size_t o = 0; o < ahead_bytes; o += 64) prefetch_bytes(xa + o, false);
                    prefetch_bytes(xa + ahead_bytes - 1, false);
                    if (pre) {
                        const char* ga = reinterpret_cast<const char*>(grad_row(t + 2, n));
                        for (std::size_t o = 0; o < ahead_bytes; o += 64)
                            prefetch_bytes(ga + o, true);
                        prefetch_bytes(ga + ahead_bytes - 1, true);
                    }
                }
                if (a.from_logits && have_next) {
                    sh = next_sh, lo = next_lo;
                    have_next = false;
                } else if (pairs && t + 1 < Tn) {
                    const T* x1 = in_row(t + 1, n);
                    T m0, m1;
                    bool nf0, nf1;
                    Softmax::row_max2(x, x1, C, m0, m1, nf0, nf1);
                    if ((nf0 && Softmax::row_is_bad(x, C)) || (nf1 && Softmax::row_is_bad(x1, C)))
                        return false;
                    double s0, s1, l0, l1;
                    T* rb0 = w.rowbuf.data();
                    T* rb1 = rb0 + C + kLanes;
                    typename Softmax::Shift h0 = Softmax::shift_of(m0), h1 = Softmax::shift_of(m1);
                    h0.exact = h1.exact = h0.exact || h1.exact;  // one form for the pair
                    Softmax::row_lse2_store2(x, x1, C, h0, h1, rb0, rb1, s0, s1, l0, l1);
                    scale[t] = static_cast<T>(gs / s0);
                    scale[t + 1] = static_cast<T>(gs / s1);
                    if (pre) {
                        Softmax::copy_row_scaled(grad_row(t, n), rb0, C, scale[t]);
                        Softmax::copy_row_scaled(grad_row(t + 1, n), rb1, C, scale[t + 1]);
                    }
                    sh = h0, lo = static_cast<T>(l0);
                    next_sh = h1, next_lo = static_cast<T>(l1);
                    have_next = true;
                } else if (a.from_logits) {
                    // rows shorter than one vector are padded (lowest() adds nothing)
                    const bool pad = C < kLanes;
                    T xbuf[kLanes], obuf[kLanes];
                    const T* xr =
                        pad ? Softmax::short_row(x, C, std::numeric_limits<T>::lowest(), xbuf) : x;
                    const int64_t Cr = pad ? kLanes : C;
                    bool nonfinite;
                    const T* next = t + 1 < Tn && !pad ? in_row(t + 1, n) : nullptr;
                    const T m = Softmax::row_max(xr, Cr, next, nonfinite);
                    if (nonfinite && Softmax::row_is_bad(x, C)) return false;
                    // the exponentials go to the row buffer (in L1); then either
                    // the finished softmax rows go out (prescaled) or pass 3
                    // recomputes them (streaming)
                    double sum;
                    T* rb = pad ? obuf : w.rowbuf.data();
                    sh = Softmax::shift_of(m);
                    const double l2 = Softmax::row_lse2_store(xr, Cr, sh, rb, sum);
                    scale[t] = static_cast<T>(gs / sum);  // softmax scale
                    if (stream) w.shift.data()[t] = m;
                    if (pre) {
                        if (stream)
                            Softmax::stream_row_scaled(grad_row(t, n), rb, C, scale[t]);
                        else
                            Softmax::copy_row_scaled(grad_row(t, n), rb, C, scale[t]);
                    }
                    lo = static_cast<T>(l2);
                }
                // NaN or +inf in a used log-probability makes the loss NaN;
                // from_logits checked whole rows.
                T* e = E0 + (t - t0) * RS + kLanes;
                if (carry.keep) {
                    w.norm_sh.data()[t] = sh;
                    w.norm_lo.data()[t] = lo;
                }
                const bool maybe_bad =
                    Emit::gather(x, it.cls, it.lim, Sp, sh.m, sh.mm, sh.exact, lo, e);
                if (!a.from_logits && maybe_bad && Emit::used_is_bad(x, it.cls, it.S)) return false;
            }
        }
        return true;
    }

    // Pass 2: alpha (and, together, all of beta); returns log2 p.
    double forward(const Item& it, const Rows& rows, bool together, Work& w) const {
        const int64_t Tn = it.Tn, S = it.S, Sp = it.Sp, RS = it.RS;
        const T* E = rows.E;
        T* A = rows.A;
        double* Oa = w.Oa.data();
        Rec::init_row(A, Sp);
        A[0] = E[0];
        if (S > 1) A[1] = E[1];
        Oa[0] = 0.0;
        T* Bt = nullptr;
        double* Obt = nullptr;
        if (together) {
            w.Bt.resize(Tn * RS);
            w.Ob.resize(Tn);
            Bt = w.Bt.data() + kLanes;
            Obt = w.Ob.data();
            T* bl = Bt + (Tn - 1) * RS;
            Rec::init_row(bl, Sp);
            bl[S - 1] = 0;
            if (S > 1) bl[S - 2] = 0;
            Obt[Tn - 1] = 0.0;
        }
        T mu = S > 1 ? vmax(A[0], A[1]) : A[0];  // max of the stored alpha row t-1
        T nu = 0;                                  // max of the stored beta row t+1
        for (int64_t tb = 1; tb < Tn; tb += kCheckFrames) {
            check_interrupt();  // long items stop on Ctrl-C
            const int64_t te = std::min<int64_t>(Tn, tb + kCheckFrames);
            for (int64_t t = tb; t < te; ++t) {
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
        }
        const T* al = A + (Tn - 1) * RS;
        const double x1 = al[S - 1];
        const double x2 = S > 1 ? static_cast<double>(al[S - 2]) : static_cast<double>(kSent);
        const double m = std::max(x1, x2);
        return Oa[Tn - 1] + m + std::log2(std::exp2(x1 - m) + std::exp2(x2 - m));
    }

    // Pass 3: beta backwards (unless forward kept it whole) and the gradient
    // rows.
    void gradient_rows(const Item& it, const Rows& rows, bool together, double log2p,
                       Work& w) const {
        const int64_t Tn = it.Tn, S = it.S, Sp = it.Sp, RS = it.RS;
        const double* Oa = w.Oa.data();
        if (together) {
            const T* Bt = w.Bt.data() + kLanes;
            const double* Obt = w.Ob.data();
            for (int64_t t = 0; t < Tn; ++t)
                gradient_row(it, t, rows, rows.A + t * RS, Bt + t * RS,
                             static_cast<T>(Oa[t] + Obt[t] - log2p), w);
            return;
        }
        // Large items: beta backwards with two rows, the gradient as we go.
        T* Bcur = w.beta2.data() + kLanes;
        T* Bnxt = Bcur + RS;
        Rec::init_row(Bcur, Sp);
        Bcur[S - 1] = 0;
        if (S > 1) Bcur[S - 2] = 0;
        double Ob = 0.0;  // log2 offset of the stored row t
        T nu = 0;         // max of the stored beta row t+1
        for (int64_t tb = Tn - 1; tb >= 0; tb -= kCheckFrames) {
            check_interrupt();  // long items stop on Ctrl-C
            const int64_t te = std::max<int64_t>(-1, tb - kCheckFrames);
            for (int64_t t = tb; t > te; --t) {
                if (t < Tn - 1) {
                    std::swap(Bcur, Bnxt);  // Bnxt now holds row t+1
                    const T v = rows.beta_row(t, Bnxt, Bcur, nu);
                    Ob += static_cast<double>(nu);
                    nu = v;
                }
                gradient_row(it, t, rows, rows.A + t * RS, Bcur,
                             static_cast<T>(Oa[t] + Ob - log2p), w);
            }
        }
    }

    // The finished gradient row t (alpha row t of `rows`, beta row bt, c0 =
    // Oa + Ob - log2 p): softmax * scale (or 0), minus the posteriors.
    void gradient_row(const Item& it, int64_t t, const Rows& rows, const T* at, const T* bt,
                      T c0, Work& w) const {
        T* gam = w.gam.data() + kLanes;
        uint8_t* live = w.live.data();
        const typename Grad::Posteriors p = Grad::posteriors_at(rows, t, at, bt, c0, gam, live);
        T* gr = grad_row(t, it.n);
        if (prescaled(it.L)) {  // the scaled softmax is already there
            Grad::subtract(gr, a.blank, p, it.S, gam, live, it.cls, it.gsT);
            return;
        }
        if (stream) {
            T* rb = w.rowbuf.data();
            // (streamed rows go one at a time: their form is shift_of(m) alone)
            Softmax::softmax_row(in_row(t, it.n), a.C, Softmax::shift_of(w.shift.data()[t]),
                                 it.scale[t], rb);
            Grad::subtract(rb, a.blank, p, it.S, gam, live, it.cls, it.gsT);
            Softmax::stream_row(gr, rb, a.C);
            return;
        }
        std::memset(gr, 0, sizeof(T) * a.C);  // log-probs in: no softmax term
        Grad::subtract(gr, a.blank, p, it.S, gam, live, it.cls, it.gsT);
    }

    // The calling thread's scratch (kept between calls when small).
    static Work& thread_work() {
        static thread_local Work w;
        return w;
    }

    // Per-thread teardown (the state of parallel_for): streamed gradient
    // rows made visible, large scratch released.
    struct ThreadDone {
        const CtcKernel* k;
        ~ThreadDone() {
            if (k->stream) Ops::sfence();  // streamed gradient rows are visible after the region
            Work& w = thread_work();
            if (w.bytes() > kKeepBytes) w.release();  // large scratch is not kept
        }
    };

    void run() {
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
        budget = a.max_memory / nt;

        // Chunks of consecutive items (in cost order, which keeps equal-cost
        // items in batch order): the rows of neighbouring items share cache
        // lines in the time-major layout, and two threads writing them at once
        // would bounce those lines between cores.
        const int64_t chunk = std::max<int64_t>(1, N / (2 * static_cast<int64_t>(nt)));

        // One thread: no parallel region at all (small calls).
        parallel_for(N, nt, Schedule::dynamic(chunk), [this] { return ThreadDone{this}; },
                     [&](int64_t begin, int64_t end, ThreadDone&) {
                         Work& w = thread_work();
                         for (int64_t i = begin; i < end; ++i) run_item(order[i], w);
                     });
    }
};

}  // namespace

void ctc_run_f32(const CtcArgs& args) {
    CtcKernel<float> k(args);
    k.run();
}
void ctc_run_f64(const CtcArgs& args) {
    CtcKernel<double> k(args);
    k.run();
}

SEQLOSS_ISA_END
