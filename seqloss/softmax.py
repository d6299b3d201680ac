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
    else:
        cdt, odt = V.float_dtype_of(name, x)
    if x.dtype is not cdt or not x.flags.c_contiguous:
        x = np.ascontiguousarray(x, dtype=cdt)
    return x, odt


def _check_weight(weight, n_classes, cdt):
    if weight is None:
        return None
    w = weight if type(weight) is _ndarray else np.asarray(weight)
    if w.dtype.kind not in "fiu" or w.dtype == np.bool_:
        raise TypeError("Expected weight to be a float array, but got dtype %s" % w.dtype)
    if w.ndim != 1 or w.shape[0] != n_classes:
        raise ValueError(
            "Expected weight to be a 1-D array of length %d (the number of classes), "
            "but got shape %s" % (n_classes, w.shape))
    w = np.ascontiguousarray(w, dtype=cdt)
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
    if dt is not _I64 or not t.flags.c_contiguous:
        t = np.ascontiguousarray(t, dtype=_I64)
    bad = _k.check_targets(t, n_classes, ignore_index)
    if bad is not None:
        raise ValueError(
            "Expected %s to have values in [0, %d) or equal ignore_index=%d, but got value %d"
            % (name, n_classes, ignore_index, bad))
    return t


def _loss_call(nll, logits, targets, weight, ignore_index, reduction, label_smoothing,
               n_threads, want_grad, grad_out):
    # The common case (C-contiguous float32/float64 logits, int64 targets,
    # default options) takes only identity tests and cheap attribute reads:
    # the server-sized call must stay a few microseconds.
    # -- logits
    x = logits
    if type(x) is _ndarray and (x.dtype is _F32 or x.dtype is _F64) and x.flags.c_contiguous:
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
    if tdt is _I64 and tt.shape == shape[:-1] and tt.flags.c_contiguous:
        t = tt
        bad = _k.check_targets(t, C, ignore_index)
        if bad is not None:
            _check_index_targets(t, shape[:-1], C, ignore_index)  # raises
    elif tdt.kind == "f" or (tdt.kind == "V" and tdt.name == "bfloat16"):
        if nll:
            raise TypeError(
                "Expected targets to be an integer array of class indices, but got dtype %s"
                % tdt)
        if tt.shape != shape:
            raise ValueError(
                "Expected probability targets to have the logits' shape %s, but got shape %s"
                % (shape, tt.shape))
        probs = np.ascontiguousarray(tt, dtype=cdt)
    else:
        t = _check_index_targets(tt, shape[:-1], C, ignore_index)
    # -- outputs
    grad = None
    check_overlap = False
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


def cross_entropy(logits, targets, *, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0, n_threads=None):
    """Cross-entropy of ``logits`` (..., C) against ``targets``, as torch computes it.

    targets: integer class indices of shape (...) (``ignore_index`` rows
    contribute nothing), or float class probabilities of the logits' shape.
    weight: optional (C,) non-negative class weights.  reduction: "mean"
    (weighted mean over non-ignored rows, NaN when there are none), "sum" or
    "none" (per-row losses of shape (...)).  label_smoothing in [0, 1] mixes
    the target with the uniform distribution as torch does.
    Returns a NumPy scalar (or an array for "none") in the logits' dtype.
    """
    return _loss_call(False, logits, targets, weight, ignore_index, reduction,
                      label_smoothing, n_threads, False, None)[0]


def cross_entropy_and_grad(logits, targets, *, weight=None, ignore_index=-100,
                           reduction="mean", label_smoothing=0.0, n_threads=None,
                           grad_out=None):
    """``(loss, grad)``: :func:`cross_entropy` and its gradient w.r.t. the logits.

    grad has the logits' shape and dtype and is the gradient of the reduced
    loss (for reduction "none", of the sum of the per-row losses).  grad_out:
    optional preallocated C-contiguous array of that shape and dtype, not
    overlapping the inputs; the gradient is written there and returned
    (reusing it avoids the cost of fresh pages).
    """
    return _loss_call(False, logits, targets, weight, ignore_index, reduction,
                      label_smoothing, n_threads, True, grad_out)


def nll_loss(log_probs, targets, *, weight=None, ignore_index=-100, reduction="mean",
             n_threads=None):
    """Negative log-likelihood of ``log_probs`` (..., C) at class ``targets`` (...), as torch."""
    return _loss_call(True, log_probs, targets, weight, ignore_index, reduction, 0.0,
                      n_threads, False, None)[0]


def nll_loss_and_grad(log_probs, targets, *, weight=None, ignore_index=-100,
                      reduction="mean", n_threads=None, grad_out=None):
    """``(loss, grad)``: :func:`nll_loss` and its gradient w.r.t. ``log_probs``.

    The gradient is zero except ``-weight[y] / normaliser`` at each
    non-ignored row's target.  grad_out as in :func:`cross_entropy_and_grad`.
    """
    return _loss_call(True, log_probs, targets, weight, ignore_index, reduction, 0.0,
                      n_threads, True, grad_out)


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
    if moved:
        xa = np.ascontiguousarray(np.moveaxis(xa, ax, -1))
    y = np.empty(xa.shape, dtype=xa.dtype)
    C = xa.shape[-1]
    n_rows = xa.size // C if C else 0
    _k.softmax_kernel(xa.dtype is _F64, xa, y, n_rows, C, log, nt)
    if odt is not xa.dtype:
        y = y.astype(odt)
    if moved:
        y = np.moveaxis(y, -1, ax)
    return y


def log_softmax(x, axis=-1, *, n_threads=None):
    """``x - logsumexp(x, axis)``, computed row-wise in one read pass (online max/sum)."""
    return _softmax_call(x, axis, n_threads, True)


def softmax(x, axis=-1, *, n_threads=None):
    """``exp(x - logsumexp(x, axis))`` along ``axis``."""
    return _softmax_call(x, axis, n_threads, False)
