"""Slow, obviously-correct float64 references for log-softmax, NLL and cross-entropy.

Written from the definitions (as torch documents them), row by row in Python /
NumPy float64, with no shared code with seqloss.  Class axis last: ``(..., C)``.
"""
import math

import numpy as np


def log_softmax(x, axis=-1):
    x = np.asarray(x, dtype=np.float64)
    m = np.max(x, axis=axis, keepdims=True)
    return x - m - np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))


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


def numeric_grad(f, x, h=1e-6):
    """Central differences of the scalar function f at x (float64)."""
    x = np.array(x, dtype=np.float64)
    g = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        idx = it.multi_index
        old = x[idx]
        x[idx] = old + h
        fp = f(x)
        x[idx] = old - h
        fm = f(x)
        x[idx] = old
        g[idx] = (fp - fm) / (2 * h)
    return g
