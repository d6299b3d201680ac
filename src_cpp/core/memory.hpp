// Aligned scratch memory for the kernels, and the cache of large scratch
// blocks.  Pure C++17.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <new>
#include <string>
#include <utility>

#include "core/isa.hpp"

SEQLOSS_ISA_BEGIN

// A std::bad_alloc that says what did not fit: Cython's `except +` turns
// any std::bad_alloc into MemoryError with what() as its message, so the
// user sees the need (bytes) and the shape it comes from.
class SizedBadAlloc : public std::bad_alloc {
  public:
    explicit SizedBadAlloc(std::string what) : what_(std::move(what)) {}
    const char* what() const noexcept override { return what_.c_str(); }

  private:
    std::string what_;
};

// 64-byte aligned allocation (nullptr on failure) and its release.
inline void* aligned_alloc64(std::size_t bytes) {
    bytes = ((bytes + 63) / 64) * 64;
#if defined(_MSC_VER)
    return _aligned_malloc(bytes, 64);
#else
    void* p = nullptr;
    return posix_memalign(&p, 64, bytes) == 0 ? p : nullptr;
#endif
}

inline void aligned_free64(void* p) {
#if defined(_MSC_VER)
    _aligned_free(p);
#else
    std::free(p);
#endif
}

// Large scratch blocks go back to a small cache when a kernel releases them,
// and the next request of a similar size takes one from there: left to the
// system allocator, a block above glibc's (history-dependent) mmap threshold
// is mapped anew on every call, and its page faults can cost more than the
// kernel's work (CTC long-audio, 2 threads: ~9,300 faults and +40% time per
// call, depending on what the process freed before).  Bounded: at most
// kBlocks blocks and kMaxBytes bytes; clear() (seqloss.release_memory())
// empties it.  Thread-safe.  One cache per kernel module.
class ScratchCache {
public:
    static constexpr std::size_t kMinBytes = std::size_t(1) << 20;  // smaller: plain malloc
    static constexpr std::size_t kMaxBytes = std::size_t(1) << 29;  // 512 MiB
    static constexpr int kBlocks = 32;

    // A block of at least `bytes` (and at most twice that), or a fresh one;
    // *got is its size.  nullptr when out of memory.
    void* take(std::size_t bytes, std::size_t* got) {
        {
            std::lock_guard<std::mutex> lock(mu_);
            int best = -1;
            for (int i = 0; i < n_; ++i)
                if (size_[i] >= bytes && size_[i] <= 2 * bytes &&
                    (best < 0 || size_[i] < size_[best]))
                    best = i;
            if (best >= 0) {
                void* p = ptr_[best];
                *got = size_[best];
                total_ -= size_[best];
                --n_;
                ptr_[best] = ptr_[n_];
                size_[best] = size_[n_];
                return p;
            }
        }
        *got = bytes;
        return aligned_alloc64(bytes);
    }

    // Keep a block from take() (when there is room), else free it.
    void give(void* p, std::size_t bytes) {
        {
            std::lock_guard<std::mutex> lock(mu_);
            if (n_ < kBlocks && total_ + bytes <= kMaxBytes) {
                ptr_[n_] = p;
                size_[n_] = bytes;
                ++n_;
                total_ += bytes;
                return;
            }
        }
        aligned_free64(p);
    }

    void clear() {
        std::lock_guard<std::mutex> lock(mu_);
        for (int i = 0; i < n_; ++i) aligned_free64(ptr_[i]);
        n_ = 0;
        total_ = 0;
    }

private:
    std::mutex mu_;
    void* ptr_[kBlocks] = {};
    std::size_t size_[kBlocks] = {};
    int n_ = 0;
    std::size_t total_ = 0;
};

inline ScratchCache& scratch_cache() {
    // never destroyed: threads may release scratch while the process exits
    static ScratchCache* cache = new ScratchCache;
    return *cache;
}

// Cache-line aligned, uninitialised buffer of trivially copyable T; blocks of
// at least ScratchCache::kMinBytes come from and go back to scratch_cache().
template <typename T>
class AlignedBuffer {
public:
    AlignedBuffer() = default;
    explicit AlignedBuffer(std::size_t n) { resize(n); }
    AlignedBuffer(const AlignedBuffer&) = delete;
    AlignedBuffer& operator=(const AlignedBuffer&) = delete;
    ~AlignedBuffer() { release(); }

    // Grow to at least n elements (contents are not preserved).
    void resize(std::size_t n) {
        if (n <= cap_) return;
        release();
        const std::size_t want = ((n * sizeof(T) + 63) / 64) * 64;
        std::size_t got = want;
        void* p = want >= ScratchCache::kMinBytes ? scratch_cache().take(want, &got)
                                                  : aligned_alloc64(want);
        if (!p) throw std::bad_alloc();
        ptr_ = static_cast<T*>(p);
        bytes_ = got;
        cap_ = got / sizeof(T);
    }
    T* data() { return ptr_; }
    const T* data() const { return ptr_; }
    std::size_t capacity_bytes() const { return cap_ * sizeof(T); }

    void release() {
        if (ptr_) {
            if (bytes_ >= ScratchCache::kMinBytes) scratch_cache().give(ptr_, bytes_);
            else aligned_free64(ptr_);
        }
        ptr_ = nullptr;
        cap_ = 0;
        bytes_ = 0;
    }

private:
    T* ptr_ = nullptr;
    std::size_t cap_ = 0;
    std::size_t bytes_ = 0;
};

SEQLOSS_ISA_END
