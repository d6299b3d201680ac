"""Slow, obviously-correct reference implementations (float64, pure NumPy/Python).

Every compiled path in seqloss is compared with these and with the real peers.
"""
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
