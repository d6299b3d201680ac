"""CTC forced alignment, token and word spans, and the CTC loss in bounded memory.

References: tests/reference.py's textbook full-table Viterbi and the step-for-step
transcription of torchaudio's windowed loop (torchaudio 2.9's tie rules), saved
torchaudio outputs (tests/data/forced_align_torchaudio.npz, made by
tests/data/make_forced_align_fixtures.py in an environment with torchaudio), live
torchaudio where it imports, torchaudio's merge_tokens, and the float64 CTC loss.
"""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import seqloss
from seqloss import _align
from seqloss.ctc import _run as ctc_run

import reference as R
from strategies import ctc_cases, ctc_repeats, float_arrays, make_ctc_case

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "data", "forced_align_torchaudio.npz")
# the build under test uses the portable SIMD fallback (CI's generic-SIMD job)
GENERIC_SIMD = os.environ.get("SEQLOSS_GENERIC_SIMD", "0") not in ("", "0")


def _alignable(case):
    """The case with every input length raised to at least L + repeats."""
    x, tg, il, tl, blank = case["x"], case["targets"], case["il"], case["tl"], case["blank"]
    il = il.copy()
    T = x.shape[0]
    keep = []
    for n in range(len(il)):
        need = int(tl[n]) + ctc_repeats(tg[n, : tl[n]].tolist())
        if need > T:
            continue
        il[n] = max(il[n], need)
        keep.append(n)
    if not keep:
        return None
    keep = np.array(keep)
    return dict(x=np.ascontiguousarray(x[:, keep]), targets=tg[keep], il=il[keep], tl=tl[keep],
                blank=blank)


@st.composite
def align_cases(draw):
    """Alignable batches with many exact ties (values on a 0.5 grid), -inf entries,
    ragged lengths, repeats, empty targets, blank at 0, middle or C - 1."""
    case = draw(ctc_cases(max_T=20, max_N=4, max_C=7, max_L=8).filter(
        lambda c: c["x"].shape[2] >= 2))
    case = _alignable(case)
    if case is None:
        case = make_ctc_case([[1]], [2], 2, 2)
    x = np.round(case["x"] * 2) / 2
    if draw(st.booleans()):
        mask = draw(float_arrays(x.shape, bound=1.0)) > 0.8
        x = np.where(mask, -np.inf, x)
    case["x"] = x.astype(draw(st.sampled_from([np.float32, np.float64])))
    return case


def _check_against_references(case, paths, scores):
    x, tg, il, tl, blank = case["x"], case["targets"], case["il"], case["tl"], case["blank"]
    T = x.shape[0]
    for n in range(len(il)):
        L, Tn = int(tl[n]), int(il[n])
        xn = x[:Tn, n]
        if Tn == 0:  # no frames (and an empty target): nothing but padding
            assert (paths[n] == -1).all() and np.isnan(scores[n]).all()
            continue
        want = R.ctc_forced_align_windowed(xn, tg[n, :L], blank)
        assert paths[n, :Tn].tolist() == want.tolist(), n
        tb = R.ctc_forced_align_textbook(xn, tg[n, :L], blank)
        if tb is not None:  # a finite best path: the textbook Viterbi agrees
            assert tb.tolist() == want.tolist(), n
        assert (paths[n, Tn:] == -1).all()
        np.testing.assert_array_equal(scores[n, :Tn], xn[np.arange(Tn), paths[n, :Tn]])
        assert np.isnan(scores[n, Tn:]).all()
    assert paths.shape == (len(il), T) and scores.dtype == x.dtype


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(align_cases())
@example(make_ctc_case([[1, 1, 2]], [4], 3, 4))          # T == L + repeats
@example(make_ctc_case([[]], [3], 3, 3))                  # empty target: all blank
@example(make_ctc_case([[1, 2], [2]], [2, 1], 3, 5, blank=0))
@example(make_ctc_case([[0, 0, 1]], [6], 3, 6, blank=2))  # blank = C - 1
def test_matches_references(case):
    """Every item's path equals torchaudio's loop (and the textbook Viterbi when the
    best score is finite), in one pass, checkpointed, and on any thread count."""
    args = (case["x"], case["targets"], case["il"], case["tl"])
    paths, scores = seqloss.ctc_forced_align(*args, blank=case["blank"])
    _check_against_references(case, paths, scores)
    for kw in (dict(max_memory=0), dict(n_threads=1), dict(n_threads=2, max_memory=300)):
        p2, s2 = seqloss.ctc_forced_align(*args, blank=case["blank"], **kw)
        np.testing.assert_array_equal(p2, paths)
        np.testing.assert_array_equal(s2, scores)


def test_torchaudio_saved_outputs():
    """Parity with torchaudio 2.9.1's forced_align on saved cases (ties, T == L + repeats,
    blank positions, -inf and NaN entries, unnormalised values)."""
    data = np.load(FIXTURES)
    n = int(data["n_cases"])
    assert n >= 100
    for i in range(n):
        x, tg, blank = data["x%d" % i], data["targets%d" % i], int(data["blank%d" % i])
        p, s = seqloss.ctc_forced_align(x, tg, blank=blank)
        assert p.tolist() == data["paths%d" % i].tolist(), i
        np.testing.assert_array_equal(s, data["scores%d" % i])
        p2, _ = seqloss.ctc_forced_align(x, tg, blank=blank, max_memory=0)
        assert p2.tolist() == p.tolist()


def test_torchaudio_live():
    """Parity with the installed torchaudio on random tie-heavy inputs."""
    torch = pytest.importorskip("torch")
    try:
        import torchaudio.functional as TAF
    except Exception as e:  # not installed, or does not load beside this torch
        pytest.skip("torchaudio unavailable: %s" % e)
    import warnings
    rng = np.random.default_rng(5)
    for _ in range(200):
        C = int(rng.integers(2, 8))
        blank = int(rng.choice([0, C // 2, C - 1]))
        syms = [c for c in range(C) if c != blank]
        L = int(rng.integers(1, 8))
        tg = rng.choice(syms[: int(rng.integers(1, len(syms) + 1))], L)
        T = L + ctc_repeats(tg.tolist()) + int(rng.integers(0, 6))
        x = (rng.integers(-4, 1, (T, C)) / 2).astype(np.float32)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tp, ts = TAF.forced_align(torch.from_numpy(x)[None], torch.from_numpy(tg)[None],
                                      blank=blank)
        p, s = seqloss.ctc_forced_align(x, tg, blank=blank)
        assert p.tolist() == tp[0].tolist()
        np.testing.assert_array_equal(s, ts[0].numpy())


def test_tie_rule_is_torchaudio_29():
    """On x1 == x2 > x0 the state stays (torchaudio 2.9), not the better move."""
    N = -1e9
    lp = np.array([[-2.0, -1.0, N], [-1.0, -1.0, -2.0], [-5.0, N, -1.0]])
    p, s = seqloss.ctc_forced_align(lp, [1, 2])
    assert p.tolist() == [1, 2, 2]
    # the last frame: the final label wins a tie with the trailing blank
    p, _ = seqloss.ctc_forced_align(np.array([[-2.0, -1.0], [-1.0, -1.0]]), [1])
    assert p.tolist() == [1, 1]


@pytest.mark.parametrize("seg", [1, 2, 3, 7, 64])
def test_checkpointed_segments_identical(seg):
    """Any segment length (the kernel's checkpoint split) gives the one-pass result."""
    rng = np.random.default_rng(seg)
    T, N, C, L = 300, 3, 12, 60
    x = (rng.integers(-6, 1, (T, N, C)) / 2).astype(np.float32)
    tg = rng.integers(1, 4, (N, L))  # few symbols: many repeats
    il = np.array([300, 250, 140], dtype=np.int64)
    tl = np.array([60, 45, 60], dtype=np.int64)
    want_p, want_s = seqloss.ctc_forced_align(x, tg, il, tl, max_memory=2**40)
    offsets = np.arange(N, dtype=np.int64) * L
    p = np.empty((N, T), np.int64)
    s = np.empty((N, T), np.float32)
    peak = _align.run(x.reshape(-1), T, N, C, N * C, C, tg.reshape(-1).astype(np.int64),
                      offsets, il, tl, 0, -1, 2**40, 2, p.reshape(-1), s.reshape(-1), seg)
    np.testing.assert_array_equal(p, want_p)
    np.testing.assert_array_equal(s, want_s)
    assert peak > 0


def test_layouts_and_dtypes():
    """batch_first, concatenated targets, unbatched (T, C), float16 (computed in float32,
    returned as float16), default lengths."""
    rng = np.random.default_rng(2)
    T, N, C = 30, 3, 6
    x = np.log(rng.dirichlet(np.ones(C), (T, N))).astype(np.float32)
    tg = rng.integers(1, C, (N, 5))
    p, s = seqloss.ctc_forced_align(x, tg)
    p2, s2 = seqloss.ctc_forced_align(np.ascontiguousarray(x.transpose(1, 0, 2)), tg,
                                      batch_first=True)
    np.testing.assert_array_equal(p, p2)
    np.testing.assert_array_equal(s, s2)
    p3, _ = seqloss.ctc_forced_align(x, tg.reshape(-1), [T] * N, [5] * N)
    np.testing.assert_array_equal(p, p3)
    pu, su = seqloss.ctc_forced_align(x[:, 1], tg[1])
    assert pu.shape == (T,) and su.shape == (T,)
    np.testing.assert_array_equal(pu, p[1])
    ph, sh = seqloss.ctc_forced_align(x.astype(np.float16), tg)
    assert sh.dtype == np.float16 and ph.dtype == np.int64
    pf, _ = seqloss.ctc_forced_align(x.astype(np.float16).astype(np.float32), tg)
    np.testing.assert_array_equal(ph, pf)
    # empty batch, zero frames with empty targets
    p0, s0 = seqloss.ctc_forced_align(np.zeros((4, 0, 3), np.float32), np.zeros((0, 2), np.int64))
    assert p0.shape == (0, 4)
    pe, _ = seqloss.ctc_forced_align(np.zeros((3, 1, 3)), np.zeros((1, 0), np.int64), [0], [0])
    assert pe.tolist() == [[-1, -1, -1]]


def test_star_token():
    """star='append': a log-prob-0 column at index C the targets may use, the same as
    aligning with that column really appended; star=k: class k is the wildcard."""
    rng = np.random.default_rng(3)
    T, C = 40, 5
    x = np.log(rng.dirichlet(np.ones(C), T))
    tg = np.array([C, 1, 2, C, 3, C])
    p, s = seqloss.ctc_forced_align(x, tg, star="append")
    full = np.concatenate([x, np.zeros((T, 1))], axis=1)
    q, qs = seqloss.ctc_forced_align(full, tg)
    np.testing.assert_array_equal(p, q)
    np.testing.assert_array_equal(s, qs)
    assert (s[p == C] == 0).all() and (p == C).any()
    q2, _ = seqloss.ctc_forced_align(full, tg, star=C)
    np.testing.assert_array_equal(q2, q)
    # without the star in the targets, "append" changes nothing
    a, _ = seqloss.ctc_forced_align(x, [1, 2, 3], star="append")
    b, _ = seqloss.ctc_forced_align(x, [1, 2, 3])
    np.testing.assert_array_equal(a, b)


def test_impossible_item_is_an_error():
    x = np.zeros((4, 2, 3), np.float32)
    with pytest.raises(ValueError, match=r"item 1 has input length 4 < target length 3 \+ 2"):
        seqloss.ctc_forced_align(x, np.array([[1, 2, 1], [1, 1, 1]]), [4, 4], [3, 3])


def _err(f, *a, **k):
    try:
        f(*a, **k)
    except (ValueError, TypeError) as e:
        return type(e), str(e)
    return None


@pytest.mark.parametrize("args", [
    (np.zeros((5, 2, 4), np.float32), np.array([[1, 4], [1, 2]]), [5, 5], [2, 2]),
    (np.zeros((5, 2, 4), np.float32), np.array([[1, 0], [1, 2]]), [5, 5], [2, 2]),
    (np.zeros((5, 2, 4), np.float32), np.array([[1, 2], [1, 2]]), [6, 5], [2, 2]),
    (np.zeros((5, 2, 4), np.float32), np.array([[1, 2], [1, 2]]), [5, 5], [3, 2]),
    (np.zeros((5, 2, 4), np.float32), np.array([1, 2, 3]), [5, 5], [2, 2]),
    (np.zeros((5, 2, 4), np.float32), np.array([[1, 2], [1, 2]]), [5, -1], [2, 2]),
    (np.zeros((5, 2, 4), np.float32), np.array([[1.0, 2], [1, 2]]), [5, 5], [2, 2]),
    (np.zeros((5, 2, 4), np.int32), np.array([[1, 2], [1, 2]]), [5, 5], [2, 2]),
    (np.zeros((5, 4), np.float32), np.array([[1, 2], [1, 2]]), 5, 2),
    (np.zeros((5, 2, 4, 1), np.float32), np.array([[1, 2], [1, 2]]), [5, 5], [2, 2]),
    (np.zeros((5, 2, 0), np.float32), np.array([[1, 2], [1, 2]]), [5, 5], [2, 2]),
    ([[["a"]]], [[1]], [1], [1]),
])
def test_bad_input_same_messages_as_ctc_loss(args):
    """Every mistake the CTC loss refuses is refused with the same type and message."""
    want = _err(seqloss.ctc_loss, *args)
    assert want is not None
    assert _err(seqloss.ctc_forced_align, *args) == want


def test_bad_options():
    x = np.zeros((5, 4), np.float32)
    for star, exc in (("x", ValueError), (0, ValueError), (4, ValueError), (-1, ValueError),
                      (1.5, TypeError), (True, TypeError)):
        with pytest.raises(exc, match="star"):
            seqloss.ctc_forced_align(x, [1, 2], star=star)
    for mm, exc in ((-1, ValueError), (1.0, TypeError), (True, TypeError)):
        with pytest.raises(exc, match="max_memory"):
            seqloss.ctc_forced_align(x, [1, 2], max_memory=mm)
        with pytest.raises(exc, match="max_memory"):
            seqloss.ctc_loss(x, [1, 2], 5, 2, max_memory=mm)
    with pytest.raises(ValueError, match="values in \\[0, 4\\)"):
        seqloss.ctc_forced_align(x, [1, 4])  # the star index without star=
    with pytest.raises(ValueError, match="n_threads"):
        seqloss.ctc_forced_align(x, [1, 2], n_threads=0)


MEMORY_CHILD = textwrap.dedent(r"""
    import json, resource, sys
    import numpy as np, seqloss
    kind, T, L = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = np.random.default_rng(0)
    x = rng.standard_normal((T, 1, 32)).astype(np.float32)
    tg = rng.integers(1, 32, (1, L))
    tg[0, 1:][tg[0, 1:] == tg[0, :-1]] = 1 + (tg[0, 1:][tg[0, 1:] == tg[0, :-1]] % 30)
    # warm up imports and small allocations first
    seqloss.ctc_forced_align(x[:50], tg[:, :5], [50], [5])
    seqloss.ctc_loss(x[:50], tg[:, :5], [50], [5])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if kind == "align":
        seqloss.ctc_forced_align(x, tg, max_memory=8 << 20, n_threads=1)
    elif kind == "loss":
        seqloss.ctc_loss(x, tg, [T], [L], from_logits=True)
    elif kind == "grad":
        seqloss.ctc_loss_and_grad(x, tg, [T], [L], from_logits=True, max_memory=8 << 20)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"grew_mb": (after - before) / 1024.0}))
""")


@pytest.mark.parametrize("kind, bound_mb", [("align", 16), ("loss", 16), ("grad", 16 + 8)])
def test_peak_memory_bound(kind, bound_mb):
    """Peak resident memory of one long item (T = 20000, L = 3000) stays within the
    budget: forced alignment with max_memory = 8 MiB (torchaudio's back-pointers alone:
    T x (2L + 1) bytes = 114 MiB), the loss alone (O(S): the full tables would be
    2 x 4 x T x S bytes = 916 MiB) and its gradient with max_memory = 8 MiB (plus the
    2.4 MiB gradient)."""
    proc = subprocess.run([sys.executable, "-c", MEMORY_CHILD, kind, "20000", "3000"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    grew = json.loads(proc.stdout.strip().splitlines()[-1])["grew_mb"]
    assert grew < bound_mb, grew


# ------------------------------------------------------------------ CTC loss, bounded


@settings(max_examples=150, deadline=None)
@given(ctc_cases(max_T=30, max_N=3, max_C=9, max_L=10), st.integers(1, 9), st.booleans(),
       st.sampled_from([np.float32, np.float64]))
def test_ctc_checkpointed_gradient_identical(case, seg, from_logits, dt):
    """The loss alone (O(S) path) and the checkpointed gradient (any segment length)
    give the full-table results bit for bit, impossible items and zero_infinity too.
    (The portable SIMD fallback's build may contract a product and a sum into one
    fused operation in one inlined copy of the recursions and not in another: there
    the gradients agree to rounding, a few ulps.)"""
    x = case["x"].astype(dt)
    args = (x, case["targets"], case["il"], case["tl"])
    for zi in (False, True):
        l0, g0 = seqloss.ctc_loss_and_grad(*args, blank=case["blank"], reduction="none",
                                           from_logits=from_logits, zero_infinity=zi)
        l1 = seqloss.ctc_loss(*args, blank=case["blank"], reduction="none",
                              from_logits=from_logits, zero_infinity=zi, max_memory=0)
        l2, g2 = ctc_run(*args, case["blank"], "none", zi, from_logits, False, None, True,
                         None, None, seg)
        if GENERIC_SIMD:
            tol = 64 * np.finfo(dt).eps
            np.testing.assert_allclose(l1, l0, rtol=tol)
            np.testing.assert_allclose(l2, l0, rtol=tol)
            np.testing.assert_allclose(g2, g0, rtol=tol, atol=tol)
        else:
            np.testing.assert_array_equal(l1, l0)
            np.testing.assert_array_equal(l2, l0)
            np.testing.assert_array_equal(g2, g0)


def test_ctc_budgeted_gradient_streamed_rows():
    """Large-vocabulary rows (the streamed gradient paths) under a tiny budget."""
    rng = np.random.default_rng(4)
    for C, L in ((5000, 3), (5000, 40)):
        x = rng.standard_normal((50, 2, C)).astype(np.float32)
        tg = rng.integers(1, C, (2, L))
        go1, go2 = np.empty_like(x), np.empty_like(x)
        for _ in range(2):  # the second call reuses the buffers (streamed stores)
            l1, g1 = seqloss.ctc_loss_and_grad(x, tg, [50, 44], [L, L], from_logits=True,
                                               grad_out=go1)
            l2, g2 = seqloss.ctc_loss_and_grad(x, tg, [50, 44], [L, L], from_logits=True,
                                               grad_out=go2, max_memory=0)
        assert l1 == l2 or (GENERIC_SIMD and abs(l1 - l2) <= 1e-5 * abs(l1))
        if GENERIC_SIMD:
            np.testing.assert_allclose(g1, g2, rtol=1e-5, atol=1e-6)
        else:
            np.testing.assert_array_equal(g1, g2)


def test_ctc_long_loss_matches_float64_reference():
    """A long item's loss alone (two alpha rows) equals the float64 reference."""
    rng = np.random.default_rng(6)
    T, L, C = 1500, 400, 8
    x = R.log_softmax(rng.standard_normal((T, 1, C)))
    tg = rng.integers(1, C, (1, L))
    want = R.ctc_nll_single(x[:, 0], tg[0])
    got = seqloss.ctc_loss(x, tg, [T], [L], reduction="none", max_memory=0)
    np.testing.assert_allclose(got[0], want, rtol=1e-10)


def test_max_memory_environment_default():
    code = ("import seqloss.forced_align as f; print(f.DEFAULT_MAX_MEMORY)")
    env = dict(os.environ, SEQLOSS_MAX_MEMORY="12345")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "12345"
    env["SEQLOSS_MAX_MEMORY"] = "lots"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode != 0 and "SEQLOSS_MAX_MEMORY" in out.stderr


# ------------------------------------------------------------------ spans


@st.composite
def path_batches(draw):
    N = draw(st.integers(1, 4))
    T = draw(st.integers(0, 30))
    C = draw(st.integers(1, 4))
    raw = draw(st.binary(min_size=N * T, max_size=N * T))
    p = (np.frombuffer(raw, np.uint8).astype(np.int64) % C).reshape(N, T)
    il = np.array([draw(st.integers(0, T)) for _ in range(N)], np.int64)
    s = draw(float_arrays((N, T), bound=3.0)) - 3.0
    return p, s, il, draw(st.integers(0, C - 1))


@settings(max_examples=200, deadline=None)
@given(path_batches())
def test_token_spans_match_merge_tokens(case):
    p, s, il, blank = case
    sp = seqloss.ctc_token_spans(p, s, il, blank=blank)
    for n in range(p.shape[0]):
        want = R.merge_tokens_reference(p[n, : il[n]], s[n, : il[n]], blank)
        got = sp.item(n)
        assert [(t.token, t.start, t.end) for t in got] == [w[:3] for w in want]
        np.testing.assert_allclose([t.score for t in got], [w[3] for w in want], rtol=1e-12)
        k = len(want)
        for j, (tok, a, b, _) in enumerate(want):
            seg = s[n, a:b]
            assert sp.min_scores[n, j] == seg.min()
            np.testing.assert_allclose(sp.confidence_mean[n, j], np.exp(seg).mean(), rtol=1e-12)
        assert (sp.tokens[n, k:] == -1).all() and sp.counts[n] == k


def test_token_spans_from_alignment_padding():
    """Default lengths: up to the -1 padding ctc_forced_align writes; frame times."""
    x = np.log(np.full((6, 2, 3), 1 / 3))
    p, s = seqloss.ctc_forced_align(x, np.array([[1, 2], [2, 2]]), [6, 4], [2, 2])
    sp = seqloss.ctc_token_spans(p, s, frame_shift=0.02)
    assert sp.counts.tolist() == [2, 2]
    assert [t.token for t in sp.to_list()[1]] == [2, 2]
    np.testing.assert_allclose(sp.start_times[0, :2], sp.starts[0, :2] * 0.02)
    one = seqloss.ctc_token_spans(p[0], s[0])
    assert one.to_list() == sp.to_list()[0]
    with pytest.raises(ValueError, match="paths"):
        seqloss.ctc_token_spans(np.array([[1, -1, 2]]), np.zeros((1, 3)))
    with pytest.raises(ValueError, match="scores"):
        seqloss.ctc_token_spans(p, s[:, :3])
    with pytest.raises(TypeError, match="scores"):
        seqloss.ctc_token_spans(p, p)
    with pytest.raises(ValueError, match="frame_shift"):
        seqloss.ctc_token_spans(p, s, frame_shift=-1)


def test_word_spans():
    """Words from word lengths and from a delimiter token agree; scores are the
    frame-weighted means of the tokens' (the torchaudio tutorial's word score)."""
    vocab = ["-", "|", "a", "b", "c"]
    path = np.array([0, 2, 2, 3, 0, 1, 1, 4, 0, 4, 4, 0])
    scores = -np.arange(12) / 10.0
    sp = seqloss.ctc_token_spans(path, scores)
    assert [t.token for t in sp.to_list()] == [2, 3, 1, 4, 4]
    by_delim = seqloss.ctc_word_spans(sp, delimiter=1, tokens=vocab, frame_shift=0.5)
    words = by_delim.to_list()
    assert [w.text for w in words] == ["ab", "cc"]
    assert [(w.start, w.end) for w in words] == [(1, 4), (7, 11)]
    np.testing.assert_allclose(words[0].score, scores[1:4].mean())
    np.testing.assert_allclose(words[1].confidence, np.exp(scores[[7, 9, 10]]).mean())
    np.testing.assert_allclose(words[1].confidence_min, np.exp(scores[10]))
    np.testing.assert_allclose(by_delim.start_times[0, :2], [0.5, 3.5])
    by_len = seqloss.ctc_word_spans(sp, [2, 1, 2], tokens=vocab)
    assert [w.text for w in by_len.to_list()] == ["ab", "|", "cc"]
    with pytest.raises(ValueError, match="add up"):
        seqloss.ctc_word_spans(sp, [2, 2])
    with pytest.raises(ValueError, match="exactly one"):
        seqloss.ctc_word_spans(sp)
    with pytest.raises(ValueError, match="positive"):
        seqloss.ctc_word_spans(sp, [0, 5])
    with pytest.raises(TypeError, match="TokenSpans"):
        seqloss.ctc_word_spans([(1, 2, 3)], [1])


ISA_CODE = """
for key, (x, tg, il, tl, blank) in inp.items():
    out[key] = seqloss.ctc_forced_align(x, tg, il, tl, blank=blank)
    out[key, "ck"] = seqloss.ctc_forced_align(x, tg, il, tl, blank=blank, max_memory=0)
"""


def test_isa_variants_agree_with_reference(isa, run_isa):
    """Each SEQLOSS_ISA level's kernel gives torchaudio's paths around the vector widths."""
    rng = np.random.default_rng(9)
    inputs = {}
    for L in (1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33):
        for dt in (np.float32, np.float64):
            T, C = 2 * L + 12, 5
            x = (rng.integers(-4, 1, (T, 2, C)) / 2).astype(dt)
            x[3, 1, :] = -np.inf
            tg = rng.integers(1, 3, (2, L))
            il = np.array([T, T - 3])
            tl = np.array([L, max(L - 2, 0)])
            inputs[L, dt.__name__] = (x, tg, il, tl, 0)
    got = run_isa(isa, ISA_CODE, inputs)
    for key, (x, tg, il, tl, blank) in inputs.items():
        case = dict(x=x, targets=tg, il=il, tl=tl, blank=blank)
        _check_against_references(case, *got[key])
        np.testing.assert_array_equal(got[key, "ck"][0], got[key][0])
