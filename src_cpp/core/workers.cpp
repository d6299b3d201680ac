// The helper-thread pool (core/workers.hpp).  Pure C++17.
#include "core/workers.hpp"

#include "core/threads.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#define SEQLOSS_HAVE_GETPID 1
#endif
#if defined(__linux__)
#include <sched.h>
#define SEQLOSS_STEER_HELPERS 1
#endif


namespace seqloss {
namespace {

// state_ packs the job's generation (high 32 bits), a closed flag (bit 31)
// and the number of helpers inside the job (low 31 bits), so that a helper
// joins with one compare-and-swap that also checks the job is still the one
// it was woken for and still open.
constexpr uint64_t kClosed = uint64_t(1) << 31;
constexpr uint64_t kActiveMask = kClosed - 1;
inline uint32_t gen_of(uint64_t s) { return static_cast<uint32_t>(s >> 32); }

// How long a helper keeps looking for the next job after one ends before it
// sleeps: back-to-back calls then start without a wake-up.
constexpr auto kSpinFor = std::chrono::microseconds(100);

class Pool {
public:
    bool open(const WorkerJob* job, int helpers) {
        if (helpers < 1 || !busy_.try_lock()) return false;
        grow(helpers);
        job_ = job;
        wanted_.store(helpers, std::memory_order_relaxed);
#if SEQLOSS_STEER_HELPERS
        caller_cpu_.store(sched_getcpu(), std::memory_order_relaxed);
#endif
        const uint64_t gen = gen_of(state_.load(std::memory_order_relaxed)) + 1;
        {
            // under the mutex, so a helper deciding to sleep cannot miss it
            std::lock_guard<std::mutex> lock(m_);
            state_.store(static_cast<uint64_t>(static_cast<uint32_t>(gen)) << 32,
                         std::memory_order_release);
        }
        if (sleeping_.load(std::memory_order_acquire) > 0) wake_.notify_all();
        return true;
    }
    int close() {
        const uint64_t s = state_.fetch_or(kClosed, std::memory_order_acq_rel);
        return static_cast<int>(s & kActiveMask);
    }
    int active() const {
        return static_cast<int>(state_.load(std::memory_order_acquire) & kActiveMask);
    }
    void release() { busy_.unlock(); }
    int wait(int timeout_us) {
        std::unique_lock<std::mutex> lock(done_m_);
        caller_waiting_.store(true, std::memory_order_seq_cst);
        done_.wait_for(lock, std::chrono::microseconds(timeout_us), [&] {
            return (state_.load(std::memory_order_seq_cst) & kActiveMask) == 0;
        });
        caller_waiting_.store(false, std::memory_order_relaxed);
        return active();
    }

private:
    // Starts helper threads up to `n` (they live as long as the process).
    // Called before the job's generation is published: a new helper starts
    // from the generation before it, so it joins the job it was started for
    // (reading the generation itself when it gets to run - usually after the
    // caller published the job - made it wait for the next job instead, and
    // the first parallel call of a process ran on the caller alone).
    void grow(int n) {
        const uint32_t before = gen_of(state_.load(std::memory_order_acquire));
        while (started_ < n) {
            std::thread(&Pool::helper, this, before).detach();
            ++started_;
        }
    }

    void helper(uint32_t seen) {
        for (;;) {
            uint64_t s = wait_for_job(seen);
            seen = gen_of(s);
            // join: same job, still open, fewer helpers inside than wanted
            for (;;) {
                if (gen_of(s) != seen || (s & kClosed) ||
                    static_cast<int>(s & kActiveMask) >=
                        wanted_.load(std::memory_order_relaxed))
                    break;
                if (state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel)) {
                    // off the caller's core, then free to move again (the
                    // scheduler may pull it to an idle core later)
                    if (steer_off_caller()) unsteer();
                    job_->run(job_->ctx);
                    const uint64_t prev = state_.fetch_sub(1, std::memory_order_seq_cst);
                    if ((prev & kActiveMask) == 1 && caller_waiting_.load(std::memory_order_seq_cst)) {
                        std::lock_guard<std::mutex> lock(done_m_);
                        done_.notify_one();
                    }
                    break;
                }
            }
        }
    }

    // A woken helper is often placed on the CPU of the thread that woke it
    // (the caller) when the other cores look busy - e.g. with another
    // runtime's spinning threads - and then only takes turns with the caller
    // on one core.  A helper that finds itself there moves off that CPU for
    // the job (its own affinity only, within the set it was given, restored
    // right after the move); true when it moved.
    bool steer_off_caller() {
#if SEQLOSS_STEER_HELPERS
        const int caller = caller_cpu_.load(std::memory_order_relaxed);
        if (caller < 0 || caller >= CPU_SETSIZE || sched_getcpu() != caller) return false;
        if (!have_mask_) {
            have_mask_ = sched_getaffinity(0, sizeof(mask_), &mask_) == 0;
            if (!have_mask_) return false;
        }
        cpu_set_t other = mask_;
        CPU_CLR(caller, &other);
        if (CPU_COUNT(&other) == 0) return false;
        return sched_setaffinity(0, sizeof(other), &other) == 0;
#else
        return false;
#endif
    }
    void unsteer() {
#if SEQLOSS_STEER_HELPERS
        sched_setaffinity(0, sizeof(mask_), &mask_);
#endif
    }

    // Returns the state once its generation differs from `seen`.
    uint64_t wait_for_job(uint32_t seen) {
        const auto until = std::chrono::steady_clock::now() + kSpinFor;
        for (int i = 0;; ++i) {
            const uint64_t s = state_.load(std::memory_order_acquire);
            if (gen_of(s) != seen) return s;
            SEQLOSS_CPU_RELAX();
            if ((i & 63) == 63 && std::chrono::steady_clock::now() > until) break;
        }
        std::unique_lock<std::mutex> lock(m_);
        sleeping_.fetch_add(1, std::memory_order_acq_rel);
        wake_.wait(lock, [&] { return gen_of(state_.load(std::memory_order_acquire)) != seen; });
        sleeping_.fetch_sub(1, std::memory_order_acq_rel);
        return state_.load(std::memory_order_acquire);
    }

    std::mutex busy_;  // held by the caller whose job the pool serves
    std::mutex m_;     // guards sleeping helpers' wake-up
    std::condition_variable wake_;
    std::atomic<uint64_t> state_{0};
    std::atomic<int> wanted_{0};
    std::atomic<int> sleeping_{0};
    std::atomic<int> caller_cpu_{-1};
    std::mutex done_m_;  // the caller's wait for the last helper
    std::condition_variable done_;
    std::atomic<bool> caller_waiting_{false};
#if SEQLOSS_STEER_HELPERS
    // per helper thread: the affinity it started with
    static thread_local cpu_set_t mask_;
    static thread_local bool have_mask_;
#endif
    const WorkerJob* job_ = nullptr;
    int started_ = 0;  // under busy_
};

#if SEQLOSS_STEER_HELPERS
thread_local cpu_set_t Pool::mask_;
thread_local bool Pool::have_mask_ = false;
#endif

std::mutex g_pool_mutex;
Pool* g_pool = nullptr;  // never deleted: detached helpers use it until exit
#if SEQLOSS_HAVE_GETPID
pid_t g_pool_pid = 0;
#endif

Pool& pool() {
    std::lock_guard<std::mutex> lock(g_pool_mutex);
#if SEQLOSS_HAVE_GETPID
    // a forked child has none of the parent's helper threads: start afresh
    // (the old pool's memory is left alone: its mutexes may be held)
    if (g_pool && g_pool_pid != getpid()) g_pool = nullptr;
    if (!g_pool) g_pool_pid = getpid();
#endif
    if (!g_pool) g_pool = new Pool();
    return *g_pool;
}

// The open job's pool lives in a thread-local of the caller (a forked child
// could otherwise swap pools between open and release).
thread_local Pool* t_open = nullptr;

bool api_open(const WorkerJob* job, int helpers) {
    Pool& p = pool();
    if (!p.open(job, helpers)) return false;
    t_open = &p;
    return true;
}
int api_close() { return t_open->close(); }
int api_active() { return t_open->active(); }
int api_wait(int timeout_us) { return t_open->wait(timeout_us); }
void api_release() {
    t_open->release();
    t_open = nullptr;
}

std::atomic<int (*)()> g_poll{nullptr};
int api_poll() {
    int (*f)() = g_poll.load(std::memory_order_acquire);
    return f ? f() : 0;
}

const WorkerApi kApi = {api_open, api_close, api_active, api_wait, api_release, api_poll};

}  // namespace

const WorkerApi* worker_api() { return &kApi; }

void workers_set_poll(int (*poll)()) { g_poll.store(poll, std::memory_order_release); }

}  // namespace seqloss
