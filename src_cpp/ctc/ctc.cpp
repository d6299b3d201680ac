// Dispatch of the CTC kernel to the installed instruction-set level, plus the
// defensive argument re-check (no Python here: callers validate first).
#include "ctc/ctc.hpp"

#include <stdexcept>
#include <string>

#include "core/dispatch.hpp"

namespace seqloss {

namespace {

void check_args(const CtcArgs& a) {
    if (!a.acts || !a.losses || !a.targets || !a.target_offsets || !a.input_lengths ||
        !a.target_lengths)
        throw std::invalid_argument("ctc_loss: null pointer argument");
    if (a.grad && !a.grad_scale)
        throw std::invalid_argument("ctc_loss: grad_scale is required with grad");
    if (a.T < 0 || a.N < 0 || a.C < 1 || a.C > 2147483647)
        throw std::invalid_argument("ctc_loss: bad sizes");
    if (a.blank < 0 || a.blank >= a.C)
        throw std::invalid_argument("ctc_loss: blank " + std::to_string(a.blank) +
                                " outside [0, " + std::to_string(a.C) + ")");
    if (a.n_threads < 1) throw std::invalid_argument("ctc_loss: n_threads must be >= 1");
    for (int64_t n = 0; n < a.N; ++n) {
        const int64_t tl = a.input_lengths[n], L = a.target_lengths[n];
        if (tl < 0 || tl > a.T)
            throw std::invalid_argument("ctc_loss: input length " + std::to_string(tl) +
                                    " outside [0, " + std::to_string(a.T) + "]");
        if (L < 0) throw std::invalid_argument("ctc_loss: negative target length");
        const int64_t off = a.target_offsets[n];
        // off + L <= n_targets, written so that nothing can overflow
        if (a.n_targets >= 0 && (off < 0 || off > a.n_targets || L > a.n_targets - off))
            throw std::invalid_argument("ctc_loss: target_lengths[" + std::to_string(n) + "] = " +
                                        std::to_string(L) + " at offset " + std::to_string(off) +
                                        " reads past the " + std::to_string(a.n_targets) +
                                        " targets");
        const int64_t* lab = a.targets + a.target_offsets[n];
        for (int64_t i = 0; i < L; ++i) {
            if (lab[i] < 0 || lab[i] >= a.C || lab[i] == a.blank)
                throw std::invalid_argument("ctc_loss: label " + std::to_string(lab[i]) +
                                        " is not a valid non-blank class");
        }
    }
}

}  // namespace

using Registry = KernelRegistry<CtcKernels>;

void ctc_loss_f32(const CtcArgs& args) {
    check_args(args);
    Registry::active().run_f32(args);
}

void ctc_loss_f64(const CtcArgs& args) {
    check_args(args);
    Registry::active().run_f64(args);
}

void install_ctc_kernels(int level, const void* table) { Registry::install(level, table); }

}  // namespace seqloss
