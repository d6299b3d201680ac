"""CTC decoding (NumPy API): greedy and prefix beam search, n-gram LM, hotwords.

``ctc_greedy_decode`` and ``ctc_beam_search`` return a ``CTCHypotheses`` of padded
arrays; ``NgramLM`` loads an ARPA model into C++ (and a binary form of it that
loads in milliseconds).  The searches run in C++ with the GIL released, one
utterance per thread (longest first).
"""
from __future__ import annotations

import gzip
import math
import numbers
import os
import threading
from collections import OrderedDict
from typing import Any, Iterator, List, Mapping, NamedTuple, Optional, Sequence, Union

import numpy as np

from . import _decode
from . import _validate as V
from .ctc import _shape_of  # (unbatched, T, N, C): the same layouts as the CTC loss

__all__ = ["ctc_greedy_decode", "ctc_beam_search", "CTCHypotheses", "Hypothesis", "WordSpan",
           "NgramLM"]

LN10 = math.log(10.0)
MAX_BEAM = 2**31 - 2       # prefixes per frame the search indexes with int32
MAX_HOTWORD_WEIGHT = 1e300
SENTENCEPIECE_PREFIX = "\u2581"  # "▁"
_WORD_NONE, _WORD_DELIMITER, _WORD_PREFIX = 0, 1, 2  # = seqloss::WordMode

_ArrayLike = Any


# ------------------------------------------------------------------ results

class Hypothesis(NamedTuple):
    """One decoded hypothesis of one item (``CTCHypotheses`` iterates these)."""
    tokens: List[int]
    score: float             # acoustic + lm_weight * lm + word_score * words + hotword
    acoustic_score: float    # log P(tokens | log_probs): sum over the CTC paths kept
    lm_score: float          # natural-log LM score of the words (with </s>), unweighted
    hotword_score: float     # sum of the weights of the complete hotword phrases
    words: int
    start_frames: List[int]  # first frame of each token's span
    end_frames: List[int]    # one past the last frame (exclusive)
    confidence_mean: List[float]  # mean frame probability over the span
    confidence_min: List[float]
    text: Optional[str]      # with tokens


class WordSpan(NamedTuple):
    """A word of a hypothesis: frames [start_frame, end_frame) of its tokens' spans."""
    word: str
    start_frame: int
    end_frame: int   # exclusive
    confidence: float      # mean frame probability over the word's token frames
    confidence_min: float


class CTCHypotheses:
    """Decoded hypotheses of a batch, as padded arrays (best first per item).

    Attributes (N items, K = nbest, W = the longest hypothesis):

    - ``tokens`` ``(N, K, W)`` int64 token ids, padded with -1;
    - ``lengths`` ``(N, K)`` int64; ``counts`` ``(N,)`` hypotheses found per item (fewer
      than K when fewer label sequences are possible; 0 for an item whose frames
      hold NaN or +inf in beam search);
    - ``scores`` ``(N, K)`` total log score (-inf where no hypothesis; NaN for such an
      invalid item); its parts ``acoustic_scores``, ``lm_scores`` (natural log,
      unweighted, with ``</s>`` and the OOV offsets), ``hotword_scores`` and
      ``word_counts``: ``scores = acoustic + lm_weight * lm + word_score * words +
      hotword``;
    - ``start_frames`` / ``end_frames`` ``(N, K, W)``: each token's span on the
      hypothesis's most probable frame path, ``[start, end)`` (end exclusive), -1
      padded; ``confidence_mean`` / ``confidence_min`` ``(N, K, W)``: the mean and the
      minimum frame probability of the token over its span.

    ``len()`` is N; iterating (or ``to_list()``) gives each item's list of
    ``Hypothesis``.  With ``tokens`` (strings) known: ``text`` (best per item),
    ``texts`` (every hypothesis) and ``word_spans(item, rank)``.
    """

    def __init__(self, arrays: dict, tokens: Optional[Sequence[str]] = None,
                 word_mode: int = _WORD_NONE, delimiter: str = "", blank: int = 0):
        self.counts = arrays["counts"]
        self.lengths = arrays["lengths"]
        self.scores = arrays["scores"]
        self.acoustic_scores = arrays["acoustic_scores"]
        self.lm_scores = arrays["lm_scores"]
        self.hotword_scores = arrays["hotword_scores"]
        self.word_counts = arrays["word_counts"]
        self.tokens = arrays["tokens"]
        self.start_frames = arrays["start_frames"]
        self.end_frames = arrays["end_frames"]
        self.confidence_mean = arrays["confidence_mean"]
        self.confidence_min = arrays["confidence_min"]
        self.token_strings = None if tokens is None else list(tokens)
        self._word_mode = word_mode
        self._delimiter = delimiter
        self._blank = blank

    def __len__(self) -> int:
        return int(self.counts.shape[0])

    def __repr__(self) -> str:
        return "CTCHypotheses(items=%d, nbest=%d, width=%d)" % self.tokens.shape

    def with_tokens(self, tokens: Sequence[str], word_delimiter: Optional[str] = None,
                    blank: Optional[int] = None) -> "CTCHypotheses":
        """The same hypotheses with token strings (for ``text`` and ``word_spans``)."""
        blank = self._blank if blank is None else V.check_int("blank", blank)
        toks = _check_tokens(tokens, None, blank)
        top = int(self.tokens.max()) if self.tokens.size else -1
        if top >= len(toks):
            raise ValueError("Expected tokens to have an entry for every decoded id, but id %d "
                             "is past its %d entries" % (top, len(toks)))
        mode, delim = _word_mode(toks, word_delimiter, blank)
        return _rebind(self, toks, mode, delim, blank)

    # ---------------------------------------------------------------- per item

    def hypothesis(self, item: int, rank: int = 0) -> Hypothesis:
        """The ``rank``-th best hypothesis of ``item``."""
        n = int(self.lengths[item, rank])
        toks = self.tokens[item, rank, :n].tolist()
        return Hypothesis(
            toks, float(self.scores[item, rank]), float(self.acoustic_scores[item, rank]),
            float(self.lm_scores[item, rank]), float(self.hotword_scores[item, rank]),
            int(self.word_counts[item, rank]), self.start_frames[item, rank, :n].tolist(),
            self.end_frames[item, rank, :n].tolist(),
            self.confidence_mean[item, rank, :n].tolist(),
            self.confidence_min[item, rank, :n].tolist(),
            self._text(toks) if self.token_strings is not None else None)

    def __getitem__(self, item: int) -> List[Hypothesis]:
        item = V.check_int("item", item)
        if not -len(self) <= item < len(self):
            raise IndexError("item %d out of range for %d items" % (item, len(self)))
        item %= len(self)
        return [self.hypothesis(item, r) for r in range(int(self.counts[item]))]

    def __iter__(self) -> Iterator[List[Hypothesis]]:
        for i in range(len(self)):
            yield self[i]

    def to_list(self) -> List[List[Hypothesis]]:
        """Every item's hypotheses as Python objects."""
        return list(self)

    # ---------------------------------------------------------------- text

    def _need_tokens(self) -> List[str]:
        if self.token_strings is None:
            raise ValueError("these hypotheses have no token strings: pass tokens= to the "
                             "decoder or use with_tokens(tokens)")
        return self.token_strings

    def _text(self, ids: Sequence[int]) -> str:
        toks = self._need_tokens()
        if self._word_mode == _WORD_NONE:
            return "".join(toks[i] for i in ids)
        return " ".join(w for w, _ in self._words(ids))

    def _words(self, ids: Sequence[int]) -> List[tuple]:
        """[(word, [positions of its tokens])] of a token sequence."""
        toks = self._need_tokens()
        words, cur, pos = [], [], []
        for j, i in enumerate(ids):
            t = toks[i]
            if self._word_mode == _WORD_DELIMITER and t == self._delimiter:
                if cur:
                    words.append(("".join(cur), pos))
                cur, pos = [], []
                continue
            if self._word_mode == _WORD_PREFIX and t.startswith(SENTENCEPIECE_PREFIX):
                if cur:
                    words.append(("".join(cur), pos))
                cur, pos = [], []
                t = t[len(SENTENCEPIECE_PREFIX):]
            cur.append(t)
            pos.append(j)
        if cur and "".join(cur):
            words.append(("".join(cur), pos))
        return [(w, p) for w, p in words if w]

    @property
    def text(self) -> List[str]:
        """The best hypothesis's text per item ("" where there is none)."""
        self._need_tokens()
        return [self._text(self.tokens[n, 0, :int(self.lengths[n, 0])].tolist())
                if self.counts[n] else "" for n in range(len(self))]

    @property
    def texts(self) -> List[List[str]]:
        """Every hypothesis's text, per item."""
        self._need_tokens()
        return [[self._text(self.tokens[n, r, :int(self.lengths[n, r])].tolist())
                 for r in range(int(self.counts[n]))] for n in range(len(self))]

    def word_spans(self, item: int = 0, rank: int = 0) -> List[WordSpan]:
        """The words of one hypothesis with their frames and confidences."""
        if self._word_mode == _WORD_NONE:
            raise ValueError("word spans need a word delimiter (a delimiter token or the "
                             "SentencePiece '\u2581' prefix)")
        h = self.hypothesis(item, rank)
        out = []
        for w, pos in self._words(h.tokens):
            frames = sum(h.end_frames[j] - h.start_frames[j] for j in pos)
            mass = sum(h.confidence_mean[j] * (h.end_frames[j] - h.start_frames[j]) for j in pos)
            out.append(WordSpan(w, h.start_frames[pos[0]], h.end_frames[pos[-1]],
                                mass / frames if frames else 0.0,
                                min(h.confidence_min[j] for j in pos)))
        return out


def _rebind(h: CTCHypotheses, toks, mode, delim, blank) -> CTCHypotheses:
    arrays = {k: getattr(h, k) for k in (
        "counts", "lengths", "scores", "acoustic_scores", "lm_scores", "hotword_scores",
        "word_counts", "tokens", "start_frames", "end_frames", "confidence_mean",
        "confidence_min")}
    return CTCHypotheses(arrays, toks, mode, delim, blank)


# ------------------------------------------------------------------ the LM

class NgramLM:
    """A backoff n-gram language model (ARPA), scored in C++ as KenLM scores.

    ``NgramLM.from_arpa(path_or_text, unit="word")`` reads an ARPA file (a path,
    ``.gz`` allowed, or the text itself); ``save(path)`` / ``NgramLM.load(path)``
    write and read a binary form that loads in milliseconds.  ``unit="word"``:
    the model's words are words (built from the tokens at the word delimiter);
    ``unit="token"``: its words are the token strings themselves (character
    LMs, as OCR models often use).  ``score(words)`` is the natural-log
    probability of a sentence (``<s>`` context, each word, ``</s>``), KenLM's
    ``Model.score`` times ln(10); out-of-vocabulary words score as ``<unk>``.
    Immutable; one model can serve many threads and calls.  Picklable.
    """

    __slots__ = ("_model", "unit")

    def __init__(self, model: Any, unit: str = "word"):
        if not isinstance(model, _decode.Model):
            raise TypeError("use NgramLM.from_arpa(...) or NgramLM.load(...)")
        self._model = model
        self.unit = _check_unit(unit)

    @classmethod
    def from_arpa(cls, path_or_text: Union[str, bytes, os.PathLike], *,
                  unit: str = "word") -> "NgramLM":
        """Read an ARPA model: a file path (``.gz`` read through gzip) or the ARPA text."""
        unit = _check_unit(unit)
        if isinstance(path_or_text, str) and "\\data\\" in path_or_text:
            data = _utf8("path_or_text", path_or_text)
        elif isinstance(path_or_text, (bytes, bytearray)) and b"\\data\\" in path_or_text:
            data = bytes(path_or_text)
        else:
            data = _read_file("path_or_text", path_or_text)
        return cls(_decode.Model.from_arpa(np.frombuffer(data, np.uint8)), unit)

    @classmethod
    def load(cls, path: Union[str, os.PathLike], *, unit: Optional[str] = None) -> "NgramLM":
        """Read a model written by ``save`` (its unit is stored with it)."""
        data = _read_file("path", path)
        stored, _, body = data.partition(b"\n")
        if stored not in (b"word", b"token"):
            raise ValueError("%r is not a seqloss n-gram model file" % (os.fspath(path),))
        model = _decode.Model.from_binary(np.frombuffer(body, np.uint8))
        return cls(model, unit if unit is not None else stored.decode())

    def save(self, path: Union[str, os.PathLike]) -> None:
        """Write the binary form (read back with ``NgramLM.load``)."""
        with open(path, "wb") as f:
            f.write(self.unit.encode() + b"\n" + self._model.to_binary())

    def __reduce__(self):
        return (_from_bytes, (self.unit, self._model.to_binary()))

    @property
    def order(self) -> int:
        return int(self._model.order)

    @property
    def vocab_size(self) -> int:
        """Words in the vocabulary (with <s>, </s> and <unk>)."""
        return int(self._model.vocab_size)

    @property
    def counts(self) -> List[int]:
        """Number of n-grams of each order 1..order."""
        return [int(self._model.count(n)) for n in range(1, self.order + 1)]

    def __contains__(self, word: str) -> bool:
        if not isinstance(word, str):
            return False
        try:
            return self._model.contains(word.encode("utf-8"))
        except UnicodeEncodeError:
            return False

    def score(self, words: Union[str, Sequence[str]], *, bos: bool = True,
              eos: bool = True) -> float:
        """Natural-log probability of a sentence (a string is split at whitespace)."""
        if isinstance(words, str):
            words = words.split()
        elif not isinstance(words, Sequence) or not all(isinstance(w, str) for w in words):
            raise TypeError("Expected words to be a string or a sequence of strings, but got %r"
                            % (type(words).__name__,))
        return LN10 * self._model.sentence([_utf8("words", w) for w in words], bool(bos),
                                           bool(eos))

    def __repr__(self) -> str:
        return "NgramLM(order=%d, counts=%s, unit=%r)" % (self.order, self.counts, self.unit)


def _from_bytes(unit: str, data: bytes) -> NgramLM:
    return NgramLM(_decode.Model.from_binary(np.frombuffer(data, np.uint8)), unit)


def _utf8(name: str, text: str) -> bytes:
    """``text`` as UTF-8; ValueError for a string that has none (a lone surrogate)."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ValueError("Expected %s to be valid Unicode text, but it holds %r at position %d "
                         "(a lone surrogate has no UTF-8 form)"
                         % (name, e.object[e.start:e.end], e.start)) from None


def _check_unit(unit: Any) -> str:
    if unit not in ("word", "token"):
        raise ValueError("Expected unit to be 'word' or 'token', but got %r" % (unit,))
    return unit


def _read_file(name: str, path: Any) -> bytes:
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError("Expected %s to be a path or ARPA text, but got %s"
                        % (name, type(path).__name__))
    p = os.fspath(path)
    try:
        if (p.endswith(".gz") if isinstance(p, str) else p.endswith(b".gz")):
            with gzip.open(p, "rb") as f:
                return f.read()
        with open(p, "rb") as f:
            return f.read()
    except (OSError, EOFError) as e:
        raise ValueError("Cannot read %s %r: %s" % (name, p, e)) from e


# ------------------------------------------------------------------ checks

def _emissions(log_probs: Any, input_lengths: Any, batch_first: bool, blank: Any):
    """(x as (T, N, C) or (N, T, C) C-contiguous float32/64, batch_first, lengths, blank)."""
    x = V.as_array("log_probs", log_probs, detach=True)
    dt, _ = V.float_dtype_of("log_probs", x)
    unbatched, T, N, C = _shape_of(x, bool(batch_first))
    if C < 1:
        raise ValueError("Expected log_probs to have at least one class, but got C=0")
    if C > V.MAX_CLASSES:
        raise ValueError("Expected log_probs to have at most %d classes, but got %d"
                         % (V.MAX_CLASSES, C))
    blank = V.check_blank(blank, C)
    if unbatched:
        x = x[None]
        batch_first = True
    x = V.carray(x, dt)
    if input_lengths is None:
        lengths = np.full(N, T, dtype=np.int64)
    else:
        lengths = V.lengths("input_lengths", input_lengths, N)
        V.check_lengths_within("input_lengths", lengths, T, "number of frames")
    return x, bool(batch_first), lengths, blank


def _check_tokens(tokens: Any, C: Optional[int], blank: int) -> List[str]:
    if isinstance(tokens, (str, bytes)) or not isinstance(tokens, Sequence):
        raise TypeError("Expected tokens to be a sequence of strings, but got %s"
                        % type(tokens).__name__)
    toks = list(tokens)
    for i, t in enumerate(toks):
        if not isinstance(t, str):
            raise TypeError("Expected tokens to be strings, but got %r at index %d" % (t, i))
    if C is not None and len(toks) != C:
        raise ValueError("Expected tokens to have %d entries (one per class), but got %d"
                         % (C, len(toks)))
    seen = {}
    for i, t in enumerate(toks):
        _utf8("tokens[%d]" % i, t)
        if t in seen:
            raise ValueError("Expected tokens to be distinct, but %r is at index %d and %d"
                             % (t, seen[t], i))
        seen[t] = i
    return toks


def _word_mode(toks: List[str], word_delimiter: Any, blank: int) -> tuple:
    """(mode, delimiter) for the tokens: explicit, or the SentencePiece prefix if a token
    uses it, else a " " token, else a "|" token, else no words."""
    if word_delimiter is None:
        if any(t.startswith(SENTENCEPIECE_PREFIX) for i, t in enumerate(toks) if i != blank):
            return _WORD_PREFIX, SENTENCEPIECE_PREFIX
        for d in (" ", "|"):
            if d in toks and toks.index(d) != blank:
                return _WORD_DELIMITER, d
        return _WORD_NONE, ""
    if not isinstance(word_delimiter, str):
        raise TypeError("Expected word_delimiter to be a string or None, but got %r"
                        % (word_delimiter,))
    if word_delimiter == SENTENCEPIECE_PREFIX:  # word starts, whether or not "▁" is a token
        return _WORD_PREFIX, word_delimiter
    if word_delimiter not in toks or toks.index(word_delimiter) == blank:
        raise ValueError("Expected word_delimiter to be one of the tokens (not the blank) or "
                         "'\u2581' (SentencePiece word starts), but got %r" % (word_delimiter,))
    return _WORD_DELIMITER, word_delimiter


def _real(name: str, value: Any, *, none_ok: bool = False, hi: float = math.inf) -> Optional[float]:
    if value is None and none_ok:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError("Expected %s to be a real number%s, but got %r"
                        % (name, " or None" if none_ok else "", value))
    try:
        v = float(value)
    except OverflowError:  # an int beyond float's range
        v = math.inf
    if not math.isfinite(v) or v > hi:
        raise ValueError("Expected %s to be a finite number%s, but got %r"
                         % (name, "" if hi == math.inf else " <= %g" % hi, value))
    return v


def _normalise_hotwords(hotwords: Any, word_mode: int) -> tuple:
    if not isinstance(hotwords, Mapping):
        raise TypeError("Expected hotwords to be a dict {phrase: weight}, but got %s"
                        % type(hotwords).__name__)
    phrases, weights = [], []
    for p, w in hotwords.items():
        if not isinstance(p, str):
            raise TypeError("Expected hotword phrases to be strings, but got %r" % (p,))
        _utf8("hotword phrase %r" % (p,), p)
        wt = _real("hotwords[%r]" % (p,), w, hi=MAX_HOTWORD_WEIGHT)
        if not wt > 0:
            raise ValueError("Expected hotword weights to be positive, but got %r for %r"
                             % (w, p))
        words = p.split()
        if not words:
            raise ValueError("Expected hotword phrases to be non-empty, but got %r" % (p,))
        phrases.append(" " + " ".join(words) + " " if word_mode != _WORD_NONE else p)
        weights.append(wt)
    return phrases, weights


_VOCABS: "OrderedDict[tuple, Any]" = OrderedDict()
_VOCABS_LOCK = threading.Lock()


def _vocabulary(toks: List[str], blank: int, mode: int, delim: str, phrases, weights):
    """The C++ token table (and hotword automaton), cached for repeated calls (the last 8
    setups; safe from any number of threads)."""
    key = (tuple(toks), blank, mode, delim, tuple(phrases), tuple(weights))
    with _VOCABS_LOCK:
        v = _VOCABS.get(key)
        if v is not None:
            _VOCABS.move_to_end(key)
            return v
    v = _decode.Vocabulary([t.encode("utf-8") for t in toks], blank, mode,
                           delim.encode("utf-8"), phrases, weights)
    with _VOCABS_LOCK:
        _VOCABS[key] = v
        while len(_VOCABS) > 8:
            _VOCABS.popitem(last=False)
    return v


# ------------------------------------------------------------------ decoders

def ctc_greedy_decode(log_probs: _ArrayLike, input_lengths: Any = None, *, blank: int = 0,
                      merge_repeated: bool = True, batch_first: bool = False,
                      from_logits: bool = False, tokens: Optional[Sequence[str]] = None,
                      word_delimiter: Optional[str] = None,
                      n_threads: Optional[int] = None) -> CTCHypotheses:
    """Best-path (greedy) CTC decoding: the argmax class of every frame.

    Parameters
    ----------
    log_probs : ndarray (or CPU tensor), float16/float32/float64
        ``(T, N, C)``, ``(N, T, C)`` with ``batch_first``, or ``(T, C)`` (then N = 1 in
        the result).  Log-probabilities, or logits (the argmax is the same; with
        ``from_logits=True`` the scores and confidences are computed after a
        log-softmax of each frame).
    input_lengths : None, int or (N,) ints
        Frames per item (None: all T).
    blank : int
    merge_repeated : bool
        True: runs of the same class are one token, then blanks are dropped
        (``A A _ A A`` -> ``A A``): torch's ``argmax`` + ``unique_consecutive`` + drop
        blank.  False: blanks are dropped and every other frame is a token (``A A _
        A A`` -> ``A A A A``), TensorFlow's ``ctc_greedy_decoder(merge_repeated=False)``.
        A NaN counts as the largest value of its frame (the first NaN wins), as in
        ``torch.argmax``.
    tokens, word_delimiter
        Optional token strings for ``.text`` and ``.word_spans`` (see
        ``ctc_beam_search``).
    n_threads : int or None

    Returns
    -------
    CTCHypotheses with nbest = 1: ``scores`` = the path's log-probability (sum of
    the chosen frames' values); token spans are the runs (merge_repeated) or the
    frames (not).
    """
    x, bf, lengths, blank = _emissions(log_probs, input_lengths, batch_first, blank)
    nt = V.resolve_n_threads(n_threads)
    toks, mode, delim = None, _WORD_NONE, ""
    if tokens is not None:
        toks = _check_tokens(tokens, x.shape[2], blank)
        mode, delim = _word_mode(toks, word_delimiter, blank)
    arrays = _decode.greedy(x, bf, lengths, blank, bool(merge_repeated), bool(from_logits), nt)
    return CTCHypotheses(arrays, toks, mode, delim, blank)


def ctc_beam_search(log_probs: _ArrayLike, input_lengths: Any = None, *, beam_width: int = 16,
                    nbest: int = 1, blank: int = 0, token_min_logp: Optional[float] = None,
                    beam_prune_logp: Optional[float] = None,
                    tokens: Optional[Sequence[str]] = None,
                    word_delimiter: Optional[str] = None, lm: Optional[NgramLM] = None,
                    lm_weight: float = 0.5, word_score: float = 0.0,
                    unk_score_offset: float = -10.0 * LN10,
                    hotwords: Optional[Mapping[str, float]] = None, batch_first: bool = False,
                    from_logits: bool = False,
                    n_threads: Optional[int] = None) -> CTCHypotheses:
    """CTC prefix beam search, with optional n-gram LM shallow fusion and hotwords.

    The standard prefix beam search: each prefix keeps the log-probability of its
    paths ending in blank and of those ending in its last token, merged in log
    space, so a hypothesis's ``acoustic_scores`` is the total probability of the
    label sequence over the paths the beam kept (exact when nothing was pruned).
    Prefixes are ranked by ``acoustic + lm_weight * LM + word_score * words +
    hotword bonus``.  Repeated tokens separated by a blank are distinct (the
    frame path ``A A _ A A`` is the label sequence ``A A``): TensorFlow's beam
    decoder with ``merge_repeated=True`` merges such repeats again in its output
    (``A``), we do not (as its ``merge_repeated=False``).

    Parameters
    ----------
    log_probs : ndarray (or CPU tensor), float16/float32/float64
        ``(T, N, C)``, ``(N, T, C)`` with ``batch_first`` or ``(T, C)``; natural-log
        probabilities (log_softmax output), or logits with ``from_logits=True``
        (each frame is log-softmax normalised first).  An item whose used frames
        hold NaN or +inf gets no hypothesis (``counts`` 0, ``scores`` NaN).
    input_lengths : None, int or (N,) ints
    beam_width : int >= 1
        Prefixes kept per frame.  nbest : int in [1, beam_width]: distinct label
        sequences returned per item, best first.
    blank : int
    token_min_logp : float or None
        Per frame, tokens below this log-prob are not expanded (the frame's best
        token always is).  None (default): every token that can still reach the
        beam is tried - the search skips, exactly, the tokens whose best possible
        score cannot enter it, so the default is exact at any vocabulary size.
    beam_prune_logp : float <= 0 or None
        Prefixes scoring below the best by more than this are dropped.  None: off.
    tokens : sequence of C strings
        The token of every class (the blank's string is ignored); needed for an LM,
        hotwords and ``.text``.  Distinct.
    word_delimiter : str or None
        How tokens make words: a delimiter token (``"|"``, ``" "``), or ``"\u2581"`` for
        SentencePiece's word-start prefix.  None: the prefix if a token starts with
        ``"\u2581"``, else a ``" "`` token, else a ``"|"`` token, else no words.
    lm : NgramLM or None
        Shallow fusion: with ``unit="word"`` each completed word adds ``lm_weight *
        ln P(word | previous words)`` and ``word_score``; the final partial word is
        scored as a word and ``</s>`` is added at the end (as KenLM-based decoders
        do).  A word outside the LM's vocabulary scores as ``<unk>`` plus
        ``unk_score_offset``; while a partial word starts no vocabulary word the
        prefix carries ``lm_weight * unk_score_offset`` (times len/6 past 6
        characters) as a search penalty, dropped when the word completes.  With
        ``unit="token"`` every emitted token is an LM word.
    lm_weight, word_score : float
        word_score is added per word whenever words are defined (LM or not).
    unk_score_offset : float <= 0
        Natural log; the default equals pyctcdecode's -10 (log10 units).
    hotwords : dict {phrase: weight > 0}
        Phrases (whitespace-separated words in a word mode, matched on whole words;
        character strings matched anywhere without words) whose every occurrence in
        the text adds its weight (natural log).  While a phrase is being entered
        the prefix holds the matched fraction of its weight, taken back if the
        phrase is left unfinished, so only complete phrases count in the end.
    batch_first, from_logits : bool
    n_threads : int or None
        Utterances run in parallel, longest first; results do not depend on it.

    Returns
    -------
    CTCHypotheses
    """
    x, bf, lengths, blank = _emissions(log_probs, input_lengths, batch_first, blank)
    C = x.shape[2]
    bw = V.check_int("beam_width", beam_width)
    if not 1 <= bw <= MAX_BEAM:
        raise ValueError("Expected beam_width to be in [1, %d], but got %d" % (MAX_BEAM, bw))
    nb = V.check_int("nbest", nbest)
    if not 1 <= nb <= bw:
        raise ValueError("Expected nbest to be in [1, beam_width=%d], but got %d" % (bw, nb))
    tmin = _real("token_min_logp", token_min_logp, none_ok=True)
    bprune = _real("beam_prune_logp", beam_prune_logp, none_ok=True, hi=0.0)
    lmw = _real("lm_weight", lm_weight)
    ws = _real("word_score", word_score)
    unk = _real("unk_score_offset", unk_score_offset, hi=0.0)
    nt = V.resolve_n_threads(n_threads)
    if lm is not None and not isinstance(lm, NgramLM):
        raise TypeError("Expected lm to be an NgramLM or None, but got %s" % type(lm).__name__)
    toks, mode, delim, vocab = None, _WORD_NONE, "", None
    if tokens is None:
        if lm is not None or hotwords is not None:
            raise ValueError("an lm or hotwords need tokens= (the string of every class)")
        if word_delimiter is not None:
            raise ValueError("word_delimiter needs tokens=")
    else:
        toks = _check_tokens(tokens, C, blank)
        mode, delim = _word_mode(toks, word_delimiter, blank)
        if lm is not None and lm.unit == "word" and mode == _WORD_NONE:
            raise ValueError("a word-level lm needs word boundaries: give word_delimiter (a "
                             "delimiter token, or '\u2581'), or load the LM with unit='token'")
        phrases, weights = ([], []) if hotwords is None else _normalise_hotwords(hotwords, mode)
        vocab = _vocabulary(toks, blank, mode, delim, phrases, weights)
    arrays = _decode.beam_search(
        x, bf, lengths, bool(from_logits), bw, nb, blank,
        -math.inf if tmin is None else tmin, -math.inf if bprune is None else bprune,
        lmw, ws, unk, lm is not None and lm.unit == "token", vocab,
        None if lm is None else lm._model, nt)
    return CTCHypotheses(arrays, toks, mode, delim, blank)
