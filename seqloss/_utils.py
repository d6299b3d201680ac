"""Argument checking shared by every seqloss function (Python layer)."""
import numbers

import numpy as np

from ._core import get_max_threads

REDUCTIONS = ("none", "mean", "sum")
MAX_THREADS = 1024  # (or OpenMP's maximum, if larger)


def resolve_n_threads(n_threads):
    """Map the public ``n_threads`` argument to a positive thread count.

    None -> OpenMP's maximum (honours OMP_NUM_THREADS); a positive int is used
    as given; a negative int counts back from the maximum (-1 = maximum,
    -2 = one less, never below 1); 0 is an error.
    """
    if n_threads is None:
        return get_max_threads()
    if isinstance(n_threads, (bool, np.bool_)) or not isinstance(n_threads, numbers.Integral):
        raise TypeError(
            "Expected n_threads to be an int or None, but got %r" % (n_threads,))
    n = int(n_threads)
    if n == 0:
        raise ValueError("Expected n_threads to be a non-zero int or None, but got 0")
    if n < 0:
        n = max(get_max_threads() + 1 + n, 1)
    limit = max(MAX_THREADS, get_max_threads())
    if n > limit:
        # thread creation would fail inside the OpenMP runtime (which aborts)
        raise ValueError("Expected n_threads to be at most %d, but got %d" % (limit, n))
    return n


def check_reduction(reduction):
    if not isinstance(reduction, str) or reduction not in REDUCTIONS:
        raise ValueError(
            "Expected reduction to be one of 'none', 'mean' or 'sum', but got %r"
            % (reduction,))
    return reduction


def float_dtype_of(name, arr):
    """Return (compute dtype, output dtype) for a float input array.

    float32/float64 compute as themselves; float16 (and bfloat16 where NumPy
    knows it through ml_dtypes) compute in float32 and are returned as given.
    """
    dt = arr.dtype
    if dt == np.float32 or dt == np.float64:
        return dt, dt
    if dt.kind == "f" or dt.name == "bfloat16":
        return np.dtype(np.float32), dt
    raise TypeError(
        "Expected %s to be a floating point array (float16, float32 or float64), "
        "but got dtype %s" % (name, dt))
