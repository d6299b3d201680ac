"""CTC forced alignment: seqloss ``ctc_forced_align`` vs torchaudio 2.9's
``torchaudio.functional.forced_align`` (time, memory), and the memory of seqloss's
CTC loss on long-audio items.

Inputs (seeded, ``seqloss._synthetic.peaked_log_probs``): float32 log-softmax
emissions that look like an acoustic model's, around a planted path spelling
random labels in 1..C-1 (blank 0, T >= L + repeats), for the ``align`` shapes
[T, L, C] of ../shared/bench_shapes.json (short, medium, long, hour).

Runs:

(a) one item, one thread (short, medium, long): ``ctc_forced_align(x, labels,
    n_threads=1)`` vs ``forced_align(lp[None], targets[None], blank=0)`` with
    ``torch.set_num_threads(1)``; paths compared first, then the two calls
    alternate call by call in one process; medians.
(b) a batch of 16 medium items: seqloss on the (T, 16, C) batch with 1 and 2
    threads vs torchaudio item by item (its batch size is 1), alternating.
(c) peak memory of one alignment at the long shape, each tool in a fresh
    process (same Python): the growth of the peak RSS caused by the call.
(d) the hour shape, seqloss only (fresh process, default threads): time and
    peak-memory growth, next to torchaudio's projected memory (its int8
    back-pointer table of T * (2L + 1) bytes plus two alpha rows; not run).
(e) CTC loss from logits on long-audio items (fresh processes): T=30000,
    L=3000, C=32: ``ctc_loss`` (loss only) vs ``ctc_loss_and_grad`` (default
    ``max_memory``) vs ``ctc_loss_and_grad(max_memory=2**40)`` (the full
    tables); and T=200000, L=20000 (S=40001), loss only.

torchaudio is optional (its runs are skipped with a note).  Run the script with
a Python that has it, the checkout first on its path:

    PYTHONPATH=. /path/to/venv-with-torchaudio/bin/python benchmarks/bench_align.py

or ``--peers-python /path/to/venv-with-torchaudio/bin/python`` re-runs it that
way.  ``--quick`` uses tiny shapes everywhere (a smoke test of the script).
Timings are never asserted.
"""
import argparse
import datetime
import json
import os
import subprocess
import sys
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from _common import reexec_with_peers  # noqa: E402

reexec_with_peers(__file__)

import seqloss  # noqa: E402
from seqloss import _synthetic as SYN  # noqa: E402
from _common import alternate, cpu_name, load_shapes, peak_rss_mib  # noqa: E402

# repetitions of (a) per shape, of (b); tiny shapes and counts for --quick
REPS = {"short": 300, "medium": 40, "long": 4}
BATCH, BATCH_REPS = 16, 5
CTC_SHAPES = {"grad": (30000, 3000, 32), "loss-long": (200000, 20000, 32)}
QUICK_ALIGN = {"short": [60, 8, 8], "medium": [300, 40, 8], "long": [3000, 400, 16],
               "hour": [6000, 900, 16]}
QUICK_REPS = {"short": 20, "medium": 6, "long": 2}
QUICK_BATCH_REPS = 2
QUICK_CTC = {"grad": (2000, 200, 16), "loss-long": (6000, 600, 16)}


def load_torchaudio():
    """(torch, torchaudio.functional) or (None, reason)."""
    try:
        import torch
        import torchaudio
        import torchaudio.functional as F
    except Exception as e:  # ImportError, or a broken binary
        return None, "%s: %s" % (type(e).__name__, e)
    if not hasattr(F, "forced_align"):
        return None, "torchaudio %s has no forced_align" % torchaudio.__version__
    # every call warns that forced_align is deprecated (removed after 2.9)
    warnings.filterwarnings("ignore", message=r"torchaudio\..*deprecated", category=UserWarning)
    torch.set_num_threads(1)
    return torch, F


def versions():
    out = []
    for name in ("torch", "torchaudio"):
        try:
            out.append("%s %s" % (name, __import__(name).__version__))
        except Exception:
            out.append("%s not installed" % name)
    return ", ".join(out)


def header(title):
    return "**%s** - %s, %d cores; seqloss %s (simd %s, openmp %s), numpy %s, %s; %s" % (
        title, cpu_name(), os.cpu_count(), seqloss.__version__, seqloss.simd_level(),
        seqloss.openmp_enabled(), np.__version__, versions(), datetime.date.today().isoformat())


def fmt(s):
    if s >= 1.0:
        return "%.2f s" % s
    return "%.2f ms" % (s * 1e3) if s >= 1e-3 else "%.1f us" % (s * 1e6)


def table(title, cols, rows):
    print()
    print(header(title))
    print()
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(str(v) for v in r) + " |")
    sys.stdout.flush()


# ------------------------------------------------------------------ inputs

def repeats(labels):
    return int(np.count_nonzero(labels[1:] == labels[:-1]))


def random_labels(T, L, C, seed):
    """L labels in 1..C-1 that fit in T frames (T >= L + repeats)."""
    rng = np.random.default_rng(seed)
    for _ in range(100):
        labels = rng.integers(1, C, size=L, dtype=np.int64)
        if T >= L + repeats(labels):
            return labels
    raise SystemExit("no alignable labels for T=%d, L=%d, C=%d" % (T, L, C))


def emissions(T, L, C, N, seed):
    """(T, N, C) float32 log-softmax emissions around planted paths of N random
    label sequences, and the (N, L) labels."""
    labels = np.stack([random_labels(T, L, C, seed * 1000 + n) for n in range(N)])
    x, planted = SYN.peaked_log_probs(T, N, C, seed=seed, labels=list(labels))
    for n in range(N):  # the planted path spells every label (nothing truncated)
        if SYN.collapse(planted[n]) != labels[n].tolist():
            print("note: item %d's planted path is truncated (T=%d too short for L=%d)"
                  % (n, T, L))
    return x, labels


def one_item(T, L, C, seed):
    x, labels = emissions(T, L, C, 1, seed)
    return np.ascontiguousarray(x[:, 0]), labels[0]


# ------------------------------------------------------------------ child processes

def _reset_peak():
    """Reset this process's peak-RSS mark to its current RSS (Linux); else the
    growth below is measured from an older, maybe higher peak."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def child(spec):
    """Run one call of ``spec`` in this (fresh) process; print a JSON line with the
    seconds it took and the growth of the peak RSS it caused (MiB)."""
    kind = spec["kind"]
    T, L, C = spec["shape"]
    if kind == "align":
        x, labels = one_item(T, L, C, seed=spec["seed"])
        if spec["tool"] == "torchaudio":
            torch, F = load_torchaudio()
            lp, tg = torch.from_numpy(x)[None], torch.from_numpy(labels)[None]

            def call():
                return F.forced_align(lp, tg, blank=0)
        else:
            def call():
                return seqloss.ctc_forced_align(x, labels, n_threads=spec.get("threads"))
    else:  # ctc: float32 logits, one unbatched item
        rng = np.random.default_rng(spec["seed"])
        x = rng.standard_normal((T, C), dtype=np.float32)
        labels = random_labels(T, L, C, spec["seed"])
        kw = dict(from_logits=True, reduction="sum")
        if spec["call"] == "loss":
            def call():
                return seqloss.ctc_loss(x, labels, T, L, **kw)
        else:
            kw["max_memory"] = spec.get("max_memory")

            def call():
                return seqloss.ctc_loss_and_grad(x, labels, T, L, **kw)
    reset = _reset_peak()
    before = peak_rss_mib()
    t0 = time.perf_counter()
    out = call()
    seconds = time.perf_counter() - t0
    growth = peak_rss_mib() - before
    del out
    print(json.dumps({"seconds": seconds, "growth_mib": growth, "reset": reset}))


def run_child(spec):
    """The child's result dict, or {"error": last line of its stderr}."""
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", json.dumps(spec)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines() or ["exit code %d" % proc.returncode]
        return {"error": lines[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def mib(r):
    return "failed: %s" % r["error"] if "error" in r else "%.1f MiB" % r["growth_mib"]


def secs(r):
    return "-" if "error" in r else fmt(r["seconds"])


# ------------------------------------------------------------------ runs

def run_single(shapes, reps, ta):
    rows = []
    for name in ("short", "medium", "long"):
        T, L, C = shapes[name]
        x, labels = one_item(T, L, C, seed=1)
        p_sl, s_sl = seqloss.ctc_forced_align(x, labels, n_threads=1)
        fns = {"seqloss": lambda: seqloss.ctc_forced_align(x, labels, n_threads=1)}
        same = "-"
        if ta is not None:
            torch, F = ta
            lp, tg = torch.from_numpy(x)[None], torch.from_numpy(labels)[None]
            p_ta, s_ta = F.forced_align(lp, tg, blank=0)
            ok = (np.array_equal(p_ta[0].numpy(), p_sl)
                  and np.array_equal(s_ta[0].numpy(), s_sl, equal_nan=True))
            same = "yes" if ok else "NO"
            if not ok:
                diff = np.flatnonzero(p_ta[0].numpy() != p_sl)
                print("(a) %s: paths differ at %d frames (first %s)"
                      % (name, diff.size, diff[:5].tolist()))
            fns["torchaudio"] = lambda: F.forced_align(lp, tg, blank=0)
        med = alternate(fns, reps[name], warmup=False)
        t_ta = med.get("torchaudio")
        rows.append((name, T, L, C, fmt(t_ta) if t_ta else "-", fmt(med["seqloss"]),
                     "%.1fx" % (t_ta / med["seqloss"]) if t_ta else "-", same, reps[name]))
        print("(a) %s done" % name, flush=True)
    table("(a) Forced alignment, one item, one thread (medians, calls alternated)",
          ["shape", "T", "L", "C", "torchaudio", "seqloss", "torchaudio / seqloss",
           "same path", "reps"], rows)


def run_batch(shapes, reps, ta):
    T, L, C = shapes["medium"]
    xb, labels = emissions(T, L, C, BATCH, seed=2)
    p1, _ = seqloss.ctc_forced_align(xb, labels, n_threads=1)
    p2, _ = seqloss.ctc_forced_align(xb, labels, n_threads=2)
    if not np.array_equal(p1, p2):
        print("(b) seqloss paths differ between 1 and 2 threads")
    fns = {"seqloss 1 thread": lambda: seqloss.ctc_forced_align(xb, labels, n_threads=1),
           "seqloss 2 threads": lambda: seqloss.ctc_forced_align(xb, labels, n_threads=2)}
    same = "-"
    if ta is not None:
        torch, F = ta
        items = [(torch.from_numpy(np.ascontiguousarray(xb[:, n]))[None],
                  torch.from_numpy(labels[n])[None]) for n in range(BATCH)]
        got = [F.forced_align(lp, tg, blank=0)[0][0].numpy() for lp, tg in items]
        n_same = sum(np.array_equal(got[n], p1[n]) for n in range(BATCH))
        same = "%d/%d" % (n_same, BATCH)
        if n_same != BATCH:
            print("(b) paths differ from torchaudio's on %d items" % (BATCH - n_same))
        fns["torchaudio item by item, 1 thread"] = \
            lambda: [F.forced_align(lp, tg, blank=0) for lp, tg in items]
    med = alternate(fns, reps, warmup=False)
    t_ta = med.get("torchaudio item by item, 1 thread")
    rows = [(k, fmt(v), fmt(v / BATCH), "%.1fx" % (t_ta / v) if t_ta else "-")
            for k, v in med.items()]
    table("(b) Batch of %d medium items (T=%d, L=%d, C=%d), medians of %d alternated calls; "
          "paths same as torchaudio: %s" % (BATCH, T, L, C, reps, same),
          ["run", "batch", "per item", "torchaudio / run"], rows)
    print("seqloss 2 threads vs 1 thread: %.2fx speed-up"
          % (med["seqloss 1 thread"] / med["seqloss 2 threads"]))


def run_memory_long(shapes, ta):
    T, L, C = shapes["long"]
    spec = dict(kind="align", shape=[T, L, C], seed=3)
    res = {"seqloss": run_child(dict(spec, tool="seqloss"))}
    if ta is not None:
        res["torchaudio"] = run_child(dict(spec, tool="torchaudio"))
    rows = [(k, "1" if k == "torchaudio" else "%d (default)" % os.cpu_count(), mib(r), secs(r))
            for k, r in res.items()]
    table("(c) Peak memory of one alignment, long shape (T=%d, L=%d, C=%d), fresh processes "
          "(growth of the peak RSS over the call; inputs built and modules imported before; "
          "seqloss max_memory default %d MiB)"
          % (T, L, C, seqloss.forced_align.DEFAULT_MAX_MEMORY >> 20),
          ["tool", "threads", "peak growth", "time"], rows)
    ok = [r for r in res.values() if "error" not in r]
    if len(ok) == 2 and res["seqloss"]["growth_mib"] > 0:
        print("torchaudio / seqloss memory: %.0fx"
              % (res["torchaudio"]["growth_mib"] / res["seqloss"]["growth_mib"]))
    elif ta is None:
        print("torchaudio skipped (not importable)")


def run_hour(shapes):
    T, L, C = shapes["hour"]
    S = 2 * L + 1
    r = run_child(dict(kind="align", tool="seqloss", shape=[T, L, C], seed=4))
    projected = (T * S + 2 * S * 4) / 2.0 ** 20
    table("(d) Hour shape, seqloss only (fresh process, %d threads by default)" % os.cpu_count(),
          ["T", "L", "C", "S = 2L+1", "seqloss time", "seqloss peak growth",
           "torchaudio projected (T*S int8 + 2 float32 rows of S; not run)"],
          [(T, L, C, S, secs(r), mib(r), "%.0f MiB" % projected)])


def run_ctc(ctc_shapes):
    rows = []
    T, L, C = ctc_shapes["grad"]
    calls = [("ctc_loss (loss only)", dict(call="loss")),
             ("ctc_loss_and_grad, default max_memory", dict(call="grad")),
             ("ctc_loss_and_grad, max_memory=2**40 (full tables)",
              dict(call="grad", max_memory=2 ** 40))]
    for label, kw in calls:
        r = run_child(dict(kind="ctc", shape=[T, L, C], seed=5, **kw))
        rows.append((T, L, 2 * L + 1, label, secs(r), mib(r)))
        print("(e) %s done" % label, flush=True)
    T, L, C = ctc_shapes["loss-long"]
    r = run_child(dict(kind="ctc", shape=[T, L, C], seed=6, call="loss"))
    rows.append((T, L, 2 * L + 1, "ctc_loss (loss only)", secs(r), mib(r)))
    table("(e) CTC loss from float32 logits, one item, C=%d, fresh processes "
          "(default threads; peak RSS growth over the call, the returned gradient included)" % C,
          ["T", "L", "S", "call", "time", "peak growth"], rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny shapes (a smoke test)")
    ap.add_argument("--only", default=None, help="comma-separated subset of a,b,c,d,e")
    ap.add_argument("--peers-python", default=None,
                    help="re-run this script with that interpreter (a venv with torchaudio)")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(json.loads(args.child))
        return
    only = set((args.only or "a,b,c,d,e").split(","))
    if args.quick:
        shapes, reps, batch_reps, ctc_shapes = QUICK_ALIGN, QUICK_REPS, QUICK_BATCH_REPS, QUICK_CTC
    else:
        shapes, reps, batch_reps, ctc_shapes = load_shapes("align"), REPS, BATCH_REPS, CTC_SHAPES
    torch, F = load_torchaudio()
    ta = (torch, F) if torch is not None else None
    print("machine: %s, %d cores; python %s; %s%s" % (
        cpu_name(), os.cpu_count(), sys.version.split()[0], versions(),
        "; quick (tiny shapes)" if args.quick else ""))
    if ta is None:
        print("note: torchaudio not available in %s (%s): its runs are skipped; use "
              "--peers-python PY with a Python that has torchaudio 2.9" % (sys.executable, F))
    sys.stdout.flush()
    if "a" in only:
        run_single(shapes, reps, ta)
    if "b" in only:
        run_batch(shapes, batch_reps, ta)
    if "c" in only:
        run_memory_long(shapes, ta)
    if "d" in only:
        run_hour(shapes)
    if "e" in only:
        run_ctc(ctc_shapes)


if __name__ == "__main__":
    main()
