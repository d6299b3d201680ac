"""torch drop-ins for cross-entropy and NLL backed by the fused seqloss kernels.

``cross_entropy``, ``nll_loss``, ``CrossEntropyLoss`` and ``NLLLoss`` take
torch's own arguments and layout (class dim 1: ``(N, C)``, ``(N, C, d1, ...)``,
or unbatched ``(C,)``).  They are ``torch.autograd.Function``s: the forward
pass computes the loss and, when the input requires grad, the fused gradient
(``softmax - target distribution``, scaled) in the same call; backward only
scales it by the incoming gradient (in place, the first time).  Probability
targets that require grad get theirs too (``-(1 - label_smoothing) * weight
* log_softmax(input)``, scaled as the loss is), as in torch.  CPU tensors
only.  This module imports torch; ``import seqloss`` does not.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from ._validate import check_cpu
from .softmax import _loss_call, log_softmax

__all__ = ["cross_entropy", "nll_loss", "CrossEntropyLoss", "NLLLoss"]

_NATIVE = (torch.float32, torch.float64)


def _legacy_reduction(size_average, reduce, reduction):
    if size_average is not None or reduce is not None:
        from torch.nn import _reduction
        return _reduction.legacy_get_string(size_average, reduce)
    return reduction


def _to_numpy(t, dtype=None):
    t = t.detach()
    if dtype is not None and t.dtype is not dtype:
        t = t.to(dtype)
    return t.numpy()


def _compute(nll, input, target, weight, ignore_index, reduction, label_smoothing, n_threads,
             want_grad, want_target_grad=False):
    """-> (loss tensor, grad tensor in the input's layout or None, gradient w.r.t.
    probability targets in the target's layout or None)."""
    if input.dim() == 0:
        raise ValueError(
            "Expected input to have at least 1 dimension (the class dimension), but got a "
            "0-dimensional tensor")
    cdt = input.dtype if input.dtype in _NATIVE else torch.float32
    if not input.dtype.is_floating_point:
        raise TypeError("Expected input to be a floating point tensor, but got dtype %s"
                        % input.dtype)
    class_dim = 0 if input.dim() == 1 else 1
    x = input.detach()
    if class_dim != input.dim() - 1:
        x = x.movedim(class_dim, -1)
    xn = _to_numpy(x, cdt)
    prob = target.dtype.is_floating_point
    if prob:
        if nll:
            raise TypeError(
                "Expected target to be an integer tensor of class indices, but got dtype %s"
                % target.dtype)
        if target.shape != input.shape:
            raise ValueError(
                "Expected probability target to have the input's shape %s, but got shape %s"
                % (tuple(input.shape), tuple(target.shape)))
        tt = target.detach()
        if class_dim != input.dim() - 1:
            tt = tt.movedim(class_dim, -1)
        tn = _to_numpy(tt, cdt)
    else:
        if target.dtype == torch.bool or target.dtype.is_complex:
            raise TypeError(
                "Expected target to be an integer tensor of class indices, but got dtype %s"
                % target.dtype)
        tn = _to_numpy(target)
    wn = None if weight is None else _to_numpy(weight, cdt)
    loss, grad = _loss_call(nll, xn, tn, wn, ignore_index, reduction, label_smoothing,
                                n_threads, want_grad, None)
    loss_t = torch.from_numpy(np.asarray(loss))
    if loss_t.dtype != input.dtype:
        loss_t = loss_t.to(input.dtype)
    grad_t = None
    if grad is not None:
        grad_t = torch.from_numpy(grad)
        if class_dim != input.dim() - 1:
            grad_t = grad_t.movedim(-1, class_dim)
        if grad_t.dtype != input.dtype:
            grad_t = grad_t.to(input.dtype)
    tgrad_t = None
    if want_target_grad and prob:
        # d loss / d q_c = -(1 - eps) w_c log_softmax(x)_c, times the reduction's
        # factor (probability targets: "mean" divides by the number of rows)
        f = -(1.0 - float(label_smoothing))
        n_rows = xn.size // xn.shape[-1] if xn.shape[-1] else 0
        if reduction == "mean" and n_rows:
            f /= n_rows
        tg = log_softmax(xn, n_threads=n_threads)
        tg *= f
        if wn is not None:
            tg *= wn
        tgrad_t = torch.from_numpy(tg)
        if class_dim != input.dim() - 1:
            tgrad_t = tgrad_t.movedim(-1, class_dim)
        if tgrad_t.dtype != target.dtype:
            tgrad_t = tgrad_t.to(target.dtype)
    return loss_t, grad_t, tgrad_t


def _scale_by(g, grad_output, reduction, class_dim):
    """g times the incoming gradient (per row for "none"), in place."""
    if reduction == "none":
        go = grad_output
        if go.dim() > 0 or g.dim() > 1:
            go = go.unsqueeze(class_dim if g.dim() > 1 else 0)
        g.mul_(go)
    elif grad_output.item() != 1.0:
        g.mul_(grad_output)
    return g


class _FusedLoss(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input, target, weight, ignore_index, reduction, label_smoothing, nll,
                n_threads):
        want_grad = ctx.needs_input_grad[0]
        want_tgrad = ctx.needs_input_grad[1]
        loss, grad, tgrad = _compute(nll, input, target, weight, ignore_index, reduction,
                                     label_smoothing, n_threads, want_grad, want_tgrad)
        ctx.grad = grad
        ctx.tgrad = tgrad
        ctx.args = (ignore_index, reduction, label_smoothing, nll, n_threads)
        ctx.class_dim = 0 if input.dim() == 1 else 1
        if want_grad or want_tgrad:
            ctx.save_for_backward(input, target, weight)
        return loss

    @staticmethod
    def backward(ctx, grad_output):
        want_grad, want_tgrad = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        g, tg = ctx.grad, ctx.tgrad
        ctx.grad = ctx.tgrad = None
        ignore_index, reduction, label_smoothing, nll, n_threads = ctx.args
        if (want_grad and g is None) or (want_tgrad and tg is None):
            # A second backward through the same graph (retain_graph=True): the
            # first one handed its buffers to autograd, so recompute them.
            input, target, weight = ctx.saved_tensors
            _, g, tg = _compute(nll, input, target, weight, ignore_index, reduction,
                                label_smoothing, n_threads, want_grad, want_tgrad)
        if g is not None:
            g = _scale_by(g, grad_output, reduction, ctx.class_dim)
        if tg is not None:
            tg = _scale_by(tg, grad_output, reduction, ctx.class_dim)
        return g, tg, None, None, None, None, None, None


def _apply(nll, input, target, weight, ignore_index, reduction, label_smoothing, n_threads):
    if not isinstance(input, torch.Tensor) or not isinstance(target, torch.Tensor):
        raise TypeError("Expected input and target to be torch tensors, but got %s and %s"
                        % (type(input).__name__, type(target).__name__))
    if weight is not None and not isinstance(weight, torch.Tensor):
        raise TypeError("Expected weight to be a torch tensor or None, but got %s"
                        % type(weight).__name__)
    check_cpu("input", input)
    check_cpu("target", target)
    check_cpu("weight", weight)
    if torch.is_grad_enabled():
        if weight is not None and weight.requires_grad:
            raise RuntimeError(
                "seqloss: the gradient w.r.t. weight is not implemented (nor is it in torch)")
    return _FusedLoss.apply(input, target, weight, ignore_index, reduction, label_smoothing,
                            nll, n_threads)


def cross_entropy(input: torch.Tensor, target: torch.Tensor,
                  weight: Optional[torch.Tensor] = None, size_average: Optional[bool] = None,
                  ignore_index: int = -100, reduce: Optional[bool] = None,
                  reduction: str = "mean", label_smoothing: float = 0.0, *,
                  n_threads: Optional[int] = None) -> torch.Tensor:
    """Drop-in for ``torch.nn.functional.cross_entropy`` (CPU, fused kernel).

    input: (N, C), (N, C, d1, ...) or (C,) logits; target: class indices of the
    input's shape without dim 1, or class probabilities of the input's shape.

    Parameters
    ----------
    input : Tensor, floating point, CPU, ``(N, C)``, ``(N, C, d1, ...)`` or ``(C,)``
        Logits (class dim 1).
    target : Tensor, CPU
        Integer class indices ``(N, d1, ...)`` or float probabilities of
        ``input``'s shape.
    weight : Tensor ``(C,)``, optional
        Class weights.
    size_average, reduce
        torch's deprecated arguments (mapped to ``reduction`` as torch does).
    ignore_index, reduction, label_smoothing, n_threads
        As :func:`seqloss.cross_entropy`.

    Returns
    -------
    Tensor
        The loss in ``input``'s dtype: a scalar, or the per-element losses
        (``target``'s shape) for "none".

    Raises
    ------
    TypeError
        ``input``, ``target`` or ``weight`` not a tensor, ``input`` not floating point,
        integer targets of a non-integer dtype, and as
        :func:`seqloss.cross_entropy`.
    ValueError
        A tensor on a non-CPU device, and as :func:`seqloss.cross_entropy`.
    RuntimeError
        A ``weight`` that requires grad (as in torch).
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _apply(False, input, target, weight, ignore_index, reduction, label_smoothing,
                  n_threads)


def nll_loss(input: torch.Tensor, target: torch.Tensor, weight: Optional[torch.Tensor] = None,
             size_average: Optional[bool] = None, ignore_index: int = -100,
             reduce: Optional[bool] = None, reduction: str = "mean", *,
             n_threads: Optional[int] = None) -> torch.Tensor:
    """Drop-in for ``torch.nn.functional.nll_loss`` (CPU): input holds log-probabilities.

    Parameters
    ----------
    input : Tensor, floating point, CPU, ``(N, C)``, ``(N, C, d1, ...)`` or ``(C,)``
        Log-probabilities (class dim 1).
    target : Tensor, integer, CPU, ``(N, d1, ...)``
        Class indices.
    weight : Tensor ``(C,)``, optional
        Class weights.
    size_average, reduce
        torch's deprecated arguments (mapped to ``reduction`` as torch does).
    ignore_index, reduction, n_threads
        As :func:`seqloss.nll_loss`.

    Returns
    -------
    Tensor
        The loss in ``input``'s dtype: a scalar, or the per-element losses
        (``target``'s shape) for "none".

    Raises
    ------
    TypeError
        ``input``, ``target`` or ``weight`` not a tensor, ``input`` not floating point,
        integer targets of a non-integer dtype, and as
        :func:`seqloss.nll_loss`.
    ValueError
        A tensor on a non-CPU device, and as :func:`seqloss.nll_loss`.
    RuntimeError
        A ``weight`` that requires grad (as in torch).
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _apply(True, input, target, weight, ignore_index, reduction, 0.0, n_threads)


class CrossEntropyLoss(torch.nn.Module):
    """Drop-in for ``torch.nn.CrossEntropyLoss`` using the fused seqloss kernel."""

    __constants__ = ["ignore_index", "reduction", "label_smoothing"]

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None,
                 reduction="mean", label_smoothing=0.0, *, n_threads=None):
        super().__init__()
        self.register_buffer("weight", weight)
        self.ignore_index = ignore_index
        self.reduction = _legacy_reduction(size_average, reduce, reduction)
        self.label_smoothing = label_smoothing
        self.n_threads = n_threads

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """As :func:`cross_entropy` with this module's options."""
        return cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                             reduction=self.reduction, label_smoothing=self.label_smoothing,
                             n_threads=self.n_threads)


class NLLLoss(torch.nn.Module):
    """Drop-in for ``torch.nn.NLLLoss`` using the seqloss kernel."""

    __constants__ = ["ignore_index", "reduction"]

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None,
                 reduction="mean", *, n_threads=None):
        super().__init__()
        self.register_buffer("weight", weight)
        self.ignore_index = ignore_index
        self.reduction = _legacy_reduction(size_average, reduce, reduction)
        self.n_threads = n_threads

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """As :func:`nll_loss` with this module's options."""
        return nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                        reduction=self.reduction, n_threads=self.n_threads)
