"""``python -m seqloss demo``: train a small sequence recogniser with seqloss's CTC loss.

The task is generated in code (no downloads): each utterance is a random label
sequence over a small alphabet; every label is rendered as a few frames of a
noisy prototype vector, with noisy "silence" frames between labels, so input
lengths, label lengths and durations all vary.  A small convolutional model is
trained with ``seqloss.torch.CTCLoss(from_logits=True)``; the demo prints the
loss falling, the greedy-decoded sequence accuracy rising, and the time of
seqloss's loss step (forward + backward of the loss) next to torch's
``log_softmax`` + ``ctc_loss`` + backward on the very same logits.  Without
torch it trains a NumPy linear-context model with ``ctc_loss_and_grad``.
"""
import time

import numpy as np

import seqloss

ALPHABET = 12  # labels 1..ALPHABET, 0 is the blank
FEAT = 16


class Task:
    """Synthetic frame-level sequence recognition with variable lengths."""

    def __init__(self, seed=0):
        rng = np.random.default_rng(seed)
        self.proto = rng.standard_normal((ALPHABET + 1, FEAT)).astype(np.float32)
        self.rng = np.random.default_rng(seed + 1)

    def batch(self, n, noise=0.9):
        rng = self.rng
        labels, frames = [], []
        for _ in range(n):
            L = int(rng.integers(2, 9))
            lab = rng.integers(1, ALPHABET + 1, L)
            seq = [self.proto[0]] * int(rng.integers(0, 3))
            for y in lab:
                seq += [self.proto[y]] * int(rng.integers(2, 5))
                seq += [self.proto[0]] * int(rng.integers(1, 3))
            labels.append(lab)
            frames.append(np.asarray(seq))
        T = max(len(f) for f in frames)
        x = np.zeros((n, T, FEAT), dtype=np.float32)
        for i, f in enumerate(frames):
            x[i, : len(f)] = f + noise * rng.standard_normal(f.shape)
        il = np.array([len(f) for f in frames], dtype=np.int64)
        tl = np.array([len(lab) for lab in labels], dtype=np.int64)
        tg = np.zeros((n, int(tl.max())), dtype=np.int64)
        for i, lab in enumerate(labels):
            tg[i, : len(lab)] = lab
        return x, tg, il, tl


def greedy_decode(logits_ntc, il):
    """Best path: argmax per frame, merge repeats, drop blanks."""
    best = logits_ntc.argmax(-1)
    out = []
    for i in range(best.shape[0]):
        path = best[i, : il[i]]
        keep = np.ones(len(path), dtype=bool)
        keep[1:] = path[1:] != path[:-1]
        out.append(path[keep & (path != 0)])
    return out


def score(decoded, tg, tl):
    """Sequence accuracy and label error rate (seqloss edit distance / reference length)."""
    refs = [tg[i, : tl[i]] for i in range(len(tl))]
    acc = float(np.mean([len(d) == len(r) and np.array_equal(d, r)
                         for d, r in zip(decoded, refs)]))
    dist = seqloss.edit_distance_batch(decoded, refs)  # hypotheses first, references second
    return acc, float(dist.sum() / max(int(tl.sum()), 1))


def run_torch(steps, batch, log_every, seed):
    import torch

    import seqloss.torch as st

    torch.manual_seed(seed)
    task = Task(seed)
    model = torch.nn.Sequential(
        torch.nn.Conv1d(FEAT, 64, 5, padding=2), torch.nn.ReLU(),
        torch.nn.Conv1d(64, 64, 5, padding=2), torch.nn.ReLU(),
        torch.nn.Conv1d(64, ALPHABET + 1, 1))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    crit = st.CTCLoss(from_logits=True, zero_infinity=True)
    x_ev, tg_ev, il_ev, tl_ev = task.batch(256, )
    print("backend: torch %s + seqloss %s (%s, %d threads)" % (
        torch.__version__, seqloss.__version__, seqloss.simd_level(), seqloss.get_num_threads()))
    print("LER = label error rate (seqloss.edit_distance_batch) on 256 held-out utterances")
    print("%5s %9s %9s %8s %14s %14s" % ("step", "ctc loss", "seq acc", "LER",
                                        "seqloss ms/it", "torch ms/it"))
    t_seq = t_torch = 0.0
    n_timed = 0
    t_start = time.perf_counter()
    for step in range(1, steps + 1):
        x, tg, il, tl = task.batch(batch)
        xt = torch.from_numpy(x).transpose(1, 2)               # (N, F, T)
        logits = model(xt).permute(2, 0, 1)                     # (T, N, C)
        tgt, ilt, tlt = torch.from_numpy(tg), torch.from_numpy(il), torch.from_numpy(tl)

        # the loss step of both libraries on the same logits: loss + backward to the logits
        leaf = logits.detach().clone().requires_grad_()
        t0 = time.perf_counter()
        ref = torch.nn.functional.ctc_loss(leaf.log_softmax(-1), tgt, ilt, tlt, zero_infinity=True)
        ref.backward()
        t_torch += time.perf_counter() - t0
        leaf = logits.detach().clone().requires_grad_()
        t0 = time.perf_counter()
        crit(leaf, tgt, ilt, tlt).backward()
        t_seq += time.perf_counter() - t0
        n_timed += 1
        # the training step itself
        loss = crit(logits, tgt, ilt, tlt)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % log_every == 0 or step == 1:
            with torch.no_grad():
                ev = model(torch.from_numpy(x_ev).transpose(1, 2)).transpose(1, 2).numpy()
            acc, ler = score(greedy_decode(ev, il_ev), tg_ev, tl_ev)
            print("%5d %9.4f %9.3f %8.3f %14.3f %14.3f" % (
                step, loss.item(), acc, ler, 1e3 * t_seq / n_timed, 1e3 * t_torch / n_timed))
            t_seq = t_torch = 0.0
            n_timed = 0
    print("trained %d steps in %.1f s" % (steps, time.perf_counter() - t_start))
    return acc


def run_numpy(steps, batch, log_every, seed):
    """NumPy fallback: a linear model over a 5-frame context, trained with Adam."""
    rng = np.random.default_rng(seed)
    task = Task(seed)
    K = 5 * FEAT
    W = (0.05 * rng.standard_normal((K, ALPHABET + 1))).astype(np.float32)
    b = np.zeros(ALPHABET + 1, dtype=np.float32)
    m = [np.zeros_like(W), np.zeros_like(b)]
    v = [np.zeros_like(W), np.zeros_like(b)]

    def context(x):
        pad = np.pad(x, ((0, 0), (2, 2), (0, 0)))
        return np.concatenate([pad[:, i: i + x.shape[1]] for i in range(5)], axis=-1)

    x_ev, tg_ev, il_ev, tl_ev = task.batch(256)
    print("backend: NumPy (torch not installed) + seqloss %s" % seqloss.__version__)
    print("%5s %9s %9s %8s %14s" % ("step", "ctc loss", "seq acc", "LER", "seqloss ms/it"))
    t_seq, n_timed = 0.0, 0
    for step in range(1, steps + 1):
        x, tg, il, tl = task.batch(batch)
        h = context(x)                                           # (N, T, K)
        logits = h @ W + b                                       # (N, T, C)
        t0 = time.perf_counter()
        loss, g = seqloss.ctc_loss_and_grad(logits, tg, il, tl, from_logits=True,
                                            batch_first=True, zero_infinity=True)
        t_seq += time.perf_counter() - t0
        n_timed += 1
        grads = [np.einsum("ntk,ntc->kc", h, g), g.sum((0, 1))]
        for i, (p, gr) in enumerate(zip((W, b), grads)):
            m[i] = 0.9 * m[i] + 0.1 * gr
            v[i] = 0.999 * v[i] + 0.001 * gr * gr
            p -= 0.01 * (m[i] / (1 - 0.9 ** step)) / (np.sqrt(v[i] / (1 - 0.999 ** step)) + 1e-8)
        if step % log_every == 0 or step == 1:
            ev = context(x_ev) @ W + b
            acc, ler = score(greedy_decode(ev, il_ev), tg_ev, tl_ev)
            print("%5d %9.4f %9.3f %8.3f %14.3f" % (step, float(loss), acc, ler,
                                                    1e3 * t_seq / n_timed))
            t_seq, n_timed = 0.0, 0
    return acc


def main(argv=None):
    import argparse

    ap = argparse.ArgumentParser(prog="seqloss demo", description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--log-every", type=int, default=25)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--backend", choices=["auto", "torch", "numpy"], default="auto")
    args = ap.parse_args(argv)
    backend = args.backend
    if backend == "auto":
        try:
            import torch  # noqa: F401
            backend = "torch"
        except ImportError:
            backend = "numpy"
    if backend == "torch":
        return run_torch(args.steps, args.batch, args.log_every, args.seed)
    return run_numpy(args.steps, args.batch, args.log_every, args.seed)
