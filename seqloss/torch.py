"""torch autograd drop-ins backed by seqloss's CPU kernels.

    import seqloss.torch as st
    loss = st.CTCLoss(from_logits=True)(logits, targets, input_lengths, target_lengths)

Requires torch (``pip install seqloss[torch]``); ``import seqloss`` does not.
"""
from ._torch_ctc import CTCLoss, ctc_loss
from ._torch_softmax import CrossEntropyLoss, NLLLoss, cross_entropy, nll_loss

__all__ = ["CTCLoss", "ctc_loss", "CrossEntropyLoss", "NLLLoss", "cross_entropy", "nll_loss"]
