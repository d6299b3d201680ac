"""CTC forced alignment (NumPy API): frame paths, token spans and word spans.

``ctc_forced_align`` gives the same paths as ``torchaudio.functional.forced_align``
(its CPU kernel's rules, ties included) for batches, padded inputs, several threads
and hour-long items in bounded memory; ``ctc_token_spans`` is torchaudio's
``merge_tokens`` over padded arrays; ``ctc_word_spans`` groups token spans into words.
"""
from __future__ import annotations

from typing import Any, List, NamedTuple, Optional, Sequence, Union

import numpy as np

from . import _align, _ctc
from . import _validate as V
from .ctc import _inputs

__all__ = ["ctc_forced_align", "ctc_token_spans", "ctc_word_spans", "TokenSpan", "TokenSpans",
           "AlignedWord", "WordSpans", "DEFAULT_MAX_MEMORY"]

DEFAULT_MAX_MEMORY = V.DEFAULT_MAX_MEMORY  # bytes of scratch per call (see ctc_forced_align)


def ctc_forced_align(log_probs: Any, targets: Any, input_lengths: Any = None,
                     target_lengths: Any = None, *, blank: int = 0, batch_first: bool = False,
                     star: Union[None, int, str] = None, max_memory: Optional[int] = None,
                     n_threads: Optional[int] = None) -> tuple:
    """Most probable CTC frame path of each item given its transcript (Viterbi).

    The same path as ``torchaudio.functional.forced_align`` (its CPU kernel's rules,
    reproduced exactly in the input's float type: at each frame only the states of
    its window hold a value; a state takes the skip from two states back or the move
    from the state before only when it is strictly greater than both other
    candidates, else it stays - so on an exact tie of the move and the skip above
    staying it stays, as torchaudio 2.9 does, though that path is not the best one;
    at the last frame the path ends on the last label unless the trailing blank is
    strictly greater).  Inputs holding -inf or NaN give torchaudio's path too, as
    long as torchaudio's own trace stays in its table: when no path has a finite
    score, the back-pointers of unreachable states (torchaudio's default -1) can
    lead its trace past the table (undefined results, or an IndexError); seqloss
    then keeps the state in the table.  Such a path need not spell the targets;
    its scores hold -inf or NaN, which is how to detect it.
    Unlike torchaudio: batches, padding, several threads, and long items in bounded
    memory (2 bits per state and frame; checkpoints past ``max_memory``).

    Parameters
    ----------
    log_probs : ndarray, float16/float32/float64
        As :func:`seqloss.ctc_loss` takes it: ``(T, N, C)`` (``(N, T, C)`` with
        ``batch_first=True``) or ``(T, C)``.  Log-probabilities, used as given
        (float16 is computed in float32).
    targets : integer ndarray
        ``(N, S)`` padded or 1-D concatenated (``(S,)`` unbatched), as for ctc_loss.
    input_lengths, target_lengths : int, sequence or ndarray, optional
        Per-item lengths; default: ``T`` frames, and the full padded width (or, for
        1-D targets of one item, their length).
    blank : int
        The blank class, in ``[0, C)``.
    star : None, int or "append"
        The wildcard token of partial-transcript alignment: the class index of a
        star column the model already has (it may then appear in ``targets``), or
        ``"append"``: a column of log-probability 0 is added at index ``C`` (not
        copied into memory), and ``C`` may appear in ``targets``; its frames get
        path value ``C`` and score 0.
    max_memory : int or None
        Scratch bytes the call may use, shared by the threads (default
        ``DEFAULT_MAX_MEMORY``: 64 MiB, or the environment's ``SEQLOSS_MAX_MEMORY``).
        Items whose back-pointers do not fit are aligned in segments recomputed from
        checkpoint rows: the same paths in at most twice the time (1.6x measured at
        T = 50,000, L = 7,506).  Items whose checkpoints alone need more use the
        cheapest split, about ``2 * S * sqrt(T)`` bytes in float32 (an hour at 50 frames/s with
        30,000 labels: ~50 MiB).
    n_threads : int or None
        Items run in parallel (longest first); results never depend on it.

    Returns
    -------
    paths : ndarray int64, ``(N, T)`` (``(T,)`` unbatched)
        The class of each frame; ``-1`` for frames past an item's input length.
    scores : ndarray, ``(N, T)`` in the input's float dtype
        ``log_probs`` at each frame's class (0 for an appended star); NaN past the
        input length.

    Raises
    ------
    TypeError, ValueError
        As :func:`seqloss.ctc_loss` (same messages); also ``star`` of the wrong type
        or value, a negative ``max_memory``, and an item without any alignment
        (``input_length < target_length + repeats``): ValueError naming the item,
        as torchaudio refuses it.
    """
    def options():
        return (V.resolve_n_threads(n_threads), V.max_memory(max_memory))

    (x, dt, out_dtype, unbatched, T, N, C, blank, flat, width, width_name, il, tl,
     stride_t, stride_n, (nt, budget)) = _inputs(
        log_probs, targets, input_lengths, target_lengths, blank, batch_first, options, True)
    if star is None:
        star_idx, classes = -1, C
    elif isinstance(star, str):
        if star != "append":
            raise ValueError("Expected star to be None, a class index or 'append', but got %r"
                             % (star,))
        star_idx, classes = C, C + 1
    else:
        star_idx = V.check_int("star", star)
        if not 0 <= star_idx < C or star_idx == blank:
            raise ValueError("Expected star to be a class index in [0, %d) other than the "
                             "blank %d, but got %d" % (C, blank, star_idx))
        classes = C
    offsets, n, rep = _ctc.item_offsets(T, N, classes, flat, width, il, tl, blank, width_name)
    if n >= 0:
        raise ValueError(
            "Expected every item to have an alignment (input_length >= target_length + "
            "repeats), but item %d has input length %d < target length %d + %d repeats"
            % (n, il[n], tl[n], rep))
    paths = np.empty((N, T), dtype=np.int64)
    scores = np.empty((N, T), dtype=dt)
    _align.run(x.reshape(-1), T, N, C, stride_t, stride_n, flat, offsets, il, tl, blank,
               star_idx, budget, nt, paths.reshape(-1), scores.reshape(-1))
    if scores.dtype != out_dtype:
        scores = scores.astype(out_dtype)
    if unbatched:
        return paths[0], scores[0]
    return paths, scores


# ------------------------------------------------------------------ spans

def _check_frame_shift(frame_shift):
    """None, or a positive finite number of seconds per frame."""
    if frame_shift is not None and (
            isinstance(frame_shift, bool) or not isinstance(frame_shift, (int, float)) or
            not frame_shift > 0 or not np.isfinite(frame_shift)):
        raise ValueError("Expected frame_shift to be a positive number of seconds, but got %r"
                         % (frame_shift,))


def _times(present, starts, ends, frame_shift):
    """(start, end) seconds of the spans present (NaN for padding), or (None, None)."""
    if frame_shift is None:
        return None, None
    return (np.where(present, starts * frame_shift, np.nan),
            np.where(present, ends * frame_shift, np.nan))


class TokenSpan(NamedTuple):
    """torchaudio's TokenSpan: frames ``[start, end)`` of one token."""
    token: int
    start: int
    end: int      # exclusive
    score: float  # mean of the frame scores over the span


class TokenSpans:
    """Token spans of a batch as padded arrays (``(N, W)``, W = the most spans).

    ``tokens`` (int64, -1 padded), ``starts``, ``ends`` (exclusive), ``scores`` (the
    mean of the frame scores over the span, as torchaudio's ``merge_tokens``),
    ``min_scores``, ``confidence_mean`` / ``confidence_min`` (mean / min of
    ``exp(score)`` over the frames: probabilities when the scores are log-probs, as
    ``ctc_forced_align`` returns them), ``counts`` ``(N,)``; ``start_times`` /
    ``end_times`` in seconds when a ``frame_shift`` was given.  ``to_list()`` gives
    lists of :class:`TokenSpan`; ``unbatched`` results index as one item.
    """

    def __init__(self, tokens, starts, ends, scores, min_scores, conf_mean, conf_min, counts,
                 frame_shift, unbatched):
        self.tokens, self.starts, self.ends = tokens, starts, ends
        self.scores, self.min_scores = scores, min_scores
        self.confidence_mean, self.confidence_min = conf_mean, conf_min
        self.counts = counts
        self.frame_shift = frame_shift
        self.unbatched = unbatched
        self.start_times, self.end_times = _times(tokens >= 0, starts, ends, frame_shift)

    def __len__(self) -> int:
        return self.tokens.shape[0]

    def item(self, n: int) -> List[TokenSpan]:
        k = int(self.counts[n])
        return [TokenSpan(int(t), int(s), int(e), float(v)) for t, s, e, v in zip(
            self.tokens[n, :k], self.starts[n, :k], self.ends[n, :k], self.scores[n, :k])]

    def to_list(self):
        """Per item, the list of TokenSpan (one list for an unbatched result)."""
        out = [self.item(n) for n in range(len(self))]
        return out[0] if self.unbatched else out

    def __repr__(self) -> str:
        return "TokenSpans(items=%d, spans=%s)" % (len(self), self.counts.tolist())


def _paths_scores(paths, scores, input_lengths, blank):
    p = V.int_array("paths", paths)
    unbatched = p.ndim == 1
    if p.ndim not in (1, 2):
        raise ValueError("Expected paths to be (N, T) or (T,), but got shape %s" % (p.shape,))
    if unbatched:
        p = p[None, :]
    s = V.as_array("scores", scores)
    if s.dtype.kind != "f":
        raise TypeError("Expected scores to have a float dtype, but got %s" % s.dtype)
    if s.shape != (p.shape[1],) if unbatched else s.shape != p.shape:
        raise ValueError("Expected scores to have the shape of paths %s, but got %s"
                         % ((p.shape[1],) if unbatched else p.shape, s.shape))
    s = s.reshape(p.shape).astype(np.float64)
    N, T = p.shape
    blank = V.check_int("blank", blank)
    if input_lengths is None:
        neg = p < 0
        il = np.where(neg.any(axis=1), neg.argmax(axis=1) if T else 0, T).astype(np.int64)
    else:
        il = V.lengths("input_lengths", input_lengths, N)
        V.check_lengths_within("input_lengths", il, T, "number of frames")
    frame = np.arange(T)
    valid = frame[None, :] < il[:, None]
    if input_lengths is None:
        tail = ~valid & (p != -1)
        if tail.any():
            n, t = np.argwhere(tail)[0]
            raise ValueError("Expected paths to hold only -1 (padding) after an item's first "
                             "-1, but got %d at item %d, frame %d" % (p[n, t], n, t))
    bad = valid & (p < 0)
    if bad.any():
        n, t = np.argwhere(bad)[0]
        raise ValueError("Expected paths to hold class indices (>= 0) within the input "
                         "length, but got %d at item %d, frame %d" % (p[n, t], n, t))
    return p, s, il, valid, unbatched, blank


def ctc_token_spans(paths: Any, scores: Any, input_lengths: Any = None, *, blank: int = 0,
                    frame_shift: Optional[float] = None) -> TokenSpans:
    """Token spans of frame paths: torchaudio's ``merge_tokens`` over a batch.

    A span is a maximal run of equal, non-blank classes within an item's frames;
    its score is the mean of ``scores`` over the run (``merge_tokens``), plus the
    minimum and the probabilities' mean and minimum (see :class:`TokenSpans`).

    Parameters
    ----------
    paths : integer ndarray ``(N, T)`` or ``(T,)``
        Frame classes, e.g. from :func:`ctc_forced_align` (or greedy argmax).
    scores : float ndarray of the same shape
        The frame scores (``ctc_forced_align``'s log-probs).
    input_lengths : optional
        Frames per item; default: up to the first ``-1`` (the padding
        ``ctc_forced_align`` writes), else ``T``.
    blank : int
        The class that separates tokens and belongs to none.
    frame_shift : float, optional
        Seconds per frame (e.g. 0.02 for 50 frames/s): fills ``start_times`` and
        ``end_times``.
    """
    p, s, il, valid, unbatched, blank = _paths_scores(paths, scores, input_lengths, blank)
    _check_frame_shift(frame_shift)
    N, T = p.shape
    # runs over the flattened valid frames; a run never crosses an item boundary
    q = np.where(valid, p, -1)
    flat = q.reshape(-1)
    sf = s.reshape(-1)
    starts_mask = np.ones(flat.shape, dtype=bool)
    if flat.size:
        starts_mask[1:] = flat[1:] != flat[:-1]
        starts_mask[::T] = True
    run_start = np.nonzero(starts_mask)[0]
    run_end = np.append(run_start[1:], flat.size)
    tok = flat[run_start] if flat.size else np.zeros(0, dtype=np.int64)
    keep = (tok >= 0) & (tok != blank)
    rs, re_, tok = run_start[keep], run_end[keep], tok[keep]
    if rs.size:
        sums = np.add.reduceat(sf, run_start)[keep]
        mins = np.minimum.reduceat(sf, run_start)[keep]
        psum = np.add.reduceat(np.exp(sf), run_start)[keep]
    else:
        sums = mins = psum = np.zeros(0)
    length = (re_ - rs).astype(np.float64)
    item = rs // max(T, 1)
    counts = np.bincount(item, minlength=N).astype(np.int64)
    W = int(counts.max()) if N and counts.size else 0
    first = np.concatenate(([0], np.cumsum(counts)[:-1])) if N else np.zeros(0, np.int64)
    rank = np.arange(rs.size) - first[item]
    shape = (N, W)
    tokens = np.full(shape, -1, dtype=np.int64)
    starts = np.full(shape, -1, dtype=np.int64)
    ends = np.full(shape, -1, dtype=np.int64)
    mean = np.full(shape, np.nan)
    mn = np.full(shape, np.nan)
    cmean = np.full(shape, np.nan)
    cmin = np.full(shape, np.nan)
    tokens[item, rank] = tok
    starts[item, rank] = rs - item * T
    ends[item, rank] = re_ - item * T
    mean[item, rank] = sums / length
    mn[item, rank] = mins
    cmean[item, rank] = psum / length
    cmin[item, rank] = np.exp(mins)
    return TokenSpans(tokens, starts, ends, mean, mn, cmean, cmin, counts, frame_shift,
                      unbatched)


class AlignedWord(NamedTuple):
    """One word: frames ``[start, end)`` from its first token's start to its last's end."""
    first_span: int        # index of its first token span in the item
    n_tokens: int
    start: int
    end: int               # exclusive
    score: float           # mean frame score over its tokens' frames
    confidence: float      # mean frame probability over its tokens' frames
    confidence_min: float  # lowest frame probability
    text: Optional[str]    # with tokens=


class WordSpans:
    """Words of a batch as padded arrays (``(N, W)``): ``first_span``, ``n_tokens``,
    ``starts``, ``ends`` (exclusive), ``scores``, ``confidence_mean``,
    ``confidence_min``, ``counts`` ``(N,)``, ``start_times`` / ``end_times`` (with a
    frame shift) and ``texts`` (with ``tokens=``, lists per item).  ``to_list()``
    gives lists of :class:`AlignedWord`."""

    def __init__(self, fields, counts, texts, frame_shift, unbatched):
        (self.first_span, self.n_tokens, self.starts, self.ends, self.scores,
         self.confidence_mean, self.confidence_min) = fields
        self.counts = counts
        self.texts = texts
        self.unbatched = unbatched
        self.start_times, self.end_times = _times(self.n_tokens > 0, self.starts, self.ends,
                                                  frame_shift)

    def __len__(self) -> int:
        return self.starts.shape[0]

    def item(self, n: int) -> List[AlignedWord]:
        out = []
        for k in range(int(self.counts[n])):
            out.append(AlignedWord(
                int(self.first_span[n, k]), int(self.n_tokens[n, k]), int(self.starts[n, k]),
                int(self.ends[n, k]), float(self.scores[n, k]),
                float(self.confidence_mean[n, k]), float(self.confidence_min[n, k]),
                None if self.texts is None else self.texts[n][k]))
        return out

    def to_list(self):
        out = [self.item(n) for n in range(len(self))]
        return out[0] if self.unbatched else out

    def __repr__(self) -> str:
        return "WordSpans(items=%d, words=%s)" % (len(self), self.counts.tolist())


def ctc_word_spans(spans: TokenSpans, word_lengths: Any = None, *,
                   delimiter: Optional[int] = None, tokens: Optional[Sequence[str]] = None,
                   frame_shift: Optional[float] = None) -> WordSpans:
    """Group token spans into words.

    Exactly one of ``word_lengths`` (tokens per word: one sequence per item, or one
    flat sequence for an unbatched result; they must add up to the item's number of
    spans, so count a star token as a word of its own) and ``delimiter`` (a token id
    whose spans separate words and belong to none) is given.  A word spans frames
    from its first token's start to its last token's end; ``scores`` is the mean
    frame score over its tokens' frames (torchaudio tutorial's word score),
    ``confidence_mean`` / ``confidence_min`` the mean / lowest frame probability
    over them.  ``tokens`` (id -> string) fills ``texts``; ``frame_shift`` (seconds
    per frame) fills ``start_times`` / ``end_times``.
    """
    if not isinstance(spans, TokenSpans):
        raise TypeError("Expected spans to be a TokenSpans (from ctc_token_spans), but got %s"
                        % type(spans).__name__)
    if (word_lengths is None) == (delimiter is None):
        raise ValueError("Expected exactly one of word_lengths and delimiter")
    if frame_shift is None:
        frame_shift = spans.frame_shift
    _check_frame_shift(frame_shift)
    N = len(spans)
    groups = []  # per item: list of (first span, n tokens)
    if delimiter is not None:
        d = V.check_int("delimiter", delimiter)
        for n in range(N):
            k = int(spans.counts[n])
            g, cur = [], None
            for i in range(k):
                if spans.tokens[n, i] == d:
                    if cur is not None:
                        g.append(cur)
                        cur = None
                elif cur is None:
                    cur = [i, 1]
                else:
                    cur[1] += 1
            if cur is not None:
                g.append(cur)
            groups.append(g)
    else:
        per_item = [word_lengths] if spans.unbatched else word_lengths
        if isinstance(per_item, np.ndarray) and per_item.ndim == 1 and not spans.unbatched:
            raise ValueError("Expected word_lengths to hold one sequence per item")
        try:
            per_item = list(per_item)
        except TypeError:
            raise TypeError("Expected word_lengths to be a sequence of ints per item, but got "
                            "%r" % (word_lengths,)) from None
        if len(per_item) != N:
            raise ValueError("Expected word_lengths for %d items, but got %d"
                             % (N, len(per_item)))
        for n in range(N):
            wl = V.int_array("word_lengths", per_item[n])
            if wl.ndim != 1:
                raise ValueError("Expected word_lengths of item %d to be 1-D, but got shape %s"
                                 % (n, wl.shape))
            if wl.size and wl.min() < 1:
                raise ValueError("Expected word_lengths to be positive, but item %d has %d"
                                 % (n, wl.min()))
            if int(wl.sum()) != int(spans.counts[n]):
                raise ValueError("Expected the word_lengths of item %d to add up to its %d "
                                 "token spans, but they add up to %d"
                                 % (n, spans.counts[n], int(wl.sum())))
            firsts = np.concatenate(([0], np.cumsum(wl)[:-1])) if wl.size else wl
            groups.append([[int(f), int(c)] for f, c in zip(firsts, wl)])
    W = max((len(g) for g in groups), default=0)
    shape = (N, W)
    first = np.full(shape, -1, dtype=np.int64)
    ntok = np.zeros(shape, dtype=np.int64)
    starts = np.full(shape, -1, dtype=np.int64)
    ends = np.full(shape, -1, dtype=np.int64)
    sc = np.full(shape, np.nan)
    cm = np.full(shape, np.nan)
    cn = np.full(shape, np.nan)
    texts = [] if tokens is not None else None
    for n, g in enumerate(groups):
        words = []
        for k, (f, c) in enumerate(g):
            sl = slice(f, f + c)
            length = (spans.ends[n, sl] - spans.starts[n, sl]).astype(np.float64)
            first[n, k], ntok[n, k] = f, c
            starts[n, k], ends[n, k] = spans.starts[n, f], spans.ends[n, f + c - 1]
            sc[n, k] = float((spans.scores[n, sl] * length).sum() / length.sum())
            cm[n, k] = float((spans.confidence_mean[n, sl] * length).sum() / length.sum())
            cn[n, k] = float(spans.confidence_min[n, sl].min())
            if tokens is not None:
                words.append("".join(str(tokens[int(t)]) for t in spans.tokens[n, sl]))
        if texts is not None:
            texts.append(words)
    counts = np.array([len(g) for g in groups], dtype=np.int64)
    return WordSpans((first, ntok, starts, ends, sc, cm, cn), counts, texts, frame_shift,
                     spans.unbatched)
