// Run-time dispatch, written once for every kernel family.  Pure C++17.
//
// A family publishes a table of function pointers (e.g. CtcKernels); each
// per-ISA extension module (seqloss._kernels_<level>) holds one table per
// family, built from that family's <family>_kernels.cpp compiled at that
// level.  At import, the family's Cython module installs the tables of every
// level up to the one in use (seqloss/_isa.py decides, honouring SEQLOSS_ISA);
// the family's dispatch code then calls KernelRegistry<Table>::active().
#pragma once

#include <atomic>
#include <stdexcept>

#include "core/isa.hpp"

namespace seqloss {

template <class Table>
class KernelRegistry {
public:
    // Called at import (with the GIL held) for each loaded level.
    static void install(int level, const void* table) {
        if (level < 0 || level >= kIsaLevels || !table)
            throw std::invalid_argument("kernel table: bad level or null table");
        slots()[level].store(static_cast<const Table*>(table), std::memory_order_release);
    }

    // The table of the best installed level.
    static const Table& active() { return at_most(Isa::Avx512); }

    // The table of the best installed level not above `cap` (e.g. a kernel
    // that runs short rows faster at a narrower width).
    static const Table& at_most(Isa cap) {
        for (int l = static_cast<int>(cap); l >= 0; --l) {
            const Table* t = slots()[l].load(std::memory_order_acquire);
            if (t) return *t;
        }
        throw std::logic_error("seqloss: no kernel table installed (extension not initialised)");
    }

private:
    static std::atomic<const Table*>* slots() {
        static std::atomic<const Table*> s[kIsaLevels] = {};
        return s;
    }
};

}  // namespace seqloss
