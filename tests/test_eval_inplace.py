"""The in-place path of ``seqloss eval`` against the general one it replaces for
text, kaldi and trn files: files parsed by C++ (src_cpp/edit/corpus.hpp) into
spans, ids matched in C++, confusion counts tallied by the counting pass, and the
per-utterance CSV formatted in C++.  The general reader (``in_place=False``),
the alignments' own counts and the csv module are the references.
"""
import csv
import io
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import seqloss
import seqloss.corpus_eval as E
from seqloss import _edit, _eval_cli
from seqloss._eval_io import InputError, match, read_transcripts
from seqloss._spans import SpanTexts

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])

# characters that exercise every rule: whitespace Python's isspace() knows (ASCII,
# Latin-1, wider), the trn / kaldi / CSV syntax, and code points of all three widths
ALPHABET = ["a", "b", "c", "-", "_", " ", " ", "\t", "\x0b", "\x1c", "\x85", "\xa0",
            "\u3000", "(", ")", ";", ",", '"', "\r", "\n", "\n", "\r\n", "é", "中", "\U0001f600"]
texts = st.lists(st.sampled_from(ALPHABET), max_size=60).map("".join)


def outcome(path, fmt, in_place):
    """What reading ``path`` gives: (format, texts, ids, speakers, warning) or the
    InputError message."""
    try:
        t = read_transcripts(path, format=fmt, in_place=in_place)
    except InputError as e:
        return ("error", str(e))
    sp = t.speakers
    return (t.format, list(t.texts), None if t.ids is None else list(t.ids),
            None if sp is None else list(sp), t.warning)


def write(path, text):
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    return str(path)


@SETTINGS
@given(text=texts, fmt=st.sampled_from(["auto", "text", "kaldi", "trn"]),
       name=st.sampled_from(["f.txt", "f.trn", "text", "f.ark", "f.lst"]))
@example(text="a (u-1)\n;; c\n\nb  (u_2) \n", fmt="auto", name="f.trn")
@example(text="u-1 a\tb\n\n  \nu-1 c\n", fmt="kaldi", name="f.txt")
@example(text="x (u1\n", fmt="trn", name="f.txt")
@example(text="a ()\n", fmt="trn", name="f.txt")
@example(text="", fmt="text", name="f.txt")
@example(text="\n\n", fmt="text", name="f.txt")
def test_reader_matches_general_reader(tmp_path, text, fmt, name):
    """Reading in place gives the general reader's texts, ids, speakers, warning and
    error message, for every format and detection rule."""
    path = write(tmp_path / name, text)
    assert outcome(path, fmt, True) == outcome(path, fmt, False)


lines = st.lists(st.tuples(st.sampled_from(["u1", "u2", "s-3", "s-4", "t_5", "6"]), texts),
                 max_size=6)


def kaldi(rows):
    return "".join("%s %s\n" % (u, t.replace("\n", " ").replace("\r", " ")) for u, t in rows)


@SETTINGS
@given(ref=lines, hyp=lines, missing=st.sampled_from(["error", "skip", "empty"]),
       hyp_fmt=st.sampled_from(["kaldi", "text"]))
def test_match_matches_general_matcher(tmp_path, ref, hyp, missing, hyp_fmt):
    """Matching files read in place pairs the same ids, texts and speakers (and
    raises the same errors) as matching lists, in every missing mode."""
    rp = write(tmp_path / "ref.txt", kaldi(ref))
    hp = write(tmp_path / "hyp.txt", kaldi(hyp))

    def run(in_place):
        try:
            r = read_transcripts(rp, format="kaldi", in_place=in_place)
            h = read_transcripts(hp, format=hyp_fmt, in_place=in_place)
            m = match(r, h, missing=missing)
        except InputError as e:
            return ("error", str(e))
        ids, refs, hyps, spk, dropped = m

        def lst(x):
            return None if x is None else list(x)
        return lst(ids), lst(refs), lst(hyps), lst(spk), dropped, m.only_ref, m.only_hyp
    assert run(True) == run(False)


def _quote(t):
    """A CSV field as the module documents it: quoted (quotes doubled) when it holds a
    quote, a comma or a line break ('\\r' too: a reader takes a bare one as a line end)."""
    if '"' in t or "," in t or "\n" in t or "\r" in t:
        return '"' + t.replace('"', '""') + '"'
    return t


def python_csv(report):
    """The per-utterance CSV formatted row by row in Python (the reference)."""
    header, rows = report.per_utterance_rows()
    out = [",".join(header) + "\n"]
    for r in rows:
        r = list(r)
        r[9] = repr(r[9])       # error_rate: repr(round(rate, 6))
        out.append(",".join(_quote(str(x)) for x in r) + "\n")
    return "".join(out).encode("utf-8")


@SETTINGS
@given(refs=st.lists(texts, min_size=0, max_size=8), data=st.data())
def test_csv_matches_row_formatter_and_reads_back(refs, data):
    """The C++ CSV writer writes the row-by-row formatter's bytes (quoting, unicode,
    ids by row number, empty speakers, rates as repr(round(x, 6))), and the csv
    module reads every field back."""
    hyps = data.draw(st.lists(texts, min_size=len(refs), max_size=len(refs)))
    ids = data.draw(st.one_of(st.none(), st.lists(texts, min_size=len(refs),
                                                  max_size=len(refs))))
    spk = data.draw(st.one_of(st.none(), st.lists(texts, min_size=len(refs),
                                                  max_size=len(refs))))
    rep = E.evaluate(hyps, refs, ids=ids, speakers=spk, unit="char")
    rep.ids = ids
    f = io.BytesIO()
    _eval_cli.write_csv(f, rep)
    assert f.getvalue() == python_csv(rep)
    header, rows = rep.per_utterance_rows()
    back = list(csv.reader(io.StringIO(f.getvalue().decode("utf-8"), newline="")))
    assert back[0] == header and len(back) == len(refs) + 1
    for got, want in zip(back[1:], rows):
        assert got[:9] + got[10:] == [str(x) for x in want[:9] + want[10:]]
        assert float(got[9]) == want[9]


@given(err=st.integers(0, 10**6), n=st.integers(0, 10**6), ins=st.integers(0, 10**9))
@example(err=1, n=640, ins=0)      # 0.0015625: a decimal tie, not exact in binary
@example(err=1, n=128, ins=0)      # 0.0078125: an exact tie (to even)
@example(err=1, n=20000, ins=0)    # 5e-05: exponent notation
@example(err=3, n=200000, ins=0)   # 1.5e-05
@example(err=0, n=0, ins=10**9)
def test_rate_format(err, n, ins):
    """The CSV's error_rate is Python's repr(round(rate, 6)), for every rate."""
    rate = err / n if n else float(ins)
    assert _edit.round6_repr(rate) == repr(round(rate, 6))


def confusions_from_alignments(hyps, refs, unit):
    al = seqloss.align(hyps, refs, unit=unit)
    voc = al.vocabulary

    def name(i):
        return voc[i]
    r, h, n = al.substitutions()
    di, dn = al.deletions()
    ii, inn = al.insertions()
    return ({(name(a), name(b)): int(k) for a, b, k in zip(r.tolist(), h.tolist(), n.tolist())},
            {name(a): int(k) for a, k in zip(di.tolist(), dn.tolist())},
            {name(a): int(k) for a, k in zip(ii.tolist(), inn.tolist())})


words = st.lists(st.sampled_from(["a", "b", "cc", "d", "é", "中", "\U0001f600", "a\tb"]),
                 max_size=12).map(" ".join)


@SETTINGS
@given(pairs=st.lists(st.tuples(words, words), max_size=12),
       unit=st.sampled_from(["word", "char", "mixed"]), n_threads=st.sampled_from([1, 2]))
def test_tallies_match_alignments(pairs, unit, n_threads):
    """The confusion counts tallied during the counting pass equal those of the
    recorded alignments (same backtrace), whatever the thread count; the counts
    are error_rates'."""
    hyps = [h for h, _ in pairs]
    refs = [r for _, r in pairs]
    c = E.ErrorCounts.from_pairs(hyps, refs, unit=unit, n_threads=n_threads)
    subs, dels, ins = confusions_from_alignments(hyps, refs, unit)
    assert dict(c.substitution_pairs) == subs
    assert dict(c.deleted) == dels
    assert dict(c.inserted) == ins
    r = seqloss.error_rates(hyps, refs, unit=unit)
    assert (c.hits, c.substitutions, c.deletions, c.insertions) == (
        r.hits, r.substitutions, r.deletions, r.insertions)


def test_tallies_thread_independent():
    """The tallies' arrays (order included) do not depend on the thread count."""
    rng = np.random.default_rng(0)
    vocab = ["w%d" % i for i in range(300)]
    refs = [" ".join(rng.choice(vocab, rng.integers(0, 30))) for _ in range(3000)]
    hyps = [" ".join(w for w in r.split() if rng.random() > 0.2) + " x" for r in refs]
    import sys
    ed = sys.modules["seqloss.edit_distance"]
    outs = [ed._counts_and_tallies(hyps, refs, "word", n_threads=k) for k in (1, 2, 3)]
    for counts, (voc, subs, dels, ins) in outs[1:]:
        assert np.array_equal(counts, outs[0][0]) and voc == outs[0][1][0]
        for a, b in zip(subs + dels + ins, outs[0][1][1] + outs[0][1][2] + outs[0][1][3]):
            assert np.array_equal(a, b)


def test_span_texts():
    """SpanTexts behaves as the list of its strings (index, slice, iteration, take,
    concatenation, equality)."""
    a = SpanTexts.of_strings(["ab", "", "cd€", "x"])
    assert list(a) == ["ab", "", "cd€", "x"] and len(a) == 4 and a[-1] == "x"
    assert a[1:3] == ["", "cd€"] and a == ["ab", "", "cd€", "x"]
    b = a.take(np.array([2, -1, 0]))
    assert list(b) == ["cd€", "", "ab"]
    c = b + a
    assert list(c) == ["cd€", "", "ab", "ab", "", "cd€", "x"] and c[4] == ""
    assert [list(SpanTexts(c.slice(i, j))) for i, j in ((0, 7), (2, 5), (5, 5))] == [
        list(c), ["ab", "ab", ""], []]
    with pytest.raises(IndexError):
        a[4]


def test_cli_in_place_equals_general(tmp_path, monkeypatch):
    """seqloss eval on kaldi files gives the same outputs (stdout, JSON, CSV) read in
    place as through the general reader."""
    rng = np.random.default_rng(1)
    vocab = ["w%d" % i for i in range(50)] + ["é", "中文", 'q"u', "c,d"]
    rows = []
    for i in range(400):
        r = " ".join(rng.choice(vocab, rng.integers(0, 12)))
        h = " ".join(w for w in r.split() if rng.random() > 0.15)
        rows.append(("spk%d-u%03d" % (i % 7, i), r, h))
    order = rng.permutation(len(rows))
    write(tmp_path / "ref.txt", "".join("%s %s\n" % (u, r) for u, r, _ in rows))
    write(tmp_path / "hyp.txt", "".join("%s %s\n" % (rows[i][0], rows[i][2])
                                        for i in order[:-3]))
    outs = []
    for in_place in (True, False):
        import seqloss._eval_io as io_mod
        orig = io_mod.read_transcripts
        monkeypatch.setattr(io_mod, "read_transcripts",
                            lambda *a, _o=orig, _p=in_place, **k: _o(*a, in_place=_p, **k))
        d = tmp_path / str(in_place)
        os.makedirs(d)
        from seqloss.__main__ import main
        buf = io.StringIO()
        monkeypatch.setattr("sys.stdout", buf)
        rc = main(["eval", str(tmp_path / "ref.txt"), str(tmp_path / "hyp.txt"),
                   "--format", "kaldi", "--missing", "empty", "--report",
                   "summary,speakers,confusions,worst,alignments", "--bootstrap", "50",
                   "--json", str(d / "o.json"), "--per-utt", str(d / "o.csv"),
                   "--no-progress"])
        assert rc == 0
        outs.append((buf.getvalue(), open(d / "o.json").read(),
                     open(d / "o.csv", "rb").read()))
        monkeypatch.setattr(io_mod, "read_transcripts", orig)
    assert outs[0] == outs[1]


@SETTINGS
@given(pairs=st.lists(st.tuples(words, words), max_size=16), cuts=st.lists(
    st.integers(0, 16), max_size=3), materialise=st.lists(st.booleans(), min_size=4, max_size=4))
def test_parts_add_up_with_array_confusions(pairs, cuts, materialise):
    """Parts whose confusion counts are still arrays add up (arrays merged, or
    Counters when one part has them) to the counts of the whole corpus."""
    hyps = [h for h, _ in pairs]
    refs = [r for _, r in pairs]
    bounds = sorted(set([0, len(pairs)] + [min(c, len(pairs)) for c in cuts]))
    parts = [E.ErrorCounts.from_pairs(hyps[a:b], refs[a:b]) for a, b in zip(bounds[:-1],
                                                                          bounds[1:])]
    for p, m in zip(parts, materialise):
        if m:
            p.substitution_pairs  # -> Counters
    whole = E.ErrorCounts.from_pairs(hyps, refs)
    total = sum(parts) if parts else E.ErrorCounts()
    assert total == whole
    assert total.top_confusions(5) == whole.top_confusions(5)
