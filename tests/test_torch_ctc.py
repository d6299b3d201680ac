"""seqloss.torch CTC drop-ins: same results as torch, real autograd, training works."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
import seqloss.torch as st  # noqa: E402

F = torch.nn.functional


def make(T=12, N=3, C=6, L=4, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(T, N, C, generator=g, dtype=dtype)
    tg = torch.randint(1, C, (N, L), generator=g)
    il = torch.tensor([T, T - 2, T - 5])[:N]
    tl = torch.tensor([L, L - 1, 0])[:N]
    return x, tg, il, tl


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("from_logits", [False, True])
def test_same_loss_and_logit_gradient_as_torch(reduction, from_logits):
    """Loss and the gradient w.r.t. the logits equal torch's (float64)."""
    x, tg, il, tl = make()
    w = torch.rand(3, dtype=torch.float64) + 0.5  # non-uniform upstream gradient for 'none'
    xa = x.clone().requires_grad_()
    ref = F.ctc_loss(xa.log_softmax(-1), tg, il, tl, reduction=reduction)
    (ref * w).sum().backward() if reduction == "none" else ref.backward()
    xb = x.clone().requires_grad_()
    inp = xb if from_logits else xb.log_softmax(-1)
    got = st.ctc_loss(inp, tg, il, tl, reduction=reduction, from_logits=from_logits)
    (got * w).sum().backward() if reduction == "none" else got.backward()
    assert got.dtype == ref.dtype and got.shape == ref.shape
    torch.testing.assert_close(got, ref.detach(), rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(xb.grad, xa.grad, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("from_logits", [False, True])
def test_gradcheck_float64(from_logits):
    """torch.autograd.gradcheck passes (the gradient is the true derivative)."""
    x, tg, il, tl = make(T=6, N=2, C=4, L=2)
    x = x.requires_grad_()
    for red in ("mean", "sum", "none"):
        assert torch.autograd.gradcheck(
            lambda v: st.ctc_loss(v, tg, il, tl, reduction=red, from_logits=from_logits),
            (x,), eps=1e-6, atol=1e-6)


def test_module_and_training_loop_learns():
    """CTCLoss drives an optimizer: the loss falls on a learnable toy task."""
    torch.manual_seed(0)
    T, N, C, L = 20, 8, 5, 4
    feats = torch.randn(T, N, 8)
    tg = torch.randint(1, C, (N, L))
    model = torch.nn.Linear(8, C)
    crit = st.CTCLoss(from_logits=True)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    il, tl = torch.full((N,), T), torch.full((N,), L)
    first = None
    for _ in range(60):
        opt.zero_grad()
        loss = crit(model(feats), tg, il, tl)
        loss.backward()
        opt.step()
        first = loss.item() if first is None else first
    assert loss.item() < 0.8 * first
    assert "from_logits=True" in repr(crit)


def test_float32_and_bfloat16_inputs():
    """float32 and bfloat16 tensors return their own dtype and match float64 closely."""
    x, tg, il, tl = make()
    ref = F.ctc_loss(x.log_softmax(-1), tg, il, tl)
    for dt, tol in ((torch.float32, 1e-5), (torch.bfloat16, 3e-2)):
        xv = x.to(dt).requires_grad_()
        got = st.ctc_loss(xv, tg, il, tl, from_logits=True)
        got.backward()
        assert got.dtype == dt and xv.grad.dtype == dt
        assert abs(got.double().item() - ref.item()) <= tol * abs(ref.item()) + tol


def test_no_grad_and_unbatched():
    """Under no_grad only the loss is computed; (T, C) input works like torch's."""
    x, tg, il, tl = make()
    with torch.no_grad():
        got = st.ctc_loss(x[:, 0].log_softmax(-1), tg[0], il[0], tl[0], reduction="none")
    ref = F.ctc_loss(x[:, 0].log_softmax(-1), tg[0], il[0], tl[0], reduction="none")
    assert got.shape == ref.shape == ()
    torch.testing.assert_close(got, ref)


def test_non_cpu_tensor_rejected():
    """Tensors on another device get a clear error (this is a CPU library)."""
    x, tg, il, tl = make()
    with pytest.raises(ValueError, match="expected log_probs on the CPU, but got a tensor on meta"):
        st.ctc_loss(x.to("meta"), tg, il, tl)
    with pytest.raises(TypeError, match="log_probs to be a torch.Tensor"):
        st.ctc_loss(np.zeros((3, 1, 2)), tg, il, tl)
