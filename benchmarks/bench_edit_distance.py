"""Edit distance and WER benchmark: seqloss vs rapidfuzz, editdistance and jiwer.

On every ``edit_distance`` shape of ../shared/bench_shapes.json ([pairs,
min_len, max_len, vocab]): references of length uniform in [min_len, max_len]
over ``vocab`` symbols, hypotheses = references with ~15% substitutions and
occasional (10%) truncation to 50-100% of the length; seeded.  Then seqloss.wer
vs jiwer.wer on a generated 100k-sentence corpus.  Results are checked to be
identical before any time is printed.

What each timing includes (all in this one process; every tool gets one untimed
warm-up call, then the tools take turns in a rotating order, median of repeats):
  seqloss        edit_distance_batch on the padded int64 (N, W) arrays + lengths
                 (validation, kernel, output array): all of it; with all
                 OpenMP threads and with n_threads=1 (on a machine shared with
                 other busy processes the 1-thread column is the stable one).
  rapidfuzz      process.cpdist(hyps, refs, scorer=Levenshtein.distance,
                 workers=-1) where hyps/refs are ready-made lists of the 1-D
                 row slices of the same arrays (slicing NOT included; rapidfuzz
                 converts every element itself).  This is the column the
                 targets refer to.  A second column gives cpdist on ready-made
                 Python lists of ints (conversion excluded).
  editdistance   an editdistance.eval loop over ready-made Python lists
                 (the .tolist() conversion excluded).
  jiwer / wer    jiwer.wer(refs, hyps) vs seqloss.wer(hyps, refs) on lists of str.

seqloss runs no OpenMP team (its own helper pool, src_cpp/core/workers.hpp:
a helper that has not started never delays a call), so this script leaves
OMP_WAIT_POLICY alone; it is printed with the machine line.

Usage:  python benchmarks/bench_edit_distance.py [--shapes words,chars] [--repeat 7]
        [--threads N] [--corpus 100000]
"""
import argparse
import os
import platform
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import seqloss
from _common import cpu_name, load_shapes



def _version(dist):
    try:
        from importlib.metadata import version
        return version(dist)
    except Exception:
        return "?"


def make_pairs(n_pairs, lo, hi, vocab, seed):
    rng = np.random.default_rng(seed)
    ref_len = rng.integers(lo, hi + 1, n_pairs).astype(np.int64)
    ref = rng.integers(0, vocab, (n_pairs, hi)).astype(np.int64)
    hyp = ref.copy()
    sub = rng.random((n_pairs, hi)) < 0.15
    hyp[sub] = rng.integers(0, vocab, int(sub.sum()))
    hyp_len = ref_len.copy()
    cut = rng.random(n_pairs) < 0.10
    hyp_len[cut] = (hyp_len[cut] * rng.uniform(0.5, 1.0, int(cut.sum()))).astype(np.int64)
    # padding past the lengths is garbage on purpose (it must be ignored)
    for a, ln in ((hyp, hyp_len), (ref, ref_len)):
        a[np.arange(hi)[None, :] >= ln[:, None]] = -7
    return hyp, hyp_len, ref, ref_len


def make_corpus(n, seed):
    rng = np.random.default_rng(seed)
    vocab = ["w%d" % i for i in range(3000)] + ["über", "naïve", "東京", "😀"]
    refs, hyps = [], []
    for _ in range(n):
        k = int(rng.integers(3, 25))
        ws = [vocab[i] for i in rng.integers(0, len(vocab), k)]
        h = [vocab[int(rng.integers(0, len(vocab)))] if rng.random() < 0.15 else w for w in ws]
        if rng.random() < 0.1:
            h = h[:int(len(h) * rng.uniform(0.5, 1.0))]
        if rng.random() < 0.1:
            h.insert(int(rng.integers(0, len(h) + 1)), "uh")
        refs.append(" ".join(ws))
        hyps.append(" ".join(h))
    return hyps, refs


def timeit(fn, repeat):
    ts = []
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), out


def interleaved(runs):
    """[(fn, reps)] -> [(median seconds, last result)]: one untimed warm-up call each, then
    rounds that call every function still owed a repetition, in an order rotated each round
    (no tool always runs right after the same other tool, or first on cold caches)."""
    outs = [fn() for fn, _ in runs]
    times = [[] for _ in runs]
    for r in range(max(reps for _, reps in runs)):
        k = len(runs)
        for j in range(k):
            i = (j + r) % k
            fn, reps = runs[i]
            if len(times[i]) < reps:
                t0 = time.perf_counter()
                outs[i] = fn()
                times[i].append(time.perf_counter() - t0)
    return [(statistics.median(ts), out) for ts, out in zip(times, outs)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shapes", default=None)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--corpus", type=int, default=100000)
    args = ap.parse_args()

    import editdistance
    import jiwer
    import rapidfuzz
    from rapidfuzz import process
    from rapidfuzz.distance import Levenshtein

    shapes = load_shapes("edit_distance")
    if args.shapes:
        shapes = {k: shapes[k] for k in args.shapes.split(",")}
    nt = args.threads or seqloss.get_num_threads()
    print("machine: %s, %d cores, seqloss %s simd=%s openmp=%s threads=%d, OMP_WAIT_POLICY=%s, "
          "rapidfuzz %s, editdistance %s, jiwer %s, numpy %s, python %s" % (
              cpu_name(), os.cpu_count(), seqloss.__version__, seqloss.simd_level(),
              seqloss.openmp_enabled(), nt, os.environ.get("OMP_WAIT_POLICY"),
              rapidfuzz.__version__,
              _version("editdistance"), _version("jiwer"), np.__version__,
              platform.python_version()))
    print()
    targets = {"words": 25, "chars": 10, "long": 1}
    print("| shape | pairs | seqloss (ms) | seqloss 1 thread (ms) | rapidfuzz cpdist on array "
          "rows (ms) | ratio (target) | ratio, seqloss 1 thread | rapidfuzz cpdist on int lists "
          "(ms) | ratio | editdistance loop (ms) | ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for si, (name, (n_pairs, lo, hi, vocab)) in enumerate(shapes.items()):
        hyp, hl, ref, rl = make_pairs(n_pairs, lo, hi, vocab, seed=1234 + si)
        rep = args.repeat if n_pairs * hi < 5e7 else max(3, args.repeat // 2)

        def run_seqloss():
            return seqloss.edit_distance_batch(hyp, ref, hyp_lengths=hl, ref_lengths=rl,
                                               n_threads=nt)

        hs_a = [hyp[i, :hl[i]] for i in range(n_pairs)]
        rs_a = [ref[i, :rl[i]] for i in range(n_pairs)]

        def run_rf_arrays():
            return process.cpdist(hs_a, rs_a, scorer=Levenshtein.distance, workers=-1)

        hs_l = [hyp[i, :hl[i]].tolist() for i in range(n_pairs)]
        rs_l = [ref[i, :rl[i]].tolist() for i in range(n_pairs)]

        def run_rf_lists():
            return process.cpdist(hs_l, rs_l, scorer=Levenshtein.distance, workers=-1)

        def run_ed():
            ev = editdistance.eval
            return np.array([ev(a, b) for a, b in zip(hs_l, rs_l)], dtype=np.int64)

        def run_seqloss1():
            return seqloss.edit_distance_batch(hyp, ref, hyp_lengths=hl, ref_lengths=rl,
                                               n_threads=1)

        (t_s, d_s), (t_s1, d_s1), (t_ra, d_ra), (t_rl, d_rl), (t_e, d_e) = interleaved(
            [(run_seqloss, rep), (run_seqloss1, rep), (run_rf_arrays, rep),
             (run_rf_lists, rep), (run_ed, max(1, rep // 2))])
        if not np.array_equal(d_s1, d_s):
            raise SystemExit("MISMATCH between seqloss 1 thread and %d threads" % nt)
        for other, label in ((d_ra, "rapidfuzz arrays"), (d_rl, "rapidfuzz lists"),
                             (d_e, "editdistance")):
            if not np.array_equal(np.asarray(other, dtype=np.int64), d_s):
                raise SystemExit("MISMATCH between seqloss and %s on %s" % (label, name))
        tgt = targets.get(name)
        print("| %s | %d | %.2f | %.2f | %.2f | %.1fx (%s) | %.1fx | %.2f | %.1fx | %.1f | %.1fx |"
              % (name, n_pairs, 1e3 * t_s, 1e3 * t_s1, 1e3 * t_ra, t_ra / t_s,
                 ">= %dx" % tgt if tgt else "-", t_ra / t_s1, 1e3 * t_rl, t_rl / t_s,
                 1e3 * t_e, t_e / t_s))
        sys.stdout.flush()

    if args.corpus:
        hyps, refs = make_corpus(args.corpus, seed=99)
        t_s, w_s = timeit(lambda: seqloss.wer(hyps, refs, n_threads=nt), args.repeat)
        t_s1, w_s1 = timeit(lambda: seqloss.wer(hyps, refs, n_threads=1), args.repeat)
        t_j, w_j = timeit(lambda: jiwer.wer(refs, hyps), 1)
        t_sc, c_s = timeit(lambda: seqloss.cer(hyps, refs, n_threads=nt), args.repeat)
        t_jc, c_j = timeit(lambda: jiwer.cer(refs, hyps), 1)
        if w_s != w_j or c_s != c_j or w_s1 != w_s:
            raise SystemExit("MISMATCH: seqloss wer %r cer %r, jiwer wer %r cer %r"
                             % (w_s, c_s, w_j, c_j))
        print()
        print("| corpus (%d sentence pairs) | seqloss (ms) | seqloss 1 thread (ms) | jiwer (ms) | "
              "ratio (target >= 30x) | ratio, seqloss 1 thread |" % len(hyps))
        print("|---|---|---|---|---|---|")
        print("| wer = %.6f | %.1f | %.1f | %.1f | %.1fx | %.1fx |" % (
            w_s, 1e3 * t_s, 1e3 * t_s1, 1e3 * t_j, t_j / t_s, t_j / t_s1))
        print("| cer = %.6f | %.1f | - | %.1f | %.1fx | - |" % (
            c_s, 1e3 * t_sc, 1e3 * t_jc, t_jc / t_sc))
        print("(lists of str in, one float out: everything included for both)")


if __name__ == "__main__":
    main()
