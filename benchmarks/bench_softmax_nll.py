"""Fused cross-entropy (loss + gradient w.r.t. the logits): seqloss vs torch.

For every ``softmax_nll`` shape of ../shared/bench_shapes.json (float32 logits,
int64 targets, seeded), in one process, alternating (the order rotated each round):

* seqloss ``cross_entropy_and_grad`` with a fresh gradient every call,
* seqloss ``cross_entropy_and_grad(..., grad_out=buf)`` into a reused buffer,
* torch ``cross_entropy(x, y).backward()`` on a fresh leaf tensor (sharing
  the NumPy logits, so no copy is timed; backward allocates the gradient),
* the memory floor: ``np.copyto`` of the logits into a preallocated buffer
  (one read of the logits plus one write of a gradient-sized array).

Prints the machine, medians over the repetitions, the ratios, and checks that
loss and gradient agree with torch.  Timings are never asserted.

    python benchmarks/bench_softmax_nll.py [--threads 2] [--reps 9] [--shapes a,b]

seqloss runs no OpenMP team (its own helper pool, src_cpp/core/workers.hpp),
so torch's libgomp runs with whatever OMP_WAIT_POLICY / GOMP_SPINCOUNT the
environment has (printed with the machine); this script sets neither.
"""
import argparse
import os
import time

import numpy as np

import seqloss
from seqloss.softmax import cross_entropy_and_grad
from _common import cpu_name, load_shapes


def fmt_time(s):
    if s >= 1e-3:
        return "%.2f ms" % (s * 1e3)
    return "%.1f us" % (s * 1e6)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("--shapes", default=None, help="comma-separated shape names")
    args = ap.parse_args()

    import torch
    import torch.nn.functional as F

    torch.set_num_threads(args.threads)
    nt = args.threads
    shapes = load_shapes("softmax_nll")
    if args.shapes:
        shapes = {k: shapes[k] for k in args.shapes.split(",")}
    # smallest first: after the 0.5 GB lm-vocab arrays torch's tiny-call time
    # was up to 7x worse than when run alone, which is not its steady state
    shapes = dict(sorted(shapes.items(), key=lambda kv: kv[1][0] * kv[1][1]))

    print("machine: %s, %d cores, seqloss simd=%s, openmp=%s, threads=%d, "
          "OMP_WAIT_POLICY=%s, GOMP_SPINCOUNT=%s, numpy %s, torch %s"
          % (cpu_name(), os.cpu_count(), seqloss.simd_level(), seqloss.openmp_enabled(),
             nt, os.environ.get("OMP_WAIT_POLICY"), os.environ.get("GOMP_SPINCOUNT"),
             np.__version__, torch.__version__))
    rows = []
    for name, (N, C) in shapes.items():
        rng = np.random.default_rng(1234)
        x = rng.standard_normal((N, C), dtype=np.float32) * 2
        y = rng.integers(0, C, N).astype(np.int64)
        yt = torch.from_numpy(y)
        gbuf = np.empty_like(x)
        cbuf = np.empty_like(x)

        # correctness check against torch (float32 and float64 reference)
        leaf = torch.from_numpy(x).requires_grad_(True)
        lt = F.cross_entropy(leaf, yt)
        lt.backward()
        loss, grad = cross_entropy_and_grad(x, y, n_threads=nt)
        loss2, grad2 = cross_entropy_and_grad(x, y, n_threads=nt, grad_out=gbuf)
        ok = (np.allclose(loss, lt.item(), rtol=1e-5, atol=1e-6)
              and np.allclose(grad, leaf.grad.numpy(), rtol=1e-4, atol=1e-9)
              and loss2 == loss and np.array_equal(grad2, grad))
        del grad, grad2, leaf, lt

        def run_fresh():
            return cross_entropy_and_grad(x, y, n_threads=nt)

        def run_reuse():
            return cross_entropy_and_grad(x, y, n_threads=nt, grad_out=gbuf)

        def run_torch():
            a = torch.from_numpy(x).requires_grad_(True)
            F.cross_entropy(a, yt).backward()
            return a.grad

        def run_copy():
            np.copyto(cbuf, x)

        fns = {"fresh": run_fresh, "reuse": run_reuse, "torch": run_torch, "copy": run_copy}
        # calls per sample: enough to last ~1 ms for the tiny shapes
        inner = max(1, int(2e5 // (N * C)))
        reps = args.reps if inner == 1 else max(args.reps, 15)
        # warm-up: thread pools, first touch of the reused buffers, and the
        # allocator / page-fault path, which took ~8 fresh 65 MB gradients to
        # reach its steady state here (16 -> 10 ms per call for asr-tokens)
        for f in fns.values():
            for _ in range(max(5, min(inner, 50))):
                f()
        times = {k: [] for k in fns}
        names = list(fns)
        for rep in range(reps):
            # rotate the order each round: no variant always runs right after the
            # same other one (torch's freed half-gigabyte tensors, for one, keep
            # the kernel busy returning pages for a while after its call)
            for j in range(len(names)):
                k = names[(j + rep) % len(names)]
                f = fns[k]
                t0 = time.perf_counter()
                for _ in range(inner):
                    r = f()
                times[k].append((time.perf_counter() - t0) / inner)
                del r
        med = {k: float(np.median(v)) for k, v in times.items()}
        rows.append((name, N, C, med, ok))
        print("%-14s done (%s)" % (name, "agree" if ok else "MISMATCH"), flush=True)

    print()
    print("| shape | N x C | torch fwd+bwd | seqloss fresh grad | x torch | seqloss grad_out "
          "| x torch | copy floor | grad_out / floor | agree |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, N, C, med, ok in rows:
        print("| %s | %d x %d | %s | %s | %.1fx | %s | %.1fx | %s | %.2f | %s |" % (
            name, N, C, fmt_time(med["torch"]), fmt_time(med["fresh"]),
            med["torch"] / med["fresh"], fmt_time(med["reuse"]), med["torch"] / med["reuse"],
            fmt_time(med["copy"]), med["reuse"] / med["copy"], "yes" if ok else "NO"))


if __name__ == "__main__":
    main()
