"""Fused softmax, log-softmax, NLL and cross-entropy (NumPy API).

The class axis is the last one: logits / log-probabilities have shape
``(..., C)`` and class-index targets ``(...)``.  Semantics are those of
``torch.nn.functional.cross_entropy`` / ``nll_loss`` (weighted mean,
``ignore_index``, ``label_smoothing`` mixed as torch mixes it, also with
weights, probability targets), computed by one read pass per row (online
log-sum-exp) and, for the ``*_and_grad`` variants, one pass writing the
gradient ``softmax - target distribution`` scaled by weight / normaliser.

float32 and float64 are computed as given; float16 (and bfloat16 where NumPy
knows it) are computed in float32 and returned in the input dtype.  Results
are bit-identical for any ``n_threads``.

Non-finite values follow torch: ``-inf`` logits get probability 0 (a target
at ``-inf`` has loss ``inf``); a row holding NaN or ``+inf``, or only
``-inf``, gives NaN; huge equal values stay finite.  An ignored row
contributes 0 loss and a 0 gradient even if its logits are NaN (torch's
gradient is NaN there).  ``reduction="mean"`` with no non-ignored row (or a
zero total weight) is NaN, as in torch.

Note: ``seqloss.softmax`` is the function; this module is
``importlib.import_module("seqloss.softmax")`` or ``from seqloss.softmax
import ...``.
"""
from __future__ import annotations

from typing import Any, Optional, Union

import numpy as np

from . import _core
from . import _softmax as _k
from . import _validate as V
from ._core import get_max_threads as _max_threads

__all__ = [
    "log_softmax",
    "softmax",
    "nll_loss",
    "nll_loss_and_grad",
    "cross_entropy",
    "cross_entropy_and_grad",
]

_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)
_I64 = np.dtype(np.int64)
_REDUCTION = V.REDUCTIONS
_ndarray = np.ndarray


def _float_input(name, x):
    """-> (array in its compute dtype, C-contiguous; output dtype)."""
    if type(x) is not _ndarray:
        x = V.as_array(name, x)
    dt = x.dtype
    if dt is _F32 or dt is _F64:
        cdt = odt = dt
    elif dt == _F32 or dt == _F64:
        # an equal dtype that is not NumPy's own object (unpickled arrays): the
        # kernels are picked by identity, so view the data with NumPy's own
        x = x.view(_F64 if dt == _F64 else _F32)
        cdt = odt = x.dtype
    else:
        cdt, odt = V.float_dtype_of(name, x)
    if x.dtype is not cdt:
        x = x.astype(cdt)
    x = V.carray(x)
    return x, odt


def _check_weight(weight, n_classes, cdt):
    if weight is None:
        return None
    w = weight if type(weight) is _ndarray else V.as_array("weight", weight)
    V.check_not_extended("weight", w.dtype)
    if w.dtype.kind not in "fiu" or w.dtype == np.bool_:
        raise TypeError("Expected weight to be a float array, but got dtype %s" % w.dtype)
    if w.ndim != 1 or w.shape[0] != n_classes:
        raise ValueError(
            "Expected weight to be a 1-D array of length %d (the number of classes), "
            "but got shape %s" % (n_classes, w.shape))
    w = V.carray(w, cdt)
    bad = ~(w >= 0)
    if bad.any():
        raise ValueError(
            "Expected weight to be non-negative, but got value %r at class %d"
            % (float(w[bad][0]), int(np.flatnonzero(bad)[0])))
    return w


def _check_index_targets(targets, batch_shape, n_classes, ignore_index, name="targets"):
    """Integer class targets of shape batch_shape -> C-contiguous int64."""
    t = targets if type(targets) is _ndarray else V.as_array(name, targets)
    dt = t.dtype
    if dt.kind == "O":  # Python ints (maybe beyond int64): int_array's checks and wording
        t = V.int_array(name, t)
        dt = t.dtype
    if dt is not _I64:
        if dt.kind not in "iu":
            # (not int_array's wording: a float array here would be probabilities)
            raise TypeError(
                "Expected %s to be an integer array of class indices, but got dtype %s"
                % (name, dt))
        if dt.kind == "u":
            t = V.int_array(name, t)  # ValueError for values >= 2**63
    if t.shape != batch_shape:
        raise ValueError(
            "Expected %s to have the logits' batch shape %s (logits shape %s without the "
            "class axis), but got shape %s"
            % (name, batch_shape, batch_shape + (n_classes,), t.shape))
    if dt is not _I64:
        t = t.astype(_I64)
    t = V.carray(t)
    bad = _k.check_targets(t, n_classes, ignore_index)
    if bad is not None:
        raise ValueError(
            "Expected %s to have values in [0, %d) or equal ignore_index=%d, but got value %d"
            % (name, n_classes, ignore_index, bad))
    return t


def _loss_call(nll, logits, targets, weight, ignore_index, reduction, label_smoothing,
               n_threads, want_grad, grad_out):
    # The common case ((N, C) C-contiguous float32/float64 logits, (N,) int64
    # targets, default options, a fresh gradient) is one Cython call; it
    # returns None for anything else, which the code below handles (and raises
    # every error).
    if (n_threads is None and grad_out is None and weight is None
            and type(ignore_index) is int and ignore_index == -100
            and type(label_smoothing) is float and label_smoothing == 0.0):
        r = _k.fast_loss(nll, logits, targets, reduction, want_grad)
        if r is not None:
            return r
    # Then only identity tests and cheap attribute reads where possible: a
    # server-sized call must stay a few microseconds.
    # -- logits
    x = logits
    if type(x) is _ndarray and (x.dtype is _F32 or x.dtype is _F64) and x.flags.carray:
        cdt = odt = x.dtype
    else:
        x, odt = _float_input("log_probs" if nll else "logits", x)
        cdt = x.dtype
    shape = x.shape
    if not shape:
        raise ValueError(
            "Expected %s to have at least 1 dimension (the class axis), but got a scalar"
            % ("log_probs" if nll else "logits"))
    C = shape[-1]
    if C < 1:
        raise ValueError(
            "Expected %s to have at least one class, but got shape %s"
            % ("log_probs" if nll else "logits", shape))
    n_rows = x.size // C
    # -- options
    red = _REDUCTION.get(reduction) if type(reduction) is str else None
    if red is None:
        red = V.reduction_code(reduction)
    nt = _max_threads() if n_threads is None else V.resolve_n_threads(n_threads)
    if type(ignore_index) is not int or ignore_index != -100:
        ignore_index = V.check_ignore_index(ignore_index)
    if type(label_smoothing) is not float or label_smoothing != 0.0:
        label_smoothing = V.check_label_smoothing(label_smoothing)
    w = _check_weight(weight, C, cdt) if weight is not None else None
    # -- targets: class indices (...) or, for cross-entropy, probabilities (..., C)
    probs = t = None
    tt = targets if type(targets) is _ndarray else V.as_array("targets", targets)
    tdt = tt.dtype
    if tdt is _I64 and tt.shape == shape[:-1] and V.carray(tt) is tt:
        t = tt
        bad = _k.check_targets(t, C, ignore_index)
        if bad is not None:
            _check_index_targets(t, shape[:-1], C, ignore_index)  # raises
    elif tdt.kind == "f" or (tdt.kind == "V" and tdt.name == "bfloat16"):
        if nll:
            raise TypeError(
                "Expected targets to be an integer array of class indices, but got dtype %s"
                % tdt)
        V.check_not_extended("targets", tdt)
        if tt.shape != shape:
            raise ValueError(
                "Expected probability targets to have the logits' shape %s, but got shape %s"
                % (shape, tt.shape))
        probs = V.carray(tt, cdt)
    else:
        t = _check_index_targets(tt, shape[:-1], C, ignore_index)
    # -- outputs
    grad = None
    check_overlap = False
    if want_grad and x.nbytes >= V.MEMORY_CHECK_BYTES:
        # the gradient (plus a compute-dtype copy when the output dtype differs)
        V.check_memory(x.nbytes * (1 if grad_out is not None and odt is cdt else 2),
                       "%s_and_grad's gradient of shape %s (%s)"
                       % ("nll_loss" if nll else "cross_entropy", shape, cdt))
    if want_grad:
        if grad_out is not None:
            if odt is cdt:  # overlap: checked on the raw buffers in _softmax
                V.check_grad_out(grad_out, shape, odt, "log_probs" if nll else "logits")
                grad = grad_out
                check_overlap = True
            else:
                V.check_grad_out(grad_out, shape, odt, "log_probs" if nll else "logits",
                                 (("log_probs" if nll else "logits", logits), ("targets", tt),
                                  ("weight", weight)))
                grad = np.empty(shape, dtype=cdt)
        else:
            # a pooled block (warm pages when recycled; see _core.empty_ex)
            grad, check_overlap = _core.empty_ex(shape, cdt)
    loss_rows = np.empty(shape[:-1], dtype=cdt) if red == 0 else None
    total = _k.loss_kernel(nll, cdt is _F64, x, n_rows, C, t, probs, w, ignore_index,
                           label_smoothing, red, grad, 1.0, loss_rows, nt, check_overlap)
    if red == 0:
        loss = loss_rows if odt is cdt else loss_rows.astype(odt)
    else:
        loss = odt.type(total)
    if grad is not None and odt is not cdt:
        if grad_out is not None:
            np.copyto(grad_out, grad, casting="unsafe")
            grad = grad_out
        else:
            grad = grad.astype(odt)
    return loss, grad


_LOSS_PARAMS = """
    Parameters
    ----------
    {x} : ndarray, float16/bfloat16/float32/float64, shape ``(..., C)``
        {xdesc} along the last axis (C >= 1).
    targets : ndarray{probs}
        Integer class indices of shape ``(...)`` in ``[0, C)`` or equal to
        ``ignore_index`` (any integer dtype; an ignored row contributes
        nothing).{probsdesc}
    weight : ndarray, shape ``(C,)``, optional
        Non-negative class weights (any real dtype).
    ignore_index : int
        Target value whose rows are ignored (default -100).
    reduction : {{"mean", "sum", "none"}}
        "mean": weighted mean over non-ignored rows (NaN when there are none);
        "none": per-row losses of shape ``(...)``.{smooth}
    n_threads : int or None
        None: OpenMP's maximum; negative counts back from it; 0 is an error.
        Results are bit-identical for any thread count.
"""

_GRAD_OUT = """    grad_out : ndarray, optional
        Preallocated writeable C-contiguous array of the {x}' shape and dtype,
        sharing no memory with any input; the gradient is written there and
        returned (reusing it avoids the cost of fresh pages).
"""

_LOSS_RAISES = """
    Raises
    ------
    TypeError
        {x} not a float array; targets not an integer (or, for cross-entropy,
        float) array; weight not a real array; ignore_index or n_threads not an
        int (bools included){smooth_t}{grad_t}.
    ValueError
        Mismatched shapes; a target outside ``[0, C)`` other than
        ``ignore_index``; a target that does not fit int64 (uint64 >= 2**63);
        a negative weight; an unknown reduction; n_threads 0 or over
        ``max(1024, OpenMP's maximum)``; a non-CPU tensor{smooth_v}{grad_v}.
    MemoryError
        An output the machine cannot hold (checked before allocating).

    Extended-precision inputs (``np.longdouble``) are a TypeError naming the
    argument: the kernels compute in float32/float64 only.
"""


def _loss_doc(summary, nll, grad):
    x = "log_probs" if nll else "logits"
    return summary + _LOSS_PARAMS.format(
        x=x, xdesc="Log-probabilities" if nll else "Unnormalised scores (logits)",
        probs="" if nll else " or float ndarray",
        probsdesc="" if nll else (
            "  Or class probabilities of the logits' shape\n"
            "        (any float dtype)."),
        smooth="" if nll else (
            "\n    label_smoothing : float\n        In ``[0, 1]``: mixes the target "
            "with the uniform distribution\n        as torch does.")) + (
        _GRAD_OUT.format(x=x) if grad else "") + """
    Returns
    -------
    loss : NumPy scalar or ndarray, the {x}' dtype
        The reduced loss, or per-row losses of shape ``(...)`` for "none".""".format(x=x) + (
        """
    grad : ndarray, the {x}' shape and dtype
        Gradient of the reduced loss (for "none", of the sum of the per-row
        losses){what}; ``grad_out`` itself when given.""".format(
            x=x, what="" if nll else ": ``(softmax - target distribution)`` scaled")
        if grad else "") + "\n" + _LOSS_RAISES.format(
        x=x, smooth_t="" if nll else ", label_smoothing not a real number",
        grad_t=", grad_out not an ndarray or of the wrong dtype" if grad else "",
        smooth_v="" if nll else ", label_smoothing outside [0, 1]",
        grad_v=", grad_out of the wrong shape, non-C-contiguous, read-only or overlapping "
               "an input" if grad else "")


_Array = Any
_Loss = Union[np.floating, np.ndarray]


def cross_entropy(logits: _Array, targets: _Array, *, weight: Optional[_Array] = None,
                  ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0, n_threads: Optional[int] = None) -> _Loss:
    return _loss_call(False, logits, targets, weight, ignore_index, reduction,
                      label_smoothing, n_threads, False, None)[0]


def cross_entropy_and_grad(logits: _Array, targets: _Array, *, weight: Optional[_Array] = None,
                           ignore_index: int = -100, reduction: str = "mean",
                           label_smoothing: float = 0.0, n_threads: Optional[int] = None,
                           grad_out: Optional[np.ndarray] = None) -> tuple[_Loss, np.ndarray]:
    return _loss_call(False, logits, targets, weight, ignore_index, reduction,
                      label_smoothing, n_threads, True, grad_out)


def nll_loss(log_probs: _Array, targets: _Array, *, weight: Optional[_Array] = None,
             ignore_index: int = -100, reduction: str = "mean",
             n_threads: Optional[int] = None) -> _Loss:
    return _loss_call(True, log_probs, targets, weight, ignore_index, reduction, 0.0,
                      n_threads, False, None)[0]


def nll_loss_and_grad(log_probs: _Array, targets: _Array, *, weight: Optional[_Array] = None,
                      ignore_index: int = -100, reduction: str = "mean",
                      n_threads: Optional[int] = None,
                      grad_out: Optional[np.ndarray] = None) -> tuple[_Loss, np.ndarray]:
    return _loss_call(True, log_probs, targets, weight, ignore_index, reduction, 0.0,
                      n_threads, True, grad_out)


cross_entropy.__doc__ = _loss_doc(
    "Cross-entropy of ``logits`` against ``targets``, as ``torch.nn.functional.cross_entropy``"
    "\n    computes it (class axis last).\n", False, False)
cross_entropy_and_grad.__doc__ = _loss_doc(
    "``(loss, grad)``: :func:`cross_entropy` and its gradient w.r.t. the logits, fused.\n",
    False, True)
nll_loss.__doc__ = _loss_doc(
    "Negative log-likelihood of ``log_probs`` at class ``targets``, as torch's ``nll_loss``."
    "\n", True, False)
nll_loss_and_grad.__doc__ = _loss_doc(
    "``(loss, grad)``: :func:`nll_loss` and its gradient w.r.t. ``log_probs``\n    "
    "(zero except ``-weight[y] / normaliser`` at each non-ignored row's target).\n",
    True, True)


def _softmax_call(x, axis, n_threads, log):
    name = "x"
    xa, odt = _float_input(name, x)
    if xa.ndim < 1:
        raise ValueError("Expected x to have at least 1 dimension, but got a scalar")
    ax = V.check_int("axis", axis)
    nd = xa.ndim
    if not -nd <= ax < nd:
        raise ValueError(
            "Expected axis to be in [%d, %d) for an array of %d dimension(s), but got %d"
            % (-nd, nd, nd, ax))
    ax %= nd
    nt = V.resolve_n_threads(n_threads)
    moved = ax != nd - 1
    if xa.nbytes >= V.MEMORY_CHECK_BYTES:
        V.check_memory(xa.nbytes * (3 if moved else 1), "%s's output of shape %s (%s)"
                       % ("log_softmax" if log else "softmax", xa.shape, xa.dtype))
    if moved:
        xa = V.carray(np.moveaxis(xa, ax, -1))
    y = np.empty(xa.shape, dtype=xa.dtype)
    C = xa.shape[-1]
    n_rows = xa.size // C if C else 0
    _k.softmax_kernel(xa.dtype is _F64, xa, y, n_rows, C, log, nt)
    if odt is not xa.dtype:
        y = y.astype(odt)
    if moved:
        y = np.moveaxis(y, -1, ax)
    return y


_SOFTMAX_DOC = """
    Parameters
    ----------
    x : ndarray, float16/bfloat16/float32/float64, any shape with ndim >= 1
        Input scores.
    axis : int
        The class axis, in ``[-x.ndim, x.ndim)`` (default: the last).
    n_threads : int or None
        None: OpenMP's maximum; negative counts back from it; 0 is an error.

    Returns
    -------
    ndarray
        Same shape and dtype as ``x``.

    Raises
    ------
    TypeError
        ``x`` not a float array; ``axis`` or ``n_threads`` not an int (bools
        included).
    ValueError
        ``x`` a scalar; ``axis`` out of range; n_threads 0 or over
        ``max(1024, OpenMP's maximum)``; a non-CPU tensor.
    MemoryError
        An output the machine cannot hold (checked before allocating).

    ``np.longdouble`` input is a TypeError: the kernels compute in
    float32/float64 only (cast to float64 explicitly).
"""


def log_softmax(x: _Array, axis: int = -1, *, n_threads: Optional[int] = None) -> np.ndarray:
    return _softmax_call(x, axis, n_threads, True)


def softmax(x: _Array, axis: int = -1, *, n_threads: Optional[int] = None) -> np.ndarray:
    return _softmax_call(x, axis, n_threads, False)


log_softmax.__doc__ = ("``x - logsumexp(x, axis)``, computed row-wise in one read pass "
                       "(online max/sum).\n" + _SOFTMAX_DOC)
softmax.__doc__ = "``exp(x - logsumexp(x, axis))`` along ``axis``.\n" + _SOFTMAX_DOC
