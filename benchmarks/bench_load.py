"""Threads under load: seqloss and torch with 1 vs the default thread count,
idle and with busy processes competing for the cores (as on a loaded server).

CTC loss + gradient from logits on one shape of ../shared/bench_shapes.json
(default ``speech-char``, float32).  Four settings - seqloss with 1 thread,
seqloss with its default thread count, torch with 1 thread, torch with its
default - run call by call in one process, the order rotated every round;
each phase (idle, then loaded) runs ``--rounds`` rounds of ``--calls`` calls
per setting, and the figure is the median over all calls of the phase (the
scheduler's behaviour drifts, so settings are interleaved, never run as
blocks).  The load is ``--busy`` processes (default: one per core) spinning
in a pure-Python loop.  Nothing here touches OpenMP's environment variables.

    python benchmarks/bench_load.py [--shape speech-char] [--rounds 30] [--calls 5]
                                    [--busy N] [--no-torch]
"""
import argparse
import multiprocessing as mp
import os
import platform
import statistics
import time

import numpy as np

from _common import cpu_name, load_shapes


def _spin(stop):
    x = 0
    while not stop.is_set():
        for _ in range(100000):
            x += 1


def make_inputs(T, N, C, L, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, N, C), dtype=np.float32)
    tg = rng.integers(1, C, size=(N, L), dtype=np.int64)
    return x, tg, np.full(N, T, dtype=np.int64), np.full(N, L, dtype=np.int64)


def phase(settings, rounds, calls):
    times = {name: [] for name, _ in settings}
    for r in range(rounds):
        k = r % len(settings)
        for name, fn in settings[k:] + settings[:k]:
            for _ in range(calls):
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(v) for name, v in times.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", default="speech-char")
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--calls", type=int, default=5)
    ap.add_argument("--busy", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--no-torch", action="store_true")
    args = ap.parse_args()

    import seqloss
    T, N, C, L = load_shapes("ctc")[args.shape]
    x, tg, il, tl = make_inputs(T, N, C, L)
    default = seqloss.get_num_threads()
    settings = [
        ("seqloss 1 thread", lambda: seqloss.ctc_loss_and_grad(x, tg, il, tl, from_logits=True,
                                                               n_threads=1)),
        ("seqloss default (%d)" % default,
         lambda: seqloss.ctc_loss_and_grad(x, tg, il, tl, from_logits=True)),
    ]
    torch_line = "torch not used"
    if not args.no_torch:
        try:
            import torch
        except ImportError:
            torch = None
        if torch is not None:
            t_default = torch.get_num_threads()
            xt, tgt = torch.from_numpy(x), torch.from_numpy(tg)
            ilt, tlt = torch.from_numpy(il), torch.from_numpy(tl)

            def torch_step(nt):
                def step():
                    torch.set_num_threads(nt)
                    leaf = xt.clone().requires_grad_()
                    torch.nn.functional.ctc_loss(leaf.log_softmax(-1), tgt, ilt, tlt).backward()
                return step
            settings += [("torch 1 thread", torch_step(1)),
                         ("torch default (%d)" % t_default, torch_step(t_default))]
            torch_line = "torch %s" % torch.__version__
    print("machine: %s, %d cores; python %s; seqloss %s simd=%s; %s; shape %s %s; "
          "OMP_WAIT_POLICY=%s GOMP_SPINCOUNT=%s" % (
              cpu_name(), os.cpu_count(), platform.python_version(), seqloss.__version__,
              seqloss.simd_level(), torch_line, args.shape, (T, N, C, L),
              os.environ.get("OMP_WAIT_POLICY"), os.environ.get("GOMP_SPINCOUNT")))
    for _, fn in settings:  # warm up
        fn()
    idle = phase(settings, args.rounds, args.calls)
    stop = mp.Event()
    procs = [mp.Process(target=_spin, args=(stop,), daemon=True) for _ in range(args.busy)]
    for p in procs:
        p.start()
    time.sleep(0.5)
    try:
        loaded = phase(settings, args.rounds, args.calls)
    finally:
        stop.set()
        for p in procs:
            p.join()
    print("\nmedian ms per call (%d rounds x %d calls per setting, order rotated; load: %d busy "
          "processes)" % (args.rounds, args.calls, args.busy))
    print("%-22s %10s %10s" % ("setting", "idle", "loaded"))
    for name, _ in settings:
        print("%-22s %10.3f %10.3f" % (name, idle[name] * 1e3, loaded[name] * 1e3))
    for lib in ("seqloss", "torch"):
        one = [n for n, _ in settings if n.startswith(lib + " 1")]
        dflt = [n for n, _ in settings if n.startswith(lib + " default")]
        if one and dflt:
            print("%s: loaded default / 1 thread = %.2f; idle default / 1 thread = %.2f" % (
                lib, loaded[dflt[0]] / loaded[one[0]], idle[dflt[0]] / idle[one[0]]))


if __name__ == "__main__":
    main()
