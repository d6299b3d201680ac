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
from ._progress import check_progress, reporter

__all__ = [
    "ErrorRates",
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


@dataclass(frozen=True)
class ErrorRates:
    """Corpus error counts and rates, defined as jiwer 4 defines them.

    ``wer = (S + D + I) / (H + S + D)``, ``mer = (S + D + I) / (H + S + D + I)``,
    ``wip = (H / N_ref) * (H / N_hyp)`` (0 when the hypotheses are empty),
    ``wil = 1 - wip``; with ``unit="char"`` the same formulas run on
    characters and ``cer`` equals ``wer``.  When the whole corpus has no
    reference tokens (jiwer 4's convention): ``wer`` = the number of inserted
    tokens (0.0 when the hypotheses are empty too), ``mer`` = 0.0 / 1.0 and
    ``wip`` = 1.0 / 0.0 for empty / non-empty hypotheses.

    S/D/I split one optimal alignment per pair; they are not unique (their sum
    and ``wer`` are, ``mer``/``wil``/``wip`` are not).  The alignment is
    rapidfuzz's (``Levenshtein.opcodes(ref, hyp)``), which jiwer uses, so the
    counts equal jiwer's: common prefix/suffix are hits, then the backtrace
    from the end prefers a deletion, then an insertion, then the diagonal
    (hit or substitution); very long pairs are first split the way rapidfuzz's
    Hirschberg step splits them.
    """

    unit: str
    hits: int
    substitutions: int
    deletions: int
    insertions: int
    reference_length: int
    hypothesis_length: int
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


def _sentences(name, x):
    if isinstance(x, str):
        return (x,)
    V.check_cpu(name, x)
    if isinstance(x, (bytes, bytearray)) or not (hasattr(x, "__iter__") or (
            hasattr(x, "__getitem__") and hasattr(x, "__len__"))) or \
            (isinstance(x, np.ndarray) and x.ndim == 0):
        raise TypeError("Expected %s to be a str or a sequence of str, but got %s"
                        % (name, _describe(x)))
    return tuple(x)  # item types are checked in _edit.error_counts


def error_rates(hypotheses: Union[str, Sequence[str]], references: Union[str, Sequence[str]],
                *, unit: str = "word", n_threads: Optional[int] = None,
                progress: Union[bool, Callable[[int, int], Any], None] = None) -> ErrorRates:
    """Corpus WER / MER / WIL / WIP (and CER) with hit, substitution, deletion
    and insertion counts, equal to jiwer 4's ``process_words`` /
    ``process_characters`` with their default transforms.

    **Hypotheses first, references second** (jiwer's order is the reverse).

    ``hypotheses`` / ``references``: a ``str`` or equal-length sequences of
    ``str``.  ``unit="word"``: runs of two or more whitespace characters become
    one space, strip, split on single spaces (a lone tab stays inside its
    word), as jiwer's default.  ``unit="char"``: strip, then every character
    including spaces, as ``jiwer.cer``.  Tokenising and comparing happen in
    C++ (GIL released, ``n_threads`` OpenMP threads).  See ``ErrorRates`` for
    the definitions, the empty-reference convention and the alignment tie rule.

    ``progress=True`` shows a progress bar on stderr (for corpora of millions
    of sentences); a callable is called as ``progress(done, total)`` (pairs)
    after each chunk of work.  Results are the same either way.

    Parameters
    ----------
    hypotheses, references : str or sequence of str, equal lengths N
        The sentences.
    unit : {"word", "char"}
        Tokens compared.
    n_threads : int or None
        None: OpenMP's maximum; negative counts back from it; 0 is an error.
    progress : bool, callable or None
        True: a bar on stderr; a callable is called as ``progress(done, total)``.

    Returns
    -------
    ErrorRates
        Corpus counts and rates plus per-pair ``(N,)`` int64 counts.

    Raises
    ------
    TypeError
        A sentence that is not a ``str``; a non-int ``n_threads``; a bad
        ``progress``.
    ValueError
        An unknown ``unit``; different batch sizes; n_threads 0 or over
        ``max(1024, OpenMP's maximum)``; a tensor on a non-CPU device.
    MemoryError
        A pair whose alignment matrix would need over 1 GiB (long, nearly
        equal sentences: over about 65,000 tokens each); the message gives the
        bytes and the token counts.
    """
    if unit not in ("word", "char"):
        raise ValueError("Expected unit to be 'word' or 'char', but got %r" % (unit,))
    nt = V.resolve_n_threads(n_threads)
    check_progress(progress)
    hyps = _sentences("hypotheses", hypotheses)
    refs = _sentences("references", references)
    n = len(hyps)
    if len(refs) != n:
        raise ValueError("Expected hypotheses and references to have the same batch size, "
                         "but got %d and %d" % (n, len(refs)))
    counts = np.zeros((n, 6), dtype=np.int64)
    report, chunk = reporter(progress, n, "wer" if unit == "word" else "cer")
    _edit.error_counts(hyps, refs, unit == "word", counts, nt, report, chunk)
    tot = counts.sum(axis=0) if n else np.zeros(6, dtype=np.int64)
    H, S, D, I, n_hyp, n_ref = (int(v) for v in tot)
    if n_ref == 0:
        wer_ = float(I)
        mer_ = 0.0 if n_hyp == 0 else 1.0
        wip_ = 1.0 if n_hyp == 0 else 0.0
    else:
        wer_ = float(S + D + I) / float(H + S + D)
        mer_ = float(S + D + I) / float(H + S + D + I)
        wip_ = (float(H) / n_ref) * (float(H) / n_hyp) if n_hyp >= 1 else 0.0
    wil_ = 1 - wip_
    return ErrorRates(
        unit=unit, hits=H, substitutions=S, deletions=D, insertions=I,
        reference_length=n_ref, hypothesis_length=n_hyp,
        wer=wer_, mer=mer_, wil=wil_, wip=wip_, cer=wer_ if unit == "char" else None,
        pair_hits=counts[:, 0].copy(), pair_substitutions=counts[:, 1].copy(),
        pair_deletions=counts[:, 2].copy(), pair_insertions=counts[:, 3].copy(),
        pair_hypothesis_lengths=counts[:, 4].copy(), pair_reference_lengths=counts[:, 5].copy())


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
