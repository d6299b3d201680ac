// A small pool of large output buffers (gradients) that NumPy arrays returned
// by seqloss own.  Pure C++17; compiled once, into seqloss._core.
//
// Fresh pages cost the kernel's page-fault and zeroing time (~5 GB/s here),
// which for large gradients is a big share of a call.  When the caller drops
// a returned array, its block goes back to this pool instead of to the
// system, and the next call of the same size reuses the warm pages (like a
// caching allocator).  Bounded: at most kPoolBlocks blocks and max_bytes in
// all (SEQLOSS_POOL_BYTES, default 1 GiB; 0 disables the pool).  Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

namespace seqloss {

constexpr int kPoolBlocks = 8;
constexpr std::size_t kPoolMinBytes = std::size_t(1) << 20;  // smaller: plain np.empty

// A 64-byte aligned block of exactly `nbytes`: a pooled one when one of that
// size is free (*reused = true), else a fresh one; nullptr when out of memory.
void* pool_take(std::size_t nbytes, bool* reused);
// Hand a block from pool_take back (kept when the pool has room, else freed).
void pool_give(void* p, std::size_t nbytes);
// Free every pooled block.
void pool_release();
// Blocks and bytes held; the byte limit (set before first use).
void pool_stats(int64_t* blocks, int64_t* bytes);
void pool_set_limit(std::size_t max_bytes);

}  // namespace seqloss
