"""Softmax, log-softmax, NLL and cross-entropy (NumPy API): parity with torch float64
and the float64 reference, finite-difference gradients, thread-count and ISA agreement,
non-finite inputs, and every bad input with its message."""
import importlib
import os
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from seqloss import _softmax

# the package exports the function seqloss.softmax, which shadows the module
# attribute; import the module itself
S = importlib.import_module("seqloss.softmax")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference as ref  # noqa: E402
from strategies import ce_cases, fixed_logits, softmax_inputs  # noqa: E402

torch = pytest.importorskip("torch")
F = torch.nn.functional

SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-11, atol=1e-13)}
REDUCTIONS = ["none", "mean", "sum"]


def torch_ce(x, t, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0,
             nll=False):
    """torch float64 loss and gradient (of the sum of the outputs), class axis last."""
    xt = torch.tensor(np.asarray(x, dtype=np.float64), requires_grad=True)
    C = xt.shape[-1]
    x2 = xt.reshape(-1, C)
    t = np.asarray(t)
    if t.dtype.kind == "f":
        tt = torch.tensor(t.astype(np.float64)).reshape(-1, C)
    else:
        tt = torch.tensor(t.astype(np.int64)).reshape(-1)
    w = None if weight is None else torch.tensor(np.asarray(weight, dtype=np.float64))
    if nll:
        loss = F.nll_loss(x2, tt, weight=w, ignore_index=ignore_index, reduction=reduction)
    else:
        loss = F.cross_entropy(x2, tt, weight=w, ignore_index=ignore_index,
                               reduction=reduction, label_smoothing=label_smoothing)
    loss.sum().backward()
    out = loss.detach().numpy()
    if reduction == "none":
        out = out.reshape(np.asarray(x).shape[:-1])
    return out, xt.grad.numpy()


def _check_close(got, want, dtype, what, scale=1.0):
    """allclose with the dtype's tolerance; scale = 1 + max |logit| (rounding of x - lse)."""
    tol = {k: v * scale for k, v in TOL[dtype].items()}
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, (what, got.shape, want.shape)
    np.testing.assert_allclose(got, want, err_msg=what, equal_nan=True, **tol)


I64 = np.int64
W7 = np.linspace(0.0, 2.0, 7)  # weight with a zero class


@SETTINGS
# C = 1 (every row is its own class: loss 0, gradient 0), with and without smoothing
@example((fixed_logits((3, 1)), np.zeros(3, I64), None, -100, 0.0, "mean", np.float64, 1))
@example((fixed_logits((2, 2, 1)), np.zeros((2, 2), I64), np.ones(1), -100, 1.0, "none",
          np.float32, 2))
# all rows ignored: mean is 0/0 = NaN (as torch), sum 0
@example((fixed_logits((4, 5)), np.full(4, -100, I64), None, -100, 0.0, "mean", np.float64, 2))
@example((fixed_logits((4, 5)), np.full(4, 3, I64), W7[:5], 3, 0.1, "sum", np.float32, 1))
# label_smoothing = 1.0: the target's own term vanishes, the uniform term is everything
@example((fixed_logits((3, 7)), np.array([1, 0, 6], I64), W7, -100, 1.0, "mean", np.float32, 1))
@example((fixed_logits((3, 7)) + 100, np.array([1, -100, 6], I64), None, -100, 1.0, "none",
          np.float64, 3))
@given(ce_cases())
def test_cross_entropy_index_targets_match_torch_and_reference(case):
    """cross_entropy(_and_grad) with class-index targets equals torch float64 and the reference."""
    x, t, w, ii, eps, red, dtype, nt = case
    xd = x.astype(dtype)
    wd = None if w is None else w.astype(dtype)
    loss, grad = S.cross_entropy_and_grad(xd, t, weight=wd, ignore_index=ii, reduction=red,
                                          label_smoothing=eps, n_threads=nt)
    xr = xd.astype(np.float64)
    wr = None if wd is None else wd.astype(np.float64)
    tl, tg = torch_ce(xr, t, wr, ii, red, eps)
    rl = ref.cross_entropy(xr, t, wr, ii, red, eps)
    assert np.asarray(loss).dtype == dtype and grad.dtype == dtype and grad.shape == x.shape
    scale = 1.0 + np.abs(xr).max(initial=0.0)
    tol = TOL[dtype]
    np.testing.assert_allclose(loss, tl, rtol=tol["rtol"] * scale, atol=tol["atol"] * scale,
                               equal_nan=True)
    np.testing.assert_allclose(loss, rl, rtol=tol["rtol"] * scale, atol=tol["atol"] * scale,
                               equal_nan=True)
    _check_close(grad, tg, dtype, "grad", scale)
    assert S.cross_entropy(xd, t, weight=wd, ignore_index=ii, reduction=red,
                           label_smoothing=eps, n_threads=nt).tobytes() == \
        np.asarray(loss).tobytes()


@SETTINGS
# C = 1; an all-zero target row; label_smoothing = 1.0
@example((fixed_logits((3, 1)), np.ones((3, 1)), None, -100, 0.0, "mean", np.float64, 1))
@example((fixed_logits((2, 7)), np.vstack([np.eye(7)[2], np.zeros(7)]), W7, -100, 1.0, "none",
          np.float32, 2))
@example((fixed_logits((3, 4)), np.full((3, 4), 0.25), None, -100, 1.0, "mean", np.float64, 1))
@given(ce_cases(prob=True))
def test_cross_entropy_probability_targets_match_torch_and_reference(case):
    """Probability targets (float, logits' shape) give torch's loss and gradient."""
    x, q, w, _, eps, red, dtype, nt = case
    xd = x.astype(dtype)
    wd = None if w is None else w.astype(dtype)
    qd = q.astype(dtype)
    loss, grad = S.cross_entropy_and_grad(xd, qd, weight=wd, reduction=red,
                                          label_smoothing=eps, n_threads=nt)
    xr, qr = xd.astype(np.float64), qd.astype(np.float64)
    wr = None if wd is None else wd.astype(np.float64)
    tl, tg = torch_ce(xr, qr, wr, -100, red, eps)
    rl = ref.cross_entropy(xr, qr, wr, -100, red, eps)
    scale = 1.0 + np.abs(xr).max(initial=0.0)
    tol = TOL[dtype]
    np.testing.assert_allclose(loss, tl, rtol=tol["rtol"] * scale, atol=tol["atol"] * scale,
                               equal_nan=True)
    np.testing.assert_allclose(loss, rl, rtol=tol["rtol"] * scale, atol=tol["atol"] * scale,
                               equal_nan=True)
    _check_close(grad, tg, dtype, "grad", scale)


@SETTINGS
# C = 1; all rows ignored (mean NaN as torch); a zero-weight target class
@example((fixed_logits((3, 1)), np.zeros(3, I64), None, -100, 0.0, "mean", np.float64, 1))
@example((fixed_logits((4, 5)), np.full(4, -100, I64), None, -100, 0.0, "mean", np.float32, 2))
@example((fixed_logits((4, 7)), np.array([0, 0, 6, 0], I64), W7, 6, 0.0, "mean", np.float64, 1))
@given(ce_cases())
def test_nll_loss_matches_torch_and_reference(case):
    """nll_loss(_and_grad) on log-probabilities equals torch float64 and the reference."""
    x, t, w, ii, _, red, dtype, nt = case
    lp = ref.log_softmax(x).astype(dtype)
    wd = None if w is None else w.astype(dtype)
    loss, grad = S.nll_loss_and_grad(lp, t, weight=wd, ignore_index=ii, reduction=red,
                                     n_threads=nt)
    lr = lp.astype(np.float64)
    wr = None if wd is None else wd.astype(np.float64)
    tl, tg = torch_ce(lr, t, wr, ii, red, nll=True)
    rl = ref.nll_loss(lr, t, wr, ii, red)
    scale = 1.0 + np.abs(x).max(initial=0.0)
    _check_close(loss, tl, dtype, "loss", scale)
    _check_close(loss, rl, dtype, "loss vs reference", scale)
    _check_close(grad, tg, dtype, "grad")
    np.testing.assert_array_equal(
        np.asarray(S.nll_loss(lp, t, weight=wd, ignore_index=ii, reduction=red)),
        np.asarray(loss))


@SETTINGS
@example(x=np.zeros((1, 1)), dtype=np.float64, n_threads=1, offset=0.0)    # C = 1
@example(x=fixed_logits((2, 1)), dtype=np.float32, n_threads=2, offset=-3e4)
@example(x=np.zeros((3, 33)), dtype=np.float32, n_threads=1, offset=50.0)  # all tied
@given(x=softmax_inputs(), dtype=st.sampled_from([np.float32, np.float64]),
       n_threads=st.sampled_from([1, 2]), offset=st.sampled_from([0.0, 50.0, -3e4]))
def test_log_softmax_and_softmax_match_torch_and_reference(x, dtype, n_threads, offset):
    """log_softmax / softmax along the last axis equal torch float64 and the reference."""
    x = (x + offset).astype(dtype)
    xr = torch.tensor(x.astype(np.float64))
    ls = S.log_softmax(x, n_threads=n_threads)
    sm = S.softmax(x, n_threads=n_threads)
    assert ls.dtype == dtype and sm.dtype == dtype and ls.shape == x.shape
    tol = dict(TOL[dtype])
    tol["atol"] *= 1 + abs(offset)
    np.testing.assert_allclose(ls, torch.log_softmax(xr, -1).numpy(), **tol)
    np.testing.assert_allclose(ls, ref.log_softmax(x.astype(np.float64)), **tol)
    np.testing.assert_allclose(sm, torch.softmax(xr, -1).numpy(), **TOL[dtype])
    np.testing.assert_allclose(sm.sum(-1), 1.0, rtol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("axis", [0, 1, -2, 2, -1])
def test_softmax_any_axis(axis):
    """axis selects the class axis; the result has the input's shape."""
    x = np.random.default_rng(3).standard_normal((3, 4, 5))
    got = S.log_softmax(x, axis=axis)
    np.testing.assert_allclose(got, ref.log_softmax(x, axis=axis), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(S.softmax(x, axis=axis), ref.softmax(x, axis=axis),
                               rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("C", [1023, 1024, 1025, 3 * 1024 + 7])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_running_max_rising_across_chunks(C, dtype):
    """The online log-sum-exp rescales correctly when a later chunk raises the row max."""
    rng = np.random.default_rng(C)
    x = (rng.standard_normal((6, C)) + np.linspace(0, 60, C)).astype(dtype)
    x[1] = x[1][::-1]  # max first
    x[2, -1] = 200.0   # max in the tail
    t = np.array([0, C - 1, C - 1, 5, 17, C // 2])
    for eps in (0.0, 0.3):
        loss, grad = S.cross_entropy_and_grad(x, t, reduction="none", label_smoothing=eps)
        tl, tg = torch_ce(x.astype(np.float64), t, reduction="none", label_smoothing=eps)
        np.testing.assert_allclose(loss, tl, rtol=1e-5 if dtype == np.float32 else 1e-11)
        _check_close(grad, tg, dtype, "grad")
    np.testing.assert_allclose(S.log_softmax(x), ref.log_softmax(x.astype(np.float64)),
                               rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-4 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("eps", [0.0, 0.25])
@pytest.mark.parametrize("weighted", [False, True])
def test_gradient_matches_central_differences(reduction, eps, weighted):
    """The float64 gradient of cross_entropy is the derivative of its (summed) loss."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 6)) * 2
    t = np.array([1, -100, 5, 0])
    w = rng.random(6) + 0.1 if weighted else None

    def f(z):
        return float(np.sum(S.cross_entropy(z, t, weight=w, reduction=reduction,
                                            label_smoothing=eps)))

    _, g = S.cross_entropy_and_grad(x, t, weight=w, reduction=reduction, label_smoothing=eps)
    np.testing.assert_allclose(g, ref.numeric_grad(f, x), rtol=1e-6, atol=1e-8)
    assert np.all(g[1] == 0.0)


def test_prob_and_nll_gradients_match_central_differences():
    """Probability-target CE and NLL gradients are the derivatives of their losses."""
    rng = np.random.default_rng(8)
    x = rng.standard_normal((3, 5))
    q = rng.random((3, 5))
    w = rng.random(5) + 0.5
    t = np.array([4, 0, 2])
    _, g = S.cross_entropy_and_grad(x, q, weight=w, label_smoothing=0.2)
    np.testing.assert_allclose(
        g, ref.numeric_grad(lambda z: float(S.cross_entropy(z, q, weight=w,
                                                            label_smoothing=0.2)), x),
        rtol=1e-6, atol=1e-8)
    _, g = S.nll_loss_and_grad(x, t, weight=w, reduction="sum")
    np.testing.assert_allclose(
        g, ref.numeric_grad(lambda z: float(S.nll_loss(z, t, weight=w, reduction="sum")), x),
        rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("variant", ["plain", "weighted_smooth", "prob", "nll", "softmax"])
def test_bit_identical_for_any_thread_count(dtype, variant):
    """Loss and gradient are bit-identical for n_threads 1, 2, 3 and -1 (threaded sizes)."""
    rng = np.random.default_rng(11)
    N, C = 301, 517  # > the single-thread cut-off, rows not divisible by the threads
    x = (rng.standard_normal((N, C)) * 3).astype(dtype)
    t = rng.integers(0, C, N)
    t[::7] = -100
    w = rng.random(C).astype(dtype)
    q = rng.random((N, C)).astype(dtype)
    outs = []
    for nt in (1, 2, 3, -1):
        if variant == "plain":
            r = S.cross_entropy_and_grad(x, t, n_threads=nt)
        elif variant == "weighted_smooth":
            r = S.cross_entropy_and_grad(x, t, weight=w, label_smoothing=0.1, n_threads=nt)
        elif variant == "prob":
            r = S.cross_entropy_and_grad(x, q, n_threads=nt)
        elif variant == "nll":
            r = S.nll_loss_and_grad(x, t, weight=w, n_threads=nt)
        else:
            r = (S.log_softmax(x, n_threads=nt), S.softmax(x, n_threads=nt))
        outs.append(tuple(np.asarray(v).tobytes() for v in r))
    assert all(o == outs[0] for o in outs[1:])


def test_reduction_none_is_per_row_and_consistent():
    """reduction='none' has the batch shape; 'sum' and 'mean' are its sum and weighted mean."""
    rng = np.random.default_rng(12)
    x = rng.standard_normal((2, 3, 9))
    t = rng.integers(0, 9, (2, 3))
    t[0, 1] = -100
    w = rng.random(9) + 0.1
    none = S.cross_entropy(x, t, weight=w, reduction="none")
    assert none.shape == (2, 3) and none[0, 1] == 0.0
    np.testing.assert_allclose(S.cross_entropy(x, t, weight=w, reduction="sum"), none.sum())
    den = w[t[t != -100]].sum()
    np.testing.assert_allclose(S.cross_entropy(x, t, weight=w), none.sum() / den)


def test_unbatched_single_row():
    """A 1-D logits vector with a scalar target works as torch's unbatched input."""
    x = np.array([0.5, -1.0, 2.0, 0.0])
    loss, grad = S.cross_entropy_and_grad(x, 2)
    tl, tg = torch_ce(x[None], np.array([2]))
    np.testing.assert_allclose(loss, tl, rtol=1e-12)
    np.testing.assert_allclose(grad, tg[0], rtol=1e-12, atol=1e-15)
    assert S.cross_entropy(x, 2, reduction="none").shape == ()


def test_all_ignored_and_empty_batches():
    """All rows ignored: mean is NaN (as torch), sum 0, gradient 0; an empty batch too."""
    x = np.random.default_rng(0).standard_normal((3, 4))
    t = np.full(3, -100)
    loss, grad = S.cross_entropy_and_grad(x, t)
    assert np.isnan(loss) and np.all(grad == 0)
    assert np.isnan(torch_ce(x, t)[0])
    assert S.cross_entropy(x, t, reduction="sum") == 0.0
    loss, grad = S.cross_entropy_and_grad(x, t, label_smoothing=0.2)
    assert np.isnan(loss) and np.all(grad == 0)
    e = np.zeros((0, 4))
    assert np.isnan(S.cross_entropy(e, np.zeros(0, np.int64)))
    assert S.cross_entropy(e, np.zeros(0, np.int64), reduction="sum") == 0.0
    assert S.cross_entropy(e, np.zeros(0, np.int64), reduction="none").shape == (0,)
    assert np.isnan(S.nll_loss(e, np.zeros(0, np.int64)))
    assert S.log_softmax(e).shape == (0, 4)


def test_zero_total_weight_gives_nan_like_torch():
    """Non-ignored rows whose class weights are all 0: mean is NaN with NaN gradient rows, as torch."""
    x = np.random.default_rng(1).standard_normal((2, 3))
    t = np.array([0, 0])
    w = np.array([0.0, 1.0, 1.0])
    loss, grad = S.cross_entropy_and_grad(x, t, weight=w)
    tl, tg = torch_ce(x, t, w)
    assert np.isnan(loss) and np.isnan(tl)
    np.testing.assert_array_equal(np.isnan(grad), np.isnan(tg))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_non_finite_logits_match_torch(dtype):
    """-inf, +inf, NaN and huge equal values give torch's results (finite where torch is)."""
    inf, nan = np.inf, np.nan
    big = np.finfo(dtype).max
    x = np.array([
        [0.0, -inf, 1.0, -inf],     # masked classes: finite
        [big, big, big, big],       # huge equal values: finite (log 4)
        [-big, -big, -big, -big],
        [-inf, -inf, -inf, -inf],   # NaN in torch
        [1.0, inf, 0.0, 2.0],       # NaN in torch
        [1.0, nan, 0.0, 2.0],       # NaN
        [-inf, 0.0, 1.0, 2.0],      # target at -inf: loss inf
    ], dtype=dtype)
    t = np.array([2, 1, 3, 0, 1, 2, 0])
    for eps in (0.0, 0.1):
        loss, grad = S.cross_entropy_and_grad(x, t, reduction="none", label_smoothing=eps)
        tl, tg = torch_ce(x.astype(np.float64), t, reduction="none", label_smoothing=eps)
        np.testing.assert_allclose(loss, tl.astype(dtype), rtol=1e-5, equal_nan=True)
        np.testing.assert_allclose(grad, tg.astype(dtype), rtol=1e-5, atol=1e-7,
                                   equal_nan=True)
    assert np.isfinite(S.cross_entropy(x[:3], t[:3]))
    np.testing.assert_allclose(S.log_softmax(x), torch.log_softmax(
        torch.tensor(x.astype(np.float64)), -1).numpy().astype(dtype), rtol=1e-6,
        equal_nan=True)
    np.testing.assert_allclose(S.softmax(x), torch.softmax(
        torch.tensor(x.astype(np.float64)), -1).numpy().astype(dtype), rtol=1e-6,
        atol=1e-30, equal_nan=True)


def test_ignored_row_with_nan_logits_contributes_nothing():
    """An ignored row's logits (even NaN) do not reach the loss; its gradient is 0."""
    x = np.array([[np.nan, 1.0], [0.0, 1.0]])
    loss, grad = S.cross_entropy_and_grad(x, np.array([-100, 1]))
    np.testing.assert_allclose(loss, np.log1p(np.exp(-1.0)))
    assert np.all(grad[0] == 0)


def test_prob_targets_with_masked_logit_give_torch_nan_loss_finite_grad():
    """Probability targets with a -inf logit: NaN loss (0 * -inf) but a finite gradient, as torch."""
    x = np.array([[-np.inf, 2.0, 0.0]])
    q = np.array([[0.0, 1.0, 0.0]])
    loss, grad = S.cross_entropy_and_grad(x, q)
    tl, tg = torch_ce(x, q)
    assert np.isnan(loss) and np.isnan(tl)
    np.testing.assert_allclose(grad, tg, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("fn", ["cross_entropy", "log_softmax"])
def test_float16_is_computed_in_float32_and_returned_as_float16(fn):
    """float16 inputs give float16 outputs equal to the float32 computation rounded."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((20, 37)).astype(np.float16)
    t = rng.integers(0, 37, 20)
    if fn == "cross_entropy":
        loss, grad = S.cross_entropy_and_grad(x, t, reduction="none")
        l32, g32 = S.cross_entropy_and_grad(x.astype(np.float32), t, reduction="none")
        assert loss.dtype == np.float16 and grad.dtype == np.float16
        np.testing.assert_array_equal(loss, l32.astype(np.float16))
        np.testing.assert_array_equal(grad, g32.astype(np.float16))
        g = np.empty_like(x)
        _, g2 = S.cross_entropy_and_grad(x, t, reduction="none", grad_out=g)
        assert g2 is g and np.array_equal(g, grad)
    else:
        y = S.log_softmax(x)
        assert y.dtype == np.float16
        np.testing.assert_array_equal(y, S.log_softmax(x.astype(np.float32)).astype(np.float16))


def test_input_conversions():
    """Lists, non-contiguous arrays and any integer target dtype are accepted."""
    rng = np.random.default_rng(9)
    x = rng.standard_normal((6, 10))
    t = rng.integers(0, 5, 6)
    want = S.cross_entropy(np.ascontiguousarray(x[:, ::2]), t)
    assert S.cross_entropy(x[:, ::2], t.astype(np.uint8)) == want
    assert S.cross_entropy(x[:, ::2].tolist(), t.tolist()) == want
    assert S.cross_entropy(x[:, ::2], t.astype(np.int16)) == want


def test_grad_out_is_written_and_returned():
    """grad_out receives the gradient (same values as a fresh one) and is returned."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((7, 9)).astype(np.float32)
    t = rng.integers(0, 9, 7)
    g = np.full_like(x, np.nan)
    loss, g2 = S.cross_entropy_and_grad(x, t, grad_out=g)
    l1, g1 = S.cross_entropy_and_grad(x, t)
    assert g2 is g and loss == l1 and np.array_equal(g, g1)
    g = np.full_like(x, np.nan)
    _, g3 = S.nll_loss_and_grad(x, t, grad_out=g)
    assert g3 is g and np.array_equal(g, S.nll_loss_and_grad(x, t)[1])


ISA_CODE = """
import importlib
S = importlib.import_module("seqloss.softmax")
for C, (x, t, w) in inp.items():
    for dt in ("float32", "float64"):
        out[C, dt, "ce"] = S.cross_entropy_and_grad(x.astype(dt), t, weight=w.astype(dt),
                                                    reduction="none", label_smoothing=0.1)
        out[C, dt, "softmax"] = S.softmax(x.astype(dt))
"""


def isa_inputs():
    """(logits, targets, weight) for C = 5 and 40 (the AVX2 kernel even on AVX-512
    machines), 1000 and 2111 (chunked rows, the AVX-512 kernel where available)."""
    rng = np.random.default_rng(2)
    cases = {}
    for C in (5, 40, 1000, 2111):
        cases[C] = (rng.standard_normal((9, C)) * 3, rng.integers(0, C, 9), rng.random(C))
    return cases


def test_isa_variants_agree_with_reference(isa, run_isa):
    """Each SEQLOSS_ISA variant gives the reference cross-entropy and softmax, torch's gradient."""
    inputs = isa_inputs()
    got = run_isa(isa, ISA_CODE, inputs)
    for C, (x, t, w) in inputs.items():
        for dt in (np.float32, np.float64):
            xr, wr = x.astype(dt).astype(np.float64), w.astype(dt).astype(np.float64)
            rtol = 3e-5 if dt == np.float32 else 1e-11
            loss, grad = got[C, dt.__name__, "ce"]
            assert loss.dtype == grad.dtype == dt
            r = ref.cross_entropy(xr, t, wr, reduction="none", label_smoothing=0.1)
            np.testing.assert_allclose(loss, r, rtol=rtol)
            _, tg = torch_ce(xr, t, wr, reduction="none", label_smoothing=0.1)
            _check_close(grad, tg, dt, "grad", 1.0 + np.abs(xr).max())
            np.testing.assert_allclose(got[C, dt.__name__, "softmax"], ref.softmax(x),
                                       rtol=rtol, atol=1e-12)


# ---------------------------------------------------------------- bad input

X = np.zeros((4, 40), dtype=np.float32)
T = np.array([0, 1, 2, 3])


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(targets=np.array([0, 1, 57, 3])), ValueError,
     r"Expected targets to have values in \[0, 40\) or equal ignore_index=-100, but got value 57"),
    (dict(targets=np.array([0, -1, 2, 3])), ValueError, r"but got value -1"),
    (dict(targets=np.array([0, -100, 2, 3]), ignore_index=-1), ValueError,
     r"or equal ignore_index=-1, but got value -100"),
    (dict(targets=np.array([0, 1, 2])), ValueError,
     r"Expected targets to have the logits' batch shape \(4,\).*but got shape \(3,\)"),
    (dict(targets=np.zeros((4, 1), np.int64)), ValueError, r"batch shape"),
    (dict(targets=np.array([0.0, 1.0, 2.0, 3.0])), ValueError,
     r"Expected probability targets to have the logits' shape \(4, 40\)"),
    (dict(targets=np.array([True, False, True, False])), TypeError,
     r"Expected targets to be an integer array of class indices, but got dtype bool"),
    (dict(targets=np.array(["a", "b", "c", "d"])), TypeError, r"integer array"),
    (dict(weight=np.ones(39)), ValueError,
     r"Expected weight to be a 1-D array of length 40 .*but got shape \(39,\)"),
    (dict(weight=np.ones((40, 1))), ValueError, r"weight to be a 1-D array"),
    (dict(weight=np.r_[np.ones(39), -1.0]), ValueError,
     r"Expected weight to be non-negative, but got value -1.0 at class 39"),
    (dict(weight=np.r_[np.nan, np.ones(39)]), ValueError, r"weight to be non-negative"),
    (dict(weight=np.array(["x"] * 40)), TypeError, r"weight to be a float array"),
    (dict(label_smoothing=1.5), ValueError,
     r"Expected label_smoothing to be in \[0, 1\], but got 1.5"),
    (dict(label_smoothing=-0.1), ValueError, r"label_smoothing to be in \[0, 1\]"),
    (dict(label_smoothing=float("nan")), ValueError, r"label_smoothing to be in \[0, 1\]"),
    (dict(label_smoothing="0.1"), TypeError, r"label_smoothing to be a float"),
    (dict(reduction="avg"), ValueError,
     r"Expected reduction to be one of 'none', 'mean' or 'sum', but got 'avg'"),
    (dict(reduction=None), ValueError, r"Expected reduction to be one of"),
    (dict(n_threads=0), ValueError, r"n_threads"),
    (dict(n_threads=1.5), TypeError, r"n_threads"),
    (dict(ignore_index=1.0), TypeError, r"Expected ignore_index to be an int, but got 1.0"),
    (dict(ignore_index=2**70), ValueError, r"ignore_index to fit in int64"),
    (dict(logits=np.zeros((4, 40), np.int32)), TypeError,
     r"Expected logits to be a floating point array .*but got dtype int32"),
    (dict(logits=np.float32(1.0), targets=0), ValueError,
     r"logits to have at least 1 dimension"),
    (dict(logits=np.zeros((4, 0), np.float32)), ValueError,
     r"Expected logits to have at least one class, but got shape \(4, 0\)"),
])
def test_cross_entropy_bad_input(kwargs, exc, match):
    """Every invalid argument raises the documented exception naming it and its value."""
    args = dict(logits=X, targets=T)
    args.update(kwargs)
    logits, targets = args.pop("logits"), args.pop("targets")
    with pytest.raises(exc, match=match):
        S.cross_entropy(logits, targets, **args)
    with pytest.raises(exc, match=match):
        S.cross_entropy_and_grad(logits, targets, **args)


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(targets=np.array([0, 1, 40, 3])), ValueError,
     r"Expected targets to have values in \[0, 40\) or equal ignore_index=-100, but got value 40"),
    (dict(targets=np.zeros((4, 40))), TypeError,
     r"Expected targets to be an integer array of class indices, but got dtype float64"),
    (dict(label_smoothing=0.1), TypeError, r"label_smoothing"),
    (dict(logits=np.zeros((4, 40), np.int64)), TypeError, r"Expected log_probs to be a floating"),
])
def test_nll_loss_bad_input(kwargs, exc, match):
    """nll_loss rejects bad targets, probability targets and smoothing with clear errors."""
    args = dict(logits=X, targets=T)
    args.update(kwargs)
    logits, targets = args.pop("logits"), args.pop("targets")
    with pytest.raises(exc, match=match):
        S.nll_loss(logits, targets, **args)


@pytest.mark.parametrize("make, exc, match", [
    (lambda: np.empty((4, 39), np.float32), ValueError,
     r"Expected grad_out to have the logits' shape \(4, 40\), but got shape \(4, 39\)"),
    (lambda: np.empty((4, 40), np.float64), TypeError,
     r"Expected grad_out to have dtype float32 \(the logits' dtype\), but got dtype float64"),
    (lambda: np.empty((40, 4), np.float32).T, ValueError, r"grad_out to be C-contiguous"),
    (lambda: X, ValueError, r"grad_out not to overlap the inputs"),
    (lambda: [[0.0] * 40] * 4, TypeError, r"Expected grad_out to be a numpy.ndarray"),
])
def test_grad_out_bad_input(make, exc, match):
    """grad_out of the wrong shape, dtype, layout, type or aliasing the logits is rejected."""
    with pytest.raises(exc, match=match):
        S.cross_entropy_and_grad(X, T, grad_out=make())


def test_grad_out_read_only_rejected():
    """A read-only grad_out is rejected before any work."""
    g = np.empty_like(X)
    g.flags.writeable = False
    with pytest.raises(ValueError, match="grad_out to be writeable"):
        S.cross_entropy_and_grad(X, T, grad_out=g)


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(axis=2), ValueError,
     r"Expected axis to be in \[-2, 2\) for an array of 2 dimension\(s\), but got 2"),
    (dict(axis=1.0), TypeError, r"Expected axis to be an int"),
    (dict(x=np.float64(1.0)), ValueError, r"Expected x to have at least 1 dimension"),
    (dict(x=np.zeros((2, 3), np.int8)), TypeError, r"Expected x to be a floating point array"),
    (dict(n_threads=0), ValueError, r"n_threads"),
])
def test_softmax_bad_input(kwargs, exc, match):
    """log_softmax / softmax reject bad axis, scalars, integer input and n_threads=0."""
    args = dict(x=np.zeros((2, 3)))
    args.update(kwargs)
    x = args.pop("x")
    for fn in (S.log_softmax, S.softmax):
        with pytest.raises(exc, match=match):
            fn(x, **args)


def test_kernel_rechecks_targets_defensively():
    """The C++ kernel itself refuses an out-of-range target (ValueError, as the Python layer)."""
    x = np.zeros((2, 3))
    with pytest.raises(ValueError, match="out of range"):
        _softmax.loss_kernel(False, True, x, 2, 3, np.array([0, 3]), None, None, -100, 0.0, 1,
                             None, 1.0, None, 1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("C", [300, 1027, 2500])
def test_streamed_and_prefetched_gradient_paths_agree(dtype, C):
    """Non-temporal stores (reused grad_out) and next-row prefetch do not change any bit."""
    rng = np.random.default_rng(C)
    x = (rng.standard_normal((37, C)) * 3).astype(dtype)
    t = rng.integers(0, C, 37)
    t[4] = -100
    w = rng.random(C).astype(dtype)
    q = rng.random((37, C)).astype(dtype)
    old_stream, old_pf = _softmax.tune(0), _softmax.tune(1)
    try:
        results = []
        for stream_min, pf in ((1 << 62, 0), (0, 1), (0, 0), (1 << 62, 1)):
            _softmax.tune(0, stream_min)
            _softmax.tune(1, pf)
            outs = []
            for kw in (dict(targets=t), dict(targets=t, weight=w, label_smoothing=0.2),
                       dict(targets=q)):
                targets = kw.pop("targets")
                g = np.empty_like(x)
                loss, _ = S.cross_entropy_and_grad(x, targets, grad_out=g, n_threads=2, **kw)
                outs.append((np.asarray(loss).tobytes(), g.tobytes()))
            results.append(outs)
        assert all(r == results[0] for r in results[1:])
        _, fresh = S.cross_entropy_and_grad(x, t)
        assert fresh.tobytes() == results[0][0][1]
    finally:
        _softmax.tune(0, old_stream)
        _softmax.tune(1, old_pf)


def test_streamed_gradient_into_misaligned_buffer():
    """A grad_out that starts off a vector boundary gets the same streamed gradient."""
    rng = np.random.default_rng(21)
    x = rng.standard_normal((9, 1001)).astype(np.float32)
    t = rng.integers(0, 1001, 9)
    old = _softmax.tune(0)
    try:
        _softmax.tune(0, 0)
        for off in (1, 3, 5):
            g = np.empty(x.size + off, np.float32)[off:].reshape(x.shape)
            _, g2 = S.cross_entropy_and_grad(x, t, grad_out=g)
            assert g2 is g and g.tobytes() == S.cross_entropy_and_grad(x, t)[1].tobytes()
    finally:
        _softmax.tune(0, old)


def test_concurrent_python_threads_get_independent_results():
    """Calls from several Python threads at once (GIL released) each get their own exact result."""
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(31)
    cases = []
    for i in range(8):
        x = rng.standard_normal((64 + i, 700 + 37 * i)).astype(np.float32)
        t = rng.integers(0, x.shape[1], x.shape[0])
        cases.append((x, t))
    want = [S.cross_entropy_and_grad(x, t, label_smoothing=0.1, n_threads=1) for x, t in cases]
    with ThreadPoolExecutor(4) as ex:
        got = list(ex.map(lambda c: S.cross_entropy_and_grad(c[0], c[1], label_smoothing=0.1,
                                                             n_threads=2), cases * 3))
    for i, (loss, grad) in enumerate(got):
        wl, wg = want[i % len(cases)]
        assert loss == wl and grad.tobytes() == wg.tobytes()


def test_pooled_gradient_is_fully_rewritten():
    """A recycled (pooled) gradient buffer holds no stale values: same bits as grad_out."""
    import seqloss._core as core
    rng = np.random.default_rng(31)
    x = rng.standard_normal((300, 1000)).astype(np.float32)  # 1.2 MB: pooled
    t = rng.integers(0, 1000, 300)
    t[::7] = -100
    _, g1 = S.cross_entropy_and_grad(x * 2, t)
    g1[...] = np.nan
    del g1
    assert core.pool_stats()[0] >= 1
    _, g2 = S.cross_entropy_and_grad(x, t)
    ref = np.full_like(x, 7.0)
    S.cross_entropy_and_grad(x, t, grad_out=ref)
    assert np.array_equal(g2, ref)
