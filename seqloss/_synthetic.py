"""Synthetic, seeded data for the CTC decoding tests and benchmarks (NumPy only).

* ``peaked_log_probs``: (T, N, C) log-probabilities that look like an acoustic
  model's output (mostly confident blanks, short token runs, occasional close
  competitors), with the planted frame paths they were built around.
* ``collapse``: a planted path -> its label sequence.
* ``random_words``: distinct random words.
* ``random_arpa``: a well-formed, normalised back-off n-gram model in ARPA text
  over given words, which KenLM loads (orders >= 2; KenLM refuses order 1).
* ``bpe_vocab`` / ``char_vocab``: token vocabularies (blank "" first) for
  SentencePiece-style and character decoding; ``encode_words`` spells words
  with them.

Everything is deterministic for a given seed.
"""
import math

import numpy as np

SP_SPACE = "\u2581"  # SentencePiece's word-start mark "▁"

_RUN_LENGTHS = np.array([1, 2, 3])
_RUN_WEIGHTS = np.array([0.5, 0.35, 0.15])  # token runs of 1-3 frames, mean 1.65


def _layout(rng, T, C, blank, label_rate, given=None):
    """One planted frame path of length T: blank runs around token runs (of the
    labels ``given``, truncated to what fits, or random ones)."""
    path = np.full(T, blank, dtype=np.int64)
    if C < 2 or T == 0:
        return path
    mean_run = float(_RUN_LENGTHS @ _RUN_WEIGHTS)
    L = int(rng.poisson(label_rate * T / mean_run)) if given is None else len(given)
    runs = rng.choice(_RUN_LENGTHS, size=L, p=_RUN_WEIGHTS)
    while L > 0 and runs[:L].sum() + (L - 1) > T:  # internal gaps need >= 1 blank
        L -= 1
    runs = runs[:L]
    if L == 0:
        return path
    if given is None:
        non_blank = [c for c in range(C) if c != blank]
        labels = rng.choice(non_blank, size=L)  # repeats allowed
    else:
        labels = np.asarray(given[:L], dtype=np.int64)
    spare = T - int(runs.sum()) - (L - 1)
    gaps = rng.multinomial(spare, np.full(L + 1, 1.0 / (L + 1)))
    gaps[1:L] += 1
    t = int(gaps[0])
    for j in range(L):
        path[t:t + runs[j]] = labels[j]
        t += int(runs[j]) + int(gaps[j + 1])
    return path


def collapse(path, blank=0):
    """Label sequence of a frame path: merge repeats, drop blanks."""
    out, prev = [], None
    for c in np.asarray(path).tolist():
        if c != prev and c != blank:
            out.append(c)
        prev = c
    return out


def peaked_log_probs(T, N, C, *, seed=0, blank=0, peak=4.0, noise=1.0, dtype=np.float32,
                     label_rate=0.35, labels=None):
    """Acoustic-model-like CTC log-probabilities around planted paths.

    For each of the N items a label sequence (uniform non-blank classes, repeats
    allowed) is laid out over the T frames as token runs of 1-3 frames (mean
    1.65) separated by blank runs of >= 1 frame; ``label_rate`` is the expected
    fraction of frames covered by token runs (so ~65% of frames are blank by
    default).  Logits are ``noise`` * N(0, 1); the planted class's logit is then
    set ``peak + noise * N(0, 1)`` above the log-sum-exp of the frame's other
    logits, so its probability is sigmoid(peak + jitter): about 0.98 typically
    for peak=4, below 0.9 on a few percent of frames, whatever C is.
    Competitors: on ~20% of the frames at a run boundary the neighbouring
    frame's class, and on ~3% of the others a random class, gets a logit
    ``2 - noise * N(0, 1)`` below the planted one (it wins now and then, so
    greedy and beam decoding differ).  With the defaults ~88% of frames have a
    top probability > 0.9 and ~1% have an argmax other than the planted class.

    ``labels``: N label sequences to plant instead of random ones (each
    truncated to what fits in T frames).

    Returns (log_probs, paths): log_probs (T, N, C) of ``dtype`` (log-softmax
    computed in float64 for float64, else float32), paths (N, T) int64, the
    planted class of each frame (``collapse(paths[n], blank)`` is item n's
    label sequence).
    """
    rng = np.random.default_rng(seed)
    work = np.float64 if np.dtype(dtype) == np.float64 else np.float32
    paths = np.stack([_layout(rng, T, C, blank, label_rate, None if labels is None else labels[n])
                      for n in range(N)]) \
        if N else np.zeros((0, T), dtype=np.int64)
    if C == 1:
        return np.zeros((T, N, C), dtype=dtype), paths
    z = rng.standard_normal((T, N, C), dtype=work)
    z *= work(noise)
    planted = paths.T[:, :, None]  # (T, N, 1)
    np.put_along_axis(z, planted, -np.inf, axis=2)
    m = z.max(axis=2, keepdims=True)
    others = m + np.log(np.exp(z - m).sum(axis=2, keepdims=True))
    margin = peak + noise * rng.standard_normal((T, N, 1)).astype(work)
    top = others + margin
    np.put_along_axis(z, planted, top, axis=2)

    # competitors: the neighbouring class at run boundaries, a random class elsewhere
    prev = np.concatenate([paths[:, :1], paths[:, :-1]], axis=1).T  # (T, N)
    nxt = np.concatenate([paths[:, 1:], paths[:, -1:]], axis=1).T
    cur = paths.T
    neighbour = np.where(prev != cur, prev, nxt)
    boundary = (prev != cur) | (nxt != cur)
    u = rng.random((T, N))
    random_class = rng.integers(0, C, size=(T, N))
    rival = np.where(boundary, neighbour, random_class)
    use = np.where(boundary, u < 0.2, u < 0.03) & (rival != cur)
    gap = 2.0 - noise * rng.standard_normal((T, N))
    t_idx, n_idx = np.nonzero(use)
    z[t_idx, n_idx, rival[t_idx, n_idx]] = (top[t_idx, n_idx, 0] - gap[t_idx, n_idx]).astype(work)

    m = z.max(axis=2, keepdims=True)
    z -= m
    z -= np.log(np.exp(z).sum(axis=2, keepdims=True))
    return z.astype(dtype, copy=False), paths


def random_words(n, seed, alphabet="abcdefghijklmnopqrstuvwxyz", min_len=2, max_len=8):
    """n distinct random words over ``alphabet``, lengths uniform in [min_len, max_len]."""
    possible = sum(len(alphabet) ** k for k in range(min_len, max_len + 1))
    if n > possible:
        raise ValueError(f"only {possible} distinct words of that shape exist")
    rng = np.random.default_rng(seed)
    letters = list(alphabet)
    words, seen = [], set()
    while len(words) < n:
        length = int(rng.integers(min_len, max_len + 1))
        w = "".join(letters[i] for i in rng.integers(0, len(letters), size=length))
        if w not in seen:
            seen.add(w)
            words.append(w)
    return words


def _sample_ngrams(rng, lower, succ, count):
    """``count`` distinct k-grams g + (w,) with g a (k-1)-gram of ``lower`` and
    g[1:] + (w,) a (k-1)-gram too (``succ`` maps a (k-2)-gram to its extensions)."""
    contexts = [g for g in lower if g[-1] != "</s>" and succ.get(g[1:])]
    out, seen = [], set()
    if not contexts:
        return out
    for _ in range(20 * count):
        if len(out) >= count:
            break
        g = contexts[int(rng.integers(len(contexts)))]
        choices = succ[g[1:]]
        w = choices[int(rng.integers(len(choices)))]
        ng = g + (w,)
        if ng not in seen:
            seen.add(ng)
            out.append(ng)
    return out


def random_arpa(words, order=3, seed=0, n_bigrams=None, n_trigrams=None, with_unk=True):
    """ARPA text of a random back-off n-gram model over ``words``.

    The vocabulary is ``words`` + <s>, </s> (+ <unk> when ``with_unk``).  Unigram
    probabilities are Zipf-like over a random ranking (summing to 1 up to the
    printed precision); <s> gets -99 as KenLM writes it.  ``n_bigrams`` (default
    4 * vocabulary) bigrams are drawn with unigram-weighted words after random
    contexts (<s> often); for each order k >= 3, ``n_trigrams`` (default 4 *
    vocabulary) k-grams extend a random (k-1)-gram g by a word w such that
    g[1:] + (w,) exists, so every n-gram's prefix and suffix are n-grams (a
    well-formed ARPA).  Fewer are kept when the vocabulary is too small.

    Probabilities: for each context h with explicit words W, the explicit mass
    M = s + U(0, 0.8) * (1 - s), where s is the lower-order mass of W, is shared
    over W in proportion to the lower-order probability times a log-normal
    jitter; back-off(h) = log10((1 - M) / (1 - s)), in (-0.7, 0], so the model
    is normalised.  Only n-grams that are a prefix of a higher one carry a
    back-off field.  All log10 probabilities are < 0.

    order=1 gives a unigram model, which the reference ArpaLM reads but KenLM
    refuses ("at least a bigram model").
    """
    if order < 1:
        raise ValueError("order must be >= 1")
    rng = np.random.default_rng(seed)
    words = list(words)
    specials = {"<s>", "</s>", "<unk>"}
    if len(set(words)) != len(words) or specials & set(words):
        raise ValueError("words must be distinct and not <s>, </s>, <unk>")
    if any(not w or any(ch.isspace() for ch in w) for w in words):
        raise ValueError("words must be non-empty and free of whitespace")
    V = words + ["</s>"] + (["<unk>"] if with_unk else [])
    ranks = rng.permutation(len(V)) + 1
    p_uni = 1.0 / ranks ** 1.05
    p_uni /= p_uni.sum()
    logp = {(w,): math.log10(p) for w, p in zip(V, p_uni)}
    logp[("<s>",)] = -99.0
    levels = [[(w,) for w in ["<s>"] + V]]
    backoff = {}

    if order >= 2:
        nb = 4 * len(V) if n_bigrams is None else int(n_bigrams)
        heads = ["<s>"] + [w for w in V if w != "</s>"]
        head_p = np.concatenate([[0.05], p_uni[[i for i, w in enumerate(V) if w != "</s>"]]])
        head_p /= head_p.sum()
        seen, bigrams = set(), []
        for _ in range(20):
            if len(bigrams) >= nb:
                break
            h = rng.choice(len(heads), size=2 * nb, p=head_p)
            t = rng.choice(len(V), size=2 * nb, p=p_uni)
            for a, b in zip(h.tolist(), t.tolist()):
                ng = (heads[a], V[b])
                if ng not in seen:
                    seen.add(ng)
                    bigrams.append(ng)
                    if len(bigrams) >= nb:
                        break
        levels.append(bigrams)
    for k in range(3, order + 1):
        nt = 4 * len(V) if n_trigrams is None else int(n_trigrams)
        succ = {}
        for g in levels[-1]:
            succ.setdefault(g[:-1], []).append(g[-1])
        levels.append(_sample_ngrams(rng, levels[-1], succ, nt))

    for k in range(2, order + 1):
        groups = {}
        for g in levels[k - 1]:
            groups.setdefault(g[:-1], []).append(g)
        for h, grams in groups.items():
            lower = np.array([10.0 ** logp[g[1:]] for g in grams])
            s = min(float(lower.sum()), 0.999)
            mass = s + rng.uniform(0.0, 0.8) * (1.0 - s)
            weights = lower * np.exp(0.5 * rng.standard_normal(len(grams)))
            probs = mass * weights / weights.sum()
            for g, p in zip(grams, probs):
                logp[g] = math.log10(max(p, 1e-99))
            backoff[h] = math.log10((1.0 - mass) / (1.0 - s))

    lines = ["\\data\\"]
    lines += [f"ngram {k}={len(levels[k - 1])}" for k in range(1, order + 1)]
    for k in range(1, order + 1):
        lines += ["", f"\\{k}-grams:"]
        for g in levels[k - 1]:
            line = f"{logp[g]:.6f}\t{' '.join(g)}"
            if k < order and g in backoff:
                line += f"\t{backoff[g]:.6f}"
            elif k == 1 and g != ("</s>",) and order > 1:
                line += "\t0"  # as KenLM's lmplz writes unigrams (readers expect it)
            lines.append(line)
    lines += ["", "\\end\\", ""]
    return "\n".join(lines)


def char_vocab():
    """32 character tokens: blank "", the word delimiter " ", "'", a-z, "-", ".", ","."""
    return ["", " ", "'"] + [chr(c) for c in range(ord("a"), ord("z") + 1)] + ["-", ".", ","]


def bpe_vocab(words, n_tokens, seed):
    """A SentencePiece-style vocabulary of ``n_tokens`` strings for ``words``.

    Index 0 is the blank "".  Then every single character c of the words as "c"
    and "▁c", and "▁" alone (so every word can be spelled, see
    ``encode_words``), then BPE-like pieces: substrings (2-8 characters) of
    "▁" + word, ranked by their occurrence count weighted by random
    Zipf-like word frequencies (1 / rank**0.8) with a seeded log-normal jitter,
    most frequent first (short common pieces and whole frequent words, with and
    without the "▁" prefix).  Raises ValueError if n_tokens is below the base size.
    """
    rng = np.random.default_rng(seed)
    words = list(words)
    chars = sorted({ch for w in words for ch in w})
    base = [""] + [SP_SPACE] + [SP_SPACE + c for c in chars] + chars
    if n_tokens < len(base):
        raise ValueError(f"n_tokens must be >= {len(base)} for these words")
    freq = 1.0 / (rng.permutation(len(words)) + 1.0) ** 0.8
    score = {}
    for w, f in zip(words, freq.tolist()):
        s = SP_SPACE + w
        for i in range(len(s)):
            for j in range(i + 2, min(len(s), i + 8) + 1):
                score[s[i:j]] = score.get(s[i:j], 0.0) + f
    taken = set(base)
    candidates = [p for p in score if p not in taken]
    jitter = np.exp(0.3 * rng.standard_normal(len(candidates))).tolist()
    value = {p: score[p] * j for p, j in zip(candidates, jitter)}
    pieces = sorted(candidates, key=lambda p: (-value[p], p))
    return base + pieces[:n_tokens - len(base)]


def encode_words(words, vocab, delimiter=SP_SPACE):
    """Token ids spelling ``words`` with ``vocab`` (greedy longest match).

    delimiter "▁": each word is spelled as "▁" + word (SentencePiece); any other
    delimiter d (e.g. " " for ``char_vocab``): words are joined by the token d.
    """
    index = {t: i for i, t in enumerate(vocab) if t}
    longest = max(len(t) for t in index)
    if delimiter == SP_SPACE:
        pieces = [SP_SPACE + w for w in words]
    else:
        pieces = []
        for j, w in enumerate(words):
            if j:
                pieces.append(delimiter)
            pieces.append(w)
    ids = []
    for s in pieces:
        if s == delimiter:
            ids.append(index[delimiter])
            continue
        i = 0
        while i < len(s):
            for j in range(min(len(s), i + longest), i, -1):
                if s[i:j] in index:
                    ids.append(index[s[i:j]])
                    i = j
                    break
            else:
                raise ValueError(f"cannot spell {s!r} with this vocabulary")
    return ids
