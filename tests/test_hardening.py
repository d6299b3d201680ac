"""Hardening for servers: hostile or extreme arguments end in a named Python
exception (never a crash, a wrong result or the OOM killer), and edge values
compute what torch computes."""
import numpy as np
import pytest

import seqloss
import seqloss._ctc
import seqloss._validate as V
from fuzz_cases import Lazy  # builds fresh items (and fresh strings) on every access

torch = pytest.importorskip("torch")
import seqloss.torch as ST  # noqa: E402


def raises(exc, *names):
    """pytest.raises for ``exc`` whose message names every one of ``names``."""
    class _Check:
        def __enter__(self):
            self.ctx = pytest.raises(exc)
            self.info = self.ctx.__enter__()
            return self.info

        def __exit__(self, *a):
            r = self.ctx.__exit__(*a)
            for n in names:
                assert n in str(self.info.value), (n, str(self.info.value))
            return r
    return _Check()


# ------------------------------------------------------------- 1. grad_out overlap

def _ctc_overlap_case(which, dtype):
    T, N, C = 2, 3, 3
    x = np.log(np.full((T, N, C), 1 / 3)).astype(dtype)
    buf = np.zeros(T * N * C + N, dtype)
    g = buf[:T * N * C].reshape(T, N, C)
    ints = buf[:(T * N * C) // (8 // buf.itemsize) * (8 // buf.itemsize)].view(np.int64)
    il, tl, tg = np.array([1, 1, 2]), np.ones(N, np.int64), np.ones((N, 1), np.int64)
    shared = ints[-N:]
    if which == "input_lengths":
        shared[:] = il
        il = shared
    elif which == "target_lengths":
        shared[:] = tl
        tl = shared
    else:
        shared[:] = 1
        tg = shared.reshape(N, 1)
    return x, tg, il, tl, g


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("which", ["input_lengths", "target_lengths", "targets"])
def test_ctc_grad_out_overlapping_an_integer_input_is_a_value_error(which, dtype):
    """grad_out sharing memory with any CTC input (lengths, targets) is a ValueError naming it."""
    x, tg, il, tl, g = _ctc_overlap_case(which, dtype)
    with raises(ValueError, "grad_out", which):
        seqloss.ctc_loss_and_grad(x, tg, il, tl, grad_out=g)
    with raises(ValueError, "grad_out", which):  # general path (lists, from_logits)
        seqloss.ctc_loss_and_grad(x, tg, il, tl, grad_out=g, from_logits=True, n_threads=-1)


@pytest.mark.parametrize("nll", [False, True])
def test_softmax_family_grad_out_overlapping_any_input_is_a_value_error(nll):
    """grad_out overlapping targets, probabilities or weight of (nll/cross-entropy) is named."""
    fn = seqloss.nll_loss_and_grad if nll else seqloss.cross_entropy_and_grad
    buf = np.zeros(16)
    g = buf[:6].reshape(2, 3)
    x = np.zeros((2, 3))
    t = buf[4:6].view(np.int64)
    t[:] = 0
    with raises(ValueError, "grad_out", "targets"):
        fn(x, t, grad_out=g)
    w = buf[3:6]
    w[:] = 1.0
    with raises(ValueError, "grad_out", "weight"):
        fn(x, np.zeros(2, np.int64), weight=w, grad_out=g)
    if not nll:
        p = buf[:6].reshape(2, 3)
        with raises(ValueError, "grad_out", "targets"):
            fn(x, p, grad_out=g)


def test_overlap_rule_is_exact_for_interleaved_strided_inputs():
    """A strided input whose extent spans grad_out without sharing a byte is accepted."""
    T, N, C = 1, 2, 2
    buf = np.zeros(64, np.int64)
    g = buf[10:14].view(np.float64).reshape(T, N, C)
    il = buf[::20][:N]  # elements 0 and 20: around grad_out, not in it
    il[:] = 1
    assert np.may_share_memory(g, il) and not np.shares_memory(g, il)
    x = np.log(np.full((T, N, C), 0.5))
    loss, grad = seqloss.ctc_loss_and_grad(x, np.ones((N, 1), np.int64), il, [1, 1],
                                           grad_out=g)
    assert grad is g and np.isfinite(loss)


# ------------------------------------------------------------- 2. lazy sequences

def test_edit_distance_batch_of_lazy_word_lists_holds_its_items():
    """Items built on access stay alive for the call: identical lazy batches have distance 0."""
    h = [["a%d" % (i % 7), "b%d" % (i % 5), "c"] for i in range(50)]
    assert seqloss.edit_distance_batch(Lazy(h), Lazy(h)).sum() == 0
    r = [["a%d" % (i % 3), "c"] for i in range(50)]
    np.testing.assert_array_equal(seqloss.edit_distance_batch(Lazy(h), Lazy(r)),
                                  seqloss.edit_distance_batch(h, r))


def test_lazy_sequences_of_strings_in_every_text_entry_point():
    """edit_distance_batch, error_rates, wer and cer give the same on a lazy sequence as on a list."""
    h = ["hello wor%d" % (i % 4) for i in range(40)]
    r = ["hello word%d" % (i % 3) for i in range(40)]
    np.testing.assert_array_equal(seqloss.edit_distance_batch(Lazy(h), Lazy(r)),
                                  seqloss.edit_distance_batch(h, r))
    assert seqloss.wer(Lazy(h), Lazy(r)) == seqloss.wer(h, r)
    assert seqloss.cer(Lazy(h), Lazy(r)) == seqloss.cer(h, r)
    assert seqloss.error_rates(Lazy(h), Lazy(r)).hits == seqloss.error_rates(h, r).hits


# ------------------------------------------------------------- 3. length sums

@pytest.mark.parametrize("as_list", [False, True])
def test_ctc_target_lengths_summing_past_int64_are_a_value_error(as_list):
    """Target lengths whose sum overflows int64 are a ValueError naming target_lengths."""
    tl = [2**63 - 1, 2**63 - 1, 6]
    with raises(ValueError, "target_lengths"):
        seqloss.ctc_loss(np.zeros((4, 3, 5)), np.ones(4, np.int64), [4, 4, 4],
                         tl if as_list else np.array(tl))


# ------------------------------------------------------------- 4. memory

def test_available_memory_is_known_on_this_machine():
    """The memory helper reports a positive byte count (Linux: MemAvailable + SwapFree)."""
    avail = V.available_memory()
    assert avail is None or (isinstance(avail, int) and avail > 0)


@pytest.mark.parametrize("from_logits", [False, True])
def test_ctc_scratch_beyond_the_machine_is_a_memory_error(monkeypatch, from_logits):
    """A CTC gradient allowed more scratch (max_memory) than the machine can give raises
    MemoryError naming bytes and shape.  (Within the default budget the same item is
    checkpointed instead, and the loss alone keeps O(S) scratch: tests/test_align.py.)"""
    monkeypatch.setattr(V, "available_memory", lambda: 4 << 30)
    T, C, L = 100_000, 32, 20_000
    x = np.zeros((T, 1, C), np.float32)
    with raises(MemoryError, "bytes", "T=100000", "target length 20000"):
        seqloss.ctc_loss_and_grad(x, np.ones((1, L), np.int64), np.array([T]), np.array([L]),
                                  from_logits=from_logits, max_memory=2**40)
    with raises(MemoryError, "bytes"):  # general path
        seqloss.ctc_loss_and_grad(x, [[1] * L], [T], [L], max_memory=2**40)


def test_softmax_gradient_beyond_the_machine_is_a_memory_error(monkeypatch):
    """A cross-entropy gradient (or softmax output) the machine cannot hold is a MemoryError."""
    monkeypatch.setattr(V, "MEMORY_CHECK_BYTES", 1)
    monkeypatch.setattr(V, "available_memory", lambda: 10)
    with raises(MemoryError, "bytes", "(4, 3)"):
        seqloss.cross_entropy_and_grad(np.zeros((4, 3)), np.zeros(4, np.int64))
    with raises(MemoryError, "bytes", "(4, 3)"):
        seqloss.softmax(np.zeros((4, 3)))


def test_error_counts_matrix_over_its_limit_is_a_memory_error():
    """Error counts whose alignment matrix would pass 1 GiB raise MemoryError with bytes and sizes."""
    n = 70_000
    r = "x" + "a" * n + "y" + "a" * n + "z"
    h = "q" + "a" * n + "w" + "a" * n + "e"
    with raises(MemoryError, "bytes", "hypothesis tokens", "reference tokens"):
        seqloss.cer(h, r)


# ------------------------------------------------------------- 5. exception types

def test_ints_beyond_int64_are_value_errors_naming_the_argument():
    """Ints beyond int64 (lengths, targets, blank, ignore_index) are ValueErrors naming the argument."""
    x = np.zeros((4, 2, 3))
    tg = np.ones((2, 1), np.int64)
    with raises(ValueError, "input_lengths"):
        seqloss.ctc_loss(x, tg, 2**64, 1)
    with raises(ValueError, "targets"):
        seqloss.ctc_loss(x, [[2**70], [1]], 4, 1)
    with raises(ValueError, "blank"):  # fast path arguments
        seqloss.ctc_loss(x, tg, np.array([4, 4]), np.array([1, 1]), blank=2**63)
    with raises(ValueError, "ignore_index"):
        seqloss.cross_entropy(np.zeros((2, 3)), np.zeros(2, np.int64), ignore_index=2**64)
    with raises(ValueError, "targets"):
        seqloss.cross_entropy(np.zeros((2, 3)), [2**64, 0])
    with raises(ValueError, "axis"):
        seqloss.softmax(np.zeros((2, 3)), axis=2**64)
    with raises(ValueError, "hyp_lengths"):
        seqloss.edit_distance_batch(np.ones((2, 3), np.int64), np.ones((2, 3), np.int64),
                                    hyp_lengths=[2**64, 1])


@pytest.mark.parametrize("value", [10**400, float("inf"), float("nan"), -1e300])
def test_label_smoothing_beyond_float_range_is_a_value_error(value):
    """label_smoothing like 10**400 is a ValueError naming it (not an OverflowError)."""
    with raises(ValueError, "label_smoothing"):
        seqloss.cross_entropy(np.zeros((2, 3)), np.zeros(2, np.int64), label_smoothing=value)
    with raises(ValueError, "label_smoothing"):
        ST.cross_entropy(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long),
                         label_smoothing=value)


def test_numpy_scalars_and_bools_in_int_arguments():
    """NumPy integer scalars work where an int does; bools and floats are TypeErrors naming it."""
    x = np.zeros((4, 2, 3))
    tg = np.ones((2, 1), np.int64)
    ref = seqloss.ctc_loss(x, tg, 4, 1, blank=0)
    assert seqloss.ctc_loss(x, tg, np.int32(4), np.uint8(1), blank=np.int64(0)) == ref
    with raises(TypeError, "blank"):
        seqloss.ctc_loss(x, tg, 4, 1, blank=True)
    with raises(TypeError, "blank"):
        seqloss.ctc_loss(x, tg, 4, 1, blank=np.float64(0))
    with raises(TypeError, "ignore_index"):
        seqloss.cross_entropy(np.zeros((2, 3)), np.zeros(2, np.int64), ignore_index=False)
    with raises(TypeError, "label_smoothing"):
        seqloss.cross_entropy(np.zeros((2, 3)), np.zeros(2, np.int64), label_smoothing=True)


def test_torch_cross_entropy_weight_must_be_a_tensor():
    """A NumPy weight in the torch drop-in is a TypeError naming weight."""
    with raises(TypeError, "weight"):
        ST.cross_entropy(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long), weight=np.ones(3))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(4, 5), (2, 5, 3), (5,)])
def test_torch_cross_entropy_gradient_wrt_probability_targets(shape, reduction):
    """Probability targets that require grad get torch's gradient (gradcheck in float64)."""
    gen = torch.Generator().manual_seed(0)
    cdim = 0 if len(shape) == 1 else 1
    x = torch.randn(*shape, dtype=torch.float64, generator=gen, requires_grad=True)
    q = torch.softmax(torch.randn(*shape, dtype=torch.float64, generator=gen), cdim)
    q.requires_grad_()
    w = torch.rand(5, dtype=torch.float64, generator=gen) + 0.5
    for weight, ls in ((None, 0.0), (w, 0.2)):
        def f(x, q):
            return ST.cross_entropy(x, q, weight=weight, reduction=reduction, label_smoothing=ls)
        assert torch.autograd.gradcheck(f, (x, q))
        ours = f(x, q)
        theirs = torch.nn.functional.cross_entropy(x, q, weight=weight, reduction=reduction,
                                                   label_smoothing=ls)
        torch.testing.assert_close(ours, theirs)
        for a, b in zip(torch.autograd.grad(ours.sum(), (x, q)),
                        torch.autograd.grad(theirs.sum(), (x, q))):
            torch.testing.assert_close(a, b)
    loss = ST.CrossEntropyLoss(reduction=reduction)(x, q)
    (gq,) = torch.autograd.grad(loss.sum(), q)
    (tq,) = torch.autograd.grad(torch.nn.functional.cross_entropy(x, q, reduction=reduction).sum(),
                                q)
    torch.testing.assert_close(gq, tq)


# ------------------------------------------------------------- 6. lone surrogates

def test_lone_surrogates_compare_by_code_point():
    """Strings with lone surrogates are compared by code point in every text entry point."""
    assert seqloss.edit_distance("\ud800", "é") == 1
    assert seqloss.edit_distance("\ud800é", "\ud800") == 1
    assert seqloss.edit_distance("\udfff" * 3, "\udfff" * 3 + "😀") == 1
    np.testing.assert_array_equal(
        seqloss.edit_distance_batch(["\ud800", "a\udc00b", "x"], ["é", "a\udc00b", "\ud800"]),
        [1, 0, 1])
    assert seqloss.edit_distance_batch([["\ud800", "a"]], [["\ud800", "b"]])[0] == 1
    assert seqloss.wer("\ud800 a", "é a") == 0.5
    assert seqloss.cer("\ud800 a", "é a") == pytest.approx(1 / 3)
    assert seqloss.error_rates(["\ud800"], ["\ud800"]).hits == 1


# ------------------------------------------------------------- 7. near float overflow

HUGE_CODE = """
for dt in (np.float32, np.float64):
    for key, (x, p, ls) in inp.items():
        loss, grad = seqloss.cross_entropy_and_grad(x.astype(dt), p.astype(dt),
                                                    reduction="none", label_smoothing=ls)
        out[key, dt.__name__] = (loss, grad)
"""


def _huge_inputs():
    rng = np.random.default_rng(0)
    inp = {}
    for C in (3, 100, 1000, 5000):
        for pos in (0, C - 1):
            for sign in (1.0, -1.0):
                for ls in (0.0, 0.3):
                    x = rng.standard_normal((3, C))
                    x[1, pos] = sign * 1e36
                    p = rng.random((3, C))
                    p /= p.sum(1, keepdims=True)
                    inp[C, pos, sign, ls] = (x, p, ls)
    return inp


@pytest.mark.parametrize("isa", ["base", "avx2", "avx512"])
def test_probability_targets_next_to_a_huge_logit_match_torch(isa, run_isa):
    """A logit of 1e36 with probability targets gives torch float64's loss and gradient, every ISA."""
    inp = _huge_inputs()
    got = run_isa(isa, HUGE_CODE, inp)
    for key, (x, p, ls) in inp.items():
        xt = torch.tensor(x, requires_grad=True)
        tl = torch.nn.functional.cross_entropy(xt, torch.tensor(p), reduction="none",
                                               label_smoothing=ls)
        tl.sum().backward()
        for dt in ("float32", "float64"):
            loss, grad = got[key, dt]
            xd = x.astype(dt).astype(np.float64)
            if dt == "float32":  # torch on the float32-rounded inputs
                xr = torch.tensor(xd, requires_grad=True)
                tlr = torch.nn.functional.cross_entropy(
                    xr, torch.tensor(p.astype(dt).astype(np.float64)), reduction="none",
                    label_smoothing=ls)
                tlr.sum().backward()
                want_l, want_g = tlr.detach().numpy(), xr.grad.numpy()
            else:
                want_l, want_g = tl.detach().numpy(), xt.grad.numpy()
            assert np.isfinite(loss).all(), (key, dt)
            np.testing.assert_allclose(loss, want_l, rtol=2e-5 if dt == "float32" else 1e-10)
            np.testing.assert_allclose(grad, want_g, atol=1e-5 if dt == "float32" else 1e-10)


def test_longdouble_is_rejected_by_every_float_taking_function():
    """np.longdouble inputs are a TypeError naming the argument and its dtype (never cast silently)."""
    if np.dtype(np.longdouble).itemsize <= 8:
        pytest.skip("longdouble is float64 on this platform")
    ld = np.longdouble
    x2 = np.zeros((2, 3), ld)
    t = np.zeros(2, np.int64)
    dt = str(np.dtype(ld))
    for fn in (seqloss.cross_entropy, seqloss.cross_entropy_and_grad, seqloss.nll_loss,
               seqloss.nll_loss_and_grad):
        with raises(TypeError, dt):
            fn(x2, t)
    with raises(TypeError, "x", dt):
        seqloss.softmax(x2)
    with raises(TypeError, "x", dt):
        seqloss.log_softmax(x2)
    with raises(TypeError, "log_probs", dt):
        seqloss.ctc_loss(np.zeros((4, 2, 3), ld), np.ones((2, 1), np.int64), 4, 1)
    with raises(TypeError, "log_probs", dt):
        seqloss.ctc_loss_and_grad(np.zeros((4, 2, 3), ld), np.ones((2, 1), np.int64), 4, 1)
    with raises(TypeError, "weight", dt):
        seqloss.cross_entropy(np.zeros((2, 3)), t, weight=np.ones(3, ld))
    with raises(TypeError, "targets", dt):
        seqloss.cross_entropy(np.zeros((2, 3)), np.full((2, 3), 1 / 3, ld))


# ------------------------------------------------------------- unaligned buffers

def _unaligned(a):
    """A copy of ``a`` whose data starts one byte past an aligned address."""
    buf = np.zeros(a.nbytes + 1, np.uint8)[1:]
    out = buf.view(a.dtype).reshape(a.shape)
    out[...] = a
    assert not out.flags.aligned
    return out


def test_unaligned_arrays_are_copied_not_read_misaligned():
    """Misaligned (but C-contiguous) inputs give the aligned inputs' results: the kernels
    read typed pointers, so such arrays are copied first (UBSan flagged the reads)."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((6, 2, 5))
    tg = np.array([[1, 2], [3, 3]])
    il, tl = np.array([6, 5]), np.array([2, 2])
    want = seqloss.ctc_loss_and_grad(x, tg, il, tl, from_logits=True)
    got = seqloss.ctc_loss_and_grad(_unaligned(x), _unaligned(tg), _unaligned(il),
                                    _unaligned(tl), from_logits=True)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    logits, y = x.reshape(-1, 5), np.arange(12) % 5
    for f in (seqloss.cross_entropy_and_grad, seqloss.nll_loss_and_grad):
        for a, b in zip(f(_unaligned(logits), _unaligned(y)), f(logits, y)):
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(seqloss.softmax(_unaligned(logits)), seqloss.softmax(logits))
    h, r = rng.integers(0, 4, (3, 9)), rng.integers(0, 4, (3, 7))
    np.testing.assert_array_equal(seqloss.edit_distance_batch(_unaligned(h), _unaligned(r)),
                                  seqloss.edit_distance_batch(h, r))


@pytest.mark.parametrize("family", ["ctc", "cross_entropy", "nll"])
def test_misaligned_grad_out_is_a_value_error(family):
    """A grad_out whose data starts at a misaligned address is refused (it cannot be
    copied first, and the kernels write through typed pointers)."""
    x = np.random.default_rng(4).standard_normal((6, 2, 5))
    g = _unaligned(np.zeros_like(x))
    with pytest.raises(ValueError, match="grad_out to be aligned"):
        if family == "ctc":
            seqloss.ctc_loss_and_grad(x, np.array([[1, 2], [3, 3]]), [6, 5], [2, 2],
                                      from_logits=True, grad_out=g)
        else:
            f = seqloss.cross_entropy_and_grad if family == "cross_entropy" \
                else seqloss.nll_loss_and_grad
            f(x.reshape(-1, 5), np.arange(12) % 5, grad_out=g.reshape(-1, 5))
