"""CTC loss + gradient from logits: seqloss vs torch, same process, alternating.

For every ``ctc`` shape of ../shared/bench_shapes.json (float32, all inputs
full length, 2 threads): seqloss ``ctc_loss_and_grad(..., from_logits=True)``
with a fresh gradient each call and with a reused ``grad_out``, against torch
``log_softmax`` + ``ctc_loss`` + ``backward()`` on a fresh leaf tensor.
Prints medians and ratios, checks that loss and gradient agree, and measures
the peak memory of the ``long-audio`` shape for both (each in a subprocess).

    python benchmarks/bench_ctc.py [--reps 24] [--threads 2] [--shapes a,b]
"""
import argparse
import itertools
import os
import platform
import subprocess
import sys
import time

import numpy as np

from _common import cpu_name, load_shapes

HERE = os.path.dirname(os.path.abspath(__file__))


def make_inputs(T, N, C, L, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, N, C), dtype=np.float32)
    targets = rng.integers(1, C, size=(N, L), dtype=np.int64)
    il = np.full(N, T, dtype=np.int64)
    tl = np.full(N, L, dtype=np.int64)
    return x, targets, il, tl


def _status_kib(key):
    with open("/proc/self/status") as f:
        return [int(l.split()[1]) for l in f if l.startswith(key + ":")][0]


def peak_child(tool, shape, threads):
    """Run one call in this process and print the RSS growth it caused (MiB)."""
    import seqloss
    T, N, C, L = shape
    x, tg, il, tl = make_inputs(T, N, C, L)
    if tool == "torch":
        import torch
        torch.set_num_threads(threads)
        xt = torch.from_numpy(x)
        tgt, ilt, tlt = torch.from_numpy(tg), torch.from_numpy(il), torch.from_numpy(tl)
        leaf = xt.clone().requires_grad_()  # the input itself is not counted
    with open("/proc/self/clear_refs", "w") as f:  # reset the peak (VmHWM) to now
        f.write("5")
    rss0 = _status_kib("VmRSS")
    if tool == "torch":
        loss = torch.nn.functional.ctc_loss(leaf.log_softmax(-1), tgt, ilt, tlt)
        loss.backward()
    else:
        loss, grad = seqloss.ctc_loss_and_grad(x, tg, il, tl, from_logits=True, n_threads=threads)
    print((_status_kib("VmHWM") - rss0) / 1024.0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=24)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--shapes", default=None)
    ap.add_argument("--peak-child", nargs=2, metavar=("TOOL", "SHAPE"))
    args = ap.parse_args()
    shapes = load_shapes("ctc")
    if args.peak_child:
        peak_child(args.peak_child[0], shapes[args.peak_child[1]], args.threads)
        return

    import torch
    import seqloss

    torch.set_num_threads(args.threads)
    names = args.shapes.split(",") if args.shapes else list(shapes)
    print("machine: %s, %d cores, %s; python %s; numpy %s; torch %s" % (
        cpu_name(), os.cpu_count(), platform.system(), platform.python_version(),
        np.__version__, torch.__version__))
    print("seqloss %s: simd=%s openmp=%s threads=%d; float32, logits -> loss + grad, "
          "reduction=mean, median of %d reps (the 6 orders of the three cycled)" % (
              seqloss.__version__, seqloss.simd_level(), seqloss.openmp_enabled(),
              args.threads, args.reps))
    print()
    header = ("| shape | T, N, C, L | torch ms | seqloss ms | speed-up | seqloss+grad_out ms "
              "| speed-up |")
    print(header)
    print("|" + "---|" * 7)
    for name in names:
        T, N, C, L = shapes[name]
        x, tg, il, tl = make_inputs(T, N, C, L)
        xt = torch.from_numpy(x)
        tgt, ilt, tlt = torch.from_numpy(tg), torch.from_numpy(il), torch.from_numpy(tl)
        gbuf = np.empty_like(x)

        def run_torch():
            leaf = xt.clone().requires_grad_()
            t0 = time.perf_counter()
            loss = torch.nn.functional.ctc_loss(leaf.log_softmax(-1), tgt, ilt, tlt)
            loss.backward()
            return time.perf_counter() - t0, loss.item(), leaf.grad

        def run_seq():
            t0 = time.perf_counter()
            loss, grad = seqloss.ctc_loss_and_grad(x, tg, il, tl, from_logits=True,
                                                   n_threads=args.threads)
            return time.perf_counter() - t0, float(loss), grad

        def run_seq_out():
            t0 = time.perf_counter()
            loss, grad = seqloss.ctc_loss_and_grad(x, tg, il, tl, from_logits=True,
                                                   n_threads=args.threads, grad_out=gbuf)
            return time.perf_counter() - t0, float(loss), grad

        # correctness: same loss and gradient
        _, lt, gt = run_torch()
        _, ls, gs = run_seq()
        if not np.isclose(lt, ls, rtol=1e-4):
            raise SystemExit("%s: loss mismatch torch %r seqloss %r" % (name, lt, ls))
        err = float(np.abs(gt.numpy() - gs).max())
        if err > 1e-5:
            raise SystemExit("%s: gradient mismatch, max abs diff %g" % (name, err))
        reps = args.reps if T * N * max(C, 2 * L) < 5e7 else max(5, args.reps // 3)
        tt, ts, to = [], [], []
        for _ in range(2):  # warm-up
            run_torch(), run_seq(), run_seq_out()
        # cycle through the 6 orders of the three, so that each variant follows each of the
        # others equally often (a call right after another library's runs on colder caches)
        orders = list(itertools.permutations([(run_torch, tt), (run_seq, ts), (run_seq_out, to)]))
        for i in range(reps):
            for fn, acc in orders[i % len(orders)]:
                acc.append(fn()[0])
        mt, ms, mo = np.median(tt), np.median(ts), np.median(to)
        print("| %s | %d, %d, %d, %d | %.3f | %.3f | %.1fx | %.3f | %.1fx |" % (
            name, T, N, C, L, mt * 1e3, ms * 1e3, mt / ms, mo * 1e3, mt / mo))
        sys.stdout.flush()

    if "long-audio" in names:
        print()
        res = {}
        for tool in ("torch", "seqloss"):
            out = subprocess.run(
                [sys.executable, os.path.abspath(__file__), "--threads", str(args.threads),
                 "--peak-child", tool, "long-audio"],
                capture_output=True, text=True, check=True)
            res[tool] = float(out.stdout.strip().splitlines()[-1])
        print("peak memory growth, long-audio (one loss + gradient call): torch %.1f MiB, "
              "seqloss %.1f MiB (%.1fx less)" % (res["torch"], res["seqloss"],
                                                 res["torch"] / max(res["seqloss"], 1e-9)))


if __name__ == "__main__":
    main()
