// Edit-distance part: the per-thread scratch memory of the kernels (grown on
// demand, reused across pairs) and the stamped hash map behind dense ids.
// Included by the per-ISA translation unit edit_kernels.cpp (through
// edit_kernel.hpp), inside an anonymous namespace of the level's namespace.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/isa.hpp"

SEQLOSS_ISA_BEGIN
namespace {

// The slots of a stamped open-addressing table: reused across pairs without
// clearing (a slot is live iff its stamp is the current one).  Slot has a
// uint32_t `stamp`; reset(n) makes room for n keys (load <= 1/2) and empties
// the table.
template <typename Slot>
struct StampedSlots {
    std::vector<Slot> slots;
    uint32_t stamp = 0;
    uint64_t mask = 0;
    int shift = 64;  // 64 - log2(capacity), for multiplicative hashing
    int32_t size = 0;

    void reset(int64_t n_keys) {
        uint64_t cap = 16;
        int bits = 4;
        while (cap < (uint64_t)(2 * n_keys)) {
            cap <<= 1;
            ++bits;
        }
        if (cap > slots.size()) {
            slots.assign(cap, Slot{});
            stamp = 0;
        }
        if (++stamp == 0) {
            for (auto& s : slots) s.stamp = 0;
            stamp = 1;
        }
        mask = cap - 1;
        shift = 64 - bits;
        size = 0;
    }
};

struct DenseSlot {
    uint64_t key;
    int32_t id;
    uint32_t stamp;
};

// Stamped open-addressing map: key -> dense id in order of first insertion.
struct DenseMap : StampedSlots<DenseSlot> {
    using Slot = DenseSlot;
    inline uint64_t slot_of(uint64_t key) const {
        return (key * UINT64_C(0x9E3779B97F4A7C15)) >> shift;
    }
    inline int32_t insert(uint64_t key) {
        uint64_t i = slot_of(key);
        for (;;) {
            Slot& s = slots[i];
            if (s.stamp != stamp) {
                s.key = key;
                s.stamp = stamp;
                s.id = size++;
                return s.id;
            }
            if (s.key == key) return s.id;
            i = (i + 1) & mask;
        }
    }
    // id of key, or `absent` when it was never inserted
    inline int32_t find(uint64_t key, int32_t absent) const {
        uint64_t i = slot_of(key);
        for (;;) {
            const Slot& s = slots[i];
            if (s.stamp != stamp) return absent;
            if (s.key == key) return s.id;
            i = (i + 1) & mask;
        }
    }
};

struct Word {
    int32_t start;  // code points from the sentence start
    int32_t len;
    uint64_t hash;
};

// Per-thread scratch memory, grown on demand and reused across pairs.
struct Scratch {
    alignas(64) unsigned char short_pattern[512] = {};  // ShortPattern storage
    DenseMap map;
    std::vector<int32_t> pid, tid;      // dense ids of pattern / text
    std::vector<uint64_t> pm;           // (alphabet + 1, words) match masks
    std::vector<uint64_t> vp, vn;       // (words,) current column deltas
    std::vector<uint64_t> rec_vp, rec_vn;  // (n, words) recorded deltas
    std::vector<Word> rwords, hwords;  // word tokens of one sentence pair
    std::vector<int64_t> score;         // (words,) score at each block's bottom row
    std::vector<uint32_t> direct_stamp; // direct value -> id map (see densify)
    std::vector<int32_t> direct_id;
    uint32_t stamp = 0;
    std::vector<uint64_t> lock_eq;      // (kLockMaxText, kLanes) lockstep match masks
    std::vector<uint32_t> lock_tb;      // (kLockMaxText + 16,) narrowed text
    std::vector<uint8_t> ops;           // the ops of one pair's alignment (OpSink)
    alignas(64) uint8_t band_pattern[1024];  // padded narrowed pattern of a band lane

    std::size_t bytes() const {
        return map.slots.capacity() * sizeof(DenseSlot) +
               (pid.capacity() + tid.capacity() + direct_id.capacity()) * sizeof(int32_t) +
               (pm.capacity() + vp.capacity() + vn.capacity() + rec_vp.capacity() +
                rec_vn.capacity() + lock_eq.capacity()) * sizeof(uint64_t) +
               (rwords.capacity() + hwords.capacity()) * sizeof(Word) +
               score.capacity() * sizeof(int64_t) +
               (direct_stamp.capacity() + lock_tb.capacity()) * sizeof(uint32_t) + ops.capacity();
    }
};

// The running thread's scratch, kept between calls while it stays under
// kKeepScratchBytes (a server's small calls then never grow it again); the
// per-thread state of the parallel loops.
constexpr std::size_t kKeepScratchBytes = std::size_t(4) << 20;
struct ScratchLease {
    Scratch& s;
    ScratchLease() : s(mine()) {}
    ~ScratchLease() {
        if (s.bytes() > kKeepScratchBytes) s = Scratch();
    }
    static Scratch& mine() {
        static thread_local Scratch scratch;
        return scratch;
    }
};

}  // namespace
SEQLOSS_ISA_END
