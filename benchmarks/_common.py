"""Helpers shared by the benchmark scripts: the shapes file and the machine line."""
import json
import os
import platform

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
