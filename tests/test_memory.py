"""Memory that seqloss keeps between calls (output pool, kernel scratch cache)."""
import numpy as np

import seqloss
from seqloss import _core


def _ctc_case(T, N, C, L, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, N, C)).astype(np.float32)
    tg = rng.integers(1, C, (N, L))
    return x, tg, np.full(N, T), np.full(N, L)


def test_reused_scratch_blocks_do_not_change_results():
    """Large scratch blocks recycled between calls of other shapes give bit-identical results."""
    big = _ctc_case(1500, 2, 32, 300, 0)   # scratch blocks of several MiB per thread
    other = _ctc_case(1200, 3, 40, 250, 1)
    seqloss.release_memory()
    fresh = seqloss.ctc_loss_and_grad(*big, from_logits=True, reduction="none")
    for _ in range(2):
        seqloss.ctc_loss_and_grad(*other, from_logits=True, reduction="none")
        again = seqloss.ctc_loss_and_grad(*big, from_logits=True, reduction="none")
        np.testing.assert_array_equal(again[0], fresh[0])
        np.testing.assert_array_equal(again[1], fresh[1])


def test_release_memory_empties_the_output_pool():
    """release_memory() frees the pooled output blocks (and the kernels' scratch caches)."""
    case = _ctc_case(400, 16, 100, 20, 2)
    grad = seqloss.ctc_loss_and_grad(*case, from_logits=True)[1]
    del grad
    assert _core.pool_stats()[0] >= 1
    seqloss.release_memory()
    assert _core.pool_stats() == (0, 0)
