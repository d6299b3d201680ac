"""Corpus evaluation: ErrorCounts (exact merging), bootstrap statistics, reports, the
``seqloss eval`` command (inputs, reports, outputs, every user mistake), Dask parity
and, where sclite is installed, its totals."""
import gzip
import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import seqloss
import seqloss.corpus_eval as E

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

jiwer = pytest.importorskip("jiwer")

WORDS = ["a", "b", "c", "the", "cat", "sat", "mat", "on", "héllo", "日本"]


def corpus(n, seed, err=0.2, words=WORDS):
    rng = np.random.default_rng(seed)
    refs, hyps = [], []
    for _ in range(n):
        r = list(rng.choice(words, int(rng.integers(0, 12))))
        h = []
        for w in r:
            u = rng.random()
            if u < err / 3:
                continue  # deletion
            if u < 2 * err / 3:
                h.append(str(rng.choice(words)))  # substitution (maybe a hit)
            else:
                h.append(w)
            if rng.random() < err / 3:
                h.append(str(rng.choice(words)))  # insertion
        refs.append(" ".join(r))
        hyps.append(" ".join(h))
    return hyps, refs


def jiwer_counts(hyps, refs):
    o = jiwer.process_words([r if r else "" for r in refs], [h for h in hyps])
    return o.hits, o.substitutions, o.deletions, o.insertions


# ------------------------------------------------------------------ ErrorCounts


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 60), st.integers(0, 2**31), st.lists(st.integers(0, 60), max_size=4))
def test_counts_merge_exactly(n, seed, cuts):
    """Scoring in parts and adding them gives the counts of scoring the corpus whole
    (totals, per-utterance arrays, speakers, confusions); to_dict/pickle round-trip."""
    hyps, refs = corpus(n, seed)
    spk = ["s%d" % (i % 3) for i in range(n)]
    whole = E.ErrorCounts.from_pairs(hyps, refs, speakers=spk)
    bounds = sorted({0, n, *[min(c, n) for c in cuts]})
    parts = [E.ErrorCounts.from_pairs(hyps[a:b], refs[a:b], speakers=spk[a:b])
             for a, b in zip(bounds, bounds[1:])]
    total = sum(parts) if parts else E.ErrorCounts()
    if n:
        assert total == whole
        assert E.ErrorCounts.from_dict(json.loads(json.dumps(whole.to_dict()))) == whole
        assert pickle.loads(pickle.dumps(whole)) == whole
        H, S, D, I = jiwer_counts(hyps, refs) if any(refs) else (None,) * 4
        if H is not None:
            assert (whole.hits, whole.substitutions, whole.deletions, whole.insertions) == \
                (H, S, D, I)


def test_confusions_match_jiwer():
    """Per-token confusion counts (sclite's dtl convention: one pair per substituted
    word) equal those read token by token off jiwer's alignment chunks (jiwer's own
    collect_error_counts joins a run of errors into one phrase pair)."""
    hyps, refs = corpus(300, 1)
    c = E.ErrorCounts.from_pairs(hyps, refs)
    o = jiwer.process_words(refs, hyps)
    subs, dels, ins = {}, {}, {}
    for r, h, chunks in zip(o.references, o.hypotheses, o.alignments):
        for ch in chunks:
            if ch.type == "substitute":
                for a, b in zip(r[ch.ref_start_idx:ch.ref_end_idx],
                                h[ch.hyp_start_idx:ch.hyp_end_idx]):
                    subs[(a, b)] = subs.get((a, b), 0) + 1
            elif ch.type == "delete":
                for a in r[ch.ref_start_idx:ch.ref_end_idx]:
                    dels[a] = dels.get(a, 0) + 1
            elif ch.type == "insert":
                for b in h[ch.hyp_start_idx:ch.hyp_end_idx]:
                    ins[b] = ins.get(b, 0) + 1
    assert dict(c.substitution_pairs) == subs
    assert dict(c.deleted) == dels
    assert dict(c.inserted) == ins


def test_counts_units_and_bad_input():
    c = E.ErrorCounts.from_pairs(["abc d"], ["abd d"], unit="char", confusions=False)
    assert c.unit == "char" and c.substitutions == 1 and c.hits == 4
    with pytest.raises(ValueError, match="same unit"):
        E.ErrorCounts(unit="word") + E.ErrorCounts(unit="char")
    with pytest.raises(ValueError, match="to_dict"):
        E.ErrorCounts.from_dict({"unit": "word"})
    with pytest.raises(ValueError, match="one speaker per utterance"):
        E.ErrorCounts.from_pairs(["a"], ["a"], speakers=["x", "y"])


# ------------------------------------------------------------------ bootstrap


def test_bootstrap_reproducible_and_exact_resampling():
    """Seeded runs repeat; the per-class draw has the distribution of resampling the
    utterances one by one (means and spreads agree with a naive resampler)."""
    rng = np.random.default_rng(0)
    n = 500
    lengths = rng.integers(1, 30, n)
    errors = rng.binomial(lengths, 0.1)
    a = E.bootstrap_interval(errors, lengths, 400, seed=7)
    b = E.bootstrap_interval(errors, lengths, 400, seed=7)
    assert a == b
    naive = []
    r2 = np.random.default_rng(1)
    for _ in range(4000):
        idx = r2.integers(0, n, n)
        naive.append(errors[idx].sum() / lengths[idx].sum())
    big = E.bootstrap_interval(errors, lengths, 4000, seed=3)
    assert abs(big["mean"] - np.mean(naive)) < 0.002
    assert abs(big["std"] - np.std(naive, ddof=1)) < 0.1 * np.std(naive)
    assert big["lower"] < errors.sum() / lengths.sum() < big["upper"]


def test_bootstrap_coverage_on_known_wer():
    """Corpora drawn with a known error rate: the 95% interval covers it about 95% of
    the time."""
    rng = np.random.default_rng(11)
    p = 0.12
    hit = 0
    trials = 200
    for t in range(trials):
        lengths = rng.integers(5, 30, 400)
        errors = rng.binomial(lengths, p)
        b = E.bootstrap_interval(errors, lengths, 300, seed=t)
        hit += b["lower"] <= p <= b["upper"]
    assert 0.88 <= hit / trials <= 0.99


def test_paired_bootstrap():
    rng = np.random.default_rng(2)
    lengths = rng.integers(5, 20, 300)
    ea = rng.binomial(lengths, 0.2)
    same = E.paired_bootstrap(ea, ea, lengths, 200, seed=1)
    assert same["delta"] == 0.0 and same["prob_b_better"] == 0.0
    better = np.maximum(ea - 1, 0)
    r = E.paired_bootstrap(ea, better, lengths, 200, seed=1)
    assert r["delta"] < 0 and r["upper"] < 0 and r["prob_b_better"] == 1.0
    with pytest.raises(ValueError, match="bootstrap"):
        E.bootstrap_interval(ea, lengths, 0)
    with pytest.raises(TypeError, match="bootstrap"):
        E.bootstrap_interval(ea, lengths, 1.5)


# ------------------------------------------------------------------ reports


def test_report_by_hand():
    refs = ["the cat sat on the mat", "a b c", "", "x y"]
    hyps = ["the bat sat the mat", "a b c d", "", "x y"]
    rep = E.evaluate(hyps, refs, ids=["u1", "u2", "u3", "u4"], speakers=["s1", "s1", "s2", "s2"],
                     alignments=True)
    s = rep.summary()
    assert (s["hits"], s["substitutions"], s["deletions"], s["insertions"]) == (9, 1, 1, 1)
    assert s["utterances_with_errors"] == 2 and s["sentence_error_rate"] == 0.5
    assert s["error_rate"] == pytest.approx(3 / 11)
    sp = rep.speakers()
    assert sp["speakers"]["s1"]["words"] == 9
    assert sp["speakers"]["s1"]["errors"] == pytest.approx(100 * 3 / 9)
    assert sp["speakers"]["s2"]["errors"] == 0.0
    assert sp["Mean"]["errors"] == pytest.approx(50 * 3 / 9)
    c = rep.confusions(5)
    assert c["substitutions"] == [["cat", "bat", 1]]
    assert c["deletions"] == [["on", 1]] and c["insertions"] == [["d", 1]]
    assert [w["id"] for w in rep.worst(5)] == ["u1", "u2"]
    lines = rep.alignment_lines(0, width=200)
    assert lines[0] == "id: (u1)"
    assert lines[1] == "Scores: (#C #S #D #I) 4 1 1 0"
    assert lines[2].split() == ["REF:", "the", "CAT", "sat", "ON", "the", "mat"]
    assert lines[3].split() == ["HYP:", "the", "BAT", "sat", "***", "the", "mat"]
    assert lines[4].split() == ["Eval:", "S", "D"]
    wrapped = rep.alignment_lines(0, width=20)
    rows = [x for x in wrapped if x.startswith(("REF:", "HYP:", "Eval:"))]
    assert len(wrapped) > len(lines) and all(len(x) <= 20 for x in rows)
    text = rep.to_text(("summary", "speakers", "confusions", "worst", "alignments"))
    assert "cat ==> bat" in text and "Median" in text
    d = json.loads(json.dumps(rep.to_dict(alignments=True)))
    assert d["summary"]["errors"] == 3 and len(d["alignments"]) == 4


def test_multiple_units_and_second_system():
    hyps, refs = corpus(100, 4)
    hyps_b, _ = corpus(100, 5)
    rep = E.evaluate(hyps, refs, unit=["word", "char"], hypotheses_b=hyps_b, bootstrap=100)
    assert rep.summary()["char_error_rate"] == pytest.approx(
        seqloss.error_rates(hyps, refs, unit="char").cer)
    assert rep.system_b.error_rate == pytest.approx(seqloss.wer(hyps_b, refs))
    assert rep.paired is not None and 0.0 <= rep.paired["prob_b_better"] <= 1.0
    with pytest.raises(ValueError, match="unit"):
        E.evaluate(hyps, refs, unit="syllable")
    with pytest.raises(ValueError, match="same number"):
        E.evaluate(hyps[:3], refs)


# ------------------------------------------------------------------ the command


def run_cli(*args, cwd=None):
    r = subprocess.run([sys.executable, "-m", "seqloss", "eval", *args], capture_output=True,
                       text=True, cwd=cwd, timeout=300,
                       env=dict(os.environ, PYTHONPATH=ROOT))
    return r.returncode, r.stdout, r.stderr


def write(path, text, gz=False):
    if gz:
        with gzip.open(path, "wt", encoding="utf-8", newline="") as f:
            f.write(text)
    else:
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(text)
    return str(path)


def test_cli_formats_agree(tmp_path):
    hyps, refs = corpus(50, 6)
    ids = ["spk%d-utt%03d" % (i % 4, i) for i in range(50)]
    want = seqloss.error_rates(hyps, refs)
    files = {
        "text": (write(tmp_path / "r.txt", "\n".join(refs) + "\n"),
                 write(tmp_path / "h.txt", "\r\n".join(hyps) + "\r\n")),
        "kaldi": (write(tmp_path / "r.ark", "".join("%s %s\n" % x for x in zip(ids, refs))),
                  write(tmp_path / "h.ark.gz", "".join("%s %s\n" % x for x in
                                                       reversed(list(zip(ids, hyps)))), gz=True)),
        "trn": (write(tmp_path / "r.trn", "".join("%s (%s)\n" % x for x in zip(refs, ids))),
                write(tmp_path / "h.trn", "".join("%s (%s)\n" % x for x in zip(hyps, ids)))),
    }
    for fmt, (r, h) in files.items():
        out = tmp_path / ("%s.json" % fmt)
        code, so, se = run_cli(r, h, "--format", fmt, "--json", str(out), "--no-progress")
        assert code == 0, se
        s = json.loads(out.read_text())["summary"]
        assert (s["hits"], s["substitutions"], s["deletions"], s["insertions"]) == (
            want.hits, want.substitutions, want.deletions, want.insertions), fmt
    # one JSONL manifest with both columns (NeMo field names)
    man = write(tmp_path / "m.jsonl", "".join(json.dumps({"audio_filepath": i, "text": r,
                                                          "pred_text": h}) + "\n"
                                              for i, r, h in zip(ids, refs, hyps)))
    code, so, se = run_cli(man, "--json", str(tmp_path / "m.json"), "--no-progress")
    assert code == 0, se
    assert json.loads((tmp_path / "m.json").read_text())["summary"]["errors"] == \
        want.substitutions + want.deletions + want.insertions


def test_cli_reports_and_outputs(tmp_path):
    hyps, refs = corpus(40, 8)
    ids = ["spk%d-u%02d" % (i % 3, i) for i in range(40)]
    r = write(tmp_path / "r.ark", "".join("%s %s\n" % x for x in zip(ids, refs)))
    h = write(tmp_path / "h.ark", "".join("%s %s\n" % x for x in zip(ids, hyps)))
    h2, _ = corpus(40, 9)
    h2 = write(tmp_path / "h2.ark", "".join("%s %s\n" % x for x in zip(ids, h2)))
    code, so, se = run_cli(r, h, h2, "--report", "summary,speakers,confusions,worst,alignments",
                           "--bootstrap", "200", "--seed", "3", "--per-utt",
                           str(tmp_path / "u.csv"), "--no-progress", "--width", "60")
    assert code == 0, se
    for word in ("Summary", "Speakers", "Median", "Top substitutions", "Worst utterances",
                 "Scores: (#C #S #D #I)", "paired bootstrap", "interval"):
        assert word in so, word
    rows = (tmp_path / "u.csv").read_text(encoding="utf-8").splitlines()
    assert len(rows) == 41 and rows[0].startswith("id,speaker")
    code2, so2, _ = run_cli(r, h, h2, "--bootstrap", "200", "--seed", "3", "--no-progress")
    assert [x for x in so2.splitlines() if "bootstrap" in x] == \
        [x for x in so.splitlines() if "bootstrap" in x]


@pytest.mark.parametrize("make, args, message", [
    (None, ["missing.txt", "h.txt"], "missing.txt"),
    ("mismatch", ["r.txt", "h.txt"], "lines"),
    ("ids", ["r.ark", "h.ark"], "u9"),
    ("badjson", ["m.jsonl"], "line 2"),
    ("field", ["m.jsonl", "--ref-field", "nope"], "nope"),
    (None, ["r.txt", "h.txt", "--bootstrap", "-1"], "bootstrap"),
    (None, ["r.txt", "h.txt", "--report", "everything"], "report"),
    (None, ["r.txt", "h.txt", "--unit", "syllable"], "unit"),
])
def test_cli_user_mistakes(tmp_path, make, args, message):
    """Each mistake: exit status 2 and one line naming it, never a traceback."""
    write(tmp_path / "r.txt", "a b\nc d\n")
    write(tmp_path / "h.txt", "a b\n" if make == "mismatch" else "a b\nc e\n")
    write(tmp_path / "r.ark", "u1 a b\nu9 c\n")
    write(tmp_path / "h.ark", "u1 a b\n")
    write(tmp_path / "m.jsonl", '{"text": "a", "pred_text": "a"}\n' +
          ('{"text": "b", pred_text\n' if make == "badjson" else
           '{"text": "b", "pred_text": "b"}\n'))
    code, so, se = run_cli(*args, cwd=tmp_path)
    assert code == 2, (so, se)
    assert "Traceback" not in se and len(se.strip().splitlines()) == 1, se
    assert message in se, se


def test_cli_missing_modes(tmp_path):
    write(tmp_path / "r.ark", "u1 a b\nu2 c d\n")
    write(tmp_path / "h.ark", "u1 a b\n")
    code, so, se = run_cli("r.ark", "h.ark", "--missing", "skip", "--json", "s.json",
                           "--no-progress", cwd=tmp_path)
    assert code == 0, se
    assert json.loads((tmp_path / "s.json").read_text())["summary"]["utterances"] == 1
    code, so, se = run_cli("r.ark", "h.ark", "--missing", "empty", "--json", "e.json",
                           "--no-progress", cwd=tmp_path)
    assert code == 0, se
    s = json.loads((tmp_path / "e.json").read_text())["summary"]
    assert s["utterances"] == 2 and s["deletions"] == 2


def test_cli_plot(tmp_path):
    pytest.importorskip("matplotlib")
    write(tmp_path / "r.ark", "s1-u1 a b\ns2-u2 c d\n")
    write(tmp_path / "h.ark", "s1-u1 a b\ns2-u2 c e\n")
    code, so, se = run_cli("r.ark", "h.ark", "--plot", "p.png", "--no-progress", cwd=tmp_path)
    assert code == 0, se
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"


# ------------------------------------------------------------------ Dask


def test_dask_local_cluster_parity():
    """A 2-worker LocalCluster on 127.0.0.1 gives the single-process counts exactly."""
    pytest.importorskip("dask.bag")
    distributed = pytest.importorskip("distributed")
    import dask.bag as db
    import seqloss.dask as sd

    hyps, refs = corpus(500, 12)
    spk = ["s%d" % (i % 7) for i in range(500)]
    want = E.ErrorCounts.from_pairs(hyps, refs, speakers=spk)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        bag = db.from_sequence(list(zip(hyps, refs, spk)), npartitions=9)
        got = sd.evaluate(bag)
    assert got == want


def test_cli_scheduler_matches_local_run(tmp_path):
    """``seqloss eval --scheduler`` on a 2-worker LocalCluster prints and writes the same
    summary, speaker table and confusions as the local run."""
    pytest.importorskip("dask.bag")
    distributed = pytest.importorskip("distributed")
    hyps, refs = corpus(300, 13)
    ids = ["s%d-u%03d" % (i % 5, i) for i in range(300)]
    r = write(tmp_path / "r.ark", "".join("%s %s\n" % x for x in zip(ids, refs)))
    h = write(tmp_path / "h.ark", "".join("%s %s\n" % x for x in zip(ids, hyps)))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        code, so, se = run_cli(r, h, "--scheduler", cluster.scheduler_address, "--json",
                               str(tmp_path / "d.json"), "--report", "summary,speakers",
                               "--no-progress")
    assert code == 0, se
    code, so2, se = run_cli(r, h, "--json", str(tmp_path / "l.json"), "--report",
                            "summary,speakers", "--no-progress")
    assert code == 0, se
    assert so == so2
    a = json.loads((tmp_path / "d.json").read_text())
    b = json.loads((tmp_path / "l.json").read_text())
    assert a["summary"] == b["summary"] and a["speakers"] == b["speakers"]
    assert a["confusions"] == b["confusions"]
    code, so, se = run_cli(r, h, "--scheduler", "tcp://127.0.0.1:9", "--no-progress")
    assert code == 2 and "cannot connect" in se and "Traceback" not in se


def test_sclite_totals(tmp_path):
    """Where sclite is installed: per utterance its S + D + I is never below ours (it
    minimises 4 S + 3 (D + I)), equal on every utterance of a random corpus without
    its pathological shapes; sentences, words and per-speaker word counts equal."""
    import sclite_util as SU
    if not SU.have_sclite():
        pytest.skip("sclite (Debian package sctk) is not installed")
    hyps, refs = corpus(400, 21, words=["a", "b", "c", "the", "cat", "sat", "mat", "on"])
    ids = ["s%d-u%03d" % (i % 4, i) for i in range(400)]
    got = SU.run_sclite(dict(zip(ids, refs)), dict(zip(ids, hyps)), str(tmp_path))
    rep = E.evaluate(hyps, refs, ids=ids, speakers=[i.split("-")[0] for i in ids])
    s = rep.summary()
    assert got["sentences"] == s["utterances"] and got["words"] == s["reference_length"]
    ours = {i: int(u[1] + u[2] + u[3]) for i, u in zip(ids, rep.utterance)}
    theirs = {i: c["substitutions"] + c["deletions"] + c["insertions"]
              for i, c in got["utterances"].items()}
    assert all(theirs[i] >= ours[i] for i in ids)
    assert sum(theirs.values()) == s["errors"]
    sp = rep.speakers()["speakers"]
    for name, c in got["speakers"].items():
        assert c["words"] == sp[name]["words"] and c["sentences"] == sp[name]["sentences"]
