"""Progress reporting of long edit-distance / WER / CER jobs: chunked work gives exactly the
results of one call, the callback sees every chunk, the bar is drawn, bad values are rejected."""
import io
import os
import sys

import numpy as np
import pytest

import seqloss
from seqloss import _progress

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference import jiwer_words, levenshtein_dp  # noqa: E402

jiwer = pytest.importorskip("jiwer")


def padded_pairs(n, seed):
    rng = np.random.default_rng(seed)
    hl = rng.integers(0, 90, n)
    rl = rng.integers(0, 90, n)
    h = rng.integers(-3, 20, (n, 90)).astype(np.int32)
    r = rng.integers(-3, 20, (n, 90)).astype(np.int32)
    return h, hl, r, rl


def sentences(n, seed):
    rng = np.random.default_rng(seed)
    words = ["a", "bb", "ccc", "dd", "e\tf", "übel", "😀"]
    def one():
        return "  ".join(words[i] for i in rng.integers(0, len(words), rng.integers(0, 12)))
    return [one() for _ in range(n)], [one() for _ in range(n)]


class Recorder:
    def __init__(self):
        self.calls = []

    def __call__(self, done, total):
        self.calls.append((done, total))


def check_calls(calls, total):
    assert calls, "the callback was never called"
    dones = [d for d, _ in calls]
    assert all(t == total for _, t in calls)
    assert dones == sorted(set(dones)) and dones[-1] == total
    assert len(calls) > 1 if total > 2 * _progress.MIN_CHUNK else len(calls) >= 1


@pytest.mark.parametrize("n_threads", [1, 2])
def test_padded_batch_in_chunks_is_identical(n_threads):
    n = 3 * _progress.MIN_CHUNK + 17  # several chunks plus a short last one
    h, hl, r, rl = padded_pairs(n, 1)
    plain = seqloss.edit_distance_batch(h, r, hyp_lengths=hl, ref_lengths=rl, n_threads=n_threads)
    rec = Recorder()
    chunked = seqloss.edit_distance_batch(h, r, hyp_lengths=hl, ref_lengths=rl,
                                          n_threads=n_threads, progress=rec)
    check_calls(rec.calls, n)
    assert np.array_equal(plain, chunked)
    # the last chunk's pairs really are computed, against the textbook DP
    for i in (0, n // 2, n - 1):
        assert chunked[i] == levenshtein_dp(list(h[i, :hl[i]]), list(r[i, :rl[i]]))


def test_sequence_batch_in_chunks_is_identical():
    n = 2 * _progress.MIN_CHUNK + 5
    rng = np.random.default_rng(2)
    hyps = ["".join(rng.choice(list("abcé😀"), rng.integers(0, 30))) for _ in range(n)]
    refs = ["".join(rng.choice(list("abcé😀"), rng.integers(0, 30))) for _ in range(n)]
    rec = Recorder()
    got = seqloss.edit_distance_batch(hyps, refs, progress=rec)
    check_calls(rec.calls, n)
    assert np.array_equal(got, seqloss.edit_distance_batch(hyps, refs))
    for i in (0, n - 1):
        assert got[i] == levenshtein_dp(hyps[i], refs[i])
    normalized = seqloss.edit_distance_batch(hyps, refs, normalize=True, progress=Recorder())
    assert np.array_equal(normalized, seqloss.edit_distance_batch(hyps, refs, normalize=True))


@pytest.mark.parametrize("unit", ["word", "char"])
def test_error_rates_in_chunks_are_identical_and_match_jiwer(unit):
    n = 2 * _progress.MIN_CHUNK + 300
    hyps, refs = sentences(n, 3)
    rec = Recorder()
    got = seqloss.error_rates(hyps, refs, unit=unit, progress=rec)
    check_calls(rec.calls, n)
    plain = seqloss.error_rates(hyps, refs, unit=unit)
    assert got == plain
    for name in ("pair_hits", "pair_substitutions", "pair_deletions", "pair_insertions",
                 "pair_hypothesis_lengths", "pair_reference_lengths"):
        assert np.array_equal(getattr(got, name), getattr(plain, name))
    if unit == "word":
        assert got.wer == pytest.approx(jiwer.wer(refs, hyps), rel=1e-12)
        # the last pairs (last chunk) agree with the reference word split
        assert got.pair_reference_lengths[-1] == len(jiwer_words(refs[-1]))
        assert seqloss.wer(hyps, refs, progress=Recorder()) == got.wer
    else:
        assert got.cer == pytest.approx(jiwer.cer(refs, hyps), rel=1e-12)
        assert seqloss.cer(hyps, refs, progress=Recorder()) == got.cer


def test_small_job_reports_once_at_the_end():
    rec = Recorder()
    seqloss.error_rates(["a b"], ["a c"], progress=rec)
    assert rec.calls == [(1, 1)]
    rec = Recorder()
    seqloss.edit_distance_batch([], [], progress=rec)
    assert rec.calls == []  # nothing to do


def test_progress_bar_is_drawn(capsys):
    n = 3 * _progress.MIN_CHUNK
    hyps, refs = sentences(n, 4)
    seqloss.wer(hyps, refs, progress=True)
    err = capsys.readouterr().err
    assert "wer: 100%" in err and "%d/%d pairs" % (n, n) in err
    h, hl, r, rl = padded_pairs(10, 5)
    seqloss.edit_distance_batch(h, r, hyp_lengths=hl, ref_lengths=rl, progress=True)
    assert "edit_distance_batch: 100%" in capsys.readouterr().err
    seqloss.edit_distance_batch(h, r, hyp_lengths=hl, ref_lengths=rl, progress=False)
    assert capsys.readouterr().err == ""


def test_bar_redraws_in_place_on_a_terminal():
    class Tty(io.StringIO):
        def isatty(self):
            return True
    out = Tty()
    bar = _progress._Bar("cer", 10, stream=out)
    bar(3)
    bar(10)
    text = out.getvalue()
    assert text.startswith("\rcer:  30%") and "\rcer: 100%" in text and text.endswith("\n")


def test_callback_exception_stops_the_job():
    n = 3 * _progress.MIN_CHUNK
    hyps, refs = sentences(n, 6)
    seen = []

    def cancel(done, total):
        seen.append(done)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        seqloss.error_rates(hyps, refs, progress=cancel)
    assert seen == [_progress.MIN_CHUNK]  # stopped after the first chunk


def test_bad_progress_rejected():
    for bad in (1, "yes", 2.0, [print]):
        with pytest.raises(TypeError, match="Expected progress to be a bool, None or a callable"):
            seqloss.wer(["a"], ["a"], progress=bad)
        with pytest.raises(TypeError, match="Expected progress to be a bool"):
            seqloss.edit_distance_batch(["a"], ["b"], progress=bad)


def test_bad_item_in_a_later_chunk_is_named_by_its_absolute_index():
    n = 3 * _progress.MIN_CHUNK
    hyps, refs = sentences(n, 7)
    hyps[n - 2] = b"bytes"
    rec = Recorder()
    with pytest.raises(TypeError, match=r"hypotheses\[%d\] to be a str" % (n - 2)):
        seqloss.error_rates(hyps, refs, progress=rec)
    assert rec.calls == []  # checked before any work
