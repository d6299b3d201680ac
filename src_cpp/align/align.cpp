// Dispatch of the forced-alignment kernel to the installed instruction-set
// level, plus the defensive argument re-check (callers validate first).
#include "align/align.hpp"

#include <stdexcept>
#include <string>

#include "core/dispatch.hpp"

namespace seqloss {

namespace {

std::string str(int64_t v) { return std::to_string(v); }

void check_args(const AlignArgs& a) {
    if (!a.lp || !a.paths || !a.scores || !a.targets || !a.target_offsets || !a.input_lengths ||
        !a.target_lengths)
        throw std::invalid_argument("ctc_forced_align: null pointer argument");
    if (a.T < 0 || a.N < 0 || a.C < 1 || a.C > 2147483646)
        throw std::invalid_argument("ctc_forced_align: bad sizes");
    if (a.blank < 0 || a.blank >= a.C)
        throw std::invalid_argument("ctc_forced_align: blank " + str(a.blank) + " outside [0, " +
                                    str(a.C) + ")");
    if (a.star != -1 && (a.star < 0 || a.star > a.C || a.star == a.blank))
        throw std::invalid_argument("ctc_forced_align: star " + str(a.star) + " is not valid");
    if (a.n_threads < 1) throw std::invalid_argument("ctc_forced_align: n_threads must be >= 1");
    if (a.max_memory < 0) throw std::invalid_argument("ctc_forced_align: negative max_memory");
    const int64_t classes = a.star == a.C ? a.C + 1 : a.C;
    for (int64_t n = 0; n < a.N; ++n) {
        const int64_t tl = a.input_lengths[n], L = a.target_lengths[n];
        if (tl < 0 || tl > a.T)
            throw std::invalid_argument("ctc_forced_align: input length " + str(tl) +
                                        " outside [0, " + str(a.T) + "]");
        if (L < 0 || L > (int64_t(1) << 29))
            throw std::invalid_argument("ctc_forced_align: target length " + str(L) +
                                        " outside [0, 2**29]");
        const int64_t off = a.target_offsets[n];
        if (a.n_targets >= 0 && (off < 0 || off > a.n_targets || L > a.n_targets - off))
            throw std::invalid_argument("ctc_forced_align: target_lengths[" + str(n) + "] = " +
                                        str(L) + " at offset " + str(off) + " reads past the " +
                                        str(a.n_targets) + " targets");
        const int64_t* lab = a.targets + off;
        int64_t repeats = 0;
        for (int64_t i = 0; i < L; ++i) {
            if (lab[i] < 0 || lab[i] >= classes || lab[i] == a.blank)
                throw std::invalid_argument("ctc_forced_align: label " + str(lab[i]) +
                                            " is not a valid non-blank class");
            if (i > 0) repeats += lab[i] == lab[i - 1];
        }
        if (tl < L + repeats || (tl == 0 && L > 0))
            throw std::invalid_argument("ctc_forced_align: item " + str(n) + " has no alignment");
    }
}

}  // namespace

using Registry = KernelRegistry<AlignKernels>;

void ctc_align_f32(const AlignArgs& args) {
    check_args(args);
    Registry::active().run_f32(args);
}

void ctc_align_f64(const AlignArgs& args) {
    check_args(args);
    Registry::active().run_f64(args);
}

void install_align_kernels(int level, const void* table) { Registry::install(level, table); }

}  // namespace seqloss
