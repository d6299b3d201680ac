"""``python -m seqloss demo``: train a small sequence recogniser with seqloss's CTC loss.

The task is generated in code (no downloads): each utterance is a random label
sequence over a small alphabet; every label is rendered as a few frames of a
noisy prototype vector, with noisy "silence" frames between labels, so input
lengths, label lengths and durations all vary.  A small convolutional model is
trained with ``seqloss.torch.CTCLoss(from_logits=True)``; the demo prints the
loss falling, the greedy-decoded sequence accuracy rising, and the time of
seqloss's loss step (forward + backward of the loss) next to torch's
``log_softmax`` + ``ctc_loss`` + backward on the very same logits.  Without
torch (or with ``--backend numpy``) it trains a NumPy linear-context model with
``ctc_loss_and_grad``.

The command line lives in ``seqloss.__main__`` (``seqloss demo --help``); this
module holds the task, the two training loops and :func:`run`.
"""
import time

import numpy as np

import seqloss
from seqloss import _validate

ALPHABET = 12  # labels 1..ALPHABET, 0 is the blank
FEAT = 16
MAX_FRAMES = 2 + 8 * (4 + 2)  # longest utterance Task.batch can make: lead-in + 8 labels
N_EVAL = 256  # held-out utterances scored at each log line
BACKENDS = ("auto", "torch", "numpy")

TORCH_HINT = ('pip install torch==2.13.0 (the CPU build; see the README\'s "Quickstart"), '
              'or from a clone: pip install -e ".[torch]"')


class BackendUnavailable(Exception):
    """The requested backend cannot run here; the message says how to fix it."""


def choose_backend(requested):
    """Resolve ``auto`` / ``torch`` / ``numpy`` to ``(backend, why)``.

    ``why`` is the reason shown on the banner line.  ``torch`` requested but not
    importable raises :class:`BackendUnavailable` with the install command.
    """
    if requested not in BACKENDS:
        raise ValueError("Expected backend to be one of %s, but got %r" % (BACKENDS, requested))
    if requested == "numpy":
        return "numpy", "chosen with --backend numpy"
    try:
        import torch  # noqa: F401
    except (ImportError, OSError) as e:  # OSError: a torch whose shared libraries fail to load
        if requested == "torch":
            raise BackendUnavailable(
                "--backend torch needs torch, which cannot be imported (%s): %s"
                % (e, TORCH_HINT)) from e
        return "numpy", "torch cannot be imported: %s" % e
    if requested == "torch":
        return "torch", "chosen with --backend torch"
    return "torch", "--backend auto: torch is installed"


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
    """Best path (seqloss.ctc_greedy_decode: argmax per frame, merge repeats, drop blanks)."""
    h = seqloss.ctc_greedy_decode(np.ascontiguousarray(logits_ntc), il, batch_first=True)
    return [h.tokens[i, 0, : h.lengths[i, 0]] for i in range(len(h))]


def score(decoded, tg, tl):
    """Sequence accuracy and label error rate (seqloss edit distance / reference length)."""
    refs = [tg[i, : tl[i]] for i in range(len(tl))]
    acc = float(np.mean([len(d) == len(r) and np.array_equal(d, r)
                         for d, r in zip(decoded, refs)]))
    dist = seqloss.edit_distance_batch(decoded, refs)  # hypotheses first, references second
    return acc, float(dist.sum() / max(int(tl.sum()), 1))


class Log:
    """Accumulates the timed loss steps and prints one table row per log point."""

    def __init__(self, with_torch):
        self.with_torch = with_torch
        self.window = [0.0, 0.0, 0]   # seqloss s, torch s, steps since the last row
        self.total = [0.0, 0.0, 0]
        self.first = self.last = None  # (loss, seq acc, LER)

    def legend(self, batch):
        print("ctc loss: the training batch's mean CTC loss")
        print("seq acc:  share of %d held-out utterances decoded exactly (greedy best path)"
              % N_EVAL)
        print("LER:      their label error rate (seqloss.edit_distance_batch / reference length)")
        shape = "batch %d, T <= %d frames, %d classes" % (batch, MAX_FRAMES, ALPHABET + 1)
        if self.with_torch:
            print("ms/it:    the CTC loss step only, loss + backward to the logits")
            print("          (%s):" % shape)
            print("          seqloss CTCLoss(from_logits=True) vs torch log_softmax + ctc_loss + "
                  "backward on the same")
            print("          logits; the model, optimiser and evaluation are not timed. At this "
                  "small size fixed")
            print("          costs per call (Python, autograd, OpenMP threads waking or spinning) "
                  "are much of both")
            print("          times, so the ratio varies between runs; the README's tables time "
                  "the kernels at")
            print("          benchmark shapes (benchmarks/bench_ctc.py).")
            print("%5s %9s %9s %8s %14s %14s" % ("step", "ctc loss", "seq acc", "LER",
                                                "seqloss ms/it", "torch ms/it"))
        else:
            print("ms/it:    seqloss.ctc_loss_and_grad(from_logits=True) only (%s);" % shape)
            print("          the model, optimiser and evaluation are not timed.")
            print("%5s %9s %9s %8s %14s" % ("step", "ctc loss", "seq acc", "LER",
                                           "seqloss ms/it"))

    def timed(self, t_seq, t_torch=0.0):
        for acc in (self.window, self.total):
            acc[0] += t_seq
            acc[1] += t_torch
            acc[2] += 1

    def row(self, step, loss, acc, ler):
        s, t, n = self.window
        cells = "%5d %9.4f %9.3f %8.3f %14.3f" % (step, loss, acc, ler, 1e3 * s / n)
        if self.with_torch:
            cells += " %14.3f" % (1e3 * t / n)
        print(cells)
        self.window = [0.0, 0.0, 0]
        if self.first is None:
            self.first = (loss, acc, ler)
        self.last = (loss, acc, ler)

    def summary(self, steps, seconds):
        (l0, a0, e0), (l1, a1, e1) = self.first, self.last
        s, t, n = self.total
        print("summary: %d steps in %.1f s; ctc loss %.4f -> %.4f, seq acc %.3f -> %.3f, "
              "LER %.3f -> %.3f" % (steps, seconds, l0, l1, a0, a1, e0, e1))
        line = "         CTC loss step, mean over %d steps: seqloss %.3f ms" % (n, 1e3 * s / n)
        if self.with_torch:
            line += ", torch %.3f ms (%.1fx)" % (1e3 * t / n, t / s if s > 0 else float("inf"))
        print(line)
        return {"steps": steps, "loss": l1, "seq_acc": a1, "ler": e1,
                "seqloss_ms": 1e3 * s / n, "torch_ms": (1e3 * t / n) if self.with_torch else None}


def run_torch(steps, batch, log_every, seed, why=""):
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
    x_ev, tg_ev, il_ev, tl_ev = task.batch(N_EVAL)
    print("backend: torch %s + seqloss %s (%s, %d threads)%s" % (
        torch.__version__, seqloss.__version__, seqloss.simd_level(), seqloss.get_num_threads(),
        " [%s]" % why if why else ""))
    log = Log(with_torch=True)
    log.legend(batch)
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
        t_torch = time.perf_counter() - t0
        leaf = logits.detach().clone().requires_grad_()
        t0 = time.perf_counter()
        crit(leaf, tgt, ilt, tlt).backward()
        log.timed(time.perf_counter() - t0, t_torch)
        # the training step itself
        loss = crit(logits, tgt, ilt, tlt)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % log_every == 0 or step == 1 or step == steps:
            with torch.no_grad():
                ev = model(torch.from_numpy(x_ev).transpose(1, 2)).transpose(1, 2).numpy()
            acc, ler = score(greedy_decode(ev, il_ev), tg_ev, tl_ev)
            log.row(step, loss.item(), acc, ler)
    return log.summary(steps, time.perf_counter() - t_start)


def run_numpy(steps, batch, log_every, seed, why=""):
    """NumPy backend: a linear model over a 5-frame context, trained with Adam."""
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

    x_ev, tg_ev, il_ev, tl_ev = task.batch(N_EVAL)
    print("backend: NumPy %s + seqloss %s (%s, %d threads)%s" % (
        np.__version__, seqloss.__version__, seqloss.simd_level(), seqloss.get_num_threads(),
        " [%s]" % why if why else ""))
    log = Log(with_torch=False)
    log.legend(batch)
    t_start = time.perf_counter()
    for step in range(1, steps + 1):
        x, tg, il, tl = task.batch(batch)
        h = context(x)                                           # (N, T, K)
        logits = h @ W + b                                       # (N, T, C)
        t0 = time.perf_counter()
        loss, g = seqloss.ctc_loss_and_grad(logits, tg, il, tl, from_logits=True,
                                            batch_first=True, zero_infinity=True)
        log.timed(time.perf_counter() - t0)
        grads = [np.einsum("ntk,ntc->kc", h, g), g.sum((0, 1))]
        for i, (p, gr) in enumerate(zip((W, b), grads)):
            m[i] = 0.9 * m[i] + 0.1 * gr
            v[i] = 0.999 * v[i] + 0.001 * gr * gr
            p -= 0.01 * (m[i] / (1 - 0.9 ** step)) / (np.sqrt(v[i] / (1 - 0.999 ** step)) + 1e-8)
        if step % log_every == 0 or step == 1 or step == steps:
            ev = context(x_ev) @ W + b
            acc, ler = score(greedy_decode(ev, il_ev), tg_ev, tl_ev)
            log.row(step, float(loss), acc, ler)
    return log.summary(steps, time.perf_counter() - t_start)


def run(steps=300, batch=32, backend="auto", seed=0, log_every=25):
    """Train and print the table; returns the final summary as a dict.

    ``steps``, ``batch`` and ``log_every`` must be positive and ``seed`` non-negative.
    Raises :class:`BackendUnavailable` for ``backend="torch"`` without torch.
    """
    for name, value, low in (("steps", steps, 1), ("batch", batch, 1),
                             ("log_every", log_every, 1), ("seed", seed, 0)):
        if not _validate.is_int(value) or value < low:
            raise ValueError("Expected %s to be an integer of at least %d, but got %r"
                             % (name, low, value))
    chosen, why = choose_backend(backend)
    train = run_torch if chosen == "torch" else run_numpy
    return train(int(steps), int(batch), int(log_every), int(seed), why)


def main(argv=None):
    """``seqloss demo`` with these arguments (kept for callers of the old entry point)."""
    from .__main__ import main as cli

    return cli(["demo"] + list([] if argv is None else argv))
