"""Levenshtein edit distance, WER and CER (NumPy API).

**Argument order: hypotheses first, references second** -- like every loss in
seqloss (prediction, target) and like ``tf.edit_distance(hypothesis, truth)``.
jiwer's order is the reverse: ``jiwer.wer(reference, hypothesis)`` equals
``seqloss.wer(hypothesis, reference)``.

The kernels are bit-parallel (Myers 1999 / Hyyroe 2003) C++ with OpenMP over
pairs; see ``src_cpp/edit/edit_distance.hpp``.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np

from . import _edit
from . import _validate as V
from ._spans import SpanTexts
from ._progress import check_progress, reporter

__all__ = [
    "AlignmentChunk",
    "Alignments",
    "ErrorRates",
    "align",
    "cer",
    "edit_distance",
    "edit_distance_batch",
    "error_rates",
    "wer",
]

_INT64_MAX = np.iinfo(np.int64).max
# dtypes the kernels read directly (both sides must share one of them)
_NATIVE = {np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.uint32),
           np.dtype(np.int32), np.dtype(np.int64)}


def _common_int_arrays(a, b):
    """Bring two integer arrays to one dtype the kernel reads, preserving value
    equality (``uint64`` values above 2**63 - 1 never equal a negative value)."""
    if a.dtype == b.dtype and a.dtype in _NATIVE:
        return a, b
    if a.dtype == b.dtype and a.dtype == np.uint64:
        return a.view(np.int64), b.view(np.int64)  # same bits -> same values
    big = [x for x in (a, b) if x.dtype == np.uint64 and x.size and int(x.max()) > _INT64_MAX]
    if not big:
        dt = np.result_type(a.dtype, b.dtype)
        if dt not in _NATIVE:
            dt = np.dtype(np.int64)
        return a.astype(dt, copy=False), b.astype(dt, copy=False)
    other = b if big[0] is a else a
    if other.dtype.kind == "u" or other.size == 0 or int(other.min()) >= 0:
        # both non-negative: the uint64 bit patterns order and compare as values
        return a.astype(np.uint64, copy=False).view(np.int64), \
            b.astype(np.uint64, copy=False).view(np.int64)
    # uint64 values >= 2**63 next to negative values: relabel by value
    both = np.concatenate([a.astype(object).ravel(), b.astype(object).ravel()])
    _, inv = np.unique(both, return_inverse=True)
    inv = inv.astype(np.int64)
    return inv[:a.size].reshape(a.shape), inv[a.size:].reshape(b.shape)


_PLAIN = (np.ndarray, str, bytes, bytearray, list, tuple)


def _from_tensor(name, x):
    """A tensor (torch, or anything else with ``__array__``) as a NumPy array,
    without a copy for CPU tensors; any other value unchanged."""
    if isinstance(x, _PLAIN) or not hasattr(x, "__array__"):
        return x
    V.check_cpu(name, x)
    try:
        return np.asarray(x)
    except Exception as e:
        raise TypeError("Expected %s to be convertible to a NumPy array, but got %s (%s)"
                        % (name, type(x).__name__, e)) from None


def _describe(x):
    if isinstance(x, np.ndarray):
        return "ndarray of dtype %s and shape %s" % (x.dtype, x.shape)
    return type(x).__name__


def _item_kind(name, i, x):
    if isinstance(x, str):
        return "str"
    if isinstance(x, (bytes, bytearray)):
        return "bytes"
    if isinstance(x, np.ndarray):
        if x.ndim != 1 or x.dtype.kind not in "iu":
            raise TypeError(
                "Expected %s[%d] to be a 1-D integer array, but got %s" % (name, i, _describe(x)))
        return "array"
    if isinstance(x, (list, tuple)):
        return "list"
    raise TypeError(
        "Expected %s[%d] to be a str, bytes, list, tuple or 1-D integer array, but got %s"
        % (name, i, _describe(x)))


def _lengths_of(items, kind):
    if kind == "array":
        return np.fromiter((x.shape[0] for x in items), dtype=np.int64, count=len(items))
    return np.fromiter(map(len, items), dtype=np.int64, count=len(items))


def _offsets(lengths):
    off = np.zeros(lengths.shape[0], dtype=np.int64)
    if lengths.shape[0] > 1:
        np.cumsum(lengths[:-1], out=off[1:])
    return off


def _intern(flat):
    """Tokens (any hashables) -> int64 ids, equal ids iff the tokens are equal
    (Python ``==`` through a dict: equal hashes alone never merge tokens)."""
    arr = None
    if flat and isinstance(flat[0], (int, np.integer)) and not isinstance(flat[0], bool):
        try:  # all Python ints that fit 64 bits: one C-level conversion
            arr = np.array(flat)
        except (ValueError, TypeError, OverflowError):
            arr = None
    if arr is not None and arr.ndim == 1 and arr.dtype.kind in "iu" and \
            arr.shape[0] == len(flat):
        return arr if arr.dtype != np.uint64 else arr.view(np.int64)
    table = {}
    try:
        ids = [table.setdefault(t, len(table)) for t in flat]
    except TypeError as e:
        bad = next(t for t in flat if not _hashable(t))
        raise TypeError(
            "Expected every token to be hashable, but got a token of type %s"
            % type(bad).__name__) from e
    return np.array(ids, dtype=np.int64)


def _hashable(t):
    try:
        hash(t)
    except TypeError:
        return False
    return True


def _as_token_list(x, kind):
    if kind == "str":
        return list(x)
    if kind == "array":
        return x.tolist()
    return list(x)


def _flat_pairs(hypotheses, references):
    """Sequences of items -> (hyp tokens, hyp offsets, hyp lengths, ref ...)."""
    n = len(hypotheses)
    if n == 0:
        z = np.zeros(0, dtype=np.int64)
        return z, z, z, z, z, z
    types = set(map(type, hypotheses)) | set(map(type, references))
    if not all(issubclass(t, _PLAIN) for t in types):  # tensors as items
        hypotheses = [_from_tensor("hypotheses[%d]" % i, x) for i, x in enumerate(hypotheses)]
        references = [_from_tensor("references[%d]" % i, x) for i, x in enumerate(references)]
        types = set(map(type, hypotheses)) | set(map(type, references))
    if types == {str}:
        kinds = {"str"}
    elif types <= {bytes, bytearray}:
        kinds = {"bytes"}
    else:
        if np.ndarray not in types:
            # lists / tuples of str or int tokens: interned in one C loop
            r = _edit.intern_batch(hypotheses, references)
            if r is not None:
                ids, hl, rl = r
                nh = int(hl.sum())
                return ids[:nh], _offsets(hl), hl, ids[nh:], _offsets(rl), rl
        hk = [_item_kind("hypotheses", i, x) for i, x in enumerate(hypotheses)]
        rk = [_item_kind("references", i, x) for i, x in enumerate(references)]
        kinds = set(hk) | set(rk)
    if kinds == {"str"}:
        # one joined string, read through its fixed-width buffer via NumPy
        text = "".join(itertools.chain(hypotheses, references))
        lens = np.fromiter(map(len, itertools.chain(hypotheses, references)),
                           dtype=np.int64, count=2 * n)
        # one code point per uint32 (C-speed encode; no Python scan of the text;
        # lone surrogates are code points like any other)
        buf = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        off = _offsets(lens)
        return buf, off[:n], lens[:n], buf, off[n:], lens[n:]
    if kinds == {"bytes"}:
        buf = np.frombuffer(b"".join(itertools.chain(hypotheses, references)), dtype=np.uint8)
        lens = np.fromiter(map(len, itertools.chain(hypotheses, references)),
                           dtype=np.int64, count=2 * n)
        off = _offsets(lens)
        return buf, off[:n], lens[:n], buf, off[n:], lens[n:]
    if kinds == {"array"}:
        hl = _lengths_of(hypotheses, "array")
        rl = _lengths_of(references, "array")
        hdt = np.result_type(*[x.dtype for x in hypotheses])
        rdt = np.result_type(*[x.dtype for x in references])
        if hdt.kind == "f":  # uint64 mixed with signed: keep exact values
            hdt = np.dtype(object)
        if rdt.kind == "f":
            rdt = np.dtype(object)
        hbuf = np.concatenate([x.astype(hdt, copy=False) for x in hypotheses])
        rbuf = np.concatenate([x.astype(rdt, copy=False) for x in references])
        if hdt == object or rdt == object:
            both = _intern(hbuf.tolist() + rbuf.tolist())
            hbuf, rbuf = both[:hbuf.shape[0]], both[hbuf.shape[0]:]
        else:
            hbuf, rbuf = _common_int_arrays(hbuf, rbuf)
        return hbuf, _offsets(hl), hl, rbuf, _offsets(rl), rl
    # general: every item as a list of Python objects, interned together
    hs = [_as_token_list(x, k) for x, k in zip(hypotheses, hk)]
    rs = [_as_token_list(x, k) for x, k in zip(references, rk)]
    hl = _lengths_of(hs, "list")
    rl = _lengths_of(rs, "list")
    flat = list(itertools.chain.from_iterable(itertools.chain(hs, rs)))
    ids = _intern(flat)
    nh = int(hl.sum())
    return ids[:nh], _offsets(hl), hl, ids[nh:], _offsets(rl), rl


def _check_lengths(name, lengths, n, width, width_name):
    arr = V.lengths(name, lengths, n)
    V.check_lengths_within(name, arr, width, width_name)
    return arr


def _padded(name, x):
    if x.ndim != 2:
        raise ValueError("Expected %s to be a 2-D (batch, width) integer array, but got %d-D "
                         "with shape %s" % (name, x.ndim, x.shape))
    if x.dtype.kind not in "iu":
        raise TypeError("Expected %s to have an integer dtype, but got dtype %s"
                        % (name, x.dtype))
    return x


def _distances(hypotheses, references, hyp_lengths, ref_lengths, n_threads, progress=None):
    nt = V.resolve_n_threads(n_threads)
    check_progress(progress)
    hypotheses = _from_tensor("hypotheses", hypotheses)
    references = _from_tensor("references", references)
    if hyp_lengths is not None:
        hyp_lengths = _from_tensor("hyp_lengths", hyp_lengths)
    if ref_lengths is not None:
        ref_lengths = _from_tensor("ref_lengths", ref_lengths)
    h_arr = isinstance(hypotheses, np.ndarray) and hypotheses.ndim != 1
    r_arr = isinstance(references, np.ndarray) and references.ndim != 1
    if h_arr or r_arr:
        if not (h_arr and r_arr):
            raise TypeError(
                "Expected hypotheses and references to be both 2-D integer arrays or both "
                "sequences of items, but got %s and %s"
                % (_describe(hypotheses), _describe(references)))
        h = _padded("hypotheses", hypotheses)
        r = _padded("references", references)
        n = h.shape[0]
        if r.shape[0] != n:
            raise ValueError("Expected hypotheses and references to have the same batch size, "
                             "but got %d and %d" % (n, r.shape[0]))
        hl = _check_lengths("hyp_lengths", h.shape[1] if hyp_lengths is None else hyp_lengths,
                            n, h.shape[1], "padded width of hypotheses")
        rl = _check_lengths("ref_lengths", r.shape[1] if ref_lengths is None else ref_lengths,
                            n, r.shape[1], "padded width of references")
        h, r = _common_int_arrays(h, r)
        h = V.carray(h)
        r = V.carray(r)
        out = np.empty(n, dtype=np.int64)
        if n:
            report, chunk = reporter(progress, n, "edit_distance_batch")
            _edit.distance_batch(h.reshape(-1), None, h.shape[1], hl,
                                 r.reshape(-1), None, r.shape[1], rl, out, nt, report, chunk)
        return out, rl
    for name, v in (("hyp_lengths", hyp_lengths), ("ref_lengths", ref_lengths)):
        if v is not None:
            raise ValueError(
                "Expected %s to be None for sequence inputs (lengths only apply to padded 2-D "
                "integer arrays), but got %r" % (name, v))
    for name, v in (("hypotheses", hypotheses), ("references", references)):
        if isinstance(v, (str, bytes, bytearray)) or (isinstance(v, np.ndarray) and v.ndim == 1) \
                or not hasattr(v, "__len__"):
            raise TypeError(
                "Expected %s to be a sequence of items (str, bytes, list, tuple or 1-D integer "
                "array) or a 2-D integer array, but got %s; use edit_distance() for one pair"
                % (name, _describe(v)))
    if len(hypotheses) != len(references):
        raise ValueError("Expected hypotheses and references to have the same batch size, "
                         "but got %d and %d" % (len(hypotheses), len(references)))
    # Items are read several times (types, kinds, tokens) and the kernels keep
    # pointers into them: a sequence that builds its items on access is
    # materialised once, so every item lives, unchanged, for the whole call.
    if type(hypotheses) is not list and type(hypotheses) is not tuple:
        hypotheses = _materialise("hypotheses", hypotheses)
    if type(references) is not list and type(references) is not tuple:
        references = _materialise("references", references)
    hb, ho, hl, rb, ro, rl = _flat_pairs(hypotheses, references)
    n = hl.shape[0]
    out = np.empty(n, dtype=np.int64)
    if n:
        report, chunk = reporter(progress, n, "edit_distance_batch")
        _edit.distance_batch(V.carray(hb), ho, 0, hl,
                             V.carray(rb), ro, 0, rl, out, nt, report, chunk)
    return out, rl


def _materialise(name, seq):
    """``seq``'s items as a list, read once (by index when it has no ``__iter__``)."""
    items = list(seq)
    if len(items) != len(seq):
        raise ValueError("Expected %s to yield len(%s) = %d items, but it yielded %d"
                         % (name, name, len(seq), len(items)))
    return items


def edit_distance_batch(hypotheses: Any, references: Any, *, hyp_lengths: Any = None,
                        ref_lengths: Any = None, normalize: bool = False,
                        n_threads: Optional[int] = None,
                        progress: Union[bool, Callable[[int, int], Any], None] = None
                        ) -> np.ndarray:
    """Levenshtein distances of many (hypothesis, reference) pairs.

    **Hypotheses first, references second** (``tf.edit_distance`` order; jiwer's
    is the reverse).

    Either two equal-length sequences of items (each a ``str`` compared by code
    point, ``bytes``, a list/tuple of hashables compared by ``==``, or a 1-D
    integer array compared by value), or two padded 2-D integer arrays
    ``(N, W_hyp)`` / ``(N, W_ref)`` of any integer dtypes with
    ``hyp_lengths`` / ``ref_lengths`` (``(N,)``, default: the full width; tokens
    past a length are ignored).  CPU torch tensors (or anything with
    ``__array__``) are accepted wherever an integer array is, without a copy.

    ``normalize=True`` divides by the reference length with
    ``tf.edit_distance`` semantics: empty reference and empty hypothesis -> 0.0,
    empty reference and non-empty hypothesis -> inf.

    Returns an ``(N,)`` int64 array (float64 when ``normalize``).  Runs on
    ``n_threads`` OpenMP threads (None = all, negative counts back from all);
    results do not depend on the thread count.

    ``progress=True`` shows a progress bar on stderr for long jobs; a callable
    is called as ``progress(done, total)`` (pairs) after each chunk of work
    (an exception it raises stops the job).  Results are the same either way.

    Parameters
    ----------
    hypotheses, references : sequence of items, or 2-D integer ndarray ``(N, W)``
        Items: ``str``, ``bytes``, list/tuple of hashables, 1-D integer array.
    hyp_lengths, ref_lengths : int, sequence of ints or integer ndarray ``(N,)``
        Only for 2-D inputs; each in ``[0, W]``.
    normalize : bool
        Divide by the reference length (``tf.edit_distance`` semantics).
    n_threads : int or None
        None: OpenMP's maximum; negative counts back from it; 0 is an error.
    progress : bool, callable or None
        True: a bar on stderr; a callable is called as ``progress(done, total)``.

    Returns
    -------
    ndarray, shape ``(N,)``
        int64 distances, or float64 when ``normalize``.

    Raises
    ------
    TypeError
        Unsupported item or token types, non-integer arrays or lengths (bools
        included), a non-int ``n_threads``, a bad ``progress``.
    ValueError
        Different batch sizes, lengths of the wrong shape, negative or over
        the padded width, lengths that do not fit int64, lengths given for
        sequence inputs, n_threads 0 or over ``max(1024, OpenMP's maximum)``; a tensor on a
        non-CPU device.
    """
    dist, rl = _distances(hypotheses, references, hyp_lengths, ref_lengths, n_threads,
                          progress)
    if not normalize:
        return dist
    out = np.empty(dist.shape[0], dtype=np.float64)
    nz = rl > 0
    np.divide(dist, rl, out=out, where=nz)
    out[~nz] = np.where(dist[~nz] == 0, 0.0, np.inf)
    return out


def edit_distance(a: Any, b: Any) -> int:
    """Levenshtein distance (unit costs) between two sequences.

    ``a`` and ``b`` may be ``str`` (by code point, any Unicode), ``bytes``,
    lists/tuples of hashables (by ``==``: equal hashes never make different
    tokens equal, unlike ``editdistance.eval([-1], [-2])``), or 1-D integer
    arrays of any integer dtype (by full 64-bit value).  The distance is
    symmetric; by convention ``a`` is the hypothesis and ``b`` the reference.

    Parameters
    ----------
    a, b : str, bytes, list, tuple or 1-D integer ndarray (or CPU tensor)
        The two sequences.

    Returns
    -------
    int
        The number of insertions, deletions and substitutions.

    Raises
    ------
    TypeError
        An unsupported type, a non-integer array, an unhashable token.
    ValueError
        An array that is not 1-D; a tensor on a non-CPU device.
    """
    ta, tb = type(a), type(b)
    if ta is str and tb is str:  # fast paths: no NumPy, no threads
        return _edit.distance_str(a, b)
    if ta is bytes and tb is bytes:
        return _edit.distance_bytes(a, b)
    if (ta is list or ta is tuple) and (tb is list or tb is tuple):
        d = _edit.distance_int_seqs(a, b)
        if d is not None:
            return d
    a = _from_tensor("a", a)
    b = _from_tensor("b", b)
    for name, v in (("a", a), ("b", b)):
        if isinstance(v, np.ndarray) and v.ndim != 1:
            raise ValueError("Expected %s to be 1-D, but got an array of shape %s"
                             % (name, v.shape))
        try:
            _item_kind(name, 0, v)
        except TypeError:
            raise TypeError(
                "Expected %s to be a str, bytes, list, tuple or 1-D integer array, but got %s"
                % (name, _describe(v))) from None
    return int(_distances([a], [b], None, None, 1)[0][0])


_UNITS = {"char": 0, "word": 1, "mixed": 2}
_OP_NAMES = ("equal", "substitute", "delete", "insert")
OP_EQUAL, OP_SUBSTITUTE, OP_DELETE, OP_INSERT = 0, 1, 2, 3


def _unit_code(unit):
    if not isinstance(unit, str) or unit not in _UNITS:
        raise ValueError("Expected unit to be 'word', 'char' or 'mixed', but got %r" % (unit,))
    return _UNITS[unit]


@dataclass(frozen=True)
class AlignmentChunk:
    """A run of one kind of operation, as jiwer's ``AlignmentChunk``:
    reference tokens ``[ref_start_idx, ref_end_idx)`` and hypothesis tokens
    ``[hyp_start_idx, hyp_end_idx)`` of one pair; ``type`` is "equal",
    "substitute", "delete" (reference tokens missing) or "insert" (extra
    hypothesis tokens)."""

    type: str
    ref_start_idx: int
    ref_end_idx: int
    hyp_start_idx: int
    hyp_end_idx: int


class Alignments:
    """Token alignments of N (hypothesis, reference) pairs (``seqloss.align``).

    One entry per token operation, pair after pair: the operations of pair
    ``i`` are ``[offsets[i], offsets[i + 1])``.

    Attributes
    ----------
    n : int
        Number of pairs (also ``len(alignments)``).
    unit : str
        The unit of the call ("word", "char" or "mixed").
    offsets : ndarray, int64, shape ``(n + 1,)``
    ops : ndarray, uint8, shape ``(M,)``
        0 equal (a hit), 1 substitute, 2 delete (a reference token missing
        from the hypothesis), 3 insert (an extra hypothesis token): the class
        constants ``EQUAL``, ``SUBSTITUTE``, ``DELETE``, ``INSERT``; names in
        ``Alignments.OP_NAMES``.
    ref_index, hyp_index : ndarray, int32, shape ``(M,)``
        Position of the token in its pair's reference / hypothesis tokens;
        -1 where the operation has none (insert / delete).
    ref_ids, hyp_ids : ndarray, int64, shape ``(M,)``
        The tokens: indices into ``vocabulary`` (text and pre-tokenised
        ``str`` tokens; vocabulary ids in order of first appearance, pair by
        pair, a pair's reference tokens first), or the token values themselves
        (integer tokens; ``vocabulary`` is None); -1 where the operation has
        none (``ref_index``/``ops`` tell absence apart from a token -1).
    vocabulary : list of str or None

    The operations are those of the backtrace ``error_rates`` counts, so
    ``counts()`` always equals its per-pair hits / substitutions / deletions /
    insertions, and ``chunks(i)`` equals
    ``jiwer.process_words(reference, hypothesis).alignments[0]``.
    ``substitutions()`` / ``deletions()`` / ``insertions()`` count tokens
    (integer work on the ids); ``collect_error_counts()`` counts chunks as
    jiwer does.  Pickles; ``to_dict()`` / ``from_dict()`` give and take plain
    lists.
    """

    OP_NAMES = _OP_NAMES
    EQUAL, SUBSTITUTE, DELETE, INSERT = OP_EQUAL, OP_SUBSTITUTE, OP_DELETE, OP_INSERT

    def __init__(self, offsets, ops, ref_index, hyp_index, ref_ids, hyp_ids, vocabulary=None,
                 unit="word"):
        self.offsets = offsets
        self.ops = ops
        self.ref_index = ref_index
        self.hyp_index = hyp_index
        self.ref_ids = ref_ids
        self.hyp_ids = hyp_ids
        self.vocabulary = vocabulary
        self.unit = unit

    @property
    def n(self) -> int:
        return int(self.offsets.shape[0]) - 1

    def __len__(self) -> int:
        return self.n

    def __repr__(self):
        return "Alignments(n=%d, unit=%r, ops=%d, vocabulary=%s)" % (
            self.n, self.unit, self.ops.shape[0],
            "None" if self.vocabulary is None else "%d tokens" % len(self.vocabulary))

    def __eq__(self, other):
        if not isinstance(other, Alignments):
            return NotImplemented
        return self.unit == other.unit and self.vocabulary == other.vocabulary and all(
            np.array_equal(getattr(self, k), getattr(other, k)) for k in self._ARRAYS)

    __hash__ = None

    _ARRAYS = ("offsets", "ops", "ref_index", "hyp_index", "ref_ids", "hyp_ids")
    _DTYPES = (np.int64, np.uint8, np.int32, np.int32, np.int64, np.int64)

    def __reduce__(self):
        return (Alignments, (self.offsets, self.ops, self.ref_index, self.hyp_index,
                             self.ref_ids, self.hyp_ids, self.vocabulary, self.unit))

    def to_dict(self) -> dict:
        """Plain lists (JSON-serialisable): ``unit``, ``vocabulary`` and the six arrays."""
        d = {"unit": self.unit, "vocabulary": None if self.vocabulary is None
             else list(self.vocabulary)}
        for k in self._ARRAYS:
            d[k] = getattr(self, k).tolist()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Alignments":
        """The inverse of ``to_dict``."""
        arrays = [np.asarray(d[k], dtype=dt).reshape(-1) for k, dt in zip(cls._ARRAYS, cls._DTYPES)]
        return cls(*arrays, vocabulary=d.get("vocabulary"), unit=d.get("unit", "word"))

    def _pair_range(self, i):
        n = self.n
        if not V.is_int(i):
            raise TypeError("Expected i to be an int, but got %s" % type(i).__name__)
        i = int(i)
        if not -n <= i < n:
            raise IndexError("Expected i to be in [-%d, %d), but got %d" % (n, n, i))
        i %= n
        return int(self.offsets[i]), int(self.offsets[i + 1])

    def _token(self, tid, present):
        if not present:
            return None
        return self.vocabulary[tid] if self.vocabulary is not None else tid

    def counts(self) -> np.ndarray:
        """``(n, 4)`` int64: hits, substitutions, deletions, insertions per pair."""
        pair = np.repeat(np.arange(self.n, dtype=np.int64), np.diff(self.offsets))
        return np.bincount(pair * 4 + self.ops, minlength=4 * self.n).reshape(self.n, 4) \
            .astype(np.int64, copy=False)

    def pair(self, i: int) -> list:
        """Pair ``i`` as ``[(op name, reference token or None, hypothesis token or None), ...]``."""
        a, b = self._pair_range(i)
        names = self.OP_NAMES
        return [(names[o], self._token(r, o != OP_INSERT), self._token(h, o != OP_DELETE))
                for o, r, h in zip(self.ops[a:b].tolist(), self.ref_ids[a:b].tolist(),
                                   self.hyp_ids[a:b].tolist())]

    def chunks(self, i: int) -> list:
        """Pair ``i`` as jiwer's chunks (``AlignmentChunk``: runs of one operation):
        equal to ``jiwer.process_words(reference, hypothesis).alignments[0]``
        field by field (``process_characters`` for ``unit="char"``)."""
        a, b = self._pair_range(i)
        ops = self.ops[a:b]
        if ops.shape[0] == 0:
            return []
        starts = np.flatnonzero(np.diff(ops)) + 1
        starts = np.concatenate(([0], starts, [ops.shape[0]]))
        ref_pos = np.concatenate(([0], np.cumsum(ops != OP_INSERT)))
        hyp_pos = np.concatenate(([0], np.cumsum(ops != OP_DELETE)))
        names = self.OP_NAMES
        return [AlignmentChunk(names[o], r0, r1, h0, h1) for o, r0, r1, h0, h1 in zip(
            ops[starts[:-1]].tolist(), ref_pos[starts[:-1]].tolist(),
            ref_pos[starts[1:]].tolist(), hyp_pos[starts[:-1]].tolist(),
            hyp_pos[starts[1:]].tolist())]

    def substitutions(self):
        """Distinct substitutions over every pair: ``(ref_ids, hyp_ids, counts)``
        (int64 arrays), most frequent first, ties by reference then hypothesis id."""
        m = self.ops == OP_SUBSTITUTE
        r, h = self.ref_ids[m], self.hyp_ids[m]
        if r.shape[0] == 0:
            z = np.zeros(0, dtype=np.int64)
            return z, z.copy(), z.copy()
        rmin, rmax, hmin, hmax = int(r.min()), int(r.max()), int(h.min()), int(h.max())
        span = hmax - hmin + 1
        if (rmax - rmin + 1) * span < 2**62:  # one int64 key per pair
            keys, cnt = np.unique((r - rmin) * span + (h - hmin), return_counts=True)
            ru, hu = keys // span + rmin, keys % span + hmin
        else:
            order = np.lexsort((h, r))
            rs, hs = r[order], h[order]
            first = np.concatenate(([True], (rs[1:] != rs[:-1]) | (hs[1:] != hs[:-1])))
            idx = np.flatnonzero(first)
            ru, hu = rs[idx], hs[idx]
            cnt = np.diff(np.append(idx, rs.shape[0]))
        order = np.lexsort((hu, ru, -cnt))
        return ru[order], hu[order], cnt[order].astype(np.int64)

    def collect_error_counts(self):
        """``jiwer.collect_error_counts`` of the same pairs: three dicts counting
        error *chunks* (runs of one operation, ``chunks()``), not tokens:
        substitutions keyed by (reference tokens, hypothesis tokens), insertions
        and deletions by their tokens, each joined with a space (no separator
        for ``unit="char"``; a tuple of the values for integer tokens)."""
        subs, ins, dels = {}, {}, {}
        ops, M = self.ops, self.ops.shape[0]
        if M == 0:
            return subs, ins, dels
        start = np.ones(M, dtype=bool)
        start[1:] = ops[1:] != ops[:-1]
        start[self.offsets[:-1][self.offsets[:-1] < M]] = True  # a run never spans two pairs
        begins = np.flatnonzero(start)
        ends = np.append(begins[1:], M)
        keep = ops[begins] != OP_EQUAL
        sep = "" if self.unit == "char" else " "
        voc = self.vocabulary

        def text(ids):
            return sep.join(voc[t] for t in ids) if voc is not None else tuple(ids)
        ref_ids, hyp_ids = self.ref_ids.tolist(), self.hyp_ids.tolist()
        for o, a, b in zip(ops[begins[keep]].tolist(), begins[keep].tolist(),
                           ends[keep].tolist()):
            if o == OP_SUBSTITUTE:
                k = (text(ref_ids[a:b]), text(hyp_ids[a:b]))
                subs[k] = subs.get(k, 0) + 1
            elif o == OP_INSERT:
                k = text(hyp_ids[a:b])
                ins[k] = ins.get(k, 0) + 1
            else:
                k = text(ref_ids[a:b])
                dels[k] = dels.get(k, 0) + 1
        return subs, ins, dels

    def _tally(self, op, ids):
        x = ids[self.ops == op]
        u, cnt = np.unique(x, return_counts=True)
        order = np.lexsort((u, -cnt))
        return u[order].astype(np.int64), cnt[order].astype(np.int64)

    def deletions(self):
        """Deleted reference tokens: ``(ids, counts)``, most frequent first, ties by id."""
        return self._tally(OP_DELETE, self.ref_ids)

    def insertions(self):
        """Inserted hypothesis tokens: ``(ids, counts)``, most frequent first, ties by id."""
        return self._tally(OP_INSERT, self.hyp_ids)


@dataclass(frozen=True)
class ErrorRates:
    """Corpus error counts and rates, defined as jiwer 4 defines them.

    ``error_rate = (S + D + I) / (H + S + D)`` in the call's unit: the WER for
    ``unit="word"``, the CER for ``unit="char"``, the mixed-unit rate for
    ``unit="mixed"``.  ``wer`` always holds that same number (kept for
    compatibility: for ``unit="char"`` it is the CER, so prefer
    ``error_rate`` or ``cer``); ``cer`` is set for ``unit="char"`` only.
    ``mer = (S + D + I) / (H + S + D + I)``, ``wip = (H / N_ref) * (H / N_hyp)``
    (0 when the hypotheses are empty), ``wil = 1 - wip``.  When the whole
    corpus has no reference tokens (jiwer 4's convention): ``error_rate`` =
    the number of inserted tokens (0.0 when the hypotheses are empty too),
    ``mer`` = 0.0 / 1.0 and ``wip`` = 1.0 / 0.0 for empty / non-empty
    hypotheses.

    S/D/I split one optimal alignment per pair; they are not unique (their sum
    and ``error_rate`` are, ``mer``/``wil``/``wip`` are not).  The alignment is
    rapidfuzz's (``Levenshtein.opcodes(ref, hyp)``), which jiwer uses, so the
    counts equal jiwer's: common prefix/suffix are hits, then the backtrace
    from the end prefers a deletion, then an insertion, then the diagonal
    (hit or substitution); very long pairs are first split the way rapidfuzz's
    Hirschberg step splits them.  ``alignments``: the ``Alignments`` of the
    pairs (``error_rates(..., alignments=True)``), else None.
    """

    unit: str
    hits: int
    substitutions: int
    deletions: int
    insertions: int
    reference_length: int
    hypothesis_length: int
    error_rate: float
    wer: float
    mer: float
    wil: float
    wip: float
    cer: Optional[float] = None
    # per-pair counts, (N,) int64 each
    pair_hits: np.ndarray = field(default=None, repr=False, compare=False)
    pair_substitutions: np.ndarray = field(default=None, repr=False, compare=False)
    pair_deletions: np.ndarray = field(default=None, repr=False, compare=False)
    pair_insertions: np.ndarray = field(default=None, repr=False, compare=False)
    pair_hypothesis_lengths: np.ndarray = field(default=None, repr=False, compare=False)
    pair_reference_lengths: np.ndarray = field(default=None, repr=False, compare=False)
    alignments: Optional[Alignments] = field(default=None, repr=False, compare=False)


_SEQUENCE_ITEM = (list, tuple, np.ndarray)


def _sentences(name, x):
    if isinstance(x, str):
        return (x,)
    if isinstance(x, SpanTexts):
        return x
    V.check_cpu(name, x)
    if isinstance(x, (bytes, bytearray)) or not (hasattr(x, "__iter__") or (
            hasattr(x, "__getitem__") and hasattr(x, "__len__"))) or \
            (isinstance(x, np.ndarray) and x.ndim == 0):
        raise TypeError("Expected %s to be a str or a sequence of str, but got %s; pre-tokenised "
                        "input is a sequence of token sequences" % (name, _describe(x)))
    return tuple(x)  # item types are checked in _edit.error_counts / token_pairs


class _Pairs:
    """The pairs of one call: text (``hyps``/``refs`` tuples of str or
    SpanTexts) or tokens (``tokens``: ragged int64 arrays (hyp, offsets,
    lengths, ref, offsets, lengths), ``vocabulary`` for str tokens)."""

    def __init__(self, n, hyps=None, refs=None, tokens=None, vocabulary=None):
        self.n, self.hyps, self.refs = n, hyps, refs
        self.tokens, self.vocabulary = tokens, vocabulary

    def text(self):
        """The text pairs as _edit.TextPairs (every item checked to be a str)."""
        if isinstance(self.hyps, SpanTexts) and isinstance(self.refs, SpanTexts):
            return _edit.TextPairs.of_columns(self.hyps.column, self.refs.column)
        return _edit.TextPairs.of_strings(tuple(self.hyps), tuple(self.refs))


def _pairs(hypotheses, references):
    """Validate and convert the two sides of a call (see error_rates)."""
    hyps = _sentences("hypotheses", hypotheses)
    refs = _sentences("references", references)
    n = len(hyps)
    if len(refs) != n:
        raise ValueError("Expected hypotheses and references to have the same batch size, "
                         "but got %d and %d" % (n, len(refs)))
    if isinstance(hyps, SpanTexts) and isinstance(refs, SpanTexts):
        return _Pairs(n, hyps=hyps, refs=refs)
    hyps, refs = tuple(hyps), tuple(refs)
    if n == 0 or isinstance(hyps[0], str):
        if n and isinstance(refs[0], _SEQUENCE_ITEM):
            raise TypeError(
                "Expected hypotheses and references to hold the same kind of items (str, or "
                "token sequences), but got hypotheses[0] of type %s and references[0] of "
                "type %s" % (type(hyps[0]).__name__, type(refs[0]).__name__))
        return _Pairs(n, hyps=hyps, refs=refs)
    if not isinstance(hyps[0], _SEQUENCE_ITEM):
        raise TypeError("Expected hypotheses[0] to be a str or a token sequence (a list or tuple "
                        "of str or int tokens, or a 1-D integer array), but got %s"
                        % _describe(hyps[0]))
    if isinstance(refs[0], str):
        raise TypeError(
            "Expected hypotheses and references to hold the same kind of items (str, or "
            "token sequences), but got hypotheses[0] of type %s and references[0] of "
            "type str" % type(hyps[0]).__name__)
    hb, hl, rb, rl, vocab = _edit.token_pairs(hyps, refs)
    return _Pairs(n, tokens=(hb, _offsets(hl), hl, rb, _offsets(rl), rl), vocabulary=vocab)


def _count_pairs(p, unit, nt, progress, label, alignments):
    """(N, 6) counts of the pairs, and their Alignments when ``alignments``."""
    unit_code = _UNITS[unit]
    counts = np.zeros((p.n, 6), dtype=np.int64)
    report, chunk = reporter(progress, p.n, label)
    if not alignments:
        if p.tokens is None:
            _edit.error_counts(p.text(), unit_code, counts, nt, report, chunk)
        else:
            _edit.token_error_counts(*p.tokens, counts, nt, report, chunk)
        return counts, None
    if p.tokens is None:
        rec = _edit.record_text(p.text(), unit_code, counts, nt, report, chunk)
    else:
        rec = _edit.record_tokens(*p.tokens, counts, nt, report, chunk)
    offsets = np.zeros(p.n + 1, dtype=np.int64)
    if p.n:
        np.cumsum(counts[:, :4].sum(axis=1), out=offsets[1:])
    M = int(offsets[-1])
    V.check_memory(M * 25, "align: the alignments of %d pairs (%d token operations)" % (p.n, M))
    ops = np.empty(M, dtype=np.uint8)
    ref_index = np.empty(M, dtype=np.int32)
    hyp_index = np.empty(M, dtype=np.int32)
    ref_ids = np.empty(M, dtype=np.int64)
    hyp_ids = np.empty(M, dtype=np.int64)
    _edit.write_alignments(rec, counts, offsets, ops, ref_index, hyp_index, ref_ids, hyp_ids,
                           nt, p.tokens)
    vocab = _edit.vocabulary(rec) if p.tokens is None else p.vocabulary
    return counts, Alignments(offsets, ops, ref_index, hyp_index, ref_ids, hyp_ids, vocab, unit)


def _counts_and_tallies(hypotheses, references, unit, n_threads=None, progress=None,
                        label="error rate"):
    """((N, 6) counts, confusion tallies) of text pairs, from one pass: tallies =
    (vocabulary, (sub_ref, sub_hyp, sub_n), (del_id, del_n), (ins_id, ins_n)), ids
    into the vocabulary, each most frequent first (as Alignments.substitutions()
    / deletions() / insertions()); None for pre-tokenised input (the caller then
    counts from alignments)."""
    unit_code = _unit_code(unit)
    nt = V.resolve_n_threads(n_threads)
    check_progress(progress)
    p = _pairs(hypotheses, references)
    if p.tokens is not None:
        return None
    counts = np.zeros((p.n, 6), dtype=np.int64)
    report, chunk = reporter(progress, p.n, label)
    tallies = _edit.tally_text(p.text(), unit_code, counts, nt, report, chunk)
    return counts, tallies


def align(hypotheses: Any, references: Any, *, unit: str = "word",
          n_threads: Optional[int] = None,
          progress: Union[bool, Callable[[int, int], Any], None] = None) -> Alignments:
    """Token alignments of (hypothesis, reference) pairs: the operations behind
    ``error_rates``' counts (jiwer 4's ``process_words(...).alignments``).

    **Hypotheses first, references second** (jiwer's order is the reverse).

    Inputs and units as :func:`error_rates`.  Every pair is tokenised and
    aligned once in C++ (GIL released, ``n_threads`` threads) by the backtrace
    that gives ``error_rates`` its counts, recording its operations and token
    ids (about 1 + 4 x tokens bytes a pair until the end of the call); the
    counts size the result, and a second pass copies the records into it.
    Results (ids included) do not depend on the thread count.
    ``progress``: as in ``error_rates``.

    >>> al = seqloss.align(["the cat sat"], ["a cat sat down"])
    >>> al.pair(0)
    [('substitute', 'a', 'the'), ('equal', 'cat', 'cat'), ('equal', 'sat', 'sat'), \
('delete', 'down', None)]
    >>> al.counts()  # hits, substitutions, deletions, insertions
    array([[2, 1, 1, 0]])

    Parameters
    ----------
    hypotheses, references : str, sequence of str, or sequence of token sequences
        The pairs, equal lengths N.
    unit : {"word", "char", "mixed"}
        Tokens compared (text input).
    n_threads : int or None
        None: OpenMP's maximum; negative counts back from it; 0 is an error.
    progress : bool, callable or None
        True: a bar on stderr; a callable is called as ``progress(done, total)``.

    Returns
    -------
    Alignments
        ``n`` = N pairs; see :class:`Alignments`.

    Raises
    ------
    TypeError, ValueError, MemoryError
        As :func:`error_rates`; MemoryError also when the machine cannot hold
        the result (25 bytes per token operation).
    """
    _unit_code(unit)
    nt = V.resolve_n_threads(n_threads)
    check_progress(progress)
    p = _pairs(hypotheses, references)
    return _count_pairs(p, unit, nt, progress, "align", True)[1]


def error_rates(hypotheses: Any, references: Any, *, unit: str = "word",
                n_threads: Optional[int] = None,
                progress: Union[bool, Callable[[int, int], Any], None] = None,
                alignments: bool = False) -> ErrorRates:
    """Corpus error rate (WER / CER / mixed-unit), MER, WIL and WIP with hit,
    substitution, deletion and insertion counts, equal to jiwer 4's
    ``process_words`` / ``process_characters`` with their default transforms.

    **Hypotheses first, references second** (jiwer's order is the reverse).

    ``hypotheses`` / ``references``: a ``str`` or equal-length sequences of
    ``str``; or pre-tokenised: equal-length sequences of token sequences (each
    a list/tuple of ``str`` tokens or of ``int`` tokens, or a 1-D integer
    array; every token of both sides of one kind), compared token by token as
    given (``unit`` then only names the result's unit).

    ``unit="word"``: runs of two or more whitespace characters become one
    space, strip, split on single spaces (a lone tab stays inside its word),
    as jiwer's default.  ``unit="char"``: strip, then every character
    including spaces, as ``jiwer.cer``.  ``unit="mixed"``: as "word", but every
    CJK ideograph, kana and hangul character is a token of its own (as if
    surrounded by spaces; a lone tab next to one then separates too): code
    points U+3040-30FF (hiragana, katakana), U+3400-4DBF, U+4E00-9FFF,
    U+F900-FAFF, U+20000-2FA1F (CJK ideographs), U+AC00-D7AF, U+1100-11FF,
    U+3130-318F (hangul); other scripts are split into words.  Tokenising and
    comparing happen in C++ (GIL released, ``n_threads`` threads).  See
    ``ErrorRates`` for the definitions, the empty-reference convention and
    the alignment tie rule.

    ``alignments=True`` also returns the pairs' alignments (as :func:`align`)
    in ``ErrorRates.alignments``, from the same single pass.

    ``progress=True`` shows a progress bar on stderr (for corpora of millions
    of sentences); a callable is called as ``progress(done, total)`` (pairs)
    after each chunk of work.  Results are the same either way.

    Parameters
    ----------
    hypotheses, references : str, sequence of str, or sequence of token sequences
        The pairs, equal lengths N.
    unit : {"word", "char", "mixed"}
        Tokens compared (text input).
    n_threads : int or None
        None: OpenMP's maximum; negative counts back from it; 0 is an error.
    progress : bool, callable or None
        True: a bar on stderr; a callable is called as ``progress(done, total)``.
    alignments : bool
        Also compute ``ErrorRates.alignments``.

    Returns
    -------
    ErrorRates
        Corpus counts and rates plus per-pair ``(N,)`` int64 counts.

    Raises
    ------
    TypeError
        A sentence that is not a ``str`` (text input), an item that is not a
        token sequence or a token that is not a ``str`` / ``int`` (pre-
        tokenised input; both kinds, or str and int tokens, mixed); a non-int
        ``n_threads``; a bad ``progress``.
    ValueError
        An unknown ``unit``; different batch sizes; an integer token outside
        int64; n_threads 0 or over ``max(1024, OpenMP's maximum)``; a tensor
        on a non-CPU device.
    MemoryError
        A pair whose alignment matrix would need over 1 GiB (long, nearly
        equal sentences: over about 65,000 tokens each); the message gives the
        bytes and the token counts.
    """
    _unit_code(unit)
    nt = V.resolve_n_threads(n_threads)
    check_progress(progress)
    if not isinstance(alignments, (bool, np.bool_)):
        raise TypeError("Expected alignments to be a bool, but got %s" % type(alignments).__name__)
    p = _pairs(hypotheses, references)
    n = p.n
    label = {"word": "wer", "char": "cer"}.get(unit, "error rate")
    counts, al = _count_pairs(p, unit, nt, progress, label, bool(alignments))
    tot = counts.sum(axis=0) if n else np.zeros(6, dtype=np.int64)
    H, S, D, I, n_hyp, n_ref = (int(v) for v in tot)
    if n_ref == 0:
        rate = float(I)
        mer_ = 0.0 if n_hyp == 0 else 1.0
        wip_ = 1.0 if n_hyp == 0 else 0.0
    else:
        rate = float(S + D + I) / float(H + S + D)
        mer_ = float(S + D + I) / float(H + S + D + I)
        wip_ = (float(H) / n_ref) * (float(H) / n_hyp) if n_hyp >= 1 else 0.0
    wil_ = 1 - wip_
    return ErrorRates(
        unit=unit, hits=H, substitutions=S, deletions=D, insertions=I,
        reference_length=n_ref, hypothesis_length=n_hyp, error_rate=rate,
        wer=rate, mer=mer_, wil=wil_, wip=wip_, cer=rate if unit == "char" else None,
        pair_hits=counts[:, 0].copy(), pair_substitutions=counts[:, 1].copy(),
        pair_deletions=counts[:, 2].copy(), pair_insertions=counts[:, 3].copy(),
        pair_hypothesis_lengths=counts[:, 4].copy(), pair_reference_lengths=counts[:, 5].copy(),
        alignments=al)


def wer(hypotheses: Union[str, Sequence[str]], references: Union[str, Sequence[str]], *,
        n_threads: Optional[int] = None,
        progress: Union[bool, Callable[[int, int], Any], None] = None) -> float:
    """Corpus word error rate; ``seqloss.wer(h, r) == jiwer.wer(r, h)``.

    **Hypotheses first, references second** (jiwer's order is the reverse).
    Empty hypotheses count as deletions; a corpus whose references are all
    empty gives the number of inserted words (jiwer 4's convention).
    ``progress``: as in ``error_rates``.

    Parameters, Raises: as :func:`error_rates` (``unit="word"``).

    Returns
    -------
    float
        ``(S + D + I) / (H + S + D)`` over the corpus.
    """
    return error_rates(hypotheses, references, unit="word", n_threads=n_threads,
                       progress=progress).wer


def cer(hypotheses: Union[str, Sequence[str]], references: Union[str, Sequence[str]], *,
        n_threads: Optional[int] = None,
        progress: Union[bool, Callable[[int, int], Any], None] = None) -> float:
    """Corpus character error rate; ``seqloss.cer(h, r) == jiwer.cer(r, h)``.

    **Hypotheses first, references second** (jiwer's order is the reverse).
    A corpus whose references are all empty (after strip) gives the number of
    inserted characters (jiwer 4's convention).  ``progress``: as in
    ``error_rates``.

    Parameters, Raises: as :func:`error_rates` (``unit="char"``).

    Returns
    -------
    float
        The character error rate over the corpus.
    """
    return error_rates(hypotheses, references, unit="char", n_threads=n_threads,
                       progress=progress).cer
