"""Argument checking for every public seqloss function: one place per rule.

Every message the user can see for a bad argument is written here, once, with
one exception type per kind of mistake:

=========================================  ===========  =============================
mistake                                    type         wording
=========================================  ===========  =============================
not an int (bool and float included)       TypeError    ``check_int``
non-integer array (float, bool, str, ...)  TypeError    ``int_array``
integer out of int64 (uint64 >= 2**63)     ValueError   ``int_array``
lengths of the wrong shape or size         ValueError   ``lengths``
negative length / length over its limit    ValueError   ``length_error``
n_threads 0 or absurdly large              ValueError   ``resolve_n_threads``
unknown reduction                          ValueError   ``reduction_code``
non-float input array                      TypeError    ``float_dtype_of``
extended-precision float (longdouble)      TypeError    ``float_dtype_of``
number beyond float range (10**400)        ValueError   ``check_label_smoothing``
more memory than the machine can give      MemoryError  ``check_memory``
grad_out not an ndarray / wrong dtype      TypeError    ``check_grad_out``
grad_out wrong shape, layout, overlap      ValueError   ``check_grad_out`` /
                                                        ``overlap_error``
tensor on a non-CPU device                 ValueError   ``check_cpu``
=========================================  ===========  =============================

Messages name the argument and the offending value, worded like PyTorch's
(``"Expected input_lengths to have value at most 400, but got value 401"``).

The Cython fast paths (``_ctc.fast``) import ``MAX_THREADS``, ``MAX_CLASSES``
and ``REDUCTIONS`` from here, so the limits have one source; when a fast path
finds an invalid length or label it raises through ``ctc_item_error`` here.

Reductions: the table (``REDUCTIONS``, codes shared with ``Reduction`` in
src_cpp/core/reduce.hpp) and its check live here; the arithmetic is
src_cpp/core/reduce.hpp (fixed-order float64 sums: CTC's per-item mean/sum,
cross-entropy's sum of row contributions, whose weighted-mean normaliser the
C++ kernel folds into each row).  WER/CER are corpus ratios of summed counts
(``edit_distance.error_rates``), not a mean of per-item values.
"""
from __future__ import annotations

import numbers
from typing import Any, Optional

import os

import numpy as np

from ._core import get_max_threads

__all__ = [
    "MAX_THREADS", "MAX_CLASSES", "INT64_MAX", "REDUCTIONS",
    "is_int", "check_int", "check_cpu", "as_array", "int_array", "lengths", "length_error",
    "resolve_n_threads", "reduction_code", "float_dtype_of", "check_grad_out",
    "check_ignore_index", "check_label_smoothing", "check_blank", "ctc_item_error",
    "overlap_error", "check_lengths_within", "check_memory", "available_memory",
    "MEMORY_CHECK_BYTES", "check_not_extended", "overlaps", "carray",
]

MAX_THREADS = 1024          # n_threads limit (or OpenMP's maximum, if larger)
MAX_CLASSES = 2**31 - 1     # classes per row the kernels index with int32
INT64_MAX = 2**63 - 1
REDUCTIONS = {"none": 0, "mean": 1, "sum": 2}  # = seqloss::Reduction in src_cpp/core/reduce.hpp

_ndarray = np.ndarray
_INT64 = np.dtype(np.int64)
_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)
_BOOLS = (bool, np.bool_)


# ------------------------------------------------------------------ integers

def is_int(value: Any) -> bool:
    """True for an integer that is not a bool (Python or NumPy)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, _BOOLS)


def check_int(name: str, value: Any, *, none_ok: bool = False) -> Optional[int]:
    """``value`` as a Python int; TypeError for bools, floats and anything else.

    ``none_ok``: None is allowed (and returned).
    """
    if type(value) is int:
        return value
    if value is None and none_ok:
        return None
    if not is_int(value):
        raise TypeError("Expected %s to be an int%s, but got %r"
                        % (name, " or None" if none_ok else "", value))
    return int(value)


# ------------------------------------------------------------------ devices

def check_cpu(name: str, x: Any) -> None:
    """ValueError when ``x`` is a tensor (anything with ``.device.type``) off the CPU."""
    device = getattr(x, "device", None)
    if device is not None and getattr(device, "type", "cpu") != "cpu":
        raise ValueError("seqloss is a CPU library: expected %s on the CPU, but got a tensor "
                         "on %s" % (name, device))


def carray(a: np.ndarray, dtype: Any = None) -> np.ndarray:
    """``a`` C-contiguous and aligned (the kernels read raw typed pointers), converted to
    ``dtype`` when given: ``a`` itself when it already is all that."""
    f = a.flags
    if f.c_contiguous and f.aligned and (dtype is None or a.dtype == dtype):
        return a
    return np.require(a, dtype, ("C", "A"))


def as_array(name: str, x: Any, *, detach: bool = False) -> np.ndarray:
    """``x`` as an ndarray (no copy for ndarrays and CPU tensors); device checked first.

    ``detach``: a tensor that requires grad is read through ``.detach()`` (for inputs
    whose result carries no gradient, such as decoders).
    """
    if type(x) is _ndarray:
        return x
    check_cpu(name, x)
    if detach and getattr(x, "requires_grad", False):
        x = x.detach()
    return np.asarray(x)


# ------------------------------------------------------------------ integer arrays

def int_array(name: str, value: Any) -> np.ndarray:
    """An int64 array from an integer array, a (nested) sequence of ints or a scalar.

    Object arrays of ints and empty lists are accepted.  Raises TypeError for a
    non-integer dtype (bool included), ValueError for a ragged sequence or a
    value outside int64 (uint64 >= 2**63, huge Python ints).
    """
    if type(value) is _ndarray:
        arr = value
    else:
        check_cpu(name, value)
        if isinstance(value, (list, tuple)) and _has_bool(value):
            # np.asarray([True, 3]) would quietly make the bool a 1: the same
            # mistake as a bool array, the same wording
            raise TypeError("Expected %s to have an integer dtype, but got dtype bool" % (name,))
        try:
            arr = np.asarray(value)
        except ValueError:  # ragged nested sequences
            raise ValueError("Expected %s to be an integer array (or a rectangular sequence of "
                             "ints), but got a ragged sequence" % (name,)) from None
        except OverflowError:
            arr = np.asarray(value, dtype=object)
    dt = arr.dtype
    if dt is _INT64:
        return arr
    if dt.kind not in "iu":
        if dt == object and arr.size and all(is_int(v) for v in arr.ravel().tolist()):
            vals = arr.ravel().tolist()
            _check_int64_range(name, min(vals), max(vals))
            return arr.astype(np.int64)
        if arr.size == 0 and dt.kind == "f" and not isinstance(value, _ndarray):
            return arr.astype(np.int64)  # an empty Python list
        raise TypeError("Expected %s to have an integer dtype, but got dtype %s" % (name, dt))
    if dt.kind == "u" and dt.itemsize == 8 and arr.size:
        _check_int64_range(name, 0, int(arr.max()))
    return arr.astype(np.int64)


def _has_bool(seq) -> bool:
    """Whether a (nested) list/tuple holds a bool or NumPy bool."""
    for v in seq:
        if isinstance(v, (bool, np.bool_)):
            return True
        if isinstance(v, (list, tuple)) and _has_bool(v):
            return True
    return False


def _check_int64_range(name: str, lo: int, hi: int) -> None:
    for v in (lo, hi):
        if not -INT64_MAX - 1 <= v <= INT64_MAX:
            raise ValueError("Expected %s to fit in int64, but got value %d" % (name, v))


def lengths(name: str, value: Any, n: int) -> np.ndarray:
    """Per-item lengths: a scalar (applies to every item) or ``(n,)`` -> C-contiguous int64."""
    arr = int_array(name, value)
    if arr.ndim == 0:
        return np.full(n, int(arr), dtype=np.int64)
    if arr.ndim != 1:
        raise ValueError("Expected %s to be a scalar or 1-D, but got shape %s" % (name, arr.shape))
    if arr.shape[0] != n:
        raise ValueError("Expected %s to have size %d (the batch size), but got size %d"
                         % (name, n, arr.shape[0]))
    return carray(arr)


def length_error(name: str, index: int, value: int, limit: int = -1,
                 limit_name: str = "") -> ValueError:
    """The error for ``name[index] == value`` when it is negative or over ``limit``."""
    if value < 0:
        return ValueError("Expected %s to be non-negative, but got value %d at index %d"
                          % (name, value, index))
    what = " (the %s)" % limit_name if limit_name else ""
    return ValueError("Expected %s to have value at most %d%s, but got value %d at index %d"
                      % (name, limit, what, value, index))


def check_lengths_within(name: str, arr: np.ndarray, limit: int, limit_name: str) -> None:
    """Raise ``length_error`` for the first value of ``arr`` outside ``[0, limit]``."""
    if arr.size:
        bad = (arr < 0) | (arr > limit)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise length_error(name, i, int(arr[i]), limit, limit_name)


# The CTC kernel's item scan (_ctc.check_items) reports (kind, n, i, value).
def ctc_item_error(kind: str, n: int, i: int, value: int, T: int, C: int, width: int,
                   width_name: str) -> ValueError:
    """The error for the first invalid CTC length or label (see ``_ctc.check_items``)."""
    if kind == "input_length":
        return length_error("input_lengths", n, value, T)
    if kind == "target_length":
        return length_error("target_lengths", n, value, width, width_name)
    if kind == "targets_size":
        return ValueError("Expected 1-D targets to have sum(target_lengths) = %d elements, but "
                          "got %d" % (value, width))
    if kind == "label_blank":
        return ValueError("Expected targets to not contain the blank index %d, but got it at "
                          "item %d, position %d" % (value, n, i))
    return ValueError("Expected targets to have values in [0, %d), but got value %d at item %d, "
                      "position %d" % (C, value, n, i))


# ------------------------------------------------------------------ options

def resolve_n_threads(n_threads: Optional[int]) -> int:
    """Map the public ``n_threads`` argument to a positive thread count.

    None -> OpenMP's maximum (honours OMP_NUM_THREADS); a positive int is used
    as given; a negative int counts back from the maximum (-1 = maximum,
    -2 = one less, never below 1); 0 is a ValueError, as is a count over
    ``max(MAX_THREADS, OpenMP's maximum)`` (the OpenMP runtime would abort
    creating the threads); a non-int (bool, float) is a TypeError.
    """
    if n_threads is None:
        return get_max_threads()
    n = check_int("n_threads", n_threads, none_ok=True)
    if n == 0:
        raise ValueError("Expected n_threads to be a non-zero int or None, but got 0")
    if n < 0:
        n = max(get_max_threads() + 1 + n, 1)
    limit = max(MAX_THREADS, get_max_threads())
    if n > limit:
        raise ValueError("Expected n_threads to be at most %d, but got %d" % (limit, n))
    return n


def reduction_code(reduction: Any) -> int:
    """``REDUCTIONS[reduction]``; ValueError for anything else."""
    code = REDUCTIONS.get(reduction) if isinstance(reduction, str) else None
    if code is None:
        raise ValueError("Expected reduction to be one of 'none', 'mean' or 'sum', but got %r"
                         % (reduction,))
    return code


def check_blank(blank: Any, n_classes: int) -> int:
    """``blank`` as an int in ``[0, n_classes)``."""
    b = check_int("blank", blank)
    if not 0 <= b < n_classes:
        raise ValueError("Expected blank to be in [0, %d), but got %d" % (n_classes, b))
    return b


def check_ignore_index(ignore_index: Any) -> int:
    """``ignore_index`` as an int that fits int64."""
    v = check_int("ignore_index", ignore_index)
    if not -INT64_MAX - 1 <= v <= INT64_MAX:
        raise ValueError("Expected ignore_index to fit in int64, but got %d" % v)
    return v


def check_label_smoothing(label_smoothing: Any) -> float:
    """``label_smoothing`` as a float in ``[0, 1]`` (a real number, not a bool)."""
    if isinstance(label_smoothing, _BOOLS) or not isinstance(label_smoothing, numbers.Real):
        raise TypeError(
            "Expected label_smoothing to be a float, but got %r" % (label_smoothing,))
    try:
        ls = float(label_smoothing)
    except OverflowError:  # an int beyond the float range (10**400)
        ls = float("inf")
    if not 0.0 <= ls <= 1.0:
        raise ValueError(
            "Expected label_smoothing to be in [0, 1], but got %r" % (label_smoothing,))
    return ls


# ------------------------------------------------------------------ float arrays

def float_dtype_of(name: str, arr: np.ndarray) -> tuple[np.dtype, np.dtype]:
    """(compute dtype, output dtype) of a float input array.

    float32/float64 compute as themselves; float16 (and bfloat16 where NumPy
    knows it through ml_dtypes) compute in float32 and are returned as given.
    TypeError for any other dtype, extended precision (``np.longdouble``)
    included: the kernels compute in float32/float64 only, and silently
    dropping the extra precision would betray why it was chosen.
    """
    dt = arr.dtype
    if dt == _F32 or dt == _F64:
        return dt, dt
    if (dt.kind == "f" and dt.itemsize <= 8) or dt.name == "bfloat16":
        return _F32, dt
    check_not_extended(name, dt)
    raise TypeError(
        "Expected %s to be a floating point array (float16, float32 or float64), "
        "but got dtype %s" % (name, dt))


def check_not_extended(name: str, dt: np.dtype) -> None:
    """TypeError for an extended-precision float dtype (``np.longdouble`` and the like):
    no kernel computes in it, and a silent cast to float64 or float32 loses what it kept."""
    if dt.kind == "f" and dt.itemsize > 8:
        raise TypeError(
            "Expected %s to be float16, float32 or float64, but got dtype %s (extended "
            "precision is not supported: cast to float64 explicitly)" % (name, dt))


def check_grad_out(grad_out: Any, shape: tuple, dtype: np.dtype, of: str,
                   inputs: tuple = ()) -> np.ndarray:
    """Check a caller's preallocated gradient buffer before any work.

    ``of``: the input whose shape and dtype it must have (for the message);
    ``inputs``: ``(name, array)`` pairs it must not overlap (every input the
    kernel reads; non-arrays and None are skipped).  TypeError when grad_out
    is not an ndarray or has the wrong dtype; ValueError for the wrong shape,
    a non-C-contiguous, misaligned or read-only array, or memory shared with an input.
    """
    if type(grad_out) is not _ndarray:
        raise TypeError("Expected grad_out to be a numpy.ndarray, but got %s"
                        % type(grad_out).__name__)
    if grad_out.shape != shape:
        raise ValueError("Expected grad_out to have the %s' shape %s, but got shape %s"
                         % (of, shape, grad_out.shape))
    if grad_out.dtype != dtype:
        raise TypeError("Expected grad_out to have dtype %s (the %s' dtype), but got dtype %s"
                        % (dtype, of, grad_out.dtype))
    flags = grad_out.flags
    if not flags.c_contiguous:
        raise ValueError("Expected grad_out to be C-contiguous")
    if not flags.aligned:  # the kernels write through typed pointers
        raise ValueError("Expected grad_out to be aligned to its dtype, but its data starts "
                         "at a misaligned address")
    if not flags.writeable:
        raise ValueError("Expected grad_out to be writeable")
    for name, arr in inputs:
        if isinstance(arr, _ndarray) and overlaps(grad_out, arr):
            raise overlap_error(name)
    return grad_out


def overlaps(a: np.ndarray, b: np.ndarray) -> bool:
    """True when the arrays share an element's memory (the one overlap rule).

    The bounds test answers at once when the extents are disjoint or both
    arrays are contiguous (then it is exact); otherwise ``np.shares_memory``
    decides exactly (a strided view can interleave with another array
    without sharing a byte); if that problem is too large to solve, the
    arrays count as overlapping.
    """
    if not np.may_share_memory(a, b):
        return False
    if a.flags.c_contiguous and b.flags.c_contiguous:
        return True
    try:
        return bool(np.shares_memory(a, b, max_work=100000))
    except np.exceptions.TooHardError:
        return True


def overlap_error(name: str) -> ValueError:
    """The error for a grad_out sharing memory with the input ``name`` (also raised by
    _softmax.pyx, which compares the raw buffers on the fast path)."""
    return ValueError("Expected grad_out not to overlap the inputs, but it overlaps %s" % name)


# ------------------------------------------------------------------ memory

MEMORY_CHECK_BYTES = 64 << 20  # needs below this are not checked (no syscall per small call)


def _default_max_memory() -> int:
    """The scratch budget of the CTC loss and forced alignment: SEQLOSS_MAX_MEMORY
    (bytes) when set, else 64 MiB.  A value that is not a non-negative int is a
    ValueError at import, as for SEQLOSS_ISA."""
    raw = os.environ.get("SEQLOSS_MAX_MEMORY")
    if raw is None or raw.strip() == "":
        return 64 << 20
    try:
        v = int(raw.strip())
    except ValueError:
        v = -1
    if v < 0:
        raise ValueError("Expected SEQLOSS_MAX_MEMORY to be a non-negative number of bytes, "
                         "but got %r" % raw)
    return min(v, 2**62)


DEFAULT_MAX_MEMORY = _default_max_memory()


def max_memory(value: Any) -> int:
    """The public ``max_memory`` argument (bytes, or None for the default)."""
    if value is None:
        return DEFAULT_MAX_MEMORY
    m = check_int("max_memory", value, none_ok=True)
    if m < 0:
        raise ValueError("Expected max_memory to be a non-negative int (bytes) or None, but "
                         "got %d" % m)
    return min(m, 2**62)


def available_memory() -> Optional[int]:
    """Bytes the machine can give a new allocation now, or None when unknown.

    Linux: ``MemAvailable`` plus ``SwapFree`` from /proc/meminfo (what the
    kernel can hand out before the OOM killer acts).  Elsewhere: available
    physical pages times the page size from ``os.sysconf`` where it knows them
    (``SC_AVPHYS_PAGES``), else None (no check).
    """
    try:
        with open("/proc/meminfo", "rb") as f:
            info = f.read()
    except OSError:
        info = None
    if info is not None:
        found = {}
        for line in info.splitlines():
            key, _, rest = line.partition(b":")
            if key in (b"MemAvailable", b"SwapFree", b"MemFree"):
                try:
                    found[key] = int(rest.split()[0]) * 1024  # kB
                except (IndexError, ValueError):
                    pass
        mem = found.get(b"MemAvailable", found.get(b"MemFree"))
        if mem is not None:
            return mem + found.get(b"SwapFree", 0)
    import os
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def check_memory(need: int, what: str) -> None:
    """MemoryError before allocating ``need`` bytes the machine cannot give.

    ``what`` names the call and the shape the need comes from (it goes in the
    message).  Needs under ``MEMORY_CHECK_BYTES`` are not checked (no system
    call on small calls); otherwise the need is compared with
    ``available_memory()`` (Linux: MemAvailable + SwapFree), so a server
    process gets an exception instead of being ended by the OOM killer.
    """
    if need < MEMORY_CHECK_BYTES:
        return
    avail = available_memory()
    if avail is not None and need > avail:
        raise MemoryError("%s needs %d bytes (%.1f GiB), but the machine can give only %d "
                          "bytes (%.1f GiB)" % (what, need, need / 2**30, avail, avail / 2**30))
