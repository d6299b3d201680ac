// CTC forced alignment kernel (Viterbi), compiled once per instruction-set
// level WITHOUT the fast-math group: the comparisons must follow IEEE rules
// for -inf and NaN exactly as torchaudio's scalar loop does.
//
// Per item (items largest first, one per range, in parallel):
//   windows   torchaudio's [start_t, end_t) for every frame (int32 each);
//   plan      back-pointers of one frame take 2 bits per state of the window
//             widened to whole vectors (two bit planes per 64 states: "moved
//             from s - 1" and "skipped from s - 2"); if all of them fit in
//             the item's share of max_memory, one pass keeps them all, else
//             the frames 1 .. T-1 are cut into segments of K frames: a first
//             pass keeps the Viterbi row before each segment (a checkpoint)
//             and the last segment's back-pointers; on the way back each
//             earlier segment is recomputed from its checkpoint;
//   rows      two rows of RS = Sp + 2 lanes values (state s at lanes + s,
//             -inf around the window), each frame computed as whole vectors
//             from the previous row with lane shifts (no unaligned reloads),
//             emissions gathered from the frame's log-probabilities;
//   trace     from the final state back to frame 0, reading each frame's
//             2-bit code (a state outside the window has torchaudio's
//             default back-pointer -1: the trace moves one state up).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>
#include <vector>

#include "align/align.hpp"
#include "core/memory.hpp"
#include "core/parallel.hpp"
#include "core/simd_math.hpp"

SEQLOSS_ISA_BEGIN
namespace {

template <typename T>
struct Viterbi {
    using Ops = simd::Block<T>;
    using Vec = typename Ops::V;
    using IVec = typename Ops::I;
    using Int = typename Ops::Int;
    static constexpr int64_t kLanes = Ops::N;
    static constexpr T kNegInf = -std::numeric_limits<T>::infinity();
    static constexpr int64_t kCheckFrames = 256;  // frames between Ctrl-C checks

    static int64_t block_down(int64_t v) { return v / kLanes * kLanes; }
    static int64_t block_up(int64_t v) { return (v + kLanes - 1) / kLanes * kLanes; }

    const AlignArgs& a;
    const T* lp;
    T* scores;
    std::atomic<int64_t>& peak;

    Viterbi(const AlignArgs& args, std::atomic<int64_t>& peak_bytes)
        : a(args), lp(static_cast<const T*>(args.lp)), scores(static_cast<T*>(args.scores)),
          peak(peak_bytes) {}

    const T* row(int64_t t, int64_t n) const { return lp + t * a.stride_t + n * a.stride_n; }

    // One item's constant data.
    struct Item {
        int64_t n, Tn, L, S, Sp, RS;
        const int64_t* lab;
        bool append;              // the star is an appended column of log-prob 0
        const int32_t* cls;       // class gathered for state s (< Sp)
        const T* skip;            // 1 where the skip s - 2 -> s is allowed (< Sp)
        const T* star;            // 1 on appended-star states (< Sp)
        const int32_t* st;        // window start per frame
        const int32_t* en;        // window end per frame
    };

    // 64-bit words of one frame's back-pointers (two planes).
    static int64_t frame_words(const Item& it, int64_t t) {
        const int64_t w = block_up(it.en[t]) - block_down(it.st[t]);
        return 2 * ((w + 63) / 64);
    }

    // torchaudio's window of every frame.
    static void windows(const int64_t* lab, int64_t L, int64_t R, int64_t Tn, int32_t* st,
                        int32_t* en) {
        const int64_t S = 2 * L + 1;
        int64_t start = Tn - (L + R) > 0 ? 0 : 1;
        int64_t end = S == 1 ? 1 : 2;
        st[0] = static_cast<int32_t>(start);
        en[0] = static_cast<int32_t>(end);
        for (int64_t t = 1; t < Tn; ++t) {
            if (Tn - t <= L + R) {
                if ((start % 2 == 1) && start / 2 + 1 < L && lab[start / 2] != lab[start / 2 + 1])
                    start += 1;
                start += 1;
            }
            if (t <= L + R) {
                if (end % 2 == 0 && end < 2 * L && lab[end / 2 - 1] != lab[end / 2]) end += 1;
                end += 1;
            }
            st[t] = static_cast<int32_t>(std::min(start, S));
            en[t] = static_cast<int32_t>(std::min(end, S));
        }
    }

    // Emissions of a block of states: a gather from the frame's row, or with
    // AVX-512 and rows of at most two vectors (C <= 32 floats / 16 doubles) a
    // two-register permute of the row loaded once per frame (a gather is ~16
    // loads; the permute one instruction).
    struct Row {
        const T* x;
#if defined(SEQLOSS_GNU_VECTORS) && defined(SEQLOSS_USE_AVX512F)
        bool table;
        Vec lo, hi;
#endif
    };
    SEQLOSS_INLINE Row load_row(const T* x) const {
        Row r;
        r.x = x;
#if defined(SEQLOSS_GNU_VECTORS) && defined(SEQLOSS_USE_AVX512F)
        r.table = a.C <= 2 * kLanes;
        if (r.table) {
            const int64_t n0 = std::min<int64_t>(a.C, kLanes), n1 = a.C - n0;
            if constexpr (sizeof(T) == 4) {
                r.lo = (Vec)_mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << n0) - 1), x);
                r.hi = (Vec)_mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << n1) - 1),
                                                  x + n0);
            } else {
                r.lo = (Vec)_mm512_maskz_loadu_pd(static_cast<__mmask8>((1u << n0) - 1), x);
                r.hi = (Vec)_mm512_maskz_loadu_pd(static_cast<__mmask8>((1u << n1) - 1),
                                                  x + n0);
            }
        }
#endif
        return r;
    }
    static SEQLOSS_INLINE Vec emissions(const Row& r, const int32_t* idx) {
#if defined(SEQLOSS_GNU_VECTORS) && defined(SEQLOSS_USE_AVX512F)
        if (r.table) {
            if constexpr (sizeof(T) == 4) {
                return (Vec)_mm512_permutex2var_ps((__m512)r.lo, _mm512_loadu_si512(idx),
                                                   (__m512)r.hi);
            } else {
                const __m512i i = _mm512_cvtepi32_epi64(
                    _mm256_loadu_si256(reinterpret_cast<const __m256i*>(idx)));
                return (Vec)_mm512_permutex2var_pd((__m512d)r.lo, i, (__m512d)r.hi);
            }
        }
#endif
        return Ops::gather(r.x, idx);
    }

    // Row t (cur) from row t - 1 (prev); back-pointer planes to bits when
    // not null.  Both rows point at state 0 (lanes of -inf before it).
    SEQLOSS_INLINE void step(const Item& it, int64_t t, const T* prev, T* cur,
                             uint64_t* bits) const {
        const int64_t st = it.st[t], en = it.en[t];
        const int64_t lo = block_down(st), hi = block_up(en);
        const Vec ninf = Ops::splat(kNegInf), zero = Ops::splat(T(0));
        Ops::store(cur + lo - kLanes, ninf);
        Ops::store(cur + hi, ninf);
        const Row xr = load_row(row(t, it.n));
        const IVec lane = Ops::iota();
        Vec pb = Ops::load(prev + lo - kLanes);
        uint64_t acc1 = 0, acc2 = 0;
        int shift = 0;
        for (int64_t s = lo; s < hi; s += kLanes) {
            const Vec x0 = Ops::load(prev + s);
            const Vec x1 = Ops::shift_in1(pb, x0);
            const Vec x2 = simd::select<Vec>(Ops::load(it.skip + s) > zero,
                                             Ops::shift_in2(pb, x0), ninf);
            pb = x0;
            // torchaudio 2.9: skip or move only when strictly greater than
            // both other candidates, else stay (so x1 == x2 > x0 stays)
            const IVec m2 = (x2 > x1) & (x2 > x0);
            const IVec m1 = (x1 > x0) & (x1 > x2);
            const Vec r = simd::select<Vec>(m2, x2, simd::select<Vec>(m1, x1, x0));
            Vec e = emissions(xr, it.cls + s);
            if (it.append) e = simd::select<Vec>(Ops::load(it.star + s) > zero, zero, e);
            Vec v = r + e;
            if (s < st || s + kLanes > en) {  // lanes outside the window hold -inf
                const IVec idx = lane + static_cast<Int>(s);
                v = simd::select<Vec>((idx >= Ops::isplat(static_cast<Int>(st))) &
                                          (idx < Ops::isplat(static_cast<Int>(en))),
                                      v, ninf);
            }
            Ops::store(cur + s, v);
            if (bits) {
                const uint64_t b2 = Ops::mask_bits(m2);
                acc1 |= Ops::mask_bits(m1) << shift;  // (never both)
                acc2 |= b2 << shift;
                shift += static_cast<int>(kLanes);
                if (shift == 64) {
                    bits[0] = acc1, bits[1] = acc2, bits += 2;
                    acc1 = acc2 = 0, shift = 0;
                }
            }
        }
        if (bits && shift) bits[0] = acc1, bits[1] = acc2;
    }

    // Row 0: torchaudio's start states hold their emissions.
    void first_row(const Item& it, T* r) const {
        for (int64_t s = -kLanes; s < it.Sp + kLanes; ++s) r[s] = kNegInf;
        const T* x = row(0, it.n);
        for (int64_t s = it.st[0]; s < it.en[0]; ++s)
            r[s] = it.append && it.star[s] > T(0) ? T(0) : x[it.cls[s]];
    }

    // Back-pointer code (0 stay, 1 from s - 1, 2 from s - 2, -1 outside the
    // window) of state s at frame t, stored at words.
    static int code(const Item& it, int64_t t, int64_t s, const uint64_t* words) {
        if (s < it.st[t] || s >= it.en[t]) return -1;
        const int64_t k = s - block_down(it.st[t]);
        const uint64_t* w = words + 2 * (k / 64);
        const int b = static_cast<int>(k % 64);
        if ((w[1] >> b) & 1) return 2;
        return static_cast<int>((w[0] >> b) & 1);
    }

    int64_t label_of(const Item& it, int64_t s) const {
        return (s & 1) ? it.lab[s / 2] : a.blank;
    }

    void run_item(int64_t n, int64_t budget) const {
        check_interrupt();
        const int64_t Tn = a.input_lengths[n], L = a.target_lengths[n];
        int64_t* path = a.paths + n * a.T;
        T* sc = scores + n * a.T;
        for (int64_t t = Tn; t < a.T; ++t) {
            path[t] = -1;
            sc[t] = std::numeric_limits<T>::quiet_NaN();
        }
        if (Tn == 0) return;
        Item it;
        it.n = n, it.Tn = Tn, it.L = L;
        it.lab = a.targets + a.target_offsets[n];
        it.S = 2 * L + 1;
        it.Sp = block_up(it.S);
        it.RS = it.Sp + 2 * kLanes;
        it.append = a.star == a.C;
        int64_t R = 0;
        for (int64_t i = 1; i < L; ++i) R += it.lab[i] == it.lab[i - 1];

        // scratch: per-state tables, windows, two rows
        std::vector<int32_t> cls(it.Sp), st(Tn), en(Tn);
        AlignedBuffer<T> skip(it.Sp), star(it.Sp), rows(2 * it.RS);
        for (int64_t s = 0; s < it.Sp; ++s) {
            const bool real = s < it.S;
            const int64_t c = real ? label_of(it, s) : a.blank;
            star.data()[s] = it.append && c == a.C ? T(1) : T(0);
            cls[s] = static_cast<int32_t>(c == a.C ? a.blank : c);
            skip.data()[s] = real && (s & 1) && s >= 3 && it.lab[s / 2] != it.lab[s / 2 - 1]
                                 ? T(1) : T(0);
        }
        windows(it.lab, L, R, Tn, st.data(), en.data());
        it.cls = cls.data(), it.skip = skip.data(), it.star = star.data();
        it.st = st.data(), it.en = en.data();
        int64_t fixed = static_cast<int64_t>(it.Sp * (4 + 2 * sizeof(T)) + Tn * 8 +
                                             2 * it.RS * sizeof(T));

        // plan: frames 1 .. Tn-1 in nseg segments of K frames
        const int64_t F = Tn - 1;
        int64_t total_words = 0;
        for (int64_t t = 1; t < Tn; ++t) total_words += frame_words(it, t);
        const int64_t max_words = 2 * ((it.Sp + 63) / 64);
        const int64_t row_bytes = static_cast<int64_t>(it.RS * sizeof(T));
        const int64_t per_frame = max_words * 8 + 8;  // bits + offset
        int64_t nseg = 1, K = std::max<int64_t>(F, 1);
        const bool capped = a.max_segment > 0 && a.max_segment < F;
        if (F > 0 && (fixed + total_words * 8 + Tn * 8 > budget || capped)) {
            // fewest segments that fit; else the cheapest split
            int64_t best = -1, best_cost = 0;
            for (int64_t g = 2; g <= F; ++g) {
                const int64_t k = (F + g - 1) / g;
                if (capped && k > a.max_segment) continue;
                const int64_t cost = g * row_bytes + k * per_frame;
                if (best < 0 || cost < best_cost) best = g, best_cost = cost;
                if (fixed + cost <= budget) break;
            }
            if (best > 0) nseg = best, K = (F + nseg - 1) / nseg;
        }
        const int64_t seg_frames = nseg == 1 ? F : K;
        // words of the largest segment
        int64_t seg_words = 0;
        if (nseg == 1) {
            seg_words = total_words;
        } else {
            for (int64_t j = 0; j < nseg; ++j) {
                int64_t w = 0;
                for (int64_t t = 1 + j * K; t < std::min(Tn, 1 + (j + 1) * K); ++t)
                    w += frame_words(it, t);
                seg_words = std::max(seg_words, w);
            }
        }
        AlignedBuffer<uint64_t> words(std::max<int64_t>(seg_words, 1));
        std::vector<int64_t> off(seg_frames + 1);
        AlignedBuffer<T> ckpt(nseg > 1 ? nseg * it.RS : 1);
        const int64_t used = fixed + seg_words * 8 + (seg_frames + 1) * 8 +
                             (nseg > 1 ? nseg * row_bytes : 0);
        int64_t seen = peak.load(std::memory_order_relaxed);
        while (used > seen && !peak.compare_exchange_weak(seen, used)) {
        }

        T* r0 = rows.data() + kLanes;
        T* r1 = r0 + it.RS;
        first_row(it, r0);
        for (int64_t s = -kLanes; s < it.Sp + kLanes; ++s) r1[s] = kNegInf;

        // Pass 1: every frame; checkpoints before each segment; the last
        // segment's back-pointers.
        const int64_t last_first = 1 + (nseg - 1) * K;  // first frame of the last segment
        T* prev = r0;
        T* cur = r1;
        if (nseg > 1) std::memcpy(ckpt.data(), prev - kLanes, row_bytes);
        int64_t wpos = 0;
        off[0] = 0;
        for (int64_t tb = 1; tb < Tn; tb += kCheckFrames) {
            check_interrupt();
            const int64_t te = std::min(Tn, tb + kCheckFrames);
            for (int64_t t = tb; t < te; ++t) {
                uint64_t* b = nullptr;
                if (t >= last_first) {
                    b = words.data() + wpos;
                    wpos += frame_words(it, t);
                    off[t - last_first + 1] = wpos;
                }
                step(it, t, prev, cur, b);
                std::swap(prev, cur);
                if (nseg > 1 && t % K == 0 && t / K < nseg)
                    std::memcpy(ckpt.data() + (t / K) * it.RS, prev - kLanes, row_bytes);
            }
        }
        // final state: the last label unless the trailing blank is greater
        int64_t s = it.S - 1;
        if (it.S > 1 && !(prev[it.S - 1] > prev[it.S - 2])) s = it.S - 2;

        // Trace back, segment by segment (the last one is stored).
        for (int64_t j = nseg - 1; j >= 0; --j) {
            const int64_t t0 = 1 + j * K, t1 = j == nseg - 1 ? Tn : std::min(Tn, 1 + (j + 1) * K);
            if (j < nseg - 1) {  // recompute from the checkpoint before it
                std::memcpy(r0 - kLanes, ckpt.data() + j * it.RS, row_bytes);
                prev = r0, cur = r1;
                wpos = 0;
                for (int64_t t = t0; t < t1; ++t) {
                    if ((t - t0) % kCheckFrames == 0) check_interrupt();
                    off[t - t0] = wpos;
                    step(it, t, prev, cur, words.data() + wpos);
                    wpos += frame_words(it, t);
                    std::swap(prev, cur);
                }
            }
            for (int64_t t = t1 - 1; t >= t0; --t) {
                path[t] = label_of(it, s);
                const int c = code(it, t, s, words.data() + off[t - t0]);
                s -= c;
                if (s >= it.S) s = it.S - 1;  // (torchaudio would read past its table)
                if (s < 0) s = 0;
            }
        }
        path[0] = label_of(it, s);
        for (int64_t t = 0; t < Tn; ++t) {
            const int64_t c = path[t];
            sc[t] = c == a.C ? T(0) : row(t, n)[c];
        }
    }

    void run() const {
        const int64_t N = a.N;
        if (N == 0) return;
        std::vector<int64_t> order(N);
        std::vector<double> cost(N);
        double total = 0;
        for (int64_t n = 0; n < N; ++n) {
            order[n] = n;
            cost[n] = static_cast<double>(a.input_lengths[n]) * (2.0 * a.target_lengths[n] + 1.0);
            total += cost[n];
        }
        std::stable_sort(order.begin(), order.end(),
                         [&](int64_t x, int64_t y) { return cost[x] > cost[y]; });
        int nt = a.n_threads;
        if (nt > N) nt = static_cast<int>(N);
        if (total < 20000.0) nt = 1;
        if (nt < 1) nt = 1;
        const int64_t budget = a.max_memory / nt;
        parallel_for(N, nt, Schedule::dynamic(1), no_state,
                     [&](int64_t begin, int64_t end, NoState&) {
                         for (int64_t i = begin; i < end; ++i) run_item(order[i], budget);
                     });
    }
};

}  // namespace

inline void ctc_align_run_f32(const AlignArgs& args) {
    std::atomic<int64_t> peak{0};
    Viterbi<float>(args, peak).run();
    if (args.peak_bytes) *args.peak_bytes = peak.load();
}
inline void ctc_align_run_f64(const AlignArgs& args) {
    std::atomic<int64_t> peak{0};
    Viterbi<double>(args, peak).run();
    if (args.peak_bytes) *args.peak_bytes = peak.load();
}

SEQLOSS_ISA_END
