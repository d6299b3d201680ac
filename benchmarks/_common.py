"""Helpers shared by the benchmark scripts: the shapes file and the machine line."""
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def shapes_path():
    """../shared/bench_shapes.json next to the checkout (or $SEQLOSS_BENCH_SHAPES)."""
    for cand in (os.environ.get("SEQLOSS_BENCH_SHAPES"),
                 os.path.join(HERE, "..", "..", "shared", "bench_shapes.json"),
                 os.path.join(HERE, "..", "shared", "bench_shapes.json")):
        if cand and os.path.exists(cand):
            return cand
    raise SystemExit("bench_shapes.json not found: expected ../shared/bench_shapes.json next to "
                     "the checkout, or set SEQLOSS_BENCH_SHAPES")


def load_shapes(section):
    """{name: shape} of one section of the shapes file (keys starting with _ dropped)."""
    with open(shapes_path()) as f:
        d = json.load(f)[section]
    return {k: v for k, v in d.items() if not k.startswith("_")}


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def reexec_with_peers(script):
    """``--peers-python PY`` on the command line: run ``script`` again with PY (a venv
    with the peers), the checkout first on its path, and exit with its status.  Call
    it before importing seqloss."""
    argv = sys.argv[1:]
    if "--peers-python" not in argv:
        return
    i = argv.index("--peers-python")
    python = argv[i + 1]
    del argv[i:i + 2]
    root = os.path.dirname(HERE)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
    sys.exit(subprocess.call([python, os.path.abspath(script)] + argv, env=env))


def alternate(fns, reps, inner=1, warmup=True):
    """Median seconds per call of each fn, calling them in turn (order rotated each
    round), as a server or a training loop interleaves them."""
    names = list(fns)
    times = {k: [] for k in names}
    if warmup:
        for k in names:
            fns[k]()
    for rep in range(reps):
        for j in range(len(names)):
            k = names[(j + rep) % len(names)]
            t0 = time.perf_counter()
            for _ in range(inner):
                fns[k]()
            times[k].append((time.perf_counter() - t0) / inner)
    return {k: float(np.median(v)) for k, v in times.items()}


def maxrss_mib(who=None):
    """getrusage's ru_maxrss in MiB (kilobytes on Linux, bytes on macOS); ``who``
    defaults to this process (RUSAGE_CHILDREN: the largest finished child)."""
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF if who is None else who).ru_maxrss
    return r / 2.0 ** 20 if sys.platform == "darwin" else r / 1024.0


def peak_rss_mib():
    """Peak RSS of this process so far (MiB): VmHWM on Linux.  Not ru_maxrss there
    when it can be avoided: a child's ru_maxrss starts at its parent's peak (carried
    across fork and exec), which hides the growth of a child whose parent was big."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return maxrss_mib()
