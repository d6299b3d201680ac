// Aligned scratch memory for the kernels.  Pure C++17.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>

#include "core/isa.hpp"

SEQLOSS_ISA_BEGIN

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

// Cache-line aligned, uninitialised buffer of trivially copyable T.
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
        void* p = aligned_alloc64(n * sizeof(T));
        if (!p) throw std::bad_alloc();
        ptr_ = static_cast<T*>(p);
        cap_ = n;
    }
    T* data() { return ptr_; }
    const T* data() const { return ptr_; }
    std::size_t capacity_bytes() const { return cap_ * sizeof(T); }

    void release() {
        if (ptr_) aligned_free64(ptr_);
        ptr_ = nullptr;
        cap_ = 0;
    }

private:
    T* ptr_ = nullptr;
    std::size_t cap_ = 0;
};

SEQLOSS_ISA_END
