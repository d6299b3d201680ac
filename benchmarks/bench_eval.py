"""Corpus scoring: ``seqloss eval`` vs a jiwer script doing the same job and NIST
sclite, each run as a fresh process (wall time and peak memory).

Corpus (seeded; written to a temporary folder, or under ``--out DIR``, where a
corpus made with the same parameters is reused): N utterances (``--utts``,
default 1,000,000; ``--quick``: 2,000) of 5..40 words (about 20: a normal of
mean 20 and sd 7, rounded and clipped) drawn with Zipf-like frequencies from
5,000 random lowercase words; 200 speakers, utterance ids ``spkNNN-uttNNNNNNN``
(the speaker is the id up to its first ``-``, which is what sclite's ``-i rm``
reads).  The hypothesis plants an error on about 15 % of the reference words:
9 % substituted, 3 % deleted, 3 % preceded by an inserted word.  Files per
corpus: ref.txt and hyp.txt (Kaldi ``utt-id text``; the reference sorted by
id, the hypothesis in generation order, as a decoder writes it), ref.trn and
hyp.trn (sclite's ``text (utt-id)``, every line newline-terminated: sclite
drops a last line without one), utt2spk.  When N is larger than
``--sclite-utts`` (default 100,000), a second corpus of that size is made, and
every tool runs on it too.

Runs (``--only``, default all that are available):

(a) jiwer: ``jiwer_job`` below in a fresh Python: read both Kaldi files, match
    the ids, ``jiwer.process_words``, ``jiwer.collect_error_counts``, write a
    per-utterance CSV of hits/S/D/I.  On every corpus.
(b) sclite: ``sctk sclite -r ref.trn trn -h hyp.trn trn -i rm -o sum dtl``
    (the .sys and .dtl reports), on the corpus of at most ``--sclite-utts``
    utterances only: its memory grows by about 50 KB per utterance (5 GB at
    100,000), so a million would not fit on most machines.
(c) seqloss: ``python -m seqloss eval REF HYP --format kaldi --report
    summary,confusions --per-utt X.csv --bootstrap 1000 --seed S --json
    out.json --no-progress`` on every corpus; skipped with a note while
    ``python -m seqloss eval --help`` fails.
(d) ``--dask``: (c) with ``--scheduler`` set to a fresh 2-worker
    ``distributed.LocalCluster`` (one thread per worker) started by this
    script; the peak memory column is the client process's, and each worker's
    own peak (VmHWM, read from the workers after the run) is printed beside it.

Each measurement runs under a small launcher, a fresh Python that imports
nothing heavy: wall time around the child, and the child's peak RSS from
``getrusage(RUSAGE_CHILDREN)`` after waiting for it (it covers the child and
what the child waited for, e.g. sclite under the ``sctk`` shell wrapper, and
starts at the launcher's own peak, printed as the floor).

Before any time is printed, the totals are compared: seqloss's S + D + I
must equal jiwer's (both are Levenshtein distances; the S/D/I split of equally
short alignments may differ).  sclite's alignment minimises 4 S + 3 (D + I),
not S + D + I, so its total is at least the Levenshtein one and can be larger;
an untimed ``-o pralign`` run compares it utterance by utterance with jiwer's.

    python benchmarks/bench_eval.py --quick
    python benchmarks/bench_eval.py --utts 100000 --only jiwer,sclite
    python benchmarks/bench_eval.py [--utts 1000000] [--dask] [--out DIR] [--reps 3]

Timings are never asserted.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# Only light modules at the top: this file is also the launcher (--measure) and
# the jiwer child (--jiwer-job), whose memory is measured.

VOCAB = 5000
SPEAKERS = 200
WORDS_MEAN, WORDS_SD, WORDS_MIN, WORDS_MAX = 20.0, 7.0, 5, 40
RATES = (0.09, 0.03, 0.03)  # per reference word: substituted, deleted, preceded by an insertion
QUICK_UTTS = 2000
CORPUS_FORMAT = 1  # bump when the generator changes (a reused --out corpus is remade)


# ------------------------------------------------------------------ corpus

def corpus_paths(folder):
    return {k: os.path.join(folder, name) for k, name in
            (("ref_txt", "ref.txt"), ("hyp_txt", "hyp.txt"), ("ref_trn", "ref.trn"),
             ("hyp_trn", "hyp.trn"), ("utt2spk", "utt2spk"))}


def make_corpus(folder, n, seed):
    """Write the corpus of ``n`` utterances to ``folder`` (or reuse the one there when
    it was made with the same parameters); return (paths, stats)."""
    params = dict(format=CORPUS_FORMAT, utts=n, seed=seed, vocab=VOCAB, speakers=SPEAKERS,
                  words=[WORDS_MEAN, WORDS_SD, WORDS_MIN, WORDS_MAX], rates=list(RATES))
    paths = corpus_paths(folder)
    meta_path = os.path.join(folder, "meta.json")
    if os.path.exists(meta_path) and all(os.path.exists(p) for p in paths.values()):
        with open(meta_path) as f:
            meta = json.load(f)
        if meta.get("params") == params:
            return paths, meta["stats"]
    os.makedirs(folder, exist_ok=True)

    import numpy as np
    from seqloss._synthetic import random_words

    rng = np.random.default_rng(seed)
    vocab = random_words(VOCAB, seed=seed + 1)
    cdf = np.cumsum(1.0 / np.arange(1, VOCAB + 1))
    cdf /= cdf[-1]

    def draw(size):  # word ids with Zipf-like (1 / rank) frequencies
        return np.minimum(np.searchsorted(cdf, rng.random(size), side="right"),
                          VOCAB - 1).astype(np.int32)

    lengths = np.clip(np.rint(rng.normal(WORDS_MEAN, WORDS_SD, n)), WORDS_MIN,
                      WORDS_MAX).astype(np.int64)
    total = int(lengths.sum())
    ref = draw(total)                                           # (total,) reference word ids
    # per reference word: 0 substituted, 1 deleted, 2 preceded by an insertion, 3 kept
    ops = np.searchsorted(np.cumsum(RATES), rng.random(total), side="right").astype(np.int8)
    sub = draw(total)
    sub = np.where(sub == ref, (sub + 1) % VOCAB, sub).astype(np.int32)
    ins = draw(total)
    width = np.array([1, 0, 2, 1], dtype=np.int64)[ops]         # hypothesis words per ref word
    hyp_cum = np.concatenate([[0], np.cumsum(width)])
    pos = hyp_cum[:-1]                                          # first hypothesis slot of each
    hyp = np.empty(int(hyp_cum[-1]), dtype=np.int32)
    for op, first in ((3, ref), (0, sub), (2, ins)):
        m = ops == op
        hyp[pos[m]] = first[m]
    m = ops == 2
    hyp[pos[m] + 1] = ref[m]
    ref_bounds = np.concatenate([[0], np.cumsum(lengths)])      # (n + 1,)
    hyp_bounds = hyp_cum[ref_bounds]
    speaker = rng.integers(0, SPEAKERS, size=n)
    stats = dict(utterances=n, reference_words=total, hypothesis_words=int(hyp.size),
                 planted_substitutions=int(np.count_nonzero(ops == 0)),
                 planted_deletions=int(np.count_nonzero(ops == 1)),
                 planted_insertions=int(np.count_nonzero(ops == 2)),
                 speakers=int(np.unique(speaker).size))

    words = np.array(vocab, dtype=object)
    ref_words = words[ref].tolist()
    hyp_words = words[hyp].tolist()
    del ref, hyp, sub, ins, ops, width, hyp_cum, pos
    digits = max(7, len(str(n - 1)))
    ids = ["spk%03d-utt%0*d" % (s, digits, i) for i, s in enumerate(speaker.tolist())]
    rb, hb = ref_bounds.tolist(), hyp_bounds.tolist()
    ref_text = [" ".join(ref_words[rb[i]:rb[i + 1]]) for i in range(n)]
    hyp_text = [" ".join(hyp_words[hb[i]:hb[i + 1]]) for i in range(n)]
    del ref_words, hyp_words
    by_id = np.lexsort((np.arange(n), speaker)).tolist()        # = sorted(ids): zero-padded

    def kaldi(uid, text):
        return "%s %s\n" % (uid, text) if text else uid + "\n"

    def trn(uid, text):
        return "%s (%s)\n" % (text, uid) if text else "(%s)\n" % uid

    for key, order, texts, line in (("ref_txt", by_id, ref_text, kaldi),
                                    ("hyp_txt", range(n), hyp_text, kaldi),
                                    ("ref_trn", by_id, ref_text, trn),
                                    ("hyp_trn", range(n), hyp_text, trn)):
        with open(paths[key], "w", encoding="utf-8") as f:
            f.writelines(line(ids[i], texts[i]) for i in order)
    with open(paths["utt2spk"], "w") as f:
        f.writelines("%s spk%03d\n" % (ids[i], speaker[i]) for i in by_id)
    with open(meta_path, "w") as f:
        json.dump({"params": params, "stats": stats}, f, indent=1)
    return paths, stats


# ------------------------------------------------------------------ the jiwer job (child)

def read_kaldi(path):
    """{utt_id: text} of a Kaldi text file (first field the id, the rest the text)."""
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.split(maxsplit=1)
            if parts:
                out[parts[0]] = parts[1].strip() if len(parts) > 1 else ""
    return out


def jiwer_job(ref_path, hyp_path, csv_path, json_path):
    """What a user writes with jiwer to score a corpus: read both Kaldi files, match
    the ids (a missing hypothesis scores as empty), WER and its counts, the
    confusion counts, and a per-utterance CSV of hits/S/D/I.  Totals to json_path."""
    import csv

    import jiwer

    refs = read_kaldi(ref_path)
    hyps = read_kaldi(hyp_path)
    ids = list(refs)
    missing = sum(1 for u in ids if u not in hyps)
    out = jiwer.process_words([refs[u] for u in ids], [hyps.get(u, "") for u in ids])
    substitutions, insertions, deletions = jiwer.collect_error_counts(out)
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["utt_id", "ref_words", "hits", "substitutions", "deletions", "insertions"])
        for uid, ref_words, chunks in zip(ids, out.references, out.alignments):
            counts = {"equal": 0, "substitute": 0, "delete": 0, "insert": 0}
            for c in chunks:
                if c.type == "insert":
                    counts["insert"] += c.hyp_end_idx - c.hyp_start_idx
                else:
                    counts[c.type] += c.ref_end_idx - c.ref_start_idx
            w.writerow([uid, len(ref_words), counts["equal"], counts["substitute"],
                        counts["delete"], counts["insert"]])
    totals = dict(utterances=len(ids), reference_words=sum(len(r) for r in out.references),
                  hits=out.hits, substitutions=out.substitutions, deletions=out.deletions,
                  insertions=out.insertions, wer=out.wer, missing_hypotheses=missing,
                  confusion_pairs=len(substitutions), inserted_words=len(insertions),
                  deleted_words=len(deletions))
    with open(json_path, "w") as f:
        json.dump(totals, f)


# ------------------------------------------------------------------ launcher (fresh process)

def launcher(spec):
    """Run spec["argv"] (output to spec's files) and print one JSON line: seconds (wall),
    peak_mib (the child's ru_maxrss), rc, floor_mib (this launcher's own peak)."""
    from _common import maxrss_mib, peak_rss_mib

    floor = peak_rss_mib()
    with open(spec["stdout"], "wb") as out, open(spec["stderr"], "wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(spec["argv"], stdout=out, stderr=err, cwd=spec.get("cwd"))
        rc = proc.wait()
        seconds = time.perf_counter() - t0
    import resource

    peak = maxrss_mib(resource.RUSAGE_CHILDREN)
    print(json.dumps({"seconds": seconds, "peak_mib": peak, "rc": rc, "floor_mib": floor}))


def measure(argv, logdir, name, cwd=None):
    """Run ``argv`` under a fresh launcher; its result dict, with "error" on failure."""
    os.makedirs(logdir, exist_ok=True)
    spec = {"argv": argv, "stdout": os.path.join(logdir, name + ".stdout"),
            "stderr": os.path.join(logdir, name + ".stderr"), "cwd": cwd}
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--measure",
                           json.dumps(spec)], capture_output=True, text=True)
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines() or ["exit status %d" % proc.returncode]
        return {"error": "launcher: " + lines[-1]}
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    if res["rc"] != 0:
        with open(spec["stderr"], errors="replace") as f:
            lines = f.read().strip().splitlines() or ["(no stderr)"]
        res["error"] = "exit status %d: %s" % (res["rc"], lines[-1])
    return res


# ------------------------------------------------------------------ the tools

def sclite_util():
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    import sclite_util as su
    return su


def _dist_version(name):
    try:
        from importlib.metadata import version
        return version(name)
    except Exception:
        return None


def sclite_version():
    su = sclite_util()
    cmd = su.sclite_command()
    if cmd is None:
        return None
    proc = subprocess.run(cmd, capture_output=True, text=True)
    m = re.search(r"sclite Version: ([^,\s]+), SCTK Version: (\S+)", proc.stdout + proc.stderr)
    out = "%s (SCTK %s" % m.groups() if m else "? ("
    try:  # the Debian package's version, when that is where it comes from
        pkg = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "sctk"],
                             capture_output=True, text=True)
        if pkg.returncode == 0 and pkg.stdout.strip():
            out += ", Debian sctk %s" % pkg.stdout.strip()
    except OSError:
        pass
    return out + ")"


def seqloss_eval_status():
    """(True, "") when ``python -m seqloss eval --help`` works, else (False, why)."""
    try:
        proc = subprocess.run([sys.executable, "-m", "seqloss", "eval", "--help"],
                              capture_output=True, text=True, timeout=300, cwd=ROOT)
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, "%s: %s" % (type(e).__name__, e)
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines() or ["exit status %d"
                                                                      % proc.returncode]
        return False, lines[-1]
    return True, ""


def run_jiwer(paths, rundir, tag):
    files = {"csv": os.path.join(rundir, "jiwer-per-utt.csv"),
             "json": os.path.join(rundir, "jiwer-totals.json")}
    job = json.dumps([paths["ref_txt"], paths["hyp_txt"], files["csv"], files["json"]])
    res = measure([sys.executable, os.path.abspath(__file__), "--jiwer-job", job], rundir,
                  "jiwer" + tag)
    if "error" not in res:
        with open(files["json"]) as f:
            res["totals"] = json.load(f)
        res["per_utt_csv"] = files["csv"]
    return res


def sclite_argv(paths, rundir, outputs, name):
    os.makedirs(rundir, exist_ok=True)  # sclite does not create its -O folder
    return (sclite_util().sclite_command()
            + ["-r", paths["ref_trn"], "trn", "-h", paths["hyp_trn"], "trn", "-i", "rm",
               "-o"] + outputs + ["-O", rundir, "-n", name])


def run_sclite(paths, rundir, tag):
    su = sclite_util()
    res = measure(sclite_argv(paths, rundir, ["sum", "dtl"], "sclite"), rundir, "sclite" + tag)
    if "error" not in res:
        with open(os.path.join(rundir, "sclite.dtl"), encoding="utf-8", errors="replace") as f:
            t = su.parse_dtl(f.read())
        res["totals"] = dict(utterances=t["sentences"], reference_words=t["words"],
                             hits=t["correct"], substitutions=t["substitutions"],
                             deletions=t["deletions"], insertions=t["insertions"])
    return res


def eval_argv(paths, rundir, args, scheduler=None):
    argv = [sys.executable, "-m", "seqloss", "eval", paths["ref_txt"], paths["hyp_txt"],
            "--format", "kaldi", "--report", "summary,confusions",
            "--per-utt", os.path.join(rundir, "seqloss-per-utt.csv"),
            "--bootstrap", str(args.bootstrap), "--seed", str(args.seed),
            "--json", os.path.join(rundir, "seqloss.json"), "--no-progress"]
    if args.eval_jobs is not None:
        argv += ["-j", str(args.eval_jobs)]
    if scheduler is not None:
        argv += ["--scheduler", scheduler]
    return argv


def _read_eval_json(res, rundir):
    if "error" in res:
        return res
    try:
        with open(os.path.join(rundir, "seqloss.json")) as f:
            summary = json.load(f)["summary"]
        res["totals"] = {k: summary[k] for k in ("utterances", "hits", "substitutions",
                                                 "deletions", "insertions")}
        res["totals"]["reference_words"] = summary["reference_length"]
        res["totals"]["wer"] = summary["error_rate"]
    except (OSError, ValueError, KeyError) as e:
        res["error"] = "seqloss.json: %s: %s" % (type(e).__name__, e)
    return res


def run_seqloss(paths, rundir, tag, args):
    res = measure(eval_argv(paths, rundir, args), rundir, "seqloss" + tag, cwd=ROOT)
    return _read_eval_json(res, rundir)


def run_seqloss_dask(paths, rundir, tag, args):
    """(c) through ``--scheduler`` on a fresh 2-worker LocalCluster, started by a
    child process of its own (a cluster's threads left in this process would take
    CPU from the runs measured after it)."""
    spec = {"paths": paths, "rundir": rundir, "tag": tag,
            "args": {"bootstrap": args.bootstrap, "seed": args.seed,
                     "eval_jobs": args.eval_jobs}}
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--dask-run",
                           json.dumps(spec)], capture_output=True, text=True)
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines() or ["exit status %d" % proc.returncode]
        return {"error": "dask run: " + lines[-1]}
    return _read_eval_json(json.loads(proc.stdout.strip().splitlines()[-1]), rundir)


def dask_run(spec):
    """The child of run_seqloss_dask: start the cluster, measure the run, print the
    result as one JSON line."""
    from distributed import Client, LocalCluster

    sys.path.insert(0, HERE)
    paths, rundir, tag = spec["paths"], spec["rundir"], spec["tag"]
    args = argparse.Namespace(**spec["args"])
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        res = measure(eval_argv(paths, rundir, args, scheduler=cluster.scheduler_address),
                      rundir, "seqloss-dask" + tag, cwd=ROOT)
        import cloudpickle
        import _common

        cloudpickle.register_pickle_by_value(_common)  # the workers need not import it
        with Client(cluster) as client:
            res["worker_peaks_mib"] = sorted(client.run(_common.peak_rss_mib).values())
    print(json.dumps(res))


# ------------------------------------------------------------------ checks

KEYS = ("utterances", "reference_words", "hits", "substitutions", "deletions", "insertions")


def errors_of(t):
    return t["substitutions"] + t["deletions"] + t["insertions"]


def read_per_utt_csv(path):
    import csv
    out = {}
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            out[row["utt_id"]] = tuple(int(row[k]) for k in ("substitutions", "deletions",
                                                              "insertions"))
    return out


def sclite_per_utt(paths, rundir, lev_csv):
    """Untimed ``-o pralign`` run compared with the Levenshtein per-utterance counts:
    a dict of counts and an example id where sclite's total is larger."""
    su = sclite_util()
    proc = subprocess.run(sclite_argv(paths, rundir, ["pralign"], "sclite-pra") + ["-f", "0"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["?"])[-1]}
    with open(os.path.join(rundir, "sclite-pra.pra"), encoding="utf-8", errors="replace") as f:
        pra = su.parse_pra(f.read())
    lev = read_per_utt_csv(lev_csv)
    out = dict(compared=0, larger=0, excess=0, smaller=0, split=0, example=None,
               example_counts=None, missing=0)
    for uid, (s, d, i) in lev.items():
        p = pra.get(uid)
        if p is None:
            out["missing"] += 1
            continue
        out["compared"] += 1
        e_sc = p["substitutions"] + p["deletions"] + p["insertions"]
        e_lev = s + d + i
        if e_sc > e_lev:
            out["larger"] += 1
            out["excess"] += e_sc - e_lev
            if out["example"] is None:
                out["example"] = uid
                out["example_counts"] = ((s, d, i), (p["substitutions"], p["deletions"],
                                                     p["insertions"]))
        elif e_sc < e_lev:
            out["smaller"] += 1
        elif (p["substitutions"], p["deletions"], p["insertions"]) != (s, d, i):
            out["split"] += 1
    return out


def check_totals(n, stats, results, per_utt):
    """Print the per-category counts of every tool; return the list of mismatches."""
    rows, problems = [], []
    for tool, res in results.items():
        t = res.get("totals")
        if t is None:
            continue
        ref_words = t["reference_words"]
        rows.append((tool, t["utterances"], ref_words, t["hits"], t["substitutions"],
                     t["deletions"], t["insertions"], errors_of(t),
                     "%.4f %%" % (100.0 * errors_of(t) / ref_words) if ref_words else "-"))
        for key, want in (("utterances", stats["utterances"]),
                          ("reference_words", stats["reference_words"])):
            if t[key] != want:
                problems.append("%s counts %s=%d, the corpus has %d" % (tool, key, t[key], want))
        if t["hits"] + t["substitutions"] + t["deletions"] != ref_words:
            problems.append("%s: hits + S + D = %d != reference words %d"
                            % (tool, t["hits"] + t["substitutions"] + t["deletions"], ref_words))
    print()
    print("Totals, %d utterances (planted: %d S, %d D, %d I on %d reference words):"
          % (n, stats["planted_substitutions"], stats["planted_deletions"],
             stats["planted_insertions"], stats["reference_words"]))
    print()
    print("| tool | utterances | ref words | hits | S | D | I | S+D+I | WER |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(str(v) for v in r) + " |")
    print()
    tot = {k: v["totals"] for k, v in results.items() if "totals" in v}
    lev_name = "jiwer" if "jiwer" in tot else None
    for name in ("seqloss", "seqloss+dask"):
        if name not in tot:
            continue
        if lev_name is None:
            lev_name = name
            continue
        a, b = tot[lev_name], tot[name]
        if errors_of(a) != errors_of(b):
            problems.append("%s's S+D+I %d != %s's %d"
                            % (name, errors_of(b), lev_name, errors_of(a)))
        elif any(a[k] != b[k] for k in ("substitutions", "deletions", "insertions")):
            print("- %s vs %s: same S+D+I (%d); the split differs (S %+d, D %+d, I %+d): "
                  "equally short alignments, other tie-breaks"
                  % (name, lev_name, errors_of(a), b["substitutions"] - a["substitutions"],
                     b["deletions"] - a["deletions"], b["insertions"] - a["insertions"]))
        else:
            print("- %s vs %s: identical counts" % (name, lev_name))
    if "sclite" in tot and lev_name is not None:
        a, s = tot[lev_name], tot["sclite"]
        diff = errors_of(s) - errors_of(a)
        print("- sclite vs %s (Levenshtein): S+D+I %d vs %d (%+d); S %+d, D %+d, I %+d "
              "(sclite minimises 4 S + 3 (D + I))"
              % (lev_name, errors_of(s), errors_of(a), diff,
                 s["substitutions"] - a["substitutions"], s["deletions"] - a["deletions"],
                 s["insertions"] - a["insertions"]))
        if diff < 0:
            problems.append("sclite's S+D+I %d is below the Levenshtein total %d"
                            % (errors_of(s), errors_of(a)))
    if per_utt is not None:
        if "error" in per_utt:
            print("- sclite -o pralign failed: %s" % per_utt["error"])
        else:
            print("- per utterance (sclite -o pralign vs jiwer's CSV, %d compared): sclite's "
                  "S+D+I larger on %d (by %d words in all), smaller on %d, equal with "
                  "another S/D/I split on %d"
                  % (per_utt["compared"], per_utt["larger"], per_utt["excess"],
                     per_utt["smaller"], per_utt["split"]))
            if per_utt["example"]:
                lev, sc = per_utt["example_counts"]
                print("  e.g. %s: Levenshtein S/D/I %s, sclite %s"
                      % (per_utt["example"], lev, sc))
            if per_utt["missing"] or per_utt["smaller"]:
                problems.append("sclite per utterance: %d missing, %d below Levenshtein"
                                % (per_utt["missing"], per_utt["smaller"]))
    sys.stdout.flush()
    return problems


# ------------------------------------------------------------------ report

def fmt_s(s):
    return "%.2f s" % s if s >= 1 else "%.0f ms" % (s * 1e3)


def median(values):
    v = sorted(values)
    k = len(v) // 2
    return v[k] if len(v) % 2 else 0.5 * (v[k - 1] + v[k])


WHAT = {"jiwer": "read Kaldi files, process_words, collect_error_counts, per-utt CSV",
        "sclite": "sctk sclite -i rm -o sum dtl (trn files)",
        "seqloss": "seqloss eval --report summary,confusions --per-utt --bootstrap B --json",
        "seqloss+dask": "the same with --scheduler (LocalCluster, 2 workers x 1 thread)"}


def header(title, versions):
    import datetime

    from _common import cpu_name
    return "**%s** - %s, %d cores; %s; %s" % (
        title, cpu_name(), os.cpu_count(), ", ".join(versions),
        datetime.date.today().isoformat())


def timing_table(n, stats, results, versions, bootstrap):
    print()
    print(header("Corpus scoring, %d utterances, %d reference words (fresh process per run; "
                 "wall time and peak RSS, medians)" % (n, stats["reference_words"]), versions))
    print()
    print("| tool | what runs | time | peak RSS | utterances/s | tool time / seqloss "
          "| tool memory / seqloss |")
    print("|---|---|---|---|---|---|---|")
    base = results.get("seqloss")
    base = base if base and "error" not in base else None
    for tool, res in results.items():
        what = WHAT[tool].replace("--bootstrap B", "--bootstrap %d" % bootstrap)
        if "error" in res:
            print("| %s | %s | failed: %s | - | - | - | - |" % (tool, what, res["error"]))
            continue
        peak = "%.0f MiB" % res["peak_mib"]
        if res.get("worker_peaks_mib"):
            peak += " (+ workers %s MiB)" % " + ".join("%.0f" % w
                                                       for w in res["worker_peaks_mib"])
        if base is not None and tool != "seqloss":
            tr = "%.2fx" % (res["seconds"] / base["seconds"])
            mr = "%.2fx" % (res["peak_mib"] / base["peak_mib"])
        else:
            tr = mr = "-"
        print("| %s | %s | %s | %s | %.0f | %s | %s |"
              % (tool, what, fmt_s(res["seconds"]), peak, n / res["seconds"], tr, mr))
    floors = [r["floor_mib"] for r in results.values() if "floor_mib" in r]
    if floors:
        print()
        print("Peak RSS includes the launcher's own peak (%.0f MiB), which a child's "
              "maximum starts from." % max(floors))
    sys.stdout.flush()


# ------------------------------------------------------------------ main

def run_corpus(n, folder, args, tools):
    t0 = time.perf_counter()
    paths, stats = make_corpus(folder, n, args.seed)
    print("corpus of %d utterances in %s (%.1f s; %d reference words, %d speakers)"
          % (n, folder, time.perf_counter() - t0, stats["reference_words"], stats["speakers"]),
          flush=True)
    runners = {"jiwer": lambda d, tag: run_jiwer(paths, d, tag),
               "sclite": lambda d, tag: run_sclite(paths, d, tag),
               "seqloss": lambda d, tag: run_seqloss(paths, d, tag, args),
               "seqloss+dask": lambda d, tag: run_seqloss_dask(paths, d, tag, args)}
    runs = {t: [] for t in tools}
    for rep in range(args.reps):  # the order rotates from one repetition to the next
        for j in range(len(tools)):
            tool = tools[(j + rep) % len(tools)]
            rundir = os.path.join(folder, "runs", tool.replace("+", "-"))
            res = runners[tool](rundir, "-%d" % rep)
            runs[tool].append(res)
            print("  %-13s rep %d: %s" % (tool, rep + 1, res["error"] if "error" in res else
                                          "%s, %.0f MiB" % (fmt_s(res["seconds"]),
                                                            res["peak_mib"])), flush=True)
    results = {}
    for tool in tools:
        ok = [r for r in runs[tool] if "error" not in r]
        if not ok:
            results[tool] = runs[tool][-1]
            continue
        res = dict(ok[-1])
        res["seconds"] = median([r["seconds"] for r in ok])
        res["peak_mib"] = median([r["peak_mib"] for r in ok])
        results[tool] = res
    per_utt = None
    if "sclite" in results and "error" not in results["sclite"] and "jiwer" in results \
            and "error" not in results["jiwer"]:
        per_utt = sclite_per_utt(paths, os.path.join(folder, "runs", "sclite"),
                                 results["jiwer"]["per_utt_csv"])
    return stats, results, per_utt


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--utts", type=int, default=1000000, help="utterances in the main corpus")
    ap.add_argument("--quick", action="store_true",
                    help="%d utterances (a smoke test of the script)" % QUICK_UTTS)
    ap.add_argument("--sclite-utts", type=int, default=100000,
                    help="size of the corpus sclite runs on (a second corpus when smaller "
                         "than --utts)")
    ap.add_argument("--only", default="jiwer,sclite,seqloss,dask",
                    help="comma-separated subset of jiwer,sclite,seqloss,dask")
    ap.add_argument("--dask", action="store_true",
                    help="also run seqloss eval on a 2-worker distributed.LocalCluster")
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--eval-jobs", type=int, default=None, help="pass -j N to seqloss eval")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--reps", type=int, default=1, help="runs per tool (medians)")
    ap.add_argument("--out", default=None, help="keep the corpora and outputs in this folder")
    ap.add_argument("--measure", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--jiwer-job", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--dask-run", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        launcher(json.loads(args.measure))
        return
    if args.dask_run:
        dask_run(json.loads(args.dask_run))
        return
    if args.jiwer_job:
        jiwer_job(*json.loads(args.jiwer_job))
        return

    sys.path.insert(0, HERE)
    import tempfile

    import numpy as np

    import seqloss
    from _common import cpu_name

    n_main = QUICK_UTTS if args.quick else args.utts
    n_sclite = min(args.sclite_utts, n_main)
    only = set(args.only.split(","))
    unknown = only - {"jiwer", "sclite", "seqloss", "dask"}
    if unknown:
        ap.error("--only: unknown %s" % ",".join(sorted(unknown)))

    versions = ["python %s" % sys.version.split()[0], "numpy %s" % np.__version__,
                "seqloss %s" % seqloss.__version__]
    notes = []
    jiwer_v = _dist_version("jiwer")
    versions.append("jiwer %s (rapidfuzz %s)" % (jiwer_v, _dist_version("rapidfuzz"))
                    if jiwer_v else "jiwer not installed")
    scl_v = sclite_version()
    versions.append("sclite %s" % scl_v if scl_v else "sclite not installed")
    eval_ok, why = seqloss_eval_status()
    if not eval_ok:
        notes.append("seqloss: `python -m seqloss eval --help` fails (%s): runs (c) and (d) "
                     "skipped" % why)
    dask_ok = False
    if args.dask:
        if _dist_version("distributed") is None:
            notes.append("--dask: dask.distributed is not installed: run (d) skipped")
        else:
            dask_ok = True
            versions.append("dask %s, distributed %s" % (_dist_version("dask"),
                                                          _dist_version("distributed")))
    if jiwer_v is None and "jiwer" in only:
        notes.append("jiwer is not installed: run (a) skipped")
    if scl_v is None and "sclite" in only:
        notes.append("sclite is not installed (Debian/Ubuntu: apt-get install sctk): run (b) "
                     "skipped")
    print("machine: %s, %d cores; %s" % (cpu_name(), os.cpu_count(), "; ".join(versions)))
    for note in notes:
        print("note: " + note)
    sys.stdout.flush()

    def tools_for(n):
        tools = []
        if "jiwer" in only and jiwer_v:
            tools.append("jiwer")
        if "sclite" in only and scl_v and n <= n_sclite:
            tools.append("sclite")
        if "seqloss" in only and eval_ok:
            tools.append("seqloss")
        if "dask" in only and eval_ok and dask_ok:
            tools.append("seqloss+dask")
        return tools

    sizes = sorted({n_main, n_sclite})
    tmp = None
    root = args.out
    if root is None:
        tmp = tempfile.TemporaryDirectory(prefix="bench_eval_")
        root = tmp.name
    try:
        done = []
        for n in sizes:
            stats, results, per_utt = run_corpus(n, os.path.join(root, "utts-%d" % n), args,
                                                 tools_for(n))
            done.append((n, stats, results, per_utt))
        problems = []
        for n, stats, results, per_utt in done:
            problems += check_totals(n, stats, results, per_utt)
        if problems:
            print()
            for p in problems:
                print("MISMATCH: " + p)
            raise SystemExit("totals differ: no times reported")
        for n, stats, results, _ in done:
            if results:
                timing_table(n, stats, results, versions, args.bootstrap)
    finally:
        if tmp is not None:
            tmp.cleanup()


if __name__ == "__main__":
    main()
