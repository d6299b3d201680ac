"""CTC decoding: greedy and beam search against torch, TensorFlow's semantics and the
brute-force / textbook references of tests/reference.py; the n-gram LM against KenLM."""
import math
import os
import pickle
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import seqloss
import seqloss._synthetic  # noqa: F401 (the generators, as seqloss._synthetic)
import reference as R
from strategies import float_arrays

torch = pytest.importorskip("torch") if os.environ.get("SEQLOSS_NEED_TORCH") else None
try:
    import torch
except ImportError:  # torch parity tests skip
    torch = None

try:
    import kenlm
except ImportError:
    kenlm = None

LN10 = math.log(10)
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def log_softmax(x):
    return R.log_softmax(np.asarray(x, np.float64))


def torch_greedy(lp_tc, blank):
    """torch: argmax, unique_consecutive, drop blank (the reference users write)."""
    best = torch.from_numpy(np.ascontiguousarray(lp_tc)).argmax(-1)
    ids = torch.unique_consecutive(best)
    return [int(i) for i in ids if int(i) != blank]


# ------------------------------------------------------------------ greedy

@st.composite
def greedy_cases(draw):
    T = draw(st.integers(0, 30))
    N = draw(st.integers(1, 4))
    C = draw(st.integers(1, 40))
    ties = draw(st.booleans())  # small integers: many exact ties
    if ties:
        x = np.array(draw(st.lists(st.integers(-3, 0), min_size=T * N * C,
                                   max_size=T * N * C)), np.float64).reshape(T, N, C)
    else:
        x = draw(float_arrays((T, N, C)))
    lengths = [draw(st.integers(0, T)) for _ in range(N)]
    blank = draw(st.integers(0, C - 1))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    return x.astype(dtype), lengths, blank


@FAST
@given(greedy_cases(), st.booleans(), st.sampled_from([1, 2]))
def test_greedy_matches_torch(case, batch_first, n_threads):
    """Greedy = torch argmax + unique_consecutive + drop blank, ties and all."""
    if torch is None:
        pytest.skip("torch not installed")
    x, lengths, blank = case
    inp = np.ascontiguousarray(x.transpose(1, 0, 2)) if batch_first else x
    h = seqloss.ctc_greedy_decode(inp, lengths, blank=blank, batch_first=batch_first,
                                  n_threads=n_threads)
    for n, L in enumerate(lengths):
        want = torch_greedy(x[:L, n], blank)
        assert h.tokens[n, 0, :h.lengths[n, 0]].tolist() == want
        assert h.counts[n] == 1


@FAST
@given(greedy_cases(), st.booleans())
def test_greedy_matches_reference(case, merge):
    """Tokens, spans and path score equal the textbook greedy in both merge modes."""
    x, lengths, blank = case
    h = seqloss.ctc_greedy_decode(x, lengths, blank=blank, merge_repeated=merge)
    for n, L in enumerate(lengths):
        ref = R.ctc_greedy_reference(x[:L, n], blank=blank, merge_repeated=merge)
        k = h.lengths[n, 0]
        assert h.tokens[n, 0, :k].tolist() == ref["tokens"]
        assert h.start_frames[n, 0, :k].tolist() == ref["starts"]
        assert h.end_frames[n, 0, :k].tolist() == ref["ends"]
        assert h.scores[n, 0] == pytest.approx(ref["score"], rel=1e-6, abs=1e-5)
        assert (h.tokens[n, 0, k:] == -1).all()


def test_greedy_merge_modes_documented_example():
    """A A _ A A: merge_repeated -> A A (torch); without -> A A A A (TF greedy)."""
    A, B = 1, 0  # blank 0
    seq = [A, A, B, A, A]
    x = np.full((5, 2), -5.0)
    x[np.arange(5), seq] = -0.01
    merged = seqloss.ctc_greedy_decode(x, blank=0)
    plain = seqloss.ctc_greedy_decode(x, blank=0, merge_repeated=False)
    assert merged.tokens[0, 0].tolist() == [1, 1]
    assert merged.start_frames[0, 0].tolist() == [0, 3]
    assert merged.end_frames[0, 0].tolist() == [2, 5]
    assert plain.tokens[0, 0].tolist() == [1, 1, 1, 1]


def test_greedy_nan_counts_as_max_like_torch():
    """A NaN in a frame is that frame's argmax (the first NaN), as torch.argmax."""
    x = np.log(np.full((3, 4), 0.25))
    x[1, 2] = np.nan
    x[1, 3] = np.nan
    h = seqloss.ctc_greedy_decode(x, blank=0)
    assert h.tokens[0, 0].tolist() == [2]
    assert np.isnan(h.scores[0, 0])
    if torch is not None:
        assert torch_greedy(x, 0) == [2]


def test_greedy_from_logits_same_tokens_normalised_scores():
    """from_logits: argmax unchanged, scores/confidences after log-softmax."""
    rng = np.random.default_rng(1)
    z = rng.normal(size=(20, 3, 7)) * 3
    a = seqloss.ctc_greedy_decode(z, from_logits=True)
    b = seqloss.ctc_greedy_decode(log_softmax(z))
    np.testing.assert_array_equal(a.tokens, b.tokens)
    np.testing.assert_allclose(a.scores, b.scores, rtol=1e-12)
    np.testing.assert_allclose(a.confidence_mean, b.confidence_mean, rtol=1e-12)


def test_greedy_confidences():
    """Confidence = mean and min of the frame probabilities over each token's run."""
    p = np.array([[0.1, 0.9], [0.3, 0.7], [0.8, 0.2]])
    h = seqloss.ctc_greedy_decode(np.log(p), blank=0)
    assert h.tokens[0, 0].tolist() == [1]
    assert h.confidence_mean[0, 0, 0] == pytest.approx(0.8)
    assert h.confidence_min[0, 0, 0] == pytest.approx(0.7)


def test_greedy_torch_tensor_input():
    """A CPU tensor (even one requiring grad) decodes like its array."""
    if torch is None:
        pytest.skip("torch not installed")
    z = torch.randn(10, 2, 5, requires_grad=True)
    h = seqloss.ctc_greedy_decode(z, torch.tensor([10, 7]))
    g = seqloss.ctc_greedy_decode(z.detach().numpy(), [10, 7])
    np.testing.assert_array_equal(h.tokens, g.tokens)


# ------------------------------------------------------------------ beam search

CHARS = ["", "a", "b", "|"]        # blank, two letters, the word delimiter
ARPA_TINY = "\n".join([
    "\\data\\", "ngram 1=6", "ngram 2=5", "",
    "\\1-grams:",
    "-1.1\t<s>\t-0.4", "-0.6\t</s>", "-0.9\ta\t-0.3", "-0.8\tab\t-0.25", "-1.3\tb\t-0.2",
    "-2.5\t<unk>", "",
    "\\2-grams:",
    "-0.3\t<s> ab", "-0.4\tab a", "-0.6\ta </s>", "-0.5\tb b", "-0.7\t<s> b", "",
    "\\end\\", ""])


@st.composite
def tiny_emissions(draw, max_T=6, C=4):
    T = draw(st.integers(0, max_T))
    x = draw(float_arrays((T, C), bound=3.0))
    return log_softmax(x) if T else np.zeros((0, C))


def _prefixes(T, C):
    """Distinct label sequences of at most T tokens from C - 1 labels (a safe beam)."""
    return sum((C - 1) ** k for k in range(T + 1))


def _check_against_brute_force(x, k, **kw):
    T, C = x.shape
    beam = _prefixes(T, C)
    ref_lm = kw.pop("ref_lm", None)
    lm_unit = kw.pop("lm_unit", "word")
    h = seqloss.ctc_beam_search(x, beam_width=beam, nbest=min(k, beam), **kw)
    ref = R.ctc_beam_reference(x, k, blank=kw.get("blank", 0), tokens=kw.get("tokens"),
                               delimiter=kw.get("word_delimiter"),
                               lm=ref_lm, lm_unit=lm_unit,
                               lm_weight=kw.get("lm_weight", 0.5),
                               word_score=kw.get("word_score", 0.0),
                               hotwords=kw.get("hotwords"))
    got = [(tuple(hh.tokens), hh.score) for hh in h[0]]
    assert h.counts[0] == len(ref)
    tol = 1e-6 if ref_lm is not None else 1e-9  # (the LM keeps its log10 values in float32)
    for (toks, score), r in zip(got, ref):
        assert score == pytest.approx(r["total"], abs=tol, rel=tol)
    # the same sequences (up to the order of ties), each with its score
    want = {r["tokens"]: r["total"] for r in ref}
    have = dict(got)
    last = ref[-1]["total"]
    for t, s in have.items():
        if t in want:
            assert s == pytest.approx(want[t], abs=tol, rel=tol)
        else:  # only a sequence tied with the last one kept may differ
            assert s == pytest.approx(last, abs=tol, rel=tol)
    return h, ref


@FAST
@given(tiny_emissions(), st.integers(1, 5))
@example(np.log(np.full((3, 4), 0.25)), 4)
def test_beam_is_exact_top_k_without_lm(x, k):
    """A beam wide enough returns exactly the k most probable label sequences."""
    h, ref = _check_against_brute_force(x, k)
    for hh, r in zip(h[0], ref):
        assert hh.acoustic_score == pytest.approx(r["acoustic"], abs=1e-9)


def _lm_kwargs(unit):
    lm = seqloss.NgramLM.from_arpa(ARPA_TINY, unit=unit)
    return dict(tokens=CHARS, word_delimiter="|", lm=lm, ref_lm=R.ArpaLM(ARPA_TINY),
                lm_unit=unit)


@FAST
@given(tiny_emissions(), st.integers(1, 4), st.sampled_from([0.0, 0.5, 2.0]),
       st.sampled_from([0.0, -1.0, 1.5]))
@example(np.array([[np.log(0.25)] * 4, [-1.80893302, -1.80893302, -1.78549552, -0.68393302]]),
         2, 0.0, 0.0)  # (ties: the beam keeps another sequence tied with the last one)
def test_beam_is_exact_top_k_with_word_lm(x, k, lm_weight, word_score):
    """With a word LM (fusion at word ends, partial word and </s> at the end)."""
    kw = _lm_kwargs("word")
    h, ref = _check_against_brute_force(x, k, lm_weight=lm_weight, word_score=word_score, **kw)
    # each sequence against the reference's same sequence (a sequence tied with the
    # last one kept may be another one: its total was checked above)
    by_tokens = {tuple(r["tokens"]): r for r in ref}
    compared = 0
    for hh in h[0]:
        r = by_tokens.get(tuple(hh.tokens))
        if r is None:
            continue
        compared += 1
        assert hh.lm_score == pytest.approx(r["lm"], abs=1e-6)
        assert hh.words == r["words"]
    assert compared >= 1


def test_lm_must_have_a_word_delimiter():
    """A word-level LM without word boundaries is an error."""
    lm = seqloss.NgramLM.from_arpa(ARPA_TINY)
    with pytest.raises(ValueError, match="word-level lm"):
        seqloss.ctc_beam_search(np.zeros((2, 3)), tokens=["", "a", "b"], lm=lm)


@FAST
@given(tiny_emissions(), st.integers(1, 4))
def test_beam_is_exact_top_k_with_token_lm(x, k):
    """With an LM over the tokens themselves (character LM)."""
    arpa = re.sub(r"\bab\b", "|", ARPA_TINY)  # tokens a, b, | as LM words
    kw = dict(tokens=CHARS, word_delimiter="|", lm=seqloss.NgramLM.from_arpa(arpa, unit="token"),
              ref_lm=R.ArpaLM(arpa), lm_unit="token")
    _check_against_brute_force(x, k, lm_weight=0.7, **kw)


@FAST
@given(tiny_emissions(), st.integers(1, 4), st.sampled_from([
    {"ab": 2.0}, {"a": 1.0, "ab b": 3.0}, {"b b": 0.5, "ab": 1.5, "a ab": 4.0}]))
def test_beam_is_exact_top_k_with_hotwords(x, k, hot):
    """Hotwords: only complete phrases count in the final scores, with and without LM."""
    _check_against_brute_force(x, k, tokens=CHARS, word_delimiter="|", hotwords=hot)
    kw = _lm_kwargs("word")
    _check_against_brute_force(x, k, hotwords=hot, **kw)


@FAST
@given(tiny_emissions(C=3), st.integers(1, 3))
def test_beam_hotwords_without_words(x, k):
    """Without a delimiter hotwords match anywhere in the concatenated tokens."""
    _check_against_brute_force(x, k, tokens=["", "x", "y"], hotwords={"xy": 2.0, "yy": 1.0})


@FAST
@given(tiny_emissions(max_T=7))
def test_beam_timestamps_are_the_viterbi_path(x):
    """Each hypothesis's token spans are its most probable frame path (full-table Viterbi)."""
    T = x.shape[0]
    beam = _prefixes(T, 4)
    h = seqloss.ctc_beam_search(x, beam_width=beam, nbest=min(3, beam))
    for hh in h[0]:
        v = R.ctc_viterbi_spans(x, hh.tokens, blank=0)
        assert v is not None
        starts, ends, _ = v
        assert hh.start_frames == list(starts) and hh.end_frames == list(ends)
        for j, t in enumerate(hh.tokens):
            p = np.exp(x[starts[j]:ends[j], t])
            assert hh.confidence_mean[j] == pytest.approx(p.mean())
            assert hh.confidence_min[j] == pytest.approx(p.min())


def test_beam_batch_equals_items_and_threads():
    """Batched, padded, any thread count: each item's result equals its own call."""
    x, _ = seqloss._synthetic.peaked_log_probs(80, 9, 12, seed=3)
    lengths = [80, 0, 13, 79, 40, 1, 66, 80, 25]
    toks = [""] + list("abcdefghij") + [" "]
    hs = [seqloss.ctc_beam_search(x, lengths, beam_width=8, nbest=3, tokens=toks,
                                  hotwords={"ab": 2.0}, n_threads=nt) for nt in (1, 2, 4)]
    for h in hs[1:]:
        for name in ("tokens", "scores", "start_frames", "end_frames", "confidence_mean"):
            np.testing.assert_array_equal(getattr(h, name), getattr(hs[0], name))
    for n, L in enumerate(lengths):
        one = seqloss.ctc_beam_search(x[:L, n], beam_width=8, nbest=3, tokens=toks,
                                      hotwords={"ab": 2.0})
        assert one.texts[0] == hs[0].texts[n]
        np.testing.assert_array_equal(one.scores[0], hs[0].scores[n])


def test_beam_nan_item_is_flagged_others_unaffected():
    """NaN or +inf in an item's used frames: no hypothesis, score NaN; others unchanged."""
    x, _ = seqloss._synthetic.peaked_log_probs(30, 3, 6, seed=0)
    x = x.astype(np.float64)
    base = seqloss.ctc_beam_search(x, [30, 20, 30])
    x[5, 0, 2] = np.nan
    x[25, 1, 1] = np.nan  # past item 1's length: unused
    x[3, 2, 4] = np.inf
    h = seqloss.ctc_beam_search(x, [30, 20, 30])
    assert h.counts.tolist() == [0, 1, 0]
    assert np.isnan(h.scores[0, 0]) and np.isnan(h.scores[2, 0])
    assert h.scores[1, 0] == base.scores[1, 0]


def test_beam_exact_pruning_equals_full_expansion():
    """The default (exact) pruning finds the same beams as expanding every token."""
    x, _ = seqloss._synthetic.peaked_log_probs(60, 4, 30, seed=5, peak=2.0)
    a = seqloss.ctc_beam_search(x, beam_width=6, nbest=6)
    b = seqloss.ctc_beam_search(x, beam_width=6, nbest=6, token_min_logp=-1e300)
    np.testing.assert_array_equal(a.tokens, b.tokens)
    np.testing.assert_allclose(a.scores, b.scores, rtol=1e-12)


def test_beam_token_min_logp_keeps_the_best_token():
    """token_min_logp above every value still expands each frame's best token."""
    x, planted = seqloss._synthetic.peaked_log_probs(40, 1, 8, seed=2)
    h = seqloss.ctc_beam_search(x, token_min_logp=1.0)
    g = seqloss.ctc_greedy_decode(x)
    assert h.tokens[0, 0, :h.lengths[0, 0]].tolist() == g.tokens[0, 0, :g.lengths[0, 0]].tolist()


def test_beam_from_logits_equals_log_softmax_input():
    """from_logits=True decodes the log-softmax of the logits."""
    rng = np.random.default_rng(4)
    z = rng.normal(size=(25, 2, 6)) * 2 + 7
    a = seqloss.ctc_beam_search(z, from_logits=True, nbest=3, beam_width=5)
    b = seqloss.ctc_beam_search(log_softmax(z), nbest=3, beam_width=5)
    np.testing.assert_array_equal(a.tokens, b.tokens)
    np.testing.assert_allclose(a.scores, b.scores, rtol=1e-9)
    np.testing.assert_allclose(a.confidence_mean, b.confidence_mean, rtol=1e-9)


def test_beam_acoustic_score_is_the_ctc_probability():
    """Exact beam: acoustic score = -ctc_loss of the label sequence (float64)."""
    x, _ = seqloss._synthetic.peaked_log_probs(9, 1, 3, seed=7, peak=1.0)
    x = x.astype(np.float64)
    h = seqloss.ctc_beam_search(x, beam_width=_prefixes(9, 3), nbest=5)
    for hh in h[0]:
        loss = seqloss.ctc_loss(x, np.array([hh.tokens], np.int64), [9], [len(hh.tokens)],
                                reduction="none")
        assert hh.acoustic_score == pytest.approx(-float(loss[0]), rel=1e-9)


def test_hypotheses_convenience():
    """text, texts, word_spans, iteration and with_tokens agree with the arrays."""
    x, _ = seqloss._synthetic.peaked_log_probs(50, 2, 5, seed=9)
    toks = ["", "a", "b", "c", " "]
    h = seqloss.ctc_beam_search(x, nbest=2, beam_width=4, tokens=toks)
    items = h.to_list()
    assert len(items) == len(h) == 2
    for n, hyps in enumerate(items):
        assert [hh.text for hh in hyps] == h.texts[n]
        assert h.text[n] == h.texts[n][0]
        words = h.word_spans(n)
        assert [w.word for w in words] == h.text[n].split()
        for w in words:
            assert 0 <= w.start_frame < w.end_frame <= 50 and 0 < w.confidence_min <= w.confidence <= 1
    g = seqloss.ctc_greedy_decode(x).with_tokens(toks)
    assert all(isinstance(t, str) for t in g.text)
    with pytest.raises(ValueError, match="no token strings"):
        seqloss.ctc_greedy_decode(x).text


def test_sentencepiece_words():
    """Tokens with the '\u2581' prefix start words; text and word spans follow it."""
    toks = ["<b>", "\u2581he", "llo", "\u2581wor", "ld", "\u2581"]
    seq = [1, 0, 2, 2, 0, 3, 4, 4]
    x = np.full((8, 6), -8.0)
    x[np.arange(8), seq] = 0.0
    x = log_softmax(x)
    h = seqloss.ctc_greedy_decode(x, tokens=toks)
    assert h.text == ["hello world"]
    ws = h.word_spans(0)
    assert [(w.word, w.start_frame, w.end_frame) for w in ws] == [("hello", 0, 4), ("world", 5, 8)]


# ------------------------------------------------------------------ n-gram LM

def test_lm_scores_equal_reference_and_kenlm(tmp_path):
    """lm.score = ln(10) * KenLM's full-sentence score (and the Python reference)."""
    words = seqloss._synthetic.random_words(300, seed=1)
    arpa = seqloss._synthetic.random_arpa(words, order=3, seed=2)
    path = tmp_path / "m.arpa"
    path.write_text(arpa)
    lm = seqloss.NgramLM.from_arpa(str(path))
    ref = R.ArpaLM(arpa)
    km = kenlm.Model(str(path)) if kenlm is not None else None
    rng = np.random.default_rng(0)
    for i in range(200):
        n = int(rng.integers(0, 8))
        sent = [words[j] for j in rng.integers(0, len(words), n)]
        if i % 5 == 0 and sent:
            sent[0] = "oov%d" % i
        for bos, eos in ((True, True), (False, True), (True, False)):
            got = lm.score(sent, bos=bos, eos=eos)
            assert got == pytest.approx(LN10 * ref.sentence_logprob(sent, bos, eos), abs=1e-4)
            if km is not None:
                assert got == pytest.approx(LN10 * km.score(" ".join(sent), bos=bos, eos=eos),
                                            abs=1e-4)


def test_lm_binary_round_trip(tmp_path):
    """save/load and pickle keep every score; a damaged file is a ValueError."""
    words = seqloss._synthetic.random_words(100, seed=3)
    lm = seqloss.NgramLM.from_arpa(seqloss._synthetic.random_arpa(words, order=4, seed=4))
    p = tmp_path / "m.bin"
    lm.save(p)
    lm2 = seqloss.NgramLM.load(p)
    lm3 = pickle.loads(pickle.dumps(lm))
    assert lm2.counts == lm.counts == lm3.counts and lm2.order == 4
    for i in range(50):
        s = words[i: i + 5]
        assert lm2.score(s) == lm.score(s) == lm3.score(s)
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0xFF
    p.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="checksum|not a valid"):
        seqloss.NgramLM.load(p)
    p.write_bytes(bytes(data[:40]))
    with pytest.raises(ValueError):
        seqloss.NgramLM.load(p)


def test_lm_without_unk_as_kenlm():
    """A model without <unk>: OOV words score -100 (log10), as KenLM adds it."""
    arpa = ARPA_TINY.replace("-2.5\t<unk>\n", "").replace("ngram 1=6", "ngram 1=5")
    lm = seqloss.NgramLM.from_arpa(arpa)
    assert lm.score(["zzz"], bos=False, eos=False) == pytest.approx(-100 * LN10, rel=1e-6)


@pytest.mark.parametrize("mutate, line, what", [
    (lambda s: s.replace("ngram 2=5", "ngram 2=6"), 20, "ends in section 2-grams|2-grams"),
    (lambda s: s.replace("-0.4\tab a", "-0.4\tab zz"), 15, "not among the unigrams"),
    (lambda s: s.replace("-0.9\ta\t-0.3", "x\ta\t-0.3"), 8, "expected a number"),
    (lambda s: s.replace("-0.5\tb b", "-0.5\tb b\t-0.1"), 17, "highest-order"),
    (lambda s: s.replace("\\end\\", ""), None, "without '\\\\end\\\\'"),
    (lambda s: s.replace("</s>", "</x>"), None, "no </s>"),
    (lambda s: s.replace("\\data\\", "data"), 1, "data"),
    (lambda s: s.replace("-1.3\tb\t-0.2", "0.5\tb\t-0.2"), 10, "positive"),
    (lambda s: s.replace("-0.3\t<s> ab", "-0.3\t<s> ab\n-0.3\t<s> ab").replace("ngram 2=5", "ngram 2=6"),
     None, "duplicate 2-gram"),
])
def test_malformed_arpa_is_a_value_error_with_the_line(mutate, line, what):
    """A malformed ARPA file: ValueError naming the line where it is malformed."""
    with pytest.raises(ValueError, match=what) as e:
        seqloss.NgramLM.from_arpa(mutate(ARPA_TINY))
    if line is not None and "ARPA line" in str(e.value):
        assert "ARPA line %d:" % line in str(e.value)


def test_unreadable_arpa_path():
    """A missing file is a ValueError naming it; a non-path a TypeError."""
    with pytest.raises(ValueError, match="Cannot read"):
        seqloss.NgramLM.from_arpa("/nonexistent/model.arpa")
    with pytest.raises(TypeError):
        seqloss.NgramLM.from_arpa(3)


# ------------------------------------------------------------------ bad input

X = np.log(np.full((4, 2, 3), 1 / 3))


@pytest.mark.parametrize("kw, exc, msg", [
    (dict(beam_width=0), ValueError, "beam_width"),
    (dict(beam_width=2.0), TypeError, "beam_width"),
    (dict(beam_width=True), TypeError, "beam_width"),
    (dict(nbest=3, beam_width=2), ValueError, "nbest"),
    (dict(blank=3), ValueError, "blank"),
    (dict(tokens=["", "a"]), ValueError, "tokens"),
    (dict(tokens=["", "a", "a"]), ValueError, "distinct"),
    (dict(tokens=["", "a", 3]), TypeError, "tokens"),
    (dict(hotwords={"a": 1.0}), ValueError, "tokens"),
    (dict(tokens=["", "a", "b"], hotwords={"a": 0.0}), ValueError, "positive"),
    (dict(tokens=["", "a", "b"], hotwords={"a": float("nan")}), ValueError, "finite"),
    (dict(tokens=["", "a", "b"], hotwords={" ": 1.0}), ValueError, "non-empty"),
    (dict(tokens=["", "a", "b"], hotwords=["a"]), TypeError, "dict"),
    (dict(tokens=["", "a", "b"], word_delimiter="|"), ValueError, "word_delimiter"),
    (dict(beam_prune_logp=1.0), ValueError, "beam_prune_logp"),
    (dict(token_min_logp=float("nan")), ValueError, "token_min_logp"),
    (dict(lm_weight="x"), TypeError, "lm_weight"),
    (dict(lm="model.arpa"), TypeError, "lm"),
    (dict(n_threads=0), ValueError, "n_threads"),
])
def test_beam_bad_options(kw, exc, msg):
    """Each bad option: the named ValueError/TypeError before any work."""
    with pytest.raises(exc, match=msg):
        seqloss.ctc_beam_search(X, **kw)


@pytest.mark.parametrize("fn", [seqloss.ctc_greedy_decode, seqloss.ctc_beam_search])
@pytest.mark.parametrize("args, exc, msg", [
    ((np.zeros((2, 2, 2, 2)),), ValueError, "dimensions"),
    ((np.zeros((2, 2, 0)),), ValueError, "at least one class"),
    ((np.zeros((2, 2, 3), np.int64),), TypeError, "floating"),
    ((np.zeros((2, 2, 3), np.longdouble),), TypeError, "extended"),
    ((X, [5, 1]), ValueError, "input_lengths"),
    ((X, [-1, 1]), ValueError, "non-negative"),
    ((X, [1, 1, 1]), ValueError, "size 2"),
    ((X, [1.5, 1]), TypeError, "input_lengths"),
])
def test_bad_inputs(fn, args, exc, msg):
    """Wrong ndim/dtype/lengths: the named error."""
    with pytest.raises(exc, match=msg):
        fn(*args)


def test_concurrent_callers_share_an_lm():
    """Several Python threads decoding at once (one LM, hotwords): each gets the serial result."""
    import threading
    words = seqloss._synthetic.random_words(200, seed=5)
    lm = seqloss.NgramLM.from_arpa(seqloss._synthetic.random_arpa(words, order=3, seed=6))
    toks = seqloss._synthetic.char_vocab()
    xs = [seqloss._synthetic.peaked_log_probs(120, 6, len(toks), seed=s)[0] for s in range(6)]
    kw = dict(beam_width=8, nbest=2, tokens=toks, lm=lm, hotwords={words[0]: 3.0})
    want = [seqloss.ctc_beam_search(x, **kw) for x in xs]
    got = [None] * len(xs)

    def work(i):
        for _ in range(3):
            got[i] = seqloss.ctc_beam_search(xs[i], n_threads=2, **kw)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(xs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g.tokens, w.tokens)
        np.testing.assert_array_equal(g.scores, w.scores)


ISA_CODE = """
for key, (x, lengths) in inp.items():
    for dt in ("float32", "float64"):
        for bf in (False, True):
            xx = x.astype(dt)
            if bf:
                xx = np.ascontiguousarray(xx.transpose(1, 0, 2))
            h = seqloss.ctc_greedy_decode(xx, lengths, batch_first=bf)
            out[key, dt, bf] = (h.tokens, h.lengths, h.start_frames, h.end_frames)
"""


def test_isa_variants_agree_with_reference(isa, run_isa):
    """Each SEQLOSS_ISA variant's greedy argmax (the family's per-level kernel) gives the
    reference result: class counts around the vector widths, ties, NaN, -inf rows."""
    rng = np.random.default_rng(11)
    inputs = {}
    for C in (1, 3, 8, 15, 16, 17, 31, 32, 33, 64, 127, 128, 129, 1000):
        x = np.round(rng.normal(size=(40, 3, C)) * 2) / 2  # many exact ties
        x[5, 0, C // 2] = np.nan
        x[7, 1, :] = -np.inf
        x[9, 2, -1] = np.inf
        inputs[C] = (x, np.array([40, 33, 12]))
    got = run_isa(isa, ISA_CODE, inputs)
    for C, (x, lengths) in inputs.items():
        for dt in ("float32", "float64"):
            for bf in (False, True):
                tokens, lens, starts, ends = got[C, dt, bf]
                for n, L in enumerate(lengths):
                    ref = R.ctc_greedy_reference(x[:L, n].astype(dt), blank=0)
                    k = lens[n, 0]
                    assert tokens[n, 0, :k].tolist() == ref["tokens"], (C, dt, bf, n)
                    assert starts[n, 0, :k].tolist() == ref["starts"]
                    assert ends[n, 0, :k].tolist() == ref["ends"]
