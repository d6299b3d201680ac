"""Slow, obviously-correct edit-distance references for the tests.

* ``levenshtein_dp``: textbook Wagner-Fischer, pure Python, O(m n).
* ``levenshtein_matrix``: the same recurrence with each row vectorised in NumPy
  (the in-row dependency D[i][j-1] + 1 is a running minimum), for long inputs;
  tested equal to ``levenshtein_dp``.
* ``sdi_counts``: hits / substitutions / deletions / insertions of one optimal
  alignment, chosen by rapidfuzz's rule (what jiwer 4 reports): common prefix
  and suffix are hits; then walk back from the end of the full DP matrix
  preferring a deletion when D[r][c] == D[r][c-1] + 1, else (after stepping up
  one hypothesis row) an insertion when D[r][c] == D[r][c-1] - 1 and r > 0,
  else the diagonal.  (rapidfuzz switches to Hirschberg's divide and conquer
  for pairs with len_ref * len_hyp >= 4 * 2**20 after the affixes are removed;
  this reference does not.)
"""
import numpy as np


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


def sdi_counts(ref, hyp):
    """(hits, substitutions, deletions, insertions) with rapidfuzz's tie rule."""
    ref, hyp = list(ref), list(hyp)
    m0 = len(ref)
    p = 0
    while p < len(ref) and p < len(hyp) and ref[p] == hyp[p]:
        p += 1
    ref, hyp = ref[p:], hyp[p:]
    q = 0
    while q < len(ref) and q < len(hyp) and ref[-1 - q] == hyp[-1 - q]:
        q += 1
    ref, hyp = ref[:len(ref) - q], hyp[:len(hyp) - q]
    S = D = I = 0
    if not ref or not hyp:
        D, I = len(ref), len(hyp)
    else:
        ids = {}
        r_ids = [ids.setdefault(x, len(ids)) for x in ref]
        h_ids = [ids.setdefault(x, len(ids)) for x in hyp]
        M = levenshtein_matrix(r_ids, h_ids)
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
        D += col
        I += row
    return (m0 - S - D, S, D, I)


def jiwer_words(s):
    """jiwer's default word transform, written out with str methods."""
    import re
    return [w for w in re.sub(r"\s\s+", " ", s).strip().split(" ") if w]


def jiwer_chars(s):
    """jiwer's default character transform."""
    return list(s.strip())
