// Every kernel family and its table type.  A per-ISA extension module
// (seqloss/_kernels.cpp) publishes one table per family listed here; adding a
// family is one line below plus its own files (docs/ARCHITECTURE.md).
#pragma once

#include "align/align.hpp"
#include "ctc/ctc.hpp"
#include "decode/decode.hpp"
#include "edit/edit_distance.hpp"
#include "softmax/softmax.hpp"

// X(name, table type): name is the capsule name's suffix ("seqloss.<name>"),
// the level's accessor is <name>_kernels().
#define SEQLOSS_KERNEL_FAMILIES(X) \
    X(align, AlignKernels)         \
    X(ctc, CtcKernels)             \
    X(decode, DecodeKernels)       \
    X(edit, EditKernels)           \
    X(softmax, SoftmaxKernels)
