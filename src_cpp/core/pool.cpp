#include "core/pool.hpp"

#include <mutex>

#include "core/memory.hpp"

namespace seqloss {
namespace {

struct Pool {
    std::mutex mu;
    void* ptr[kPoolBlocks] = {};
    std::size_t size[kPoolBlocks] = {};
    int n = 0;
    std::size_t bytes = 0;
    std::size_t max_bytes = std::size_t(1) << 30;
};

Pool& pool() {
    static Pool p;
    return p;
}

}  // namespace

void* pool_take(std::size_t nbytes, bool* reused) {
    Pool& p = pool();
    {
        std::lock_guard<std::mutex> lock(p.mu);
        for (int i = 0; i < p.n; ++i) {
            if (p.size[i] == nbytes) {
                void* block = p.ptr[i];
                --p.n;
                p.ptr[i] = p.ptr[p.n];
                p.size[i] = p.size[p.n];
                p.bytes -= nbytes;
                *reused = true;
                return block;
            }
        }
    }
    *reused = false;
    return aligned_alloc64(nbytes);
}

void pool_give(void* block, std::size_t nbytes) {
    if (!block) return;
    Pool& p = pool();
    {
        std::lock_guard<std::mutex> lock(p.mu);
        if (p.n < kPoolBlocks && p.bytes + nbytes <= p.max_bytes) {
            p.ptr[p.n] = block;
            p.size[p.n] = nbytes;
            ++p.n;
            p.bytes += nbytes;
            return;
        }
    }
    aligned_free64(block);
}

void pool_release() {
    Pool& p = pool();
    std::lock_guard<std::mutex> lock(p.mu);
    for (int i = 0; i < p.n; ++i) aligned_free64(p.ptr[i]);
    p.n = 0;
    p.bytes = 0;
}

void pool_stats(int64_t* blocks, int64_t* bytes) {
    Pool& p = pool();
    std::lock_guard<std::mutex> lock(p.mu);
    *blocks = p.n;
    *bytes = static_cast<int64_t>(p.bytes);
}

void pool_set_limit(std::size_t max_bytes) {
    Pool& p = pool();
    std::lock_guard<std::mutex> lock(p.mu);
    p.max_bytes = max_bytes;
}

}  // namespace seqloss
