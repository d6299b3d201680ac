"""seqloss: fast sequence losses and scores on the CPU.

CTC loss (log-space forward-backward with fused softmax), CTC forced alignment,
CTC decoding
(greedy, prefix beam search with n-gram LM and hotwords), Levenshtein edit
distance with WER/CER, and fused softmax / cross-entropy kernels: OpenMP C++
under a NumPy API, with optional torch autograd drop-ins in ``seqloss.torch``.
"""
from ._core import get_max_threads as get_num_threads
from ._core import is_openmp_enabled as openmp_enabled
from ._core import release_memory
from ._isa import simd_level
from .forced_align import (AlignedWord, TokenSpan, TokenSpans, WordSpans, ctc_forced_align,
                    ctc_token_spans, ctc_word_spans)
from .ctc import ctc_loss, ctc_loss_and_grad
from .decode import (CTCHypotheses, Hypothesis, NgramLM, WordSpan, ctc_beam_search,
                     ctc_greedy_decode)
from .edit_distance import (AlignmentChunk, Alignments, ErrorRates, align, cer, edit_distance,
                            edit_distance_batch, error_rates, wer)
from .corpus_eval import ErrorCounts, Report, evaluate
from .softmax import (cross_entropy, cross_entropy_and_grad, log_softmax, nll_loss,
                      nll_loss_and_grad, softmax)

from ._version import __version__

__all__ = [
    "get_num_threads",
    "openmp_enabled",
    "simd_level",
    "release_memory",
    "ctc_loss",
    "ctc_loss_and_grad",
    "ctc_forced_align",
    "ctc_token_spans",
    "ctc_word_spans",
    "TokenSpan",
    "TokenSpans",
    "AlignedWord",
    "WordSpans",
    "ctc_greedy_decode",
    "ctc_beam_search",
    "CTCHypotheses",
    "Hypothesis",
    "WordSpan",
    "NgramLM",
    "ErrorRates",
    "align",
    "Alignments",
    "AlignmentChunk",
    "evaluate",
    "ErrorCounts",
    "Report",
    "cer",
    "edit_distance",
    "edit_distance_batch",
    "error_rates",
    "wer",
    "cross_entropy",
    "cross_entropy_and_grad",
    "log_softmax",
    "nll_loss",
    "nll_loss_and_grad",
    "softmax",
]
