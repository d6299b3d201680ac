"""torch autograd drop-in for torch.nn.functional.ctc_loss / torch.nn.CTCLoss."""
from __future__ import annotations

from typing import Union

import numpy as np
import torch

from ._validate import check_cpu
from .ctc import ctc_loss as _np_ctc_loss
from .ctc import ctc_loss_and_grad as _np_ctc_loss_and_grad

__all__ = ["ctc_loss", "CTCLoss"]


def to_numpy_int(t):
    if isinstance(t, torch.Tensor):
        return t.detach().contiguous().numpy()
    return t


def to_numpy_float(t):
    """A float tensor as a NumPy array (half types go through float32)."""
    t = t.detach()
    if t.dtype in (torch.float16, torch.bfloat16):
        t = t.float()
    return t.contiguous().numpy()


class _CTCLossFunction(torch.autograd.Function):
    """Loss and gradient computed together in forward; backward only scales."""

    @staticmethod
    def forward(ctx, log_probs, targets, input_lengths, target_lengths, blank, reduction,
                zero_infinity, from_logits):
        x = to_numpy_float(log_probs)
        args = (x, to_numpy_int(targets), to_numpy_int(input_lengths),
                to_numpy_int(target_lengths))
        kw = dict(blank=blank, reduction=reduction, zero_infinity=zero_infinity,
                  from_logits=from_logits)
        ctx.reduction = reduction
        if ctx.needs_input_grad[0]:
            loss, grad = _np_ctc_loss_and_grad(*args, **kw)
            g = torch.from_numpy(grad)
            if g.dtype != log_probs.dtype:
                g = g.to(log_probs.dtype)
            ctx.save_for_backward(g)
        else:
            loss = _np_ctc_loss(*args, **kw)
        out = torch.from_numpy(np.asarray(loss))
        return out.to(log_probs.dtype) if out.dtype != log_probs.dtype else out

    @staticmethod
    def backward(ctx, grad_output):
        (grad,) = ctx.saved_tensors
        if grad_output.dim() == 0 or grad_output.numel() == 1:
            if grad_output.reshape(()).item() != 1.0:
                grad = grad * grad_output.reshape(()).to(grad.dtype)
        else:  # reduction="none", batched: scale item n's gradient by grad_output[n]
            grad = grad * grad_output.to(grad.dtype).reshape(1, -1, 1)
        return grad, None, None, None, None, None, None, None


def ctc_loss(log_probs: torch.Tensor, targets: torch.Tensor,
             input_lengths: Union[torch.Tensor, list, tuple, int],
             target_lengths: Union[torch.Tensor, list, tuple, int], blank: int = 0,
             reduction: str = "mean", zero_infinity: bool = False, *,
             from_logits: bool = False) -> torch.Tensor:
    """Drop-in for ``torch.nn.functional.ctc_loss`` (CPU tensors, same semantics).

    ``log_probs`` is ``(T, N, C)`` or ``(T, C)``; with ``from_logits=True`` it is
    raw logits and the softmax is fused in (skip your ``log_softmax``).
    The gradient w.r.t. ``log_probs`` is the true partial derivative
    (``-posterior``); torch's adds ``exp(log_probs)``, which cancels in
    ``log_softmax``'s backward, so gradients w.r.t. the logits are identical.

    Parameters
    ----------
    log_probs : Tensor, float16/bfloat16/float32/float64, CPU
        ``(T, N, C)`` or ``(T, C)``.
    targets : Tensor (or array), integer
        ``(N, S)`` padded or 1-D concatenated; ``(S,)`` unbatched.
    input_lengths, target_lengths : Tensor, sequence of ints or int
        ``(N,)`` per-item lengths.
    blank, reduction, zero_infinity, from_logits
        As :func:`seqloss.ctc_loss`.

    Returns
    -------
    Tensor
        The loss in ``log_probs``' dtype: a scalar, or ``(N,)`` for "none".

    Raises
    ------
    TypeError
        ``log_probs`` not a tensor, and as :func:`seqloss.ctc_loss`.
    ValueError
        A tensor on a non-CPU device, and as :func:`seqloss.ctc_loss`.
    """
    if not isinstance(log_probs, torch.Tensor):
        raise TypeError("Expected log_probs to be a torch.Tensor, but got %s"
                        % type(log_probs).__name__)
    for name, t in (("log_probs", log_probs), ("targets", targets),
                    ("input_lengths", input_lengths), ("target_lengths", target_lengths)):
        check_cpu(name, t)
    return _CTCLossFunction.apply(log_probs, targets, input_lengths, target_lengths, blank,
                                  reduction, zero_infinity, from_logits)


class CTCLoss(torch.nn.Module):
    """Drop-in for ``torch.nn.CTCLoss`` running seqloss's fused CPU kernel."""

    def __init__(self, blank: int = 0, reduction: str = "mean", zero_infinity: bool = False,
                 from_logits: bool = False) -> None:
        super().__init__()
        self.blank = blank
        self.reduction = reduction
        self.zero_infinity = zero_infinity
        self.from_logits = from_logits

    def forward(self, log_probs: torch.Tensor, targets: torch.Tensor, input_lengths,
                target_lengths) -> torch.Tensor:
        """As :func:`ctc_loss` with this module's options."""
        return ctc_loss(log_probs, targets, input_lengths, target_lengths, self.blank,
                        self.reduction, self.zero_infinity, from_logits=self.from_logits)

    def extra_repr(self):
        return "blank=%d, reduction=%r, zero_infinity=%r, from_logits=%r" % (
            self.blank, self.reduction, self.zero_infinity, self.from_logits)
