"""torch drop-ins (seqloss._torch_softmax): same results and gradients as
torch.nn.functional.cross_entropy / nll_loss in torch's layouts, gradcheck in
float64, autograd behaviour (retain_graph, no_grad, grad scaling), errors."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
from seqloss import _torch_softmax as T  # noqa: E402

F = torch.nn.functional

LAYOUTS = [((5, 7), (5,)), ((3, 7, 4, 2), (3, 4, 2)), ((7,), ()), ((2, 7, 3), (2, 3))]


def _case(shape, tshape, seed, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(*shape, generator=g, dtype=dtype) * 2
    C = shape[0] if len(shape) == 1 else shape[1]
    y = torch.randint(0, C, tshape, generator=g)
    if y.dim() > 0 and y.numel() > 1:
        y.view(-1)[1] = -100
    w = torch.rand(C, generator=g, dtype=dtype) + 0.1
    return x, y, w


@pytest.mark.parametrize("shape, tshape", LAYOUTS)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("eps", [0.0, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_matches_torch(shape, tshape, reduction, eps, weighted):
    """Loss and input gradient equal torch's for (N, C), (N, C, d...) and (C,) layouts."""
    x, y, w = _case(shape, tshape, 1)
    w = w if weighted else None
    a = x.clone().requires_grad_()
    b = x.clone().requires_grad_()
    la = T.cross_entropy(a, y, weight=w, reduction=reduction, label_smoothing=eps)
    lb = F.cross_entropy(b, y, weight=w, reduction=reduction, label_smoothing=eps)
    assert la.shape == lb.shape and la.dtype == lb.dtype
    torch.testing.assert_close(la, lb, rtol=1e-10, atol=1e-12)
    go = torch.rand_like(lb) + 0.5
    (la * go).sum().backward()
    (lb * go).sum().backward()
    torch.testing.assert_close(a.grad, b.grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("shape, tshape", LAYOUTS)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_nll_loss_matches_torch(shape, tshape, reduction):
    """nll_loss / NLLLoss equal torch's loss and gradient on log-probabilities."""
    x, y, w = _case(shape, tshape, 2)
    lp = torch.log_softmax(x, dim=0 if x.dim() == 1 else 1)
    a = lp.clone().requires_grad_()
    b = lp.clone().requires_grad_()
    la = T.NLLLoss(weight=w, reduction=reduction)(a, y)
    lb = torch.nn.NLLLoss(weight=w, reduction=reduction)(b, y)
    torch.testing.assert_close(la, lb, rtol=1e-12, atol=1e-14)
    la.sum().backward()
    lb.sum().backward()
    torch.testing.assert_close(a.grad, b.grad, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("eps", [0.0, 0.3])
def test_probability_targets_match_torch(eps):
    """Class-probability targets (input's shape) in the (N, C, d) layout match torch."""
    g = torch.Generator().manual_seed(3)
    x = torch.randn(3, 5, 4, dtype=torch.float64, generator=g)
    q = torch.softmax(torch.randn(3, 5, 4, dtype=torch.float64, generator=g), 1)
    w = torch.rand(5, dtype=torch.float64, generator=g)
    a = x.clone().requires_grad_()
    b = x.clone().requires_grad_()
    la = T.CrossEntropyLoss(weight=w, label_smoothing=eps)(a, q)
    lb = torch.nn.CrossEntropyLoss(weight=w, label_smoothing=eps)(b, q)
    torch.testing.assert_close(la, lb, rtol=1e-12, atol=1e-14)
    la.backward()
    lb.backward()
    torch.testing.assert_close(a.grad, b.grad, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("shape, tshape", [((4, 6), (4,)), ((2, 6, 3), (2, 3)), ((6,), ())])
def test_gradcheck_float64(reduction, shape, tshape):
    """torch.autograd.gradcheck passes for cross_entropy (smoothing, weights) and nll_loss."""
    x, y, w = _case(shape, tshape, 4)
    x.requires_grad_()
    assert torch.autograd.gradcheck(
        lambda z: T.cross_entropy(z, y, weight=w, reduction=reduction, label_smoothing=0.1),
        (x,))
    lp = torch.log_softmax(x.detach(), dim=0 if x.dim() == 1 else 1).requires_grad_()
    assert torch.autograd.gradcheck(lambda z: T.nll_loss(z, y, weight=w, reduction=reduction),
                                    (lp,))


def test_retain_graph_second_backward_gives_same_gradient():
    """A second backward through a retained graph recomputes the same gradient."""
    x, y, _ = _case((6, 9), (6,), 5)
    x.requires_grad_()
    loss = T.cross_entropy(x, y)
    loss.backward(retain_graph=True)
    g1 = x.grad.clone()
    x.grad = None
    (2 * loss).backward()
    torch.testing.assert_close(x.grad, 2 * g1)


def test_no_grad_and_non_leaf_inputs():
    """Under no_grad only the loss is computed; non-leaf inputs get gradients through the graph."""
    x, y, _ = _case((6, 9), (6,), 6)
    with torch.no_grad():
        torch.testing.assert_close(T.cross_entropy(x, y), F.cross_entropy(x, y))
    p = x.clone().requires_grad_()
    (T.cross_entropy(p * 3, y)).backward()
    q = x.clone().requires_grad_()
    (F.cross_entropy(q * 3, y)).backward()
    torch.testing.assert_close(p.grad, q.grad)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_low_precision_dtypes(dtype):
    """float32/float16/bfloat16 inputs give results (and gradients) in the input dtype."""
    x, y, _ = _case((8, 11), (8,), 7, dtype=torch.float32)
    a = x.to(dtype).requires_grad_()
    loss = T.cross_entropy(a, y)
    loss.backward()
    assert loss.dtype == dtype and a.grad.dtype == dtype
    ref = F.cross_entropy(a.detach().float(), y)
    torch.testing.assert_close(loss.float(), ref, rtol=1e-2, atol=1e-2)


def test_training_loop_learns():
    """A linear classifier trained with CrossEntropyLoss and SGD reduces its loss."""
    g = torch.Generator().manual_seed(0)
    X = torch.randn(256, 10, generator=g)
    Y = (X[:, :3].argmax(1))
    model = torch.nn.Linear(10, 3)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    crit = T.CrossEntropyLoss()
    first = None
    for _ in range(50):
        opt.zero_grad()
        loss = crit(model(X), Y)
        loss.backward()
        opt.step()
        first = loss.item() if first is None else first
    assert loss.item() < 0.5 * first


def test_legacy_size_average_and_reduce_arguments():
    """The deprecated size_average/reduce arguments map to reductions as in torch."""
    x, y, _ = _case((5, 4), (5,), 8)
    torch.testing.assert_close(T.cross_entropy(x, y, size_average=False),
                               F.cross_entropy(x, y, reduction="sum"))
    torch.testing.assert_close(T.nll_loss(x, y, reduce=False),
                               F.nll_loss(x, y, reduction="none"))


def test_errors():
    """Non-CPU tensors, grad-requiring weights/targets and bad targets raise clear errors."""
    x, y, w = _case((4, 5), (4,), 9)
    meta = torch.empty(4, 5, device="meta")
    with pytest.raises(ValueError, match="seqloss is a CPU library: expected input on the CPU, but got "
                                         "a tensor on meta"):
        T.cross_entropy(meta, y)
    with pytest.raises(RuntimeError, match="gradient w.r.t. weight is not implemented"):
        T.cross_entropy(x, y, weight=w.clone().requires_grad_())
    with pytest.raises(TypeError, match="Expected weight to be a torch tensor"):
        T.cross_entropy(x, y, weight=np.ones(5))
    with pytest.raises(ValueError, match=r"values in \[0, 5\) or equal ignore_index=-100, but "
                                         r"got value 9"):
        T.cross_entropy(x, torch.tensor([0, 1, 9, 2]))
    with pytest.raises(TypeError, match="integer tensor of class indices"):
        T.nll_loss(x, torch.rand(4, 5, dtype=torch.float64))
    with pytest.raises(ValueError, match="batch shape"):
        T.cross_entropy(x, torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="at least 1 dimension"):
        T.cross_entropy(torch.tensor(1.0), torch.tensor(0))
    with pytest.raises(TypeError, match="floating point"):
        T.cross_entropy(torch.zeros(4, 5, dtype=torch.int64), y)


def test_module_state_dict_and_repr():
    """CrossEntropyLoss keeps weight as a buffer like torch's module."""
    w = torch.rand(5)
    m = T.CrossEntropyLoss(weight=w, ignore_index=3, label_smoothing=0.1)
    assert torch.equal(m.state_dict()["weight"], w)
    assert m.ignore_index == 3 and m.reduction == "mean" and m.label_smoothing == 0.1
