// The one parallel loop of the kernels.  Pure C++17.
//
//   parallel_for(n, n_threads, schedule, make_state, body)
//
// runs body(begin, end, state) over disjoint ranges covering [0, n):
//   Schedule::blocks()       ranges of equal size, 8 per thread (one range on
//                            one thread) and at most kBlockRows items each
//                            (rows of equal cost);
//   Schedule::dynamic(chunk) ranges of `chunk` consecutive items (items of
//                            uneven cost).
// Ranges are claimed in increasing order from one atomic counter by whichever
// participant is free: the calling thread itself, and up to n_threads - 1
// helpers of the process's pool (core/workers.hpp) that join while ranges are
// left.  The caller never waits for a helper that has not started - under
// load it simply does more of the work - and at the end waits only for the
// helpers that are finishing a range.  No OpenMP team, no barrier.
// Each participant calls make_state() once, before its first range, and keeps
// the returned object (scratch buffers; its destructor is the per-thread
// teardown, run on the thread that made it, also when the body throws).
// With n_threads == 1, without an installed pool or without OpenMP
// (SEQLOSS_HAVE_OPENMP == 0: the build runs every kernel on one thread) the
// caller runs every range itself.
//
// No exception leaves a helper: the first one thrown by any participant (in
// make_state or body) is kept, no further range is handed out, and it is
// rethrown on the caller after every helper has left, with its own type (so
// std::bad_alloc stays a MemoryError and std::invalid_argument a ValueError
// in Python).  Which items ran is then unspecified; the outputs are not used.
//
// Ctrl-C: between ranges (and inside long items that call check_interrupt())
// the calling thread runs the pool's signal check every kPollInterval (the
// first check starts the clock: a call of one short range reads none); when a
// Python signal handler raised, every participant stops at its next range or
// check_interrupt(), and the call throws Interrupted with the Python
// exception (KeyboardInterrupt) already set - Cython's `except +` then
// passes that exception on.
//
// Results never depend on the schedule or the thread count as long as each
// item's work depends only on the item (every kernel here writes disjoint
// outputs per item and reduces in item order afterwards).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>

#include "core/threads.hpp"
#include "core/workers.hpp"

SEQLOSS_ISA_BEGIN

struct Schedule {
    enum Kind { kBlocks, kDynamic };
    Kind kind;
    int64_t chunk;  // items per range handed out (kDynamic)
    static constexpr Schedule blocks() { return {kBlocks, 1}; }
    static constexpr Schedule dynamic(int64_t chunk) { return {kDynamic, chunk < 1 ? 1 : chunk}; }
};

// A long call stopped by a Python signal handler that raised (the Python
// exception is already set on the calling thread).
struct Interrupted : std::exception {
    const char* what() const noexcept override { return "interrupted by a signal"; }
};

// The state of a loop without per-thread state.
struct NoState {};
inline NoState no_state() { return {}; }

constexpr int64_t kBlockRows = 256;
constexpr auto kPollInterval = std::chrono::milliseconds(40);

namespace par {

// This module's pointer to the process's pool (install_workers).
inline const WorkerApi*& workers() {
    static const WorkerApi* api = nullptr;
    return api;
}

// One parallel_for's shared control block.
struct Control {
    std::atomic<int64_t> next{0};  // next range to hand out
    std::atomic<bool> stop{false};
    std::atomic<bool> failed{false};
    std::exception_ptr error;  // written once, by the participant that set failed

    void fail(std::exception_ptr e) {
        bool expected = false;
        if (failed.compare_exchange_strong(expected, true, std::memory_order_acq_rel)) error = e;
        stop.store(true, std::memory_order_release);
    }
};

// What the running thread works for (check_interrupt); the caller polls.
struct Current {
    Control* ctl;
    bool caller;
    std::chrono::steady_clock::time_point next_poll;
};
inline thread_local Current* t_current = nullptr;

inline void poll_signals(Current& c) {
    const auto now = std::chrono::steady_clock::now();
    if (c.next_poll == std::chrono::steady_clock::time_point{}) {  // the first check
        c.next_poll = now + kPollInterval;                         // starts the clock
        return;
    }
    if (now < c.next_poll) return;
    c.next_poll = now + kPollInterval;
    const WorkerApi* api = workers();
    if (api && api->poll() != 0) c.ctl->fail(std::make_exception_ptr(Interrupted()));
}

}  // namespace par

// Installs the pool (seqloss._core's capsule; every module at import).
inline void install_workers(const void* api) {
    par::workers() = static_cast<const WorkerApi*>(api);
}

// For long single items: on the caller, runs the signal check when due; on
// every participant, throws Interrupted once the loop has been stopped.
// Cheap (a thread-local read and, on the caller, a clock read).
inline void check_interrupt() {
    par::Current* c = par::t_current;
    if (!c) return;
    if (c->caller) par::poll_signals(*c);
    if (c->ctl->stop.load(std::memory_order_relaxed)) throw Interrupted();
}

template <class MakeState, class Body>
void parallel_for(int64_t n, int n_threads, Schedule sched, MakeState&& make_state, Body&& body) {
    if (n <= 0) return;
#if SEQLOSS_HAVE_OPENMP
    const int64_t nt = std::min<int64_t>(n, n_threads < 1 ? 1 : n_threads);
#else
    const int64_t nt = 1;
    (void)n_threads;
#endif
    int64_t chunk = sched.chunk;
    if (sched.kind == Schedule::kBlocks) {
        // several ranges per thread (a helper that starts late takes fewer);
        // one range per kBlockRows rows at most (Ctrl-C checks between them)
        const int64_t want = nt > 1 ? std::min<int64_t>(n, 8 * nt) : 1;
        chunk = std::min<int64_t>((n + want - 1) / want, kBlockRows);
    }
    const int64_t n_ranges = (n - 1) / chunk + 1;
    par::Control ctl;

    // One participant: claims ranges until none is left or the loop stops.
    auto participate = [&](bool caller) {
        par::Current cur{&ctl, caller, {}};  // (no clock read for calls of one range)
        par::Current* outer = par::t_current;
        par::t_current = &cur;
        try {
            int64_t r = ctl.next.fetch_add(1, std::memory_order_relaxed);
            if (r < n_ranges && !ctl.stop.load(std::memory_order_relaxed)) {
                auto state = make_state();
                for (;;) {
                    body(r * chunk, std::min(n, (r + 1) * chunk), state);
                    if (ctl.stop.load(std::memory_order_relaxed)) break;
                    r = ctl.next.fetch_add(1, std::memory_order_relaxed);
                    if (r >= n_ranges) break;
                    if (caller) par::poll_signals(cur);
                }
            }
        } catch (...) {
            ctl.fail(std::current_exception());
        }
        par::t_current = outer;
    };

    const WorkerApi* api = par::workers();
    auto helper = [](void* p) { (*static_cast<decltype(participate)*>(p))(false); };
    const WorkerJob job{helper, &participate};
    const bool shared = nt > 1 && n_ranges > 1 && api && api->open(&job, int(nt - 1));
    participate(true);
    if (shared) {
        if (api->close() > 0) {
            // helpers still finishing a range: spin a little (they are
            // running), then sleep until the last one leaves - an idle core
            // lets the scheduler move a helper that another process's (or
            // runtime's) thread pushed aside
            par::Current cur{&ctl, true, {}};
            for (int i = 0; i < 500 && api->active() > 0; ++i) SEQLOSS_CPU_RELAX();
            while (api->active() > 0 && api->wait(20000) > 0) par::poll_signals(cur);
        }
        api->release();
    }
    if (ctl.failed.load(std::memory_order_acquire)) std::rethrow_exception(ctl.error);
}

// parallel_for without per-thread state: body(begin, end).
template <class Body>
void parallel_for(int64_t n, int n_threads, Schedule sched, Body&& body) {
    parallel_for(n, n_threads, sched, no_state,
                 [&](int64_t begin, int64_t end, NoState&) { body(begin, end); });
}

SEQLOSS_ISA_END
