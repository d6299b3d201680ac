// Shared helpers for the seqloss kernels: OpenMP shim, aligned buffers, CPU
// feature dispatch.  Pure C++17, no Python headers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>

#if defined(_OPENMP) && !defined(SEQLOSS_OPENMP_DISABLED)
#include <omp.h>
#define SEQLOSS_HAVE_OPENMP 1
#else
#define SEQLOSS_HAVE_OPENMP 0
#endif

namespace seqloss {

// Maximum number of threads OpenMP would use (honours OMP_NUM_THREADS); 1
// without OpenMP.
inline int max_threads() {
#if SEQLOSS_HAVE_OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

inline int thread_id() {
#if SEQLOSS_HAVE_OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

inline bool openmp_enabled() { return SEQLOSS_HAVE_OPENMP != 0; }

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
        std::size_t bytes = ((n * sizeof(T) + 63) / 64) * 64;
        void* p = nullptr;
#if defined(_MSC_VER)
        p = _aligned_malloc(bytes, 64);
#else
        if (posix_memalign(&p, 64, bytes) != 0) p = nullptr;
#endif
        if (!p) throw std::bad_alloc();
        ptr_ = static_cast<T*>(p);
        cap_ = n;
    }
    T* data() { return ptr_; }
    const T* data() const { return ptr_; }
    std::size_t capacity_bytes() const { return cap_ * sizeof(T); }

    void release() {
        if (ptr_) {
#if defined(_MSC_VER)
            _aligned_free(ptr_);
#else
            std::free(ptr_);
#endif
        }
        ptr_ = nullptr;
        cap_ = 0;
    }

private:
    T* ptr_ = nullptr;
    std::size_t cap_ = 0;
};

// Instruction-set levels for run-time dispatch (RapidFuzz style: the kernel is
// compiled once per level in its own translation unit).
enum class Isa : int { Base = 0, Avx2 = 1, Avx512 = 2 };

inline Isa detect_isa() {
#if defined(SEQLOSS_X86_DISPATCH) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("bmi2"))
        return Isa::Avx512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
        __builtin_cpu_supports("bmi2"))
        return Isa::Avx2;
#endif
    return Isa::Base;
}

// The ISA used by this process: detected once, can be capped by the
// environment variable SEQLOSS_ISA=base|avx2|avx512 (for tests and benchmarks).
inline Isa active_isa() {
    static const Isa isa = [] {
        Isa best = detect_isa();
        const char* env = std::getenv("SEQLOSS_ISA");
        if (env) {
            Isa cap = Isa::Avx512;
            if (env[0] == 'b') cap = Isa::Base;
            else if (env[0] == 'a' && env[3] == '2') cap = Isa::Avx2;
            if (static_cast<int>(cap) < static_cast<int>(best)) best = cap;
        }
        return best;
    }();
    return isa;
}

inline const char* isa_name(Isa isa) {
    switch (isa) {
        case Isa::Avx512: return "avx512";
        case Isa::Avx2: return "avx2";
        default: return "base";
    }
}

}  // namespace seqloss
