"""The process's helper-thread pool (src_cpp/core/workers.hpp): concurrent callers
and forked children get the same results as a lone caller, and never hang."""
import multiprocessing as mp
import threading

import numpy as np
import pytest

import seqloss


def _calls(seed):
    """One call of every family, large enough to use helpers (n_threads=2)."""
    rng = np.random.default_rng(seed)
    T, N, C, L = 60, 24, 20, 12
    x = rng.standard_normal((T, N, C)).astype(np.float32)
    tg = rng.integers(1, C, (N, L))
    logits = rng.standard_normal((3000, 50)).astype(np.float32)
    y = rng.integers(0, 50, 3000)
    a = rng.integers(0, 9, (400, 60))
    b = rng.integers(0, 9, (400, 60))
    return [
        lambda: seqloss.ctc_loss_and_grad(x, tg, np.full(N, T), np.full(N, L),
                                          from_logits=True, reduction="none", n_threads=2),
        lambda: seqloss.cross_entropy_and_grad(logits, y, n_threads=2),
        lambda: seqloss.edit_distance_batch(a, b, n_threads=2),
    ]


def _flat(result):
    parts = result if isinstance(result, tuple) else (result,)
    return [np.asarray(p).copy() for p in parts]


def test_concurrent_callers_get_lone_caller_results():
    """Six Python threads calling every family at once (the pool serves one caller at
    a time; the others run alone) give bit-identical results to one caller."""
    calls = _calls(0)
    want = [_flat(c()) for c in calls]
    errors = []

    def worker(k):
        try:
            for i in range(15):
                j = (i + k) % len(calls)
                got = _flat(calls[j]())
                for g, w in zip(got, want[j]):
                    if not np.array_equal(g, w):
                        errors.append((k, i, j))
        except Exception as e:  # reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a caller hung"
    assert not errors, errors[:5]


def _child(q):
    q.put([float(np.asarray(p).sum()) for c in _calls(1) for p in _flat(c())])


@pytest.mark.skipif("fork" not in mp.get_all_start_methods(), reason="needs fork()")
def test_forked_child_starts_a_fresh_pool():
    """After the parent used the pool, a forked child's multi-threaded calls finish
    (no helper of the parent exists there) with the parent's results."""
    want = [float(np.asarray(p).sum()) for c in _calls(1) for p in _flat(c())]
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(q,))
    p.start()
    got = q.get(timeout=120)
    p.join(timeout=60)
    assert p.exitcode == 0
    assert got == want
