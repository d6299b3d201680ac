"""Slow, obviously-correct reference implementations (float64, pure NumPy/Python).

Every compiled path in seqloss is compared with these and with the real peers.
"""
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
