// The one OpenMP parallel loop of the kernels.  Pure C++17.
//
//   parallel_for(n, n_threads, schedule, make_state, body)
//
// runs body(begin, end, state) over disjoint ranges covering [0, n):
//   Schedule::blocks()       one contiguous block per thread, block t being
//                            [n t / nt, n (t + 1) / nt) (rows of equal cost);
//   Schedule::dynamic(chunk) ranges of `chunk` consecutive items handed out in
//                            increasing order to whichever thread is free, as
//                            OpenMP's schedule(dynamic, chunk) does (items of
//                            uneven cost).
// Each thread calls make_state() once, before its first range, and keeps the
// returned object (scratch buffers; its destructor is the per-thread
// teardown, run on the thread that made it, also when the body throws).
// The thread count is min(n_threads, n); with one thread (or without
// OpenMP, SEQLOSS_HAVE_OPENMP == 0) there is no parallel region at all: one
// state, body(0, n, state), exceptions pass straight through.
//
// No exception leaves the parallel region: the first one thrown by any
// thread (in make_state or body) is kept, no further range is handed out,
// and it is rethrown after the region with its own type (so std::bad_alloc
// stays a MemoryError and std::invalid_argument a ValueError in Python).
// Which items ran is then unspecified; the outputs are not used.
//
// Results never depend on the schedule or the thread count as long as each
// item's work depends only on the item (every kernel here writes disjoint
// outputs per item and reduces in item order afterwards).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>

#include "core/threads.hpp"

SEQLOSS_ISA_BEGIN

struct Schedule {
    enum Kind { kBlocks, kDynamic };
    Kind kind;
    int64_t chunk;  // items per range handed out (kDynamic)
    static constexpr Schedule blocks() { return {kBlocks, 1}; }
    static constexpr Schedule dynamic(int64_t chunk) { return {kDynamic, chunk < 1 ? 1 : chunk}; }
};

// The state of a loop without per-thread state.
struct NoState {};
inline NoState no_state() { return {}; }

template <class MakeState, class Body>
void parallel_for(int64_t n, int n_threads, Schedule sched, MakeState&& make_state, Body&& body) {
    if (n <= 0) return;
    const int64_t nt = std::min<int64_t>(n, n_threads < 1 ? 1 : n_threads);
#if SEQLOSS_HAVE_OPENMP
    if (nt > 1) {
        std::exception_ptr error;
        std::atomic<bool> stop{false};
        std::atomic<int64_t> next{0};  // next dynamic range
        const int64_t chunk = sched.chunk;
        const int64_t n_ranges = (n + chunk - 1) / chunk;
#pragma omp parallel num_threads(static_cast<int>(nt))
        {
            try {
                auto state = make_state();
                if (sched.kind == Schedule::kBlocks) {
                    const int64_t t = omp_get_thread_num(), tt = omp_get_num_threads();
                    body(n * t / tt, n * (t + 1) / tt, state);
                } else {
                    while (!stop.load(std::memory_order_relaxed)) {
                        const int64_t r = next.fetch_add(1, std::memory_order_relaxed);
                        if (r >= n_ranges) break;
                        body(r * chunk, std::min(n, (r + 1) * chunk), state);
                    }
                }
            } catch (...) {
#pragma omp critical(seqloss_parallel_for_error)
                {
                    if (!error) error = std::current_exception();
                }
                stop.store(true, std::memory_order_relaxed);
            }
        }
        if (error) std::rethrow_exception(error);
        return;
    }
#endif
    (void)sched, (void)nt;
    auto state = make_state();
    body(int64_t(0), n, state);
}

// parallel_for without per-thread state: body(begin, end).
template <class Body>
void parallel_for(int64_t n, int n_threads, Schedule sched, Body&& body) {
    parallel_for(n, n_threads, sched, no_state,
                 [&](int64_t begin, int64_t end, NoState&) { body(begin, end); });
}

SEQLOSS_ISA_END
