"""One wording and one exception type per kind of mistake, for every public function.

Every check lives in seqloss/_validate.py; these tests call each public
function with the same mistake and assert the same exception type and message.
"""
import numpy as np
import pytest

import seqloss
from seqloss import _validate as V

BIG = 2**63 + 5  # a uint64 value that does not fit int64


def _ctc_args():
    rng = np.random.default_rng(0)
    return dict(log_probs=rng.standard_normal((8, 2, 5)), targets=np.array([[1, 2], [3, 4]]),
                input_lengths=np.array([8, 8]), target_lengths=np.array([2, 2]))


X = np.random.default_rng(1).standard_normal((4, 6)).astype(np.float32)
Y = np.array([0, 1, 5, 2])


# (name, call(**extra)) for every public function that takes n_threads
THREADED = [
    ("ctc_loss", lambda **kw: seqloss.ctc_loss(**_ctc_args(), **kw)),
    ("ctc_loss_and_grad", lambda **kw: seqloss.ctc_loss_and_grad(**_ctc_args(), **kw)),
    ("cross_entropy", lambda **kw: seqloss.cross_entropy(X, Y, **kw)),
    ("cross_entropy_and_grad", lambda **kw: seqloss.cross_entropy_and_grad(X, Y, **kw)),
    ("nll_loss", lambda **kw: seqloss.nll_loss(X, Y, **kw)),
    ("nll_loss_and_grad", lambda **kw: seqloss.nll_loss_and_grad(X, Y, **kw)),
    ("log_softmax", lambda **kw: seqloss.log_softmax(X, **kw)),
    ("softmax", lambda **kw: seqloss.softmax(X, **kw)),
    ("edit_distance_batch", lambda **kw: seqloss.edit_distance_batch(["ab"], ["b"], **kw)),
    ("error_rates", lambda **kw: seqloss.error_rates(["a b"], ["b"], **kw)),
    ("wer", lambda **kw: seqloss.wer(["a b"], ["b"], **kw)),
    ("cer", lambda **kw: seqloss.cer(["a b"], ["b"], **kw)),
]

REDUCED = [f for f in THREADED if f[0].startswith(("ctc", "cross", "nll"))]

WITH_GRAD_OUT = {
    "ctc_loss_and_grad": (lambda g: seqloss.ctc_loss_and_grad(**_ctc_args(), grad_out=g),
                          (8, 2, 5), np.float64, "log_probs"),
    "cross_entropy_and_grad": (lambda g: seqloss.cross_entropy_and_grad(X, Y, grad_out=g),
                               (4, 6), np.float32, "logits"),
    "nll_loss_and_grad": (lambda g: seqloss.nll_loss_and_grad(X, Y, grad_out=g),
                          (4, 6), np.float32, "log_probs"),
}


class _MetaDevice:
    type = "meta"

    def __str__(self):
        return "meta"


class FakeMetaTensor:
    """Looks like a tensor on the meta device; reading it is a test failure."""
    device = _MetaDevice()
    shape = (8, 2, 5)

    def __array__(self, dtype=None, copy=None):
        raise AssertionError("a non-CPU tensor must not be read")


@pytest.mark.parametrize("name,call", THREADED, ids=[t[0] for t in THREADED])
@pytest.mark.parametrize("value,exc,msg", [
    (True, TypeError, r"^Expected n_threads to be an int or None, but got True$"),
    (1.5, TypeError, r"^Expected n_threads to be an int or None, but got 1\.5$"),
    (0, ValueError, r"^Expected n_threads to be a non-zero int or None, but got 0$"),
    (2000, ValueError, r"^Expected n_threads to be at most 1024, but got 2000$"),
])
def test_n_threads_rejected_alike(name, call, value, exc, msg):
    """n_threads True / 1.5 / 0 / 2000 raise the same type and message everywhere."""
    if value == 2000 and seqloss.get_num_threads() >= 2000:
        pytest.skip("this machine allows 2000 threads")
    with pytest.raises(exc, match=msg):
        call(n_threads=value)


@pytest.mark.parametrize("name,call", REDUCED, ids=[t[0] for t in REDUCED])
@pytest.mark.parametrize("value", ["avg", None, 1, True])
def test_bad_reduction_rejected_alike(name, call, value):
    """An unknown reduction is one ValueError wording in every loss."""
    with pytest.raises(ValueError, match=r"^Expected reduction to be one of 'none', 'mean' or "
                                         r"'sum', but got %s$" % repr(value)):
        call(reduction=value)


@pytest.mark.parametrize("call,arg", [
    (lambda v: seqloss.ctc_loss(**_ctc_args(), blank=v), "blank"),
    (lambda v: seqloss.ctc_loss_and_grad(**_ctc_args(), blank=v), "blank"),
    (lambda v: seqloss.cross_entropy(X, Y, ignore_index=v), "ignore_index"),
    (lambda v: seqloss.cross_entropy_and_grad(X, Y, ignore_index=v), "ignore_index"),
    (lambda v: seqloss.nll_loss(X, Y, ignore_index=v), "ignore_index"),
    (lambda v: seqloss.nll_loss_and_grad(X, Y, ignore_index=v), "ignore_index"),
    (lambda v: seqloss.log_softmax(X, axis=v), "axis"),
    (lambda v: seqloss.softmax(X, axis=v), "axis"),
])
@pytest.mark.parametrize("value", [True, np.bool_(False), 1.0])
def test_bool_or_float_as_int_rejected_alike(call, arg, value):
    """A bool (or float) where an int is expected is a TypeError naming the argument."""
    with pytest.raises(TypeError, match=r"^Expected %s to be an int, but got %r$"
                                        % (arg, value)):
        call(value)


@pytest.mark.parametrize("call", [
    lambda: seqloss.ctc_loss(**dict(_ctc_args(), input_lengths=[True, True])),
    lambda: seqloss.ctc_loss_and_grad(**dict(_ctc_args(), target_lengths=np.array([1, 1], bool))),
    lambda: seqloss.edit_distance_batch(np.zeros((2, 3), np.int64), np.zeros((2, 3), np.int64),
                                        hyp_lengths=np.array([True, False])),
])
def test_bool_lengths_rejected_alike(call):
    """Bool length arrays are a TypeError with the integer-dtype wording."""
    with pytest.raises(TypeError, match=r"lengths to have an integer dtype, but got dtype bool$"):
        call()


@pytest.mark.parametrize("name", sorted(WITH_GRAD_OUT))
def test_grad_out_mistakes_alike(name):
    """grad_out: dtype -> TypeError, shape / layout / read-only -> ValueError, one wording."""
    call, shape, dtype, of = WITH_GRAD_OUT[name]
    other = np.float32 if dtype == np.float64 else np.float64
    with pytest.raises(TypeError, match=r"^Expected grad_out to be a numpy.ndarray, but got list$"):
        call([0.0])
    with pytest.raises(TypeError, match=r"^Expected grad_out to have dtype %s \(the %s' dtype\), "
                                        r"but got dtype %s$"
                                        % (np.dtype(dtype), of, np.dtype(other))):
        call(np.empty(shape, other))
    bad_shape = shape[:-1] + (shape[-1] + 1,)
    with pytest.raises(ValueError, match=r"^Expected grad_out to have the %s' shape %s, but got "
                                         r"shape %s$" % (of, _re(shape), _re(bad_shape))):
        call(np.empty(bad_shape, dtype))
    with pytest.raises(ValueError, match=r"^Expected grad_out to be C-contiguous$"):
        call(np.empty(shape[::-1], dtype).T)
    ro = np.empty(shape, dtype)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match=r"^Expected grad_out to be writeable$"):
        call(ro)


def _re(shape):
    return str(tuple(shape)).replace("(", r"\(").replace(")", r"\)")


def _overlap_cases():
    """(call, input name) where grad_out shares memory with that input."""
    cases = []
    a = _ctc_args()
    cases.append((lambda g=a["log_probs"]: seqloss.ctc_loss_and_grad(**dict(a, log_probs=g),
                                                                      grad_out=g), "log_probs"))
    buf = np.ones(8 * 2 * 5, np.int64)  # targets live in grad_out's memory
    cases.append((lambda: seqloss.ctc_loss_and_grad(
        **dict(_ctc_args(), targets=buf[:4].reshape(2, 2)),
        grad_out=buf.view(np.float64).reshape(8, 2, 5)), "targets"))
    il = np.full(8 * 2 * 5, 8, np.int64)
    cases.append((lambda: seqloss.ctc_loss_and_grad(
        **dict(_ctc_args(), input_lengths=il[:2]),
        grad_out=il.view(np.float64).reshape(8, 2, 5)), "input_lengths"))
    cases.append((lambda: seqloss.cross_entropy_and_grad(X, Y, grad_out=X), "logits"))
    g = np.ones((4, 6), np.float32)
    cases.append((lambda: seqloss.cross_entropy_and_grad(X, Y, weight=g[1], grad_out=g),
                  "weight"))
    t = np.zeros(4 * 6 * 2, np.int64)  # float32 (4, 6) grad_out over int64 targets
    cases.append((lambda: seqloss.nll_loss_and_grad(X, t[:4], grad_out=t.view(np.float32)[:24]
                                                    .reshape(4, 6)), "targets"))
    x16 = X.astype(np.float16)
    cases.append((lambda: seqloss.cross_entropy_and_grad(x16, Y, grad_out=x16), "logits"))
    return cases


@pytest.mark.parametrize("call,what", _overlap_cases())
def test_grad_out_overlapping_any_input_rejected(call, what):
    """A grad_out sharing memory with any input (not only the main one) is one ValueError."""
    with pytest.raises(ValueError, match=r"^Expected grad_out not to overlap the inputs, but it "
                                         r"overlaps %s$" % what):
        call()


@pytest.mark.parametrize("call,arg", [
    (lambda t: seqloss.ctc_loss(**dict(_ctc_args(), targets=t)), "targets"),
    (lambda t: seqloss.ctc_loss_and_grad(**dict(_ctc_args(), targets=t)), "targets"),
    (lambda t: seqloss.ctc_loss(**dict(_ctc_args(), input_lengths=t[0])), "input_lengths"),
    (lambda t: seqloss.cross_entropy(X[:2], t[0]), "targets"),
    (lambda t: seqloss.cross_entropy_and_grad(X[:2], t[0]), "targets"),
    (lambda t: seqloss.nll_loss(X[:2], t[0]), "targets"),
    (lambda t: seqloss.nll_loss_and_grad(X[:2], t[0]), "targets"),
    (lambda t: seqloss.edit_distance_batch(t, t, hyp_lengths=t[0]), "hyp_lengths"),
])
def test_uint64_over_int64_rejected_alike(call, arg):
    """A uint64 value >= 2**63 where an int64 is needed is one ValueError wording."""
    t = np.array([[1, BIG], [3, 4]], np.uint64)
    with pytest.raises(ValueError, match=r"^Expected %s to fit in int64, but got value %d$"
                                         % (arg, BIG)):
        call(t)


def test_uint64_tokens_are_values_not_errors():
    """Edit-distance tokens compare by value, so uint64 >= 2**63 is valid there."""
    t = np.array([[1, BIG]], np.uint64)
    assert seqloss.edit_distance_batch(t, t).tolist() == [0]


@pytest.mark.parametrize("call,arg", [
    (lambda m: seqloss.ctc_loss(**dict(_ctc_args(), log_probs=m)), "log_probs"),
    (lambda m: seqloss.ctc_loss_and_grad(**dict(_ctc_args(), targets=m)), "targets"),
    (lambda m: seqloss.ctc_loss(**dict(_ctc_args(), target_lengths=m)), "target_lengths"),
    (lambda m: seqloss.cross_entropy(m, Y), "logits"),
    (lambda m: seqloss.cross_entropy_and_grad(X, m), "targets"),
    (lambda m: seqloss.nll_loss(m, Y), "log_probs"),
    (lambda m: seqloss.nll_loss_and_grad(X, m), "targets"),
    (lambda m: seqloss.log_softmax(m), "x"),
    (lambda m: seqloss.softmax(m), "x"),
    (lambda m: seqloss.edit_distance(m, [1]), "a"),
    (lambda m: seqloss.edit_distance_batch(m, np.zeros((1, 2), np.int64)), "hypotheses"),
    (lambda m: seqloss.error_rates(["a"], m), "references"),
    (lambda m: seqloss.wer(m, ["a"]), "hypotheses"),
    (lambda m: seqloss.cer(m, ["a"]), "hypotheses"),
])
def test_non_cpu_tensor_rejected_alike(call, arg):
    """A tensor on a non-CPU device is one ValueError wording, raised before reading it."""
    with pytest.raises(ValueError, match=r"^seqloss is a CPU library: expected %s on the CPU, "
                                         r"but got a tensor on meta$" % arg):
        call(FakeMetaTensor())


def test_torch_dropins_share_the_wordings():
    """The torch drop-ins raise the same device, reduction and n_threads errors."""
    torch = pytest.importorskip("torch")
    import seqloss.torch as st
    x = torch.randn(8, 2, 5).log_softmax(-1)
    tg = torch.tensor([[1, 2], [3, 4]])
    il = torch.tensor([8, 8])
    tl = torch.tensor([2, 2])
    xm = torch.empty(4, 6, device="meta")
    msg = r"^seqloss is a CPU library: expected %s on the CPU, but got a tensor on meta$"
    with pytest.raises(ValueError, match=msg % "log_probs"):
        st.ctc_loss(x.to("meta"), tg, il, tl)
    with pytest.raises(ValueError, match=msg % "targets"):
        st.ctc_loss(x, tg.to("meta"), il, tl)
    for fn in (st.cross_entropy, st.nll_loss):
        with pytest.raises(ValueError, match=msg % "input"):
            fn(xm, torch.tensor([0, 1, 2, 3]))
        with pytest.raises(ValueError, match=msg % "target"):
            fn(torch.from_numpy(X), torch.tensor([0, 1, 2, 3], device="meta"))
        with pytest.raises(ValueError, match=r"^Expected reduction to be one of"):
            fn(torch.from_numpy(X), torch.from_numpy(Y), reduction="avg")
        with pytest.raises(TypeError, match=r"^Expected n_threads to be an int or None, but got "
                                            r"True$"):
            fn(torch.from_numpy(X), torch.from_numpy(Y), n_threads=True)
    with pytest.raises(ValueError, match=r"^Expected reduction to be one of"):
        st.ctc_loss(x, tg, il, tl, reduction="avg")
    with pytest.raises(TypeError, match=r"^Expected blank to be an int, but got True$"):
        st.ctc_loss(x, tg, il, tl, blank=True)


def test_fast_and_general_ctc_paths_phrase_item_errors_alike():
    """The Cython fast path and the general path raise the identical item error."""
    a = _ctc_args()
    a["targets"] = np.array([[1, 7], [3, 4]])
    msg = r"^Expected targets to have values in \[0, 5\), but got value 7 at item 0, position 1$"
    with pytest.raises(ValueError, match=msg):  # int64 ndarrays: the fast path
        seqloss.ctc_loss(**a)
    with pytest.raises(ValueError, match=msg):  # lists: the general path
        seqloss.ctc_loss(**{k: v.tolist() if k != "log_probs" else v for k, v in a.items()})


def test_limits_have_one_source():
    """The Cython fast path reads MAX_THREADS / MAX_CLASSES / REDUCTIONS from _validate."""
    from seqloss import _ctc
    assert V.MAX_THREADS == 1024 and V.MAX_CLASSES == 2**31 - 1
    assert V.REDUCTIONS == {"none": 0, "mean": 1, "sum": 2}
    assert _ctc.MAX_THREADS is V.MAX_THREADS and _ctc.REDUCTIONS is V.REDUCTIONS
