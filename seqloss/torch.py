"""torch autograd drop-ins backed by seqloss's CPU kernels.

    import seqloss.torch as st
    loss = st.CTCLoss(from_logits=True)(logits, targets, input_lengths, target_lengths)

Requires torch; ``import seqloss`` does not.  Without torch, importing this
module raises an ImportError (ModuleNotFoundError when torch is absent) that
says what to install.
"""
try:
    import torch as _torch  # noqa: F401  (the top-level torch package, not this module)
except ImportError as e:
    raise type(e)(
        "seqloss.torch needs PyTorch, which cannot be imported (%s). Install the CPU build of "
        "torch, e.g. pip install torch==2.13.0 (see the README's \"Quickstart\" for other "
        "machines), or from a clone of seqloss: pip install \".[torch]\"" % e,
        name=e.name, path=e.path) from e
from ._torch_ctc import CTCLoss, ctc_loss
from ._torch_softmax import CrossEntropyLoss, NLLLoss, cross_entropy, nll_loss

__all__ = ["CTCLoss", "ctc_loss", "CrossEntropyLoss", "NLLLoss", "cross_entropy", "nll_loss"]
