"""CTC loss with its gradient (NumPy API).

Semantics follow ``torch.nn.functional.ctc_loss`` exactly; see ``ctc_loss``.
"""
from __future__ import annotations

from typing import Any, Optional, Union

import numpy as np

from . import _core, _ctc
from . import _validate as V

__all__ = ["ctc_loss", "ctc_loss_and_grad"]

_CTC_DOC = """
    Parameters
    ----------
    log_probs : ndarray, float16/float32/float64
        ``(T, N, C)`` (or ``(N, T, C)`` with ``batch_first=True``) or ``(T, C)``
        for one unbatched sequence.  Log-probabilities (used as given, as torch
        does), or raw logits with ``from_logits=True`` (softmax fused in; exact
        for logits of any finite size: only their differences matter).
        float16/bfloat16 are computed in float32 and returned in their dtype.
        A log-probability below -6.9e29 counts as log 0 (like ``-inf``; the
        usual mask constants mean "impossible"), and so does a path whose total
        log-probability is below -3.4e29: an item that needs one is impossible
        (``inf``, or 0 with ``zero_infinity``).  NaN, ``+inf`` or a value of
        2**98 (3.2e29) or more in the log-probability of a class an item uses (its
        labels and the blank, at a frame within its input length) makes that
        item's loss and gradient NaN; from logits, NaN or ``+inf`` anywhere in a
        used frame does.
    targets : integer ndarray
        ``(N, S)`` padded (values past each target length are ignored) or 1-D
        concatenated, of length ``sum(target_lengths)``.  Unbatched: ``(S,)``.
    input_lengths, target_lengths : int, sequence of ints or integer ndarray
        Per-item lengths (a scalar applies to every item).
    blank : int
        Index of the blank class, in ``[0, C)``.
    reduction : {"mean", "sum", "none"}
        As torch: "mean" divides each loss by ``max(target_length, 1)`` and
        averages over the batch; "none" returns ``(N,)`` (a 0-d array for an
        unbatched input).
    zero_infinity : bool
        Replace infinite losses (no alignment exists) and their gradients by 0.
    from_logits : bool
        Treat the input as logits; the gradient is then w.r.t. the logits
        (``softmax - posterior``).
    batch_first : bool
        The input is ``(N, T, C)``.
    n_threads : int or None
        None: OpenMP's maximum (honours OMP_NUM_THREADS); negative counts back
        from it (-1 = all); 0 is an error.  Results are bit-identical for any
        thread count.
    max_memory : int or None
        Bytes of scratch the call's threads may share (None: 64 MiB, or the
        environment's ``SEQLOSS_MAX_MEMORY``).  The loss alone always keeps two
        rows of alpha and a few frames of emissions per item (O(target length)
        memory, whatever this is).  With the gradient, an item whose two
        ``(input_length, 2 * target_length + 1)`` tables exceed its share keeps
        alpha only every K frames (K ~ sqrt(2 * input_length) at the smallest) and
        recomputes each segment on the way back: the same results; measured
        0.5-1.2x the time of the full tables (a second alpha pass, but a working set
        that stays in cache and no fresh pages for gigabyte tables).
"""


_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)


def _shape_of(log_probs: np.ndarray, batch_first: bool) -> tuple[bool, int, int, int]:
    """(unbatched, T, N, C) from the input's shape."""
    shape = log_probs.shape
    if len(shape) == 2:
        return True, shape[0], 1, shape[1]
    if len(shape) == 3:
        if batch_first:
            return False, shape[1], shape[0], shape[2]
        return False, shape[0], shape[1], shape[2]
    raise ValueError(
        "Expected log_probs to have 2 (T, C) or 3 (%s) dimensions, but got %d"
        % ("N, T, C" if batch_first else "T, N, C", len(shape)))


def _inputs(log_probs, targets, input_lengths, target_lengths, blank, batch_first, options,
            default_lengths=False):
    """The checked inputs as the CTC kernels take them (shared with forced alignment):
    (x, dtype, out_dtype, unbatched, T, N, C, blank, flat targets, width, width_name,
    input lengths, target lengths, stride_t, stride_n, options()).  ``options`` checks
    the caller's own arguments at their place in the order of the checks (after the
    dtype, before the shapes).  ``default_lengths``: None lengths mean T frames and the
    padded width (or, for one item's 1-D targets, their length)."""
    x = V.as_array("log_probs", log_probs)
    dt = x.dtype
    if dt is _F32 or dt is _F64 or dt == _F32 or dt == _F64:
        out_dtype = dt
    else:
        dt, out_dtype = V.float_dtype_of("log_probs", x)
    opts = options()
    unbatched, T, N, C = _shape_of(x, batch_first)
    if C < 1:
        raise ValueError("Expected log_probs to have at least one class, but got C=0")
    if C > V.MAX_CLASSES:
        raise ValueError("Expected log_probs to have at most %d classes, but got %d"
                         % (V.MAX_CLASSES, C))
    blank = V.check_blank(blank, C)

    tg = V.int_array("targets", targets)
    if unbatched and tg.ndim == 2 and tg.shape[0] == 1:
        tg = tg[0]
    if default_lengths and input_lengths is None:
        input_lengths = T
    if default_lengths and target_lengths is None:
        if tg.ndim == 2 or (tg.ndim == 1 and N == 1):
            target_lengths = tg.shape[-1]
        elif tg.ndim == 1:
            raise ValueError("Expected target_lengths for 1-D concatenated targets of %d items"
                             % N)
    il = V.lengths("input_lengths", input_lengths, N)
    tl = V.lengths("target_lengths", target_lengths, N)
    if tg.ndim == 2 and not unbatched:
        if tg.shape[0] != N:
            raise ValueError(
                "Expected targets to have %d rows (the batch size), but got shape %s"
                % (N, tg.shape))
        width = tg.shape[1]
        width_name = "padded width of targets"
    elif tg.ndim == 1:
        # unbatched targets may be longer than the target length, as in torch
        width = tg.shape[0] if unbatched else -1
        width_name = "length of targets"
    else:
        raise ValueError(
            "Expected targets to be %s, but got shape %s" % (
                "1-D for an unbatched (T, C) input" if unbatched
                else "2-D (N, S) padded or 1-D concatenated", tg.shape))
    flat = V.carray(tg).reshape(-1)

    if dt is not x.dtype and dt != x.dtype:
        x = x.astype(dt)
    x = V.carray(x)
    if unbatched or batch_first:
        stride_t, stride_n = C, T * C
    else:
        stride_t, stride_n = N * C, C

    return (x, dt, out_dtype, unbatched, T, N, C, blank, flat, width, width_name, il, tl,
            stride_t, stride_n, opts)


def _run(log_probs, targets, input_lengths, target_lengths, blank, reduction, zero_infinity,
         from_logits, batch_first, n_threads, want_grad, grad_out, max_memory=None,
         max_segment=0):
    """Validate everything, run the kernel; returns (loss, grad or None).
    ``max_segment``: a test hook forcing the checkpointed gradient (segments of at
    most that many frames)."""
    # the common case, done in one Cython call (None: take the general path)
    if max_memory is None and not max_segment:
        res = _ctc.fast(log_probs, targets, input_lengths, target_lengths, blank, reduction,
                        zero_infinity, from_logits, batch_first, n_threads, want_grad,
                        grad_out)
        if res is not None:
            return res if want_grad else (res[0], None)
    (x, dt, out_dtype, unbatched, T, N, C, blank, flat, width, width_name, il, tl,
     stride_t, stride_n, (code, nt, budget)) = _inputs(
        log_probs, targets, input_lengths, target_lengths, blank, batch_first,
        lambda: (V.reduction_code(reduction), V.resolve_n_threads(n_threads),
                 V.max_memory(max_memory)))
    grad = None
    direct = True
    reused = False  # warm memory: long rows may be streamed (non-temporal stores)
    if want_grad:
        if grad_out is not None:
            V.check_grad_out(grad_out, x.shape, out_dtype, "log_probs",
                             (("log_probs", log_probs), ("log_probs", x), ("targets", targets),
                              ("targets", flat), ("input_lengths", input_lengths),
                              ("input_lengths", il), ("target_lengths", target_lengths),
                              ("target_lengths", tl)))
            direct = grad_out.dtype == x.dtype
            grad = grad_out if direct else np.empty(x.shape, dtype=x.dtype)
            reused = direct
        else:
            grad, reused = _core.empty_ex(x.shape, x.dtype)
    losses = np.empty(N, dtype=np.float64)
    reduced = _ctc.run(x.reshape(-1), None if grad is None else grad.reshape(-1), T, N, C,
                       stride_t, stride_n, flat, width, il, tl, losses, blank, code,
                       bool(zero_infinity), bool(from_logits), nt, reused, width_name,
                       0 if grad is None or grad is grad_out else grad.nbytes, budget,
                       max_segment)
    if reduced is None:
        loss = losses.astype(out_dtype)
        if unbatched:
            loss = loss.reshape(())
    else:
        loss = out_dtype.type(reduced)
    if grad is not None:
        if grad_out is not None and not direct:
            grad_out[...] = grad
            grad = grad_out
        elif grad.dtype != out_dtype:
            grad = grad.astype(out_dtype)
    return loss, grad


_CTC_RAISES = """
    Raises
    ------
    TypeError
        ``log_probs`` is not a float16/float32/float64 array (``np.longdouble``
        included: cast it to float64 explicitly); ``targets`` or a lengths argument
        does not have an integer dtype (bools included); ``blank`` or
        ``n_threads`` is not an int (a bool or float included).
    ValueError
        A wrong number of dimensions or shapes that disagree; a label outside
        ``[0, C)`` or equal to ``blank``; a negative length, an input length
        over T or a target length over the padded width; an integer that does
        not fit int64 (e.g. uint64 >= 2**63); an unknown ``reduction``;
        ``n_threads`` = 0 or over ``max(1024, OpenMP's maximum)``; a tensor on
        a non-CPU device.
    MemoryError
        The kernel's scratch (with a gradient, two ``(input_length, 2 *
        target_length + 1)`` tables per item up to its share of ``max_memory``,
        one item per thread) plus the gradient would need more
        memory than the machine can give (Linux: MemAvailable + SwapFree); the
        message gives the bytes and the shape.  Checked before allocating.
"""

_ArrayLike = Any
_Lengths = Union[int, "np.ndarray", "list[int]", "tuple[int, ...]"]


def ctc_loss(log_probs: _ArrayLike, targets: _ArrayLike, input_lengths: _Lengths,
             target_lengths: _Lengths, *, blank: int = 0, reduction: str = "mean",
             zero_infinity: bool = False, from_logits: bool = False, batch_first: bool = False,
             n_threads: Optional[int] = None, max_memory: Optional[int] = None
             ) -> Union[np.floating, np.ndarray]:
    return _run(log_probs, targets, input_lengths, target_lengths, blank, reduction,
                zero_infinity, from_logits, batch_first, n_threads, False, None,
                max_memory)[0]


def ctc_loss_and_grad(log_probs: _ArrayLike, targets: _ArrayLike, input_lengths: _Lengths,
                      target_lengths: _Lengths, *, blank: int = 0, reduction: str = "mean",
                      zero_infinity: bool = False, from_logits: bool = False,
                      batch_first: bool = False, n_threads: Optional[int] = None,
                      grad_out: Optional[np.ndarray] = None, max_memory: Optional[int] = None
                      ) -> tuple[Union[np.floating, np.ndarray], np.ndarray]:
    return _run(log_probs, targets, input_lengths, target_lengths, blank, reduction,
                zero_infinity, from_logits, batch_first, n_threads, True, grad_out,
                max_memory)


ctc_loss.__doc__ = """CTC loss, identical in meaning to ``torch.nn.functional.ctc_loss``.

    An impossible alignment gives ``inf`` (0 with ``zero_infinity=True``); a
    NaN or +inf among the used inputs gives NaN.  Every argument is validated
    before any work (see Raises).
""" + _CTC_DOC + """
    Returns
    -------
    loss : NumPy scalar or ndarray, the input's dtype
        The reduced loss, or the ``(N,)`` per-item losses for
        ``reduction="none"`` (a 0-d array for an unbatched input).
""" + _CTC_RAISES

ctc_loss_and_grad.__doc__ = """CTC loss and its gradient in one fused pass.

    With ``from_logits=False`` the gradient is the true partial derivative
    w.r.t. ``log_probs``: ``-posterior`` (zero outside the target's classes).
    torch's own CTC gradient adds ``exp(log_probs)``, which assumes the input
    came from ``log_softmax`` and cancels in ``log_softmax``'s backward, so both
    give the same gradient w.r.t. the logits.  With ``from_logits=True`` the
    gradient is w.r.t. the logits: ``softmax - posterior``.  Frames past an
    item's input length get 0; an infinite item gets NaN (0 with
    ``zero_infinity=True``), as in torch.
""" + _CTC_DOC + """    grad_out : ndarray, optional
        Preallocated writeable C-contiguous array of the input's shape and
        dtype, sharing no memory with any input, to write the gradient into
        (saves the page faults of a fresh allocation).

    Returns
    -------
    loss : NumPy scalar or ndarray, the input's dtype
        As :func:`ctc_loss`.
    grad : ndarray, the input's shape and dtype
        The gradient of the *reduced* loss (for ``reduction="none"``, of the
        sum of the per-item losses); ``grad_out`` itself when given.
""" + _CTC_RAISES + """        Also: ``grad_out`` of the wrong shape, not C-contiguous, read-only or
        overlapping an input.  ``grad_out`` that is not an ndarray or has the
        wrong dtype is a TypeError.
"""
