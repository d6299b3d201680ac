"""Malformed arguments to every public function: a ValueError / TypeError or a correct result.

The cases and the oracle live in tests/fuzz_cases.py (shared with tools/fuzz.py, the
long run).  Here: a bounded hypothesis run over every function x mutator, and one
regression test per defect the fuzzer has found.  Calls that can crash the
interpreter run in a subprocess.
"""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

import fuzz_cases as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

@settings(max_examples=400, deadline=None, derandomize=False,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.data_too_large])
@given(hs.data())
def test_malformed_arguments(data):
    """Every function under every mutator: ValueError/TypeError or a correct result,
    inputs untouched."""
    d = F.HypothesisDraw(data)
    name = d.choice(sorted(F.FUNCTIONS))
    fam = F.FUNCTIONS[name].family
    mutators = sorted(m for m, (fams, _) in F.MUTATORS.items() if fam in fams)
    case = F.make_case(name, d, d.choice(mutators))
    if case is None:
        return
    with np.errstate(all="ignore"):
        o = F.execute(case)
    if not o.ok:
        raise AssertionError("%s: %s\n\n%s" % (o.kind, o.detail, case.reproducer()))


def test_every_public_function_has_a_table_entry():
    """A new public function must be added to fuzz_cases.FUNCTIONS."""
    import seqloss
    skip = {"get_num_threads", "openmp_enabled", "simd_level", "release_memory", "ErrorRates",
            "CTCHypotheses", "Hypothesis", "WordSpan", "TokenSpan", "TokenSpans",
            "AlignedWord", "WordSpans", "Alignments", "AlignmentChunk", "ErrorCounts",
            "Report"}
    assert set(seqloss.__all__) - skip <= set(F.FUNCTIONS)
    if F.st is not None:
        import seqloss.torch as st
        assert {"torch." + n for n in st.__all__} <= set(F.FUNCTIONS)


# ------------------------------------------------------------------ regression cases

def _run(code, timeout=60):
    """Run ``code`` in a fresh interpreter on this tree; -> (returncode, stdout + stderr)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, HERE]))
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                       text=True, timeout=timeout, env=env, cwd=ROOT)
    return r.returncode, r.stdout + r.stderr


# Memory-unsafe defects run in a subprocess (a crash fails the test, not the suite);
# the subprocess imports only NumPy and seqloss, so it starts fast.

def test_ctc_grad_out_over_integer_inputs():
    """grad_out sharing memory with an integer input of ctc_loss_and_grad (lengths or
    targets, one or all) is a ValueError and leaves the input intact (was: a crash or
    corrupted lengths)."""
    rc, out = _run("""
    import numpy as np, seqloss
    T, N, C = 6, 2, 4
    x = np.sin(np.arange(T * N * C)).reshape(T, N, C)
    for names in (["input_lengths"], ["target_lengths"], ["targets"],
                  ["input_lengths", "target_lengths", "targets"]):
        buf = np.zeros(T * N * C, np.int64)
        args = dict(targets=np.array([[1, 2], [3, 1]]), input_lengths=np.array([6, 5]),
                    target_lengths=np.array([2, 2]))
        o = 0
        for n in names:
            a = args[n]
            args[n] = buf[o:o + a.size].reshape(a.shape)
            args[n][...] = a
            o += a.size
        before = {n: args[n].copy() for n in names}
        try:
            seqloss.ctc_loss_and_grad(x, grad_out=buf.view(np.float64).reshape(T, N, C),
                                      **args)
            print("ACCEPTED", names)
        except ValueError:
            pass
        for n in names:
            if not np.array_equal(args[n], before[n]):
                print("MODIFIED", n)
    print("END")
    """)
    assert rc == 0 and "END" in out and "ACCEPTED" not in out and "MODIFIED" not in out, out


def test_ctc_target_lengths_wrapping_sum():
    """Target lengths whose int64 sum wraps around are a ValueError naming
    target_lengths (was: reads past the targets)."""
    rc, out = _run("""
    import numpy as np, seqloss
    try:
        seqloss.ctc_loss(np.zeros((4, 3, 5)), np.ones(4, np.int64), [4, 4, 4],
                         np.array([2**63 - 1, 2**63 - 1, 6]))
    except ValueError as e:
        print("RAISED", e)
    """)
    assert rc == 0 and "RAISED" in out and "target_lengths" in out, out


@pytest.mark.parametrize("row", [[0, 1e7, 0], [0, 1e5, 0], [50, 1e6, -1e6]])
def test_ctc_from_logits_huge_logits(row):
    """CTC from huge float32 logits: a certain alignment's loss is 0, never negative."""
    import seqloss
    x = np.array(row, np.float32).reshape(1, 1, 3)
    loss = seqloss.ctc_loss(x, np.array([[1]]), [1], [1], from_logits=True)
    assert abs(float(loss)) <= 1e-6


def test_ctc_from_logits_huge_finite_loss_float64():
    """float64 logits of 1e36 and 3e38: never a negative loss; a path needing a class
    3e38 below its row's max counts as impossible (the documented -6.9e29 bound)."""
    import seqloss
    x = np.array([[[2.59, 1e36]], [[-2.22, 3e38]]])
    losses = seqloss.ctc_loss(x, np.array([[1], [1]]), [1, 1], [1, 0], reduction="none",
                              from_logits=True, batch_first=True)
    np.testing.assert_allclose(losses[0], 0.0, atol=1e-12)
    assert losses[1] == np.inf


@pytest.mark.parametrize("call", [
    "seqloss.ctc_loss(x, tg, 2**64, 2)",
    "seqloss.ctc_loss(x, tg, 3, 2, blank=2**63)",
    "seqloss.ctc_loss(x, tg, 3, 2**64)",
])
def test_ints_beyond_int64_ctc_lengths(call):
    """Integers beyond int64 in CTC lengths and blank are ValueErrors."""
    import seqloss  # noqa: F401
    x = np.zeros((3, 2, 4), np.float32)  # noqa: F841
    tg = np.ones((2, 2), np.int64)  # noqa: F841
    with pytest.raises(ValueError):
        eval(call)


_X3 = "np.array([[[-1.48, 2.59], [-1.48, 0.0], [2.96, -1.85]]])"
_T3 = "np.array([[1], [1], [1]]), np.array([1, 1, 1]), np.array([1, 1, 1])"


@pytest.mark.parametrize("call", [
    "seqloss.ctc_loss(%s, %s, blank=2**64)" % (_X3, _T3),
    "seqloss.ctc_loss_and_grad(%s, %s, blank=2**64)" % (_X3, _T3),
    "seqloss.cross_entropy(np.zeros((2, 3)), np.zeros(2, np.int64), label_smoothing=10**400)",
    "st.cross_entropy(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long), weight=np.ones(3))",
    "st.nll_loss(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long), weight={})",
])
def test_wrong_exception_types(call):
    """Bad values are ValueError / TypeError, never OverflowError or AttributeError
    (probability targets that require grad are supported: tests/test_hardening.py)."""
    import seqloss  # noqa: F401
    if call.startswith("st."):
        if F.st is None:
            pytest.skip("needs torch")
        torch, st = F.torch, F.st  # noqa: F841
    with pytest.raises((ValueError, TypeError)):
        eval(call)


@pytest.mark.parametrize("a,b", [("\ud800", "é"), ("a\ud83d", "a")])
def test_lone_surrogates(a, b):
    """Strings with lone surrogates: a ValueError/TypeError or the code-point distance."""
    import seqloss
    try:
        d = seqloss.edit_distance(a, b)
    except UnicodeError:
        raise
    except (ValueError, TypeError):
        return
    assert d == F.R.levenshtein_dp(list(a), list(b))


@pytest.mark.parametrize("fn", ["softmax", "log_softmax", "cross_entropy", "nll_loss",
                                "ctc_loss"])
def test_longdouble_rejected_or_computed_in_float64(fn):
    """longdouble inputs are a TypeError naming the argument and the dtype (never
    silently computed in float32)."""
    import seqloss
    x = np.array([[0.1, 0.37, -1.11]], np.longdouble)
    with pytest.raises(TypeError, match="longdouble|float128|float96"):
        if fn == "ctc_loss":
            seqloss.ctc_loss(x[:, None], np.array([[1]]), [1], [1], from_logits=True)
        elif fn in ("cross_entropy", "nll_loss"):
            getattr(seqloss, fn)(x, np.array([1]))
        else:
            getattr(seqloss, fn)(x)


@pytest.mark.parametrize("logits,probs", [([3e38, -3e38, 0.0], [0.5, 0.5, 0.0]),
                                          ([3e38, -2.59, 1e36], [0.75, 0.25, 0.75])])
def test_probability_targets_near_float32_overflow(logits, probs):
    """Probability-target cross-entropy near float32 overflow is finite or inf, not NaN
    or -inf, and close to the float64 value when that fits float32."""
    import seqloss
    x = np.array([logits], np.float32)
    p = np.array([probs], np.float32)
    got = float(seqloss.cross_entropy(x, p))
    want = F.R.cross_entropy(x, p)
    assert not np.isnan(got) and got > 0
    if want < 3.4e38:
        assert abs(got - want) <= 1e-5 * want


@pytest.mark.parametrize("fn", ["softmax", "log_softmax", "cross_entropy", "nll_loss",
                                "cross_entropy_and_grad", "nll_loss_and_grad"])
def test_unpickled_float64_arrays(fn):
    """An unpickled float64 array (an equal dtype that is not NumPy's own object) gives
    the same result as the original."""
    import pickle
    import seqloss
    x = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]])
    xp = pickle.loads(pickle.dumps(x))
    f = getattr(seqloss, fn)
    args = () if fn in ("softmax", "log_softmax") else (np.array([0, 2]),)
    got, want = f(xp, *args), f(x, *args)
    for g, w in zip(got if isinstance(got, tuple) else (got,),
                    want if isinstance(want, tuple) else (want,)):
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("arg", ["input_lengths", "target_lengths"])
def test_bool_in_lengths_list_rejected(arg):
    """A bool among the ints of a lengths list is a TypeError, like a bool scalar."""
    import seqloss
    args = dict(log_probs=np.zeros((3, 2, 4)), targets=np.ones((2, 2), np.int64),
                input_lengths=[3, 3], target_lengths=[2, 2])
    args[arg] = [True, 2] if arg == "target_lengths" else [True, 3]
    with pytest.raises(TypeError):
        seqloss.ctc_loss(**args)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_ctc_huge_negative_log_probs_follow_the_documented_bound(dtype):
    """A log-probability below -6.9e29 counts as log 0 (the documented bound, as for
    -inf): the loss is inf (0 under zero_infinity), never a wrong finite number; -1e29
    is still a number."""
    import seqloss
    x = np.array([[[-1e30]]], dtype)
    empty = np.zeros((1, 0), np.int64)
    assert seqloss.ctc_loss(x, empty, [1], [0]) == np.inf
    assert seqloss.ctc_loss(x, empty, [1], [0], zero_infinity=True) == 0
    np.testing.assert_allclose(seqloss.ctc_loss(x / 10, empty, [1], [0]), 1e29, rtol=1e-6)


def test_label_smoothing_near_float32_overflow():
    """Index targets with label smoothing near float32 overflow: the float64 value when it
    fits float32, not inf."""
    import seqloss
    x = np.array([[3e38, 2.96, -1.48, 65504.0]], np.float32)
    got = float(seqloss.cross_entropy(x, np.array([1]), label_smoothing=0.25))
    want = F.R.cross_entropy(x, np.array([1]), label_smoothing=0.25)
    assert abs(got - want) <= 1e-5 * want
