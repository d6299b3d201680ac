"""Slow, obviously-correct reference implementations (float64, pure NumPy/Python).

Every compiled path in seqloss is compared with these and with the real peers.
"""
import itertools
import math

import numpy as np

# --------------------------------------------------------------------------
# CTC (Graves et al. 2006): textbook alpha recursion over the extended label
# sequence, in float64 log space; the gradient by central differences.
# --------------------------------------------------------------------------


def _logsumexp(values):
    m = max(values)
    if m == -np.inf:
        return -np.inf
    return m + np.log(sum(np.exp(v - m) for v in values))


def ctc_nll_single(log_probs, labels, blank=0):
    """-log p(labels | log_probs) for one sequence; log_probs is (T, C)."""
    log_probs = np.asarray(log_probs, dtype=np.float64)
    T = log_probs.shape[0]
    ext = [blank]
    for lab in labels:
        ext += [int(lab), blank]
    S = len(ext)
    if T == 0:
        return 0.0 if len(labels) == 0 else np.inf
    alpha = np.full((T, S), -np.inf)
    alpha[0, 0] = log_probs[0, ext[0]]
    if S > 1:
        alpha[0, 1] = log_probs[0, ext[1]]
    for t in range(1, T):
        for s in range(S):
            terms = [alpha[t - 1, s]]
            if s >= 1:
                terms.append(alpha[t - 1, s - 1])
            if s >= 2 and ext[s] != blank and ext[s] != ext[s - 2]:
                terms.append(alpha[t - 1, s - 2])
            alpha[t, s] = _logsumexp(terms) + log_probs[t, ext[s]]
    final = [alpha[T - 1, S - 1]] + ([alpha[T - 1, S - 2]] if S > 1 else [])
    return -_logsumexp(final)


def log_softmax(x, axis=-1):
    x = np.asarray(x, dtype=np.float64)
    m = np.max(x, axis=axis, keepdims=True)
    return x - m - np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean",
             zero_infinity=False, from_logits=False):
    """Batched reference with torch's semantics; log_probs is (T, N, C), targets padded (N, S)."""
    x = np.asarray(log_probs, dtype=np.float64)
    if from_logits:
        x = log_softmax(x)
    N = x.shape[1]
    losses = np.empty(N)
    for n in range(N):
        labels = list(np.asarray(targets[n])[: int(target_lengths[n])])
        losses[n] = ctc_nll_single(x[: int(input_lengths[n]), n], labels, blank)
    if zero_infinity:
        losses[np.isinf(losses)] = 0.0
    if reduction == "none":
        return losses
    if reduction == "sum":
        return losses.sum()
    return np.mean(losses / np.maximum(np.asarray(target_lengths, dtype=np.float64), 1.0))


def numeric_grad(f, x, eps=1e-6):
    """Central-difference gradient of the scalar function f at x (float64)."""
    x = np.array(x, dtype=np.float64)
    g = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        idx = it.multi_index
        old = x[idx]
        x[idx] = old + eps
        fp = f(x)
        x[idx] = old - eps
        fm = f(x)
        x[idx] = old
        g[idx] = (fp - fm) / (2 * eps)
    return g


# --------------------------------------------------------------------------
# Edit distance
#
# Slow, obviously-correct edit-distance references for the tests.
#
# * ``levenshtein_dp``: textbook Wagner-Fischer, pure Python, O(m n).
# * ``levenshtein_matrix``: the same recurrence with each row vectorised in NumPy
#   (the in-row dependency D[i][j-1] + 1 is a running minimum), for long inputs;
#   tested equal to ``levenshtein_dp``.
# * ``sdi_counts``: hits / substitutions / deletions / insertions of one optimal
#   alignment, chosen by rapidfuzz's rule (what jiwer 4 reports): common prefix
#   and suffix are hits; then walk back from the end of the full DP matrix
#   preferring a deletion when D[r][c] == D[r][c-1] + 1, else (after stepping up
#   one hypothesis row) an insertion when D[r][c] == D[r][c-1] - 1 and r > 0,
#   else the diagonal.  Large pairs (2 * band * n / 8 >= 2**20 after the affixes
#   are removed) are first split as rapidfuzz's Hirschberg step splits them.
# --------------------------------------------------------------------------



def levenshtein_dp(a, b):
    """Textbook Wagner-Fischer distance between two sequences (by ==)."""
    a, b = list(a), list(b)
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1]))
        prev = cur
    return prev[-1]


def levenshtein_matrix(ref, hyp):
    """Full DP matrix D, shape (len(hyp) + 1, len(ref) + 1): D[r][c] is the
    distance between hyp[:r] and ref[:c].  Tokens must be integers."""
    r_ = np.asarray(ref, dtype=object if _big(ref) else np.int64)
    h_ = np.asarray(hyp, dtype=object if _big(hyp) else np.int64)
    m, n = len(r_), len(h_)
    idx = np.arange(m + 1)
    D = np.empty((n + 1, m + 1), dtype=np.int64)
    D[0] = idx
    for r in range(1, n + 1):
        prev = D[r - 1]
        T = np.empty(m + 1, dtype=np.int64)
        T[0] = r
        if m:
            T[1:] = np.minimum(prev[1:] + 1, prev[:-1] + (r_ != h_[r - 1]).astype(np.int64))
        D[r] = np.minimum.accumulate(T - idx) + idx
    return D


def _big(seq):
    return any(not (-2**63 <= int(x) < 2**63) for x in seq)


def levenshtein_np(a, b):
    """Distance via ``levenshtein_matrix`` (integers only)."""
    return int(levenshtein_matrix(b, a)[-1, -1])


def _direct_counts(ref, hyp):
    """Backtrace over the full DP matrix with rapidfuzz's preference order."""
    S = D = I = 0
    M = levenshtein_matrix(ref, hyp)
    row, col = len(hyp), len(ref)
    while row and col:
        if M[row][col] - M[row][col - 1] == 1:
            D += 1
            col -= 1
        else:
            row -= 1
            if row and M[row][col] - M[row][col - 1] == -1:
                I += 1
            else:
                col -= 1
                S += ref[col] != hyp[row]
    return S, D + col, I + row


def _align(ref, hyp, mx, ops):
    p = 0
    while p < len(ref) and p < len(hyp) and ref[p] == hyp[p]:
        p += 1
    ref, hyp = ref[p:], hyp[p:]
    q = 0
    while q < len(ref) and q < len(hyp) and ref[-1 - q] == hyp[-1 - q]:
        q += 1
    ref, hyp = ref[:len(ref) - q], hyp[:len(hyp) - q]
    m, n = len(ref), len(hyp)
    if m == 0 or n == 0:
        ops[1] += m
        ops[2] += n
        return
    mx = min(mx, max(m, n))
    band = min(m, 2 * mx + 1)
    if (2 * band * n) // 8 < 1024 * 1024 or m < 65 or n < 10:
        s, d, i = _direct_counts(ref, hyp)
        ops[0] += s
        ops[1] += d
        ops[2] += i
        return
    # Hirschberg: split the hypothesis in half, the reference at the first
    # column (>= 1) minimising the two halves' distances
    half = n // 2
    left = levenshtein_matrix(ref, hyp[:half])[-1]
    right = levenshtein_matrix(ref[::-1], hyp[half:][::-1])[-1]
    total = left[1:] + right[::-1][1:]
    cut = int(np.argmin(total)) + 1
    _align(ref[:cut], hyp[:half], int(left[cut]), ops)
    _align(ref[cut:], hyp[half:], int(right[m - cut]), ops)


def sdi_counts(ref, hyp):
    """(hits, substitutions, deletions, insertions) with rapidfuzz's rule
    (Levenshtein.opcodes(ref, hyp), which jiwer 4 reports)."""
    ids = {}
    r = [ids.setdefault(x, len(ids)) for x in ref]
    h = [ids.setdefault(x, len(ids)) for x in hyp]
    ops = [0, 0, 0]
    _align(r, h, max(len(r), len(h)), ops)
    return (len(r) - ops[0] - ops[1], ops[0], ops[1], ops[2])


def jiwer_words(s):
    """jiwer's default word transform, written out with str methods."""
    import re
    return [w for w in re.sub(r"\s\s+", " ", s).strip().split(" ") if w]


def jiwer_chars(s):
    """jiwer's default character transform."""
    return list(s.strip())


# --------------------------------------------------------------------------
# Softmax, NLL and cross-entropy
#
# Slow, obviously-correct float64 references for log-softmax, NLL and cross-entropy.
#
# Written from the definitions (as torch documents them), row by row in Python /
# NumPy float64, with no shared code with seqloss.  Class axis last: ``(..., C)``.
# --------------------------------------------------------------------------

def softmax(x, axis=-1):
    return np.exp(log_softmax(x, axis))


def _reduce(per_row, denominator, reduction, shape):
    if reduction == "none":
        return np.asarray(per_row, dtype=np.float64).reshape(shape)
    total = math.fsum(per_row)
    if reduction == "sum":
        return total
    return total / denominator if denominator != 0 else float("nan")


def nll_loss(log_probs, targets, weight=None, ignore_index=-100, reduction="mean"):
    """torch.nn.functional.nll_loss with the class axis last."""
    lp = np.asarray(log_probs, dtype=np.float64)
    C = lp.shape[-1]
    rows = lp.reshape(-1, C)
    t = np.asarray(targets).reshape(-1)
    w = np.ones(C) if weight is None else np.asarray(weight, dtype=np.float64)
    per_row, den = [], 0.0
    for i in range(rows.shape[0]):
        y = int(t[i])
        if y == ignore_index:
            per_row.append(0.0)
            continue
        per_row.append(-w[y] * rows[i, y])
        den += w[y]
    return _reduce(per_row, den, reduction, lp.shape[:-1])


def cross_entropy(logits, targets, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    """torch.nn.functional.cross_entropy with the class axis last.

    Index targets: loss_i = (1 - eps) * w[y] * (-logp[y]) + eps / C * sum_c w[c] * (-logp[c]);
    the mean divides both parts by sum of w[y_i] over non-ignored rows.
    Probability targets q: loss_i = -sum_c w[c] q'[c] logp[c] with
    q' = (1 - eps) q + eps / C; the mean divides by the number of rows.
    """
    x = np.asarray(logits, dtype=np.float64)
    C = x.shape[-1]
    lp = log_softmax(x.reshape(-1, C))
    w = np.ones(C) if weight is None else np.asarray(weight, dtype=np.float64)
    eps = float(label_smoothing)
    t = np.asarray(targets)
    if t.dtype.kind == "f":
        q = t.astype(np.float64).reshape(-1, C) * (1.0 - eps) + eps / C
        per_row = [-math.fsum(w * q[i] * lp[i]) for i in range(lp.shape[0])]
        return _reduce(per_row, lp.shape[0], reduction, x.shape[:-1])
    t = t.reshape(-1)
    per_row, den = [], 0.0
    for i in range(lp.shape[0]):
        y = int(t[i])
        if y == ignore_index:
            per_row.append(0.0)
            continue
        nll = -w[y] * lp[i, y]
        smooth = -math.fsum(w * lp[i]) if eps > 0 else 0.0
        per_row.append((1.0 - eps) * nll + eps / C * smooth)
        den += w[y]
    return _reduce(per_row, den, reduction, x.shape[:-1])


# --------------------------------------------------------------------------
# CTC decoding
#
# Slow, obviously-correct references for the CTC decoders, float64 / pure Python.
#
# * ``ctc_greedy_reference``: per-frame argmax (first maximum; a NaN counts as
#   the maximum and the first NaN wins, as torch.argmax), then collapse.
# * ``split_words``: token ids -> words ("|" / " " delimiter tokens, or the
#   SentencePiece "▁" word-start prefix).
# * ``ArpaLM``: an ARPA back-off n-gram model scored with the textbook back-off
#   rule, written to agree with ``kenlm.Model(path).score`` (checked against
#   kenlm 0.3.0 to 1e-4 on random well-formed models of orders 2..4).
# * ``ctc_beam_reference``: brute force over all C**T frame paths (tiny T, C):
#   exact label-sequence probabilities plus LM, word and hotword terms, top k.
# * ``ctc_viterbi_spans``: textbook full-table Viterbi forced alignment.
# --------------------------------------------------------------------------

SP_SPACE = "\u2581"  # SentencePiece's word-start mark "▁"
LN10 = math.log(10.0)


def _argmax_first(row):
    """Index of the first maximum of a 1-D row; the first NaN wins (torch.argmax)."""
    best = 0
    for c, v in enumerate(row):
        if math.isnan(v):
            return c
        if v > row[best]:
            best = c
    return best


def ctc_greedy_reference(log_probs, blank=0, merge_repeated=True):
    """Greedy (best path) CTC decoding of one (T, C) sequence.

    merge_repeated=True: runs of equal per-frame argmax collapse to one symbol and
    blanks are dropped (A A _ A A -> A A).  merge_repeated=False: blanks are
    dropped and every non-blank frame is emitted (A A _ A A -> A A A A, as
    TensorFlow's ctc_greedy_decoder(merge_repeated=False)).

    Returns dict(tokens, starts, ends, score): ``starts[i]`` / ``ends[i]`` are the
    first frame and one past the last frame of token i's run ([t, t + 1) for
    merge_repeated=False); ``score`` is the float64 sum over all frames of the
    chosen entries (NaN if a NaN was chosen).
    """
    x = np.asarray(log_probs, dtype=np.float64)
    best = [_argmax_first([float(v) for v in x[t]]) for t in range(x.shape[0])]
    score = 0.0
    for t, c in enumerate(best):
        score += float(x[t, c])
    tokens, starts, ends = [], [], []
    t = 0
    while t < len(best):
        end = t + 1
        if merge_repeated:
            while end < len(best) and best[end] == best[t]:
                end += 1
        if best[t] != blank:
            tokens.append(best[t])
            starts.append(t)
            ends.append(end)
        t = end
    return dict(tokens=tokens, starts=starts, ends=ends, score=score)


def split_words(token_ids, tokens, delimiter):
    """Words spelled by ``token_ids`` (blank-free ids into the strings ``tokens``).

    * delimiter None: no word segmentation, returns None.
    * delimiter "▁" (U+2581, SentencePiece): a token whose string starts with "▁"
      ends the current word (if non-empty) and starts a new one with the rest of
      its string (possibly empty); any other token appends its string.
    * any other string d (a token such as "|" or " "): a token whose string is
      exactly d ends the current word (if non-empty); any other token appends
      its string.
    A non-empty word still open at the end is the last word.  Empty words are
    never produced.
    """
    if delimiter is None:
        return None
    words, cur = [], ""
    for i in token_ids:
        s = tokens[int(i)]
        if delimiter == SP_SPACE:
            if s.startswith(SP_SPACE):
                if cur:
                    words.append(cur)
                cur = s[len(SP_SPACE):]
            else:
                cur += s
        elif s == delimiter:
            if cur:
                words.append(cur)
            cur = ""
        else:
            cur += s
    if cur:
        words.append(cur)
    return words


class ArpaLM:
    """ARPA back-off n-gram LM (log10), scored as KenLM scores it.

    ``ArpaLM(text)`` parses ARPA text: optional lines before ``\\data\\``, then
    ``ngram k=count`` lines, ``\\k-grams:`` sections of
    ``logprob<ws>w1 ... wk[<ws>backoff]`` lines (<ws> = tabs or spaces; blank
    lines allowed), ``\\end\\``.  Section sizes must equal the header counts,
    <s> and </s> must be unigrams (KenLM refuses a model without them), and
    a positive log-probability is an error (KenLM's default).  "<UNK>" is read as
    "<unk>", as KenLM does.

    Attributes: ``order``; ``vocab``, the set of unigram words of the file;
    ``prob`` / ``backoff``, dicts from word tuples to log10 values (a missing
    back-off is 0).  Without an <unk> unigram the model gets <unk> with log10
    probability -100 and back-off 0 (KenLM's ``unknown_missing_logprob``), but
    "<unk>" is then not in ``vocab``.

    Scoring (``word_logprob``): any word not in ``vocab`` (in the context too) is
    mapped to <unk>; the context is cut to its last order-1 words; the longest
    n-gram (context suffix + word) in the model gives the probability, plus the
    back-off of every longer context suffix that is itself an n-gram of the model
    (absent ones add 0).  On a well-formed ARPA (every n-gram's prefix and suffix
    are n-grams) this equals KenLM's state-based scoring.  "<s>" and "</s>" are
    scored like any word (p(<s>) is its unigram, -99 as KenLM writes it).
    """

    def __init__(self, text):
        lines = [ln.strip() for ln in text.splitlines()]
        i = 0
        while i < len(lines) and lines[i] != "\\data\\":
            i += 1
        if i == len(lines):
            raise ValueError("no \\data\\ line")
        i += 1
        counts = {}
        while i < len(lines) and not lines[i].startswith("\\"):
            if lines[i]:
                key, _, value = lines[i].partition("=")
                head = key.split()
                if len(head) != 2 or head[0] != "ngram":
                    raise ValueError(f"bad count line {lines[i]!r}")
                counts[int(head[1])] = int(value)
            i += 1
        if not counts or sorted(counts) != list(range(1, len(counts) + 1)):
            raise ValueError("n-gram counts must be given for orders 1..N")
        self.order = len(counts)
        self.prob, self.backoff = {}, {}
        for k in range(1, self.order + 1):
            if i >= len(lines) or lines[i] != f"\\{k}-grams:":
                raise ValueError(f"expected \\{k}-grams:")
            i += 1
            seen = 0
            while i < len(lines) and not lines[i].startswith("\\"):
                if lines[i]:
                    self._read_ngram(lines[i], k)
                    seen += 1
                i += 1
            if seen != counts[k]:
                raise ValueError(f"{seen} {k}-grams, header says {counts[k]}")
        if i >= len(lines) or lines[i] != "\\end\\":
            raise ValueError("expected \\end\\")
        self.vocab = {w for (w,) in (g for g in self.prob if len(g) == 1)}
        for marker in ("<s>", "</s>"):
            if marker not in self.vocab:
                raise ValueError(f"the ARPA has no {marker} unigram")
        if ("<unk>",) not in self.prob:
            self.prob[("<unk>",)] = -100.0
            self.backoff[("<unk>",)] = 0.0

    def _read_ngram(self, line, k):
        parts = line.split()
        if len(parts) not in (k + 1, k + 2):
            raise ValueError(f"bad {k}-gram line {line!r}")
        logprob = float(parts[0])
        if logprob > 0:
            raise ValueError(f"positive log probability in {line!r}")
        words = tuple("<unk>" if w == "<UNK>" else w for w in parts[1:k + 1])
        self.prob[words] = logprob
        self.backoff[words] = float(parts[k + 1]) if len(parts) == k + 2 else 0.0

    @classmethod
    def from_file(cls, path):
        with open(path, encoding="utf-8") as f:
            return cls(f.read())

    def _map(self, word):
        return word if word in self.vocab else "<unk>"

    def word_logprob(self, context_words, word):
        """log10 p(word | context_words) with the back-off rule (see the class)."""
        context = tuple(self._map(w) for w in context_words)
        context = context[max(0, len(context) - (self.order - 1)):]
        word = self._map(word)
        n = len(context)
        used = n
        while used >= 0:  # longest context suffix whose n-gram with `word` exists
            ngram = context[n - used:] + (word,)
            if ngram in self.prob:
                break
            used -= 1
        logprob = self.prob[context[n - used:] + (word,)]
        for m in range(used + 1, n + 1):  # back-offs of the longer context suffixes
            logprob += self.backoff.get(context[n - m:], 0.0)
        return logprob

    def sentence_logprob(self, words, bos=True, eos=True):
        """log10 of the word sequence, as kenlm.Model.score(" ".join(words), bos, eos).

        The context starts as ("<s>",) when bos else (); each word is scored in
        turn, then "</s>" when eos.  (Equality with kenlm needs words without
        whitespace, since kenlm splits the joined string.)
        """
        context = ("<s>",) if bos else ()
        total = 0.0
        for w in words:
            total += self.word_logprob(context, w)
            context = context + (w,)
        if eos:
            total += self.word_logprob(context, "</s>")
        return total


def _collapse(path, blank):
    """CTC collapse of one frame path: merge repeats, then drop blanks."""
    out, prev = [], None
    for c in path:
        if c != prev and c != blank:
            out.append(c)
        prev = c
    return tuple(out)


def _count_overlapping(text, pattern):
    return sum(1 for i in range(len(text) - len(pattern) + 1) if text.startswith(pattern, i))


def ctc_beam_reference(log_probs, k, blank=0, tokens=None, delimiter=None, lm=None,
                       lm_unit="word", lm_weight=0.5, word_score=0.0,
                       unk_offset=-10 * LN10, hotwords=None):
    """Exact top-k label sequences of one tiny (T, C) input, by brute force.

    Enumerates all C**T frame paths (refused above 10**5), collapses each (merge
    repeats, drop blanks) and sums path probabilities per label sequence l with
    logsumexp in float64 (paths of log-probability -inf are skipped).  For every l
    with finite acoustic log-probability:

        total(l) = acoustic(l) + lm_weight * lm(l) + word_score * words(l) + hotword(l)

    * units: with ``tokens`` (the C token strings) and lm_unit="word", the units
      are ``split_words(l, tokens, delimiter)`` (the last, possibly unfinished,
      word counts); lm_unit="token" uses ``[tokens[i] for i in l]``.
    * words(l): the number of units (0 when tokens is None, or when
      lm_unit="word" and delimiter is None).
    * lm(l), natural log, 0 without ``lm``: ln(10) * lm.sentence_logprob(units,
      bos=True, eos=True) + unk_offset * (number of units not in lm.vocab);
      unk_offset is already in natural-log units.  An lm with lm_unit="word"
      needs a delimiter.
    * hotword(l): ``hotwords`` maps phrase -> weight > 0.  With a delimiter the
      text is " " + " ".join(words) + " " and a phrase is searched as
      " " + " ".join(phrase.split()) + " "; without one the text is the
      concatenated token strings and the phrase is searched as given.  Each
      phrase adds weight * (number of overlapping occurrences in the text).

    Returns up to k dicts {tokens: tuple, total, acoustic, lm (unweighted),
    words, hotword}, by total descending.  Ties in total (e.g. equal
    log-probabilities in the input) are broken by the token tuple ascending, so
    a decoder whose order among exactly tied hypotheses differs is not wrong:
    compare totals, not the order of ties.
    """
    x = np.asarray(log_probs, dtype=np.float64)
    T, C = x.shape
    if C ** T > 10 ** 5:
        raise ValueError(f"C**T = {C ** T} paths is too many for the brute force")
    if lm_unit not in ("word", "token"):
        raise ValueError("lm_unit must be 'word' or 'token'")
    if (lm is not None or hotwords) and tokens is None:
        raise ValueError("an lm or hotwords need the token strings")
    if lm is not None and lm_unit == "word" and delimiter is None:
        raise ValueError("a word-level lm needs a delimiter")
    hotwords = dict(hotwords or {})
    for phrase, weight in hotwords.items():
        if not weight > 0 or not phrase.strip():
            raise ValueError(f"bad hotword {phrase!r}: {weight}")

    paths = {}
    for path in itertools.product(range(C), repeat=T):
        lp = 0.0
        for t, c in enumerate(path):
            lp += float(x[t, c])
        if lp == -np.inf:
            continue
        paths.setdefault(_collapse(path, blank), []).append(lp)

    results = []
    for labels, values in paths.items():
        acoustic = float(_logsumexp(values))
        if not math.isfinite(acoustic):
            continue
        units, words = None, None
        if tokens is not None:
            words = split_words(labels, tokens, delimiter)
            units = [tokens[i] for i in labels] if lm_unit == "token" else words
        n_units = len(units) if units is not None else 0
        lm_part = 0.0
        if lm is not None:
            lm_part = LN10 * lm.sentence_logprob(units, bos=True, eos=True)
            lm_part += unk_offset * sum(1 for u in units if u not in lm.vocab)
        hot = 0.0
        if hotwords:
            if delimiter is not None:
                text = " " + " ".join(words) + " "
                for phrase, weight in hotwords.items():
                    hot += weight * _count_overlapping(text, " " + " ".join(phrase.split()) + " ")
            else:
                text = "".join(tokens[i] for i in labels)
                for phrase, weight in hotwords.items():
                    hot += weight * _count_overlapping(text, phrase)
        total = acoustic + lm_weight * lm_part + word_score * n_units + hot
        results.append(dict(tokens=labels, total=total, acoustic=acoustic, lm=lm_part,
                            words=n_units, hotword=hot))
    results.sort(key=lambda r: (-r["total"], r["tokens"]))
    return results[:k]


def ctc_viterbi_spans(log_probs, labels, blank=0):
    """Most probable single frame path of a (T, C) input that collapses to ``labels``.

    Textbook Viterbi over the extended sequence blank, l1, blank, ..., lL, blank
    (full T x S float64 table with back-pointers).  On exact ties a state prefers
    staying (s), then the move from s - 1, then the skip from s - 2; at the last
    frame the path ends on the last label (S - 2) unless the final blank (S - 1)
    is strictly better (as torchaudio's forced_align).

    Returns (starts, ends, path_logprob): for each label, the first frame and one
    past the last frame at which the path is in that label's state; or None when
    no path of finite log-probability exists (e.g. T < L + repeats).
    """
    x = np.asarray(log_probs, dtype=np.float64)
    T = x.shape[0]
    labels = [int(v) for v in labels]
    if T == 0:
        return ([], [], 0.0) if not labels else None
    ext = [blank]
    for lab in labels:
        ext += [lab, blank]
    S = len(ext)
    delta = np.full((T, S), -np.inf)
    back = np.zeros((T, S), dtype=np.int64)
    delta[0, 0] = x[0, ext[0]]
    if S > 1:
        delta[0, 1] = x[0, ext[1]]
    for t in range(1, T):
        for s in range(S):
            best_v, best_s = delta[t - 1, s], s
            if s >= 1 and delta[t - 1, s - 1] > best_v:
                best_v, best_s = delta[t - 1, s - 1], s - 1
            if (s >= 2 and ext[s] != blank and ext[s] != ext[s - 2]
                    and delta[t - 1, s - 2] > best_v):
                best_v, best_s = delta[t - 1, s - 2], s - 2
            delta[t, s] = best_v + x[t, ext[s]]
            back[t, s] = best_s
    s = S - 1
    if S > 1 and not delta[T - 1, S - 1] > delta[T - 1, S - 2]:
        s = S - 2
    score = float(delta[T - 1, s])
    if not score > -np.inf:
        return None
    states = [0] * T
    for t in range(T - 1, -1, -1):
        states[t] = s
        s = int(back[t, s])
    starts, ends = [None] * len(labels), [None] * len(labels)
    for t, st in enumerate(states):
        if st % 2 == 1:
            j = st // 2
            if starts[j] is None:
                starts[j] = t
            ends[j] = t + 1
    return starts, ends, score


def _fa_choose(x0, x1, x2):
    """torchaudio 2.9's choice among stay (x0), move (x1) and skip (x2): (value,
    back-step).  A move or a skip only when strictly greater than both others:
    on x1 == x2 > x0 it stays (not the maximum; torchaudio's kernel does this)."""
    if x2 > x1 and x2 > x0:
        return x2, 2
    if x1 > x0 and x1 > x2:
        return x1, 1
    return x0, 0


def ctc_forced_align_textbook(log_probs, labels, blank=0):
    """Textbook CTC Viterbi over the full T x S table, torchaudio 2.9's tie rules.

    Arithmetic in the input's own float type (as torchaudio's kernel), every state
    of every frame computed (no window: states that cannot be reached are -inf by
    the recursion itself).  Returns the frame path (T,) of class indices, or None
    when the best final score is not finite (the textbook answer is then
    undefined; torchaudio's window decides it, see ctc_forced_align_windowed).
    """
    x = np.asarray(log_probs)
    ft = x.dtype.type
    T = x.shape[0]
    labels = [int(v) for v in labels]
    ext = [blank]
    for lab in labels:
        ext += [lab, blank]
    S = len(ext)
    ninf = ft(-np.inf)
    delta = [[ninf] * S for _ in range(T)]
    back = [[0] * S for _ in range(T)]
    delta[0][0] = x[0, ext[0]]
    if S > 1:
        delta[0][1] = x[0, ext[1]]
    for t in range(1, T):
        for s in range(S):
            x0 = delta[t - 1][s]
            x1 = delta[t - 1][s - 1] if s >= 1 else ninf
            x2 = (delta[t - 1][s - 2] if s % 2 == 1 and s >= 3 and ext[s] != ext[s - 2]
                  else ninf)
            v, b = _fa_choose(x0, x1, x2)
            delta[t][s] = ft(v + x[t, ext[s]])
            back[t][s] = b
    s = S - 1
    if S > 1 and not delta[T - 1][S - 1] > delta[T - 1][S - 2]:
        s = S - 2
    if not np.isfinite(delta[T - 1][s]):
        return None
    path = [0] * T
    for t in range(T - 1, -1, -1):
        path[t] = ext[s]
        s -= back[t][s]
    return np.array(path, dtype=np.int64)


def ctc_forced_align_windowed(log_probs, labels, blank=0, strict=False):
    """torchaudio's forced_align CPU loop, step for step, for any input it accepts.

    Its window [start, end) of live states per frame (everything else -inf), its
    back-pointer default -1 for states outside the window, the same comparisons
    in the input's float type.  When no path has a finite score the trace can
    follow those defaults out of the table, where torchaudio reads past its
    arrays (undefined: a wrong row's pointer, or a label past the targets); here
    the state is clamped into the table, as seqloss does - or, with strict=True,
    OverflowError is raised (such cases have no torchaudio result to compare).
    Returns the frame path (T,).
    """
    x = np.asarray(log_probs)
    ft = x.dtype.type
    T = x.shape[0]
    lab = [int(v) for v in labels]
    L = len(lab)
    S = 2 * L + 1
    R = sum(1 for i in range(1, L) if lab[i] == lab[i - 1])
    assert T >= L + R
    ninf = ft(-np.inf)
    alphas = [[ninf] * S, [ninf] * S]
    back = [[-1] * S for _ in range(T)]
    start = 0 if T - (L + R) > 0 else 1
    end = 1 if S == 1 else 2
    for i in range(start, end):
        alphas[0][i] = x[0, blank if i % 2 == 0 else lab[i // 2]]
    for t in range(1, T):
        if T - t <= L + R:
            if start % 2 == 1 and start // 2 + 1 < L and lab[start // 2] != lab[start // 2 + 1]:
                start += 1
            start += 1
        if t <= L + R:
            if end % 2 == 0 and end < 2 * L and lab[end // 2 - 1] != lab[end // 2]:
                end += 1
            end += 1
        cur, prev = alphas[t % 2], alphas[(t - 1) % 2]
        for j in range(S):
            cur[j] = ninf
        loop = start
        if start == 0:
            cur[0] = ft(prev[0] + x[t, blank])
            back[t][0] = 0
            loop += 1
        for i in range(loop, min(end, S)):
            x0, x1 = prev[i], prev[i - 1]
            x2 = ninf
            if i % 2 == 1 and i != 1 and lab[i // 2] != lab[i // 2 - 1]:
                x2 = prev[i - 2]
            v, b = _fa_choose(x0, x1, x2)
            back[t][i] = b
            cur[i] = ft(v + x[t, blank if i % 2 == 0 else lab[i // 2]])
    last = alphas[(T - 1) % 2]
    s = S - 1 if S == 1 or last[S - 1] > last[S - 2] else S - 2
    path = [0] * T
    for t in range(T - 1, -1, -1):
        path[t] = blank if s % 2 == 0 else lab[s // 2]
        s -= back[t][s]
        if not 0 <= s < S:
            if strict:
                raise OverflowError("the trace leaves the table at frame %d" % t)
            s = min(max(s, 0), S - 1)
    return np.array(path, dtype=np.int64)


def merge_tokens_reference(path, scores, blank=0):
    """torchaudio's merge_tokens: (token, start, end exclusive, mean score) of each
    maximal run of one non-blank class."""
    out = []
    t = 0
    T = len(path)
    while t < T:
        u = t
        while u < T and path[u] == path[t]:
            u += 1
        if path[t] != blank:
            out.append((int(path[t]), t, u, float(np.mean(np.asarray(scores[t:u], np.float64)))))
        t = u
    return out
