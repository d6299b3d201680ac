"""Hypothesis strategies shared by the test families.

Every array is built from hypothesis data (drawn bytes, drawn ints, drawn lists), never
from a drawn seed fed to a NumPy RNG, so a failure shrinks to a small readable case:
bytes shrink towards zeros (logit 0, token 0) and lists towards fewer, smaller items.
Drawn bytes stay within hypothesis's ~8 KB budget per example: small arrays get one
byte per element, larger ones cycle a drawn pattern of at most ``max_bytes`` bytes.

``make_ctc_case`` builds the same case dict as ``ctc_cases`` by hand, for ``@example``.
"""
import numpy as np
from hypothesis import strategies as st

# ------------------------------------------------------------------ arrays


def floats_from_bytes(raw, n, bound):
    """n float64 values in [-bound, bound) (steps of bound/128) from the signed bytes of
    ``raw``, repeated cyclically when shorter than n; empty ``raw`` gives zeros."""
    if not raw:
        return np.zeros(n)
    v = np.frombuffer(raw, dtype=np.int8).astype(np.float64) * (bound / 128.0)
    return np.resize(v, n)


def units_from_bytes(raw, n):
    """n float64 values in [0, 1] from the unsigned bytes of ``raw`` (cycled)."""
    if not raw:
        return np.zeros(n)
    return np.resize(np.frombuffer(raw, dtype=np.uint8) / 255.0, n)


@st.composite
def float_arrays(draw, shape, bound=4.0, max_bytes=3000):
    """A float64 array of ``shape`` in [-bound, bound): one drawn byte per element when the
    array has at most ``max_bytes`` elements, else a drawn pattern of 1..max_bytes cycled."""
    n = int(np.prod(shape, dtype=np.int64))
    size = dict(min_size=n, max_size=n) if n <= max_bytes else dict(min_size=1,
                                                                    max_size=max_bytes)
    return floats_from_bytes(draw(st.binary(**size)), n, bound).reshape(shape)


@st.composite
def unit_arrays(draw, shape, max_bytes=1500):
    """A float64 array of ``shape`` in [0, 1], built like ``float_arrays``."""
    n = int(np.prod(shape, dtype=np.int64))
    size = dict(min_size=n, max_size=n) if n <= max_bytes else dict(min_size=1,
                                                                    max_size=max_bytes)
    return units_from_bytes(draw(st.binary(**size)), n).reshape(shape)


# ------------------------------------------------------------------ CTC


def ctc_repeats(labels):
    """Adjacent equal labels: each needs a blank frame between, so T >= L + repeats."""
    return sum(1 for a, b in zip(labels, labels[1:]) if a == b)


def fixed_logits(shape, scale=3.0):
    """Deterministic, non-constant logits for hand-written examples."""
    n = int(np.prod(shape, dtype=np.int64))
    return (np.sin(np.arange(n) * 1.7 + 0.3) * scale).reshape(shape)


def make_ctc_case(rows, input_lengths, C, T, blank=0, x=None):
    """The dict ``ctc_cases`` draws, from target rows (lists of labels) and input lengths;
    logits default to ``fixed_logits``; targets are padded with a non-blank label."""
    N = len(rows)
    symbols = [c for c in range(C) if c != blank]
    width = max([len(r) for r in rows] + [1])
    targets = np.full((N, width), symbols[0] if symbols else blank, dtype=np.int64)
    for n, r in enumerate(rows):
        targets[n, : len(r)] = r
    x = fixed_logits((T, N, C)) if x is None else np.asarray(x, dtype=np.float64)
    return dict(x=x, targets=targets, il=np.array(input_lengths, dtype=np.int64),
                tl=np.array([len(r) for r in rows], dtype=np.int64), blank=blank)


@st.composite
def ctc_items(draw, T, alphabet, max_L):
    """(target labels, input length) of one batch item; three in four get a feasible
    input length (at least L + repeats, shrinking towards exactly L + repeats), the
    others any length in [0, T] (often impossible: loss +inf)."""
    row = draw(st.lists(st.sampled_from(alphabet), max_size=min(max_L, T + 2))) \
        if alphabet else []
    need = len(row) + ctc_repeats(row)
    if need <= T and draw(st.integers(0, 3)) < 3:
        return row, draw(st.integers(need, T))
    return row, draw(st.integers(0, T))


@st.composite
def ctc_cases(draw, max_T=24, max_N=4, max_C=8, max_L=12):
    """A (T, N, C) batch of logits with ragged lengths, repeats, empty targets, blank at 0,
    C // 2 or C - 1, and impossible items (input length < L + repeats: loss +inf)."""
    C = draw(st.integers(1, max_C))
    blank = draw(st.sampled_from(sorted({0, C // 2, C - 1})))
    T = draw(st.integers(1, max_T))
    symbols = [c for c in range(C) if c != blank]
    # few distinct symbols -> many repeats
    alphabet = symbols[: draw(st.integers(1, max(1, len(symbols))))] if symbols else []
    items = draw(st.lists(ctc_items(T, alphabet, max_L), min_size=1, max_size=max_N))
    scale = draw(st.sampled_from([1.0, 0.5, 3.0]))
    x = draw(float_arrays((T, len(items), C), bound=4.0)) * scale
    return make_ctc_case([r for r, _ in items], [n for _, n in items], C, T, blank=blank, x=x)


# ------------------------------------------------------------------ edit distance

BOUNDARIES = [0, 1, 2, 63, 64, 65, 127, 128, 129, 640, 641]


def tokens_from_bytes(raw, vocab):
    """One token in [0, vocab) per byte (byte * vocab // 256; byte 0 -> token 0)."""
    return [b * vocab // 256 for b in raw]


def apply_edits(seq, raw, vocab):
    """``seq`` with the edits coded by ``raw``, four bytes each: (kind, token, pos_hi, pos_lo);
    kind % 3 is 0 substitute, 1 delete, 2 insert; the position wraps to the current length."""
    out = list(seq)
    for i in range(0, len(raw) - 3, 4):
        kind, tok, hi, lo = raw[i: i + 4]
        token = tok * vocab // 256
        pos = (hi * 256 + lo) % (len(out) + 1)
        if kind % 3 == 2 or pos == len(out):
            out.insert(pos, token)
        elif kind % 3 == 1:
            del out[pos]
        else:
            out[pos] = token
    return out


@st.composite
def token_pairs(draw, max_len=2000):
    """(hyp, ref) int lists: lengths forced onto block boundaries half the time, the
    hypothesis either the reference with up to 2 * len / 5 + 1 drawn edits or independent."""
    length = st.one_of(st.sampled_from([b for b in BOUNDARIES if b <= max_len]),
                       st.integers(0, max_len))
    m = draw(length)
    vocab = draw(st.sampled_from([2, 1, 4, 30, 1000]))
    ref = tokens_from_bytes(draw(st.binary(min_size=m, max_size=m)), vocab)
    if draw(st.booleans()):
        hyp = apply_edits(ref, draw(st.binary(max_size=4 * (2 * (m // 5) + 1))), vocab)
    else:
        k = draw(length)
        hyp = tokens_from_bytes(draw(st.binary(min_size=k, max_size=k)), vocab)
    return hyp, ref


# ------------------------------------------------------------------ cross-entropy

CE_CLASSES = [1, 2, 3, 7, 31, 32, 33, 64, 100, 1023, 1025, 2100]
REDUCTIONS = ["none", "mean", "sum"]


@st.composite
def ce_cases(draw, prob=False):
    """(logits, targets, weight, ignore_index, label_smoothing, reduction, dtype, n_threads)
    for cross_entropy / nll_loss: batch shapes with zero sizes, class counts around the
    SIMD widths, large offsets, zero weights, ignored rows (none, some, all) and, with
    ``prob``, probability targets (rows summing to 1, or all zero)."""
    batch = tuple(draw(st.lists(st.integers(0, 6), min_size=1, max_size=3)))
    C = draw(st.sampled_from(CE_CLASSES))
    if int(np.prod(batch)) * C > 40000:
        batch = (draw(st.integers(0, 12)),)
    rows = int(np.prod(batch))
    scale = draw(st.sampled_from([1.0, 0.1, 5.0, 30.0]))
    offset = draw(st.sampled_from([0.0, 100.0, -1e4]))
    x = draw(float_arrays(batch + (C,), bound=4.0)) * scale + offset
    weight = None
    if draw(st.booleans()):
        weight = draw(unit_arrays((C,), max_bytes=1000)) * 2
        if draw(st.booleans()):
            weight[draw(st.integers(0, C - 1))] = 0.0
    ignore_index = draw(st.sampled_from([-100, 0, C - 1, 5]))
    if prob:
        q = draw(unit_arrays(batch + (C,))) ** 3
        targets = q / np.maximum(q.sum(-1, keepdims=True), 1e-300)
    else:
        # the first and last class (SIMD head and tail) often, any class otherwise
        label = st.sampled_from(sorted({0, C - 1})) | st.integers(0, C - 1)
        targets = np.array(draw(st.lists(label, min_size=rows, max_size=rows)),
                           dtype=np.int64).reshape(batch)
        ignored = draw(st.sampled_from(["none", "some", "all"]))
        if ignored == "all":
            mask = np.ones(batch, dtype=bool)
        elif ignored == "some":
            mask = np.array(draw(st.lists(st.booleans(), min_size=rows, max_size=rows)),
                            dtype=bool).reshape(batch)
        else:
            mask = np.zeros(batch, dtype=bool)
        targets = np.where(mask, ignore_index, targets)
    eps = draw(st.sampled_from([0.0, 0.1, 0.5, 1.0]))
    reduction = draw(st.sampled_from(REDUCTIONS))
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    n_threads = draw(st.sampled_from([1, 2, 3]))
    return x, targets, weight, ignore_index, eps, reduction, dtype, n_threads


@st.composite
def softmax_inputs(draw, classes=(1, 3, 32, 33, 1030, 2049)):
    """Logits of shape (up to 3 batch dims of 1..5) + (C,), values in [-12, 12)."""
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=3)))
    C = draw(st.sampled_from(list(classes)))
    return draw(float_arrays(shape + (C,), bound=12.0))
