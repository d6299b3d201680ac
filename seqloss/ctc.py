"""CTC loss with its gradient (NumPy API).

Semantics follow ``torch.nn.functional.ctc_loss`` exactly; see ``ctc_loss``.
"""
import numbers

import numpy as np

from . import _core, _ctc
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


_INT64 = np.dtype(np.int64)
_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)
_REDUCTION_CODES = {"none": _ctc.REDUCTION_NONE, "mean": _ctc.REDUCTION_MEAN,
                    "sum": _ctc.REDUCTION_SUM}


def _int_array(name, value):
    """An integer array from an array, sequence or scalar (TypeError otherwise)."""
    if type(value) is np.ndarray:
        arr = value
    else:
        try:
            arr = np.asarray(value)
        except ValueError:  # ragged nested sequences
            raise ValueError("Expected %s to be an integer array (or a rectangular sequence of "
                             "ints), but got a ragged sequence" % (name,)) from None
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
    if arr.dtype != _INT64:
        if arr.dtype.kind == "u" and arr.dtype.itemsize == 8 and arr.size and \
                int(arr.max()) > np.iinfo(np.int64).max:
            raise ValueError("Expected %s to fit in int64, but got value %d"
                             % (name, int(arr.max())))
        arr = arr.astype(np.int64)
    return arr


def _lengths(name, value, n):
    arr = _int_array(name, value)
    if arr.ndim == 0:
        return np.full(n, int(arr), dtype=np.int64)
    if arr.ndim != 1:
        raise ValueError("Expected %s to be a scalar or 1-D, but got shape %s" % (name, arr.shape))
    if arr.shape[0] != n:
        raise ValueError(
            "Expected %s to have size %d (the batch size), but got size %d"
            % (name, n, arr.shape[0]))
    return arr if arr.flags.c_contiguous else np.ascontiguousarray(arr)


def _shape_of(log_probs, batch_first):
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


_ERRORS = {
    _ctc.ERR_INPUT_LENGTH_NEGATIVE:
        lambda p, n, i, v: "Expected input_lengths to be non-negative, but got value %d at "
                           "index %d" % (v, n),
    _ctc.ERR_INPUT_LENGTH_OVER_T:
        lambda p, n, i, v: "Expected input_lengths to have value at most %d, but got value %d "
                           "at index %d" % (p["T"], v, n),
    _ctc.ERR_TARGET_LENGTH_NEGATIVE:
        lambda p, n, i, v: "Expected target_lengths to be non-negative, but got value %d at "
                           "index %d" % (v, n),
    _ctc.ERR_TARGET_LENGTH_OVER_WIDTH:
        lambda p, n, i, v: "Expected target_lengths to have value at most %d (the %s), but got "
                           "value %d at index %d" % (p["width_total"], p["width_name"], v, n),
    _ctc.ERR_TARGETS_SIZE:
        lambda p, n, i, v: "Expected 1-D targets to have sum(target_lengths) = %d elements, but "
                           "got %d" % (v, p["width_total"]),
    _ctc.ERR_LABEL_RANGE:
        lambda p, n, i, v: "Expected targets to have values in [0, %d), but got value %d at "
                           "item %d, position %d" % (p["C"], v, n, i),
    _ctc.ERR_LABEL_BLANK:
        lambda p, n, i, v: "Expected targets to not contain the blank index %d, but got it at "
                           "item %d, position %d" % (v, n, i),
}


def _run(log_probs, targets, input_lengths, target_lengths, blank, reduction, zero_infinity,
         from_logits, batch_first, n_threads, want_grad, grad_out):
    """Validate everything, run the kernel; returns (loss, grad or None)."""
    # the common case, done in one Cython call (None: take the general path)
    res = _ctc.fast(log_probs, targets, input_lengths, target_lengths, blank, reduction,
                    zero_infinity, from_logits, batch_first, n_threads, want_grad, grad_out)
    if res is not None:
        return res if want_grad else (res[0], None)
    x = log_probs if type(log_probs) is np.ndarray else np.asarray(log_probs)
    dt = x.dtype
    if dt is _F32 or dt is _F64 or dt == _F32 or dt == _F64:
        out_dtype = dt
    else:
        dt, out_dtype = float_dtype_of("log_probs", x)
    code = _REDUCTION_CODES.get(reduction) if isinstance(reduction, str) else None
    if code is None:
        check_reduction(reduction)
    nt = resolve_n_threads(n_threads)
    unbatched, T, N, C = _shape_of(x, batch_first)
    if C < 1:
        raise ValueError("Expected log_probs to have at least one class, but got C=0")
    if C > 2147483647:
        raise ValueError("Expected log_probs to have at most 2147483647 classes, but got %d" % C)
    if type(blank) is not int:
        if isinstance(blank, (bool, np.bool_)) or not isinstance(blank, numbers.Integral):
            raise TypeError("Expected blank to be an int, but got %r" % (blank,))
        blank = int(blank)
    if not 0 <= blank < C:
        raise ValueError("Expected blank to be in [0, %d), but got %d" % (C, blank))

    tg = _int_array("targets", targets)
    if unbatched and tg.ndim == 2 and tg.shape[0] == 1:
        tg = tg[0]
    il = _lengths("input_lengths", input_lengths, N)
    tl = _lengths("target_lengths", target_lengths, N)
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
    flat = tg.reshape(-1) if tg.flags.c_contiguous else np.ascontiguousarray(tg).reshape(-1)

    if dt is not x.dtype and dt != x.dtype:
        x = x.astype(dt)
    if not x.flags.c_contiguous:
        x = np.ascontiguousarray(x)
    if unbatched or batch_first:
        stride_t, stride_n = C, T * C
    else:
        stride_t, stride_n = N * C, C

    grad = None
    direct = True
    reused = False  # warm memory: long rows may be streamed (non-temporal stores)
    if want_grad:
        if grad_out is not None:
            _check_grad_out(grad_out, x, log_probs, out_dtype)
            direct = grad_out.dtype == x.dtype
            grad = grad_out if direct else np.empty(x.shape, dtype=x.dtype)
            reused = direct
        else:
            grad, reused = _core.empty_ex(x.shape, x.dtype)
    losses = np.empty(N, dtype=np.float64)
    err, reduced = _ctc.run(x.reshape(-1), None if grad is None else grad.reshape(-1), T, N, C,
                            stride_t, stride_n, flat, width, il, tl, losses, blank, code,
                            bool(zero_infinity), bool(from_logits), nt, reused)
    if err is not None:
        e, n, i, v = err
        info = {"T": T, "C": C, "width_name": width_name,
                "width_total": width if width >= 0 else flat.shape[0]}
        raise ValueError(_ERRORS[e](info, n, i, v))
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


def _check_grad_out(grad_out, x, x_in, out_dtype):
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


def ctc_loss(log_probs, targets, input_lengths, target_lengths, *, blank=0, reduction="mean",
             zero_infinity=False, from_logits=False, batch_first=False, n_threads=None):
    return _run(log_probs, targets, input_lengths, target_lengths, blank, reduction,
                zero_infinity, from_logits, batch_first, n_threads, False, None)[0]


def ctc_loss_and_grad(log_probs, targets, input_lengths, target_lengths, *, blank=0,
                      reduction="mean", zero_infinity=False, from_logits=False,
                      batch_first=False, n_threads=None, grad_out=None):
    return _run(log_probs, targets, input_lengths, target_lengths, blank, reduction,
                zero_infinity, from_logits, batch_first, n_threads, True, grad_out)


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
