"""CTC loss with its gradient (NumPy API).

Semantics follow ``torch.nn.functional.ctc_loss`` exactly; see ``ctc_loss``.
"""
import numbers

import numpy as np

from . import _ctc
from ._utils import check_reduction, float_dtype_of, resolve_n_threads

__all__ = ["ctc_loss", "ctc_loss_and_grad"]

_CTC_DOC = """
    Parameters
    ----------
    log_probs : ndarray, float16/float32/float64
        ``(T, N, C)`` (or ``(N, T, C)`` with ``batch_first=True``) or ``(T, C)``
        for one unbatched sequence.  Log-probabilities (used as given, as torch
        does), or raw logits with ``from_logits=True`` (softmax fused in).
        float16/bfloat16 are computed in float32 and returned in their dtype.
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
"""


def _int_array(name, value):
    arr = np.asarray(value)
    if arr.dtype.kind not in "iu":
        if arr.dtype == object and arr.size and all(
                isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))
                for v in arr.ravel().tolist()):
            arr = arr.astype(np.int64)
        elif arr.size == 0 and arr.dtype.kind == "f" and not isinstance(value, np.ndarray):
            arr = arr.astype(np.int64)  # an empty Python list
        else:
            raise TypeError(
                "Expected %s to have an integer dtype, but got %s" % (name, arr.dtype))
    if arr.dtype.kind == "u" and arr.size and arr.dtype.itemsize == 8 and \
            int(arr.max()) > np.iinfo(np.int64).max:
        raise ValueError("Expected %s to fit in int64, but got value %d" % (name, int(arr.max())))
    return arr


def _lengths(name, value, n):
    arr = _int_array(name, value)
    if arr.ndim == 0:
        arr = np.full(n, int(arr), dtype=np.int64)
    elif arr.ndim != 1:
        raise ValueError("Expected %s to be a scalar or 1-D, but got shape %s" % (name, arr.shape))
    elif arr.shape[0] != n:
        raise ValueError(
            "Expected %s to have size %d (the batch size), but got size %d"
            % (name, n, arr.shape[0]))
    else:
        arr = np.ascontiguousarray(arr, dtype=np.int64)
    if n and int(arr.min()) < 0:
        i = int(np.argmin(arr))
        raise ValueError(
            "Expected %s to be non-negative, but got value %d at index %d" % (name, int(arr[i]), i))
    return arr


def _prepare(log_probs, targets, input_lengths, target_lengths, blank, reduction,
             zero_infinity, from_logits, batch_first, n_threads):
    """Validate everything and return the kernel arguments."""
    x = log_probs if isinstance(log_probs, np.ndarray) else np.asarray(log_probs)
    compute_dtype, out_dtype = float_dtype_of("log_probs", x)
    reduction = check_reduction(reduction)
    nt = resolve_n_threads(n_threads)
    if x.ndim == 2:
        unbatched = True
        T, C = x.shape
        N = 1
    elif x.ndim == 3:
        unbatched = False
        if batch_first:
            N, T, C = x.shape
        else:
            T, N, C = x.shape
    else:
        raise ValueError(
            "Expected log_probs to have 2 (T, C) or 3 (%s) dimensions, but got %d"
            % ("N, T, C" if batch_first else "T, N, C", x.ndim))
    if C < 1:
        raise ValueError("Expected log_probs to have at least one class, but got C=0")
    if C > 2147483647:
        raise ValueError("Expected log_probs to have at most 2147483647 classes, but got %d" % C)
    if isinstance(blank, (bool, np.bool_)) or not isinstance(blank, numbers.Integral):
        raise TypeError("Expected blank to be an int, but got %r" % (blank,))
    blank = int(blank)
    if not 0 <= blank < C:
        raise ValueError("Expected blank to be in [0, %d), but got %d" % (C, blank))

    tg = _int_array("targets", targets)
    if unbatched:
        if tg.ndim == 2 and tg.shape[0] == 1:
            tg = tg[0]
        if tg.ndim != 1:
            raise ValueError(
                "Expected targets to be 1-D for an unbatched (T, C) input, but got shape %s"
                % (tg.shape,))
    il = _lengths("input_lengths", input_lengths, N)
    tl = _lengths("target_lengths", target_lengths, N)
    if N and int(il.max()) > T:
        i = int(np.argmax(il))
        raise ValueError(
            "Expected input_lengths to have value at most %d, but got value %d at index %d"
            % (T, int(il[i]), i))
    if tg.ndim == 2 and not unbatched:
        if tg.shape[0] != N:
            raise ValueError(
                "Expected targets to have %d rows (the batch size), but got shape %s"
                % (N, tg.shape))
        width = tg.shape[1]
        if N and int(tl.max()) > width:
            i = int(np.argmax(tl))
            raise ValueError(
                "Expected target_lengths to have value at most %d (the padded width of "
                "targets), but got value %d at index %d" % (width, int(tl[i]), i))
        flat = np.ascontiguousarray(tg, dtype=np.int64).reshape(-1)
        offsets = _ctc.padded_offsets(N, width)
    elif tg.ndim == 1:
        total = int(tl.sum())
        if unbatched:
            if int(tl[0]) > tg.shape[0]:
                raise ValueError(
                    "Expected target_lengths to have value at most %d (the length of "
                    "targets), but got value %d" % (tg.shape[0], int(tl[0])))
        elif tg.shape[0] != total:
            raise ValueError(
                "Expected 1-D targets to have sum(target_lengths) = %d elements, but got %d"
                % (total, tg.shape[0]))
        flat = np.ascontiguousarray(tg, dtype=np.int64)
        offsets = _ctc.concat_offsets(tl)
    else:
        raise ValueError(
            "Expected targets to be 2-D (N, S) padded or 1-D concatenated, but got shape %s"
            % (tg.shape,))
    bad = _ctc.first_bad_label(flat, offsets, tl, C, blank)
    if bad is not None:
        n, i, v = bad
        if v == blank:
            raise ValueError(
                "Expected targets to not contain the blank index %d, but got it at item %d, "
                "position %d" % (blank, n, i))
        raise ValueError(
            "Expected targets to have values in [0, %d), but got value %d at item %d, "
            "position %d" % (C, v, n, i))

    if x.dtype != compute_dtype:
        x = x.astype(compute_dtype)
    if not x.flags.c_contiguous:
        x = np.ascontiguousarray(x)
    if unbatched:
        stride_t, stride_n = C, T * C
    elif batch_first:
        stride_t, stride_n = C, T * C
    else:
        stride_t, stride_n = N * C, C
    return dict(x=x, out_dtype=out_dtype, shape=log_probs.shape if hasattr(log_probs, "shape")
                else x.shape, T=T, N=N, C=C, stride_t=stride_t, stride_n=stride_n,
                flat=flat, offsets=offsets, il=il, tl=tl, blank=blank, reduction=reduction,
                zero_infinity=bool(zero_infinity), from_logits=bool(from_logits), nt=nt,
                unbatched=unbatched)


def _reduce(p, losses):
    """Reduction of the per-item losses (float64) and each item's gradient scale."""
    red = p["reduction"]
    N = p["N"]
    out_dtype = p["out_dtype"]
    if red == "none":
        scale = np.ones(N)
        out = losses.astype(out_dtype)
        if p["unbatched"]:
            out = out.reshape(())
        return out, scale
    if red == "sum":
        return out_dtype.type(losses.sum()) if N else out_dtype.type(0.0), np.ones(N)
    # mean: each loss divided by max(target_length, 1), then the batch mean
    denom = np.maximum(p["tl"], 1).astype(np.float64)
    if N == 0:
        return out_dtype.type(np.nan), np.ones(0)
    per = losses / denom
    return out_dtype.type(per.sum() / N), 1.0 / (denom * N)


def ctc_loss(log_probs, targets, input_lengths, target_lengths, *, blank=0, reduction="mean",
             zero_infinity=False, from_logits=False, batch_first=False, n_threads=None):
    p = _prepare(log_probs, targets, input_lengths, target_lengths, blank, reduction,
                 zero_infinity, from_logits, batch_first, n_threads)
    losses = np.empty(p["N"], dtype=np.float64)
    _ctc.run(p["x"].reshape(-1), None, p["T"], p["N"], p["C"], p["stride_t"], p["stride_n"],
             p["flat"], p["offsets"], p["il"], p["tl"], None, losses, p["blank"],
             p["from_logits"], p["zero_infinity"], p["nt"])
    return _reduce(p, losses)[0]


def ctc_loss_and_grad(log_probs, targets, input_lengths, target_lengths, *, blank=0,
                      reduction="mean", zero_infinity=False, from_logits=False,
                      batch_first=False, n_threads=None, grad_out=None):
    x_in = log_probs
    p = _prepare(log_probs, targets, input_lengths, target_lengths, blank, reduction,
                 zero_infinity, from_logits, batch_first, n_threads)
    x = p["x"]
    N = p["N"]
    losses = np.empty(N, dtype=np.float64)
    # The gradient scale needs only the target lengths, so it is known before the run.
    red = p["reduction"]
    if red == "mean" and N:
        scale = 1.0 / (np.maximum(p["tl"], 1).astype(np.float64) * N)
    else:
        scale = np.ones(N)
    out_dtype = p["out_dtype"]
    direct = False
    if grad_out is not None:
        if not isinstance(grad_out, np.ndarray):
            raise TypeError("Expected grad_out to be a numpy.ndarray, but got %s"
                            % type(grad_out).__name__)
        if grad_out.shape != x.shape or grad_out.dtype != out_dtype:
            raise ValueError(
                "Expected grad_out to have shape %s and dtype %s (those of log_probs), but got "
                "shape %s and dtype %s" % (x.shape, out_dtype, grad_out.shape, grad_out.dtype))
        if not grad_out.flags.c_contiguous or not grad_out.flags.writeable:
            raise ValueError("Expected grad_out to be a writeable C-contiguous array")
        if np.may_share_memory(grad_out, x) or (
                isinstance(x_in, np.ndarray) and np.may_share_memory(grad_out, x_in)):
            raise ValueError("Expected grad_out to not overlap log_probs")
        direct = grad_out.dtype == x.dtype
        grad = grad_out if direct else np.empty(x.shape, dtype=x.dtype)
    else:
        grad = np.empty(x.shape, dtype=x.dtype)
    _ctc.run(x.reshape(-1), grad.reshape(-1), p["T"], N, p["C"], p["stride_t"],
             p["stride_n"], p["flat"], p["offsets"], p["il"], p["tl"], scale, losses,
             p["blank"], p["from_logits"], p["zero_infinity"], p["nt"])
    loss = _reduce(p, losses)[0]
    if grad_out is not None and not direct:
        grad_out[...] = grad
        grad = grad_out
    elif grad.dtype != out_dtype:
        grad = grad.astype(out_dtype)
    return loss, grad


ctc_loss.__doc__ = """CTC loss, identical in meaning to ``torch.nn.functional.ctc_loss``.

    Returns the reduced loss (a NumPy scalar of the input's dtype), or the
    ``(N,)`` per-item losses for ``reduction="none"``.  An impossible alignment
    gives ``inf`` (0 with ``zero_infinity=True``); a NaN or +inf among the used
    inputs gives NaN.  Arguments are validated before any work: labels outside
    ``[0, C)`` or equal to ``blank``, negative lengths, input lengths over T,
    target lengths over the padded width, non-integer targets and unknown
    reductions raise ``ValueError``/``TypeError`` naming the argument.
""" + _CTC_DOC

ctc_loss_and_grad.__doc__ = """CTC loss and its gradient in one fused pass.

    Returns ``(loss, grad)``; ``grad`` has the input's shape and dtype and is the
    gradient of the *reduced* loss (for ``reduction="none"``, of the sum of the
    per-item losses).  With ``from_logits=False`` it is the true partial
    derivative w.r.t. ``log_probs``: ``-posterior`` (zero outside the target's
    classes).  torch's own CTC gradient adds ``exp(log_probs)``, which assumes
    the input came from ``log_softmax`` and cancels in ``log_softmax``'s
    backward, so both give the same gradient w.r.t. the logits.  With
    ``from_logits=True`` the gradient is w.r.t. the logits:
    ``softmax - posterior``.  Frames past an item's input length get 0; an
    infinite item gets NaN (0 with ``zero_infinity=True``), as in torch.

    grad_out : ndarray, optional
        Preallocated C-contiguous array of the input's shape and dtype to
        write the gradient into (saves the page faults of a fresh allocation).
""" + _CTC_DOC
