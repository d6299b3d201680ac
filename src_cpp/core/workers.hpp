// The process's one pool of helper threads.  Pure C++17; compiled once, into
// seqloss._core, and handed to every other module as a capsule
// ("seqloss.workers"): each module installs the pointer at import
// (install_workers in core/parallel.hpp), so all kernels share one pool.
//
// Work claiming, not fork-join.  The thread that calls a kernel does the
// work itself; the pool only *offers* the job to up to `helpers` sleeping or
// spinning pool threads, and each that arrives while the job is open joins
// in and claims ranges from the same atomic counter.  When the caller runs
// out of ranges it closes the job and waits only for the helpers that did
// join (they are running: each is finishing its last range).  A helper that
// has not been scheduled yet - the cores are busy with other processes, or
// its vCPU is halted - never delays the call: it finds the job closed when it
// wakes and goes back to waiting.  This is what OpenMP's barrier cannot do
// (it waits for every thread of the team, started or not), and why a loaded
// two-core server ran 2.6x slower with two threads than with one.
//
// One job at a time: while the pool serves one caller, another caller
// (another Python thread with the GIL released) runs its job alone, without
// helpers, instead of waiting.  Helpers spin briefly after a job (back-to-back
// calls find them awake) and then sleep on a condition variable.  After
// fork() the child starts a fresh pool.  Process-wide OpenMP settings are
// never touched.
#pragma once

namespace seqloss {

// A job: `run(ctx)` is called on the caller's thread and on every helper
// that joins; each call claims ranges until none is left and returns.
struct WorkerJob {
    void (*run)(void* ctx);
    void* ctx;
};

struct WorkerApi {
    // Offers `job` to up to `helpers` pool threads (starting them on first
    // use).  False when the pool is serving another caller: run alone then.
    bool (*open)(const WorkerJob* job, int helpers);
    // After open() returned true and the caller's own run(ctx) returned:
    // stops offering the job and returns how many helpers are still in it.
    int (*close)();
    // Helpers still inside the closed job (the caller waits for 0).
    int (*active)();
    // Blocks the caller until no helper is inside the closed job, or for at
    // most timeout_us; returns active().  (A sleeping caller leaves its core
    // idle, and the scheduler can move a helper that another thread had
    // pushed off its core there.)
    int (*wait)(int timeout_us);
    // Once active() is 0: the pool is free for the next job.
    void (*release)();
    // Pending-signal check for long calls, installed by seqloss._core: on the
    // main thread it takes the GIL and runs Python's signal handlers; nonzero
    // means a handler raised (KeyboardInterrupt is set as the Python error)
    // and the call must stop.  nullptr or 0 elsewhere.
    int (*poll)();
};

const WorkerApi* worker_api();
// Sets the signal check (seqloss._core's import).
void workers_set_poll(int (*poll)());

}  // namespace seqloss
