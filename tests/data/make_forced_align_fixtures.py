"""Write forced_align_torchaudio.npz: torchaudio's forced-alignment outputs on small
seeded cases, so that the test suite (which runs without torchaudio) can check
``seqloss.ctc_forced_align`` against them.

Run it with a Python that has torch and torchaudio 2.9.1 (``forced_align`` was
deprecated in 2.9 and is gone from later releases), from anywhere:

    /path/to/venv-with-torchaudio/bin/python tests/data/make_forced_align_fixtures.py

The output is deterministic for a given torchaudio (the cases are seeded).

Cases (one item each, ``log_probs`` (T, C)): T in 1..40, C in 2..8, L in 1..8
(torchaudio rejects an empty target); blank at 0, in the middle or at C - 1;
labels with adjacent repeats in about two thirds of the cases; T == L + repeats
(the tightest alignment) in over a third; float32 and float64.  Values are:

* ``ties``: each entry drawn from a few exact binary fractions (0, -0.5, -1,
  -1.5, -2, or a subset of them), so that the candidates of the recursion are
  often exactly equal and torchaudio's tie rules decide the path;
* ``normal``: log-softmax of N(0, 1) logits (no ties);
* ``unnormalised``: N(0, 9) values shifted up, many of them positive

(all float32-representable, also in float64 cases, so that they compress);

then, in some cases, -inf in single entries, in a whole frame, or in a whole
label column (often leaving no finite path: torchaudio still returns a path),
or NaN in single entries or a whole frame.  A handful of hand-made tie cases
come first.  Skipped: cases torchaudio refuses (T < L + repeats), drawn now and
then, and the few whose path torchaudio builds from memory past the targets'
end (no finite state back to the first frames; see ``torchaudio_align``).

About 250 cases are kept: each costs ~850 bytes of zip entries besides its
data, and the file stays under 300 KB.

Keys: ``n_cases``; for case i, ``x{i}`` (T, C) float32/float64, ``targets{i}``
(L,) int64, ``blank{i}`` () int64, ``paths{i}`` (T,) int64 and ``scores{i}``
(T,) of x's dtype: torchaudio's outputs for ``forced_align(x[None],
targets[None], blank=blank)``.
"""
import os
import warnings

import numpy as np
import torch
import torchaudio

warnings.filterwarnings("ignore", category=UserWarning)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "forced_align_torchaudio.npz")
N_RANDOM = 280
SEED = 20251
TIE_VALUES = np.array([0.0, -0.5, -1.0, -1.5, -2.0])
NEG = -1e9


def repeats(targets):
    t = np.asarray(targets)
    return int(np.count_nonzero(t[1:] == t[:-1])) if t.size else 0


def hand_made():
    """Small cases whose path is set by one tie rule each (blank 0)."""
    f = np.float64
    return [
        # move and skip tie above stay: torchaudio 2.9 stays
        (np.array([[-2.0, -1.0, NEG], [-1.0, -1.0, -2.0], [-5.0, NEG, -1.0]], f), [1, 2]),
        # stay vs move tie: stay
        (np.array([[-1.0, -1.0], [-1.0, -1.0], [-9.0, -1.0]], f), [1]),
        # stay vs skip tie above move: stay
        (np.array([[NEG, -1, -1], [-3, -1, -1], [-9, NEG, -1], [-9, NEG, -1]], f), [1, 2]),
        # last frame: the final label and the trailing blank tie: the label
        (np.array([[-2.0, -1.0], [-1.0, -1.0]], f), [1]),
        # T == L + repeats: no leading blank
        (np.zeros((7, 4), f), [1, 1, 2, 2, 3]),
        # all equal, slack of several frames
        (np.zeros((9, 3), np.float32), [1, 2, 2]),
    ]


def draw_targets(rng, C, blank):
    L = int(rng.integers(1, 9))
    labels = np.array([c for c in range(C) if c != blank])
    out = [int(rng.choice(labels))]
    p_repeat = 0.5 if rng.random() < 0.5 else 0.0
    for _ in range(L - 1):
        out.append(out[-1] if rng.random() < p_repeat else int(rng.choice(labels)))
    return np.array(out, dtype=np.int64)


def draw_values(rng, T, C, dtype):
    kind = rng.choice(["ties", "normal", "unnormalised"], p=[0.55, 0.3, 0.15])
    if kind == "ties":
        k = int(rng.integers(2, len(TIE_VALUES) + 1))
        pool = rng.choice(TIE_VALUES, size=k, replace=False)
        x = rng.choice(pool, size=(T, C))
    elif kind == "normal":
        z = rng.standard_normal((T, C))
        x = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    else:
        x = 3.0 * rng.standard_normal((T, C)) + 2.0
    # float32-representable values also in float64 cases: they compress to half the size
    return x.astype(np.float32).astype(dtype)


def poke(rng, x, targets, blank):
    """Maybe put -inf or NaN somewhere (in place)."""
    T, C = x.shape
    u = rng.random()
    if u < 0.12:  # a few single -inf entries
        for _ in range(int(rng.integers(1, 4))):
            x[rng.integers(T), rng.integers(C)] = -np.inf
    elif u < 0.18:  # a whole frame -inf
        x[rng.integers(T), :] = -np.inf
    elif u < 0.24:  # a whole label column -inf (or the blank's)
        col = int(rng.choice(targets)) if rng.random() < 0.75 else blank
        x[:, col] = -np.inf
    elif u < 0.33:  # a few NaN entries
        for _ in range(int(rng.integers(1, 4))):
            x[rng.integers(T), rng.integers(C)] = np.nan
    elif u < 0.36:  # a whole frame NaN
        x[rng.integers(T), :] = np.nan


def draw_case(rng):
    C = int(rng.integers(2, 9))
    blank = int(rng.choice([0, C // 2, C - 1]))
    targets = draw_targets(rng, C, blank)
    need = len(targets) + repeats(targets)
    u = rng.random()
    if u < 0.33:
        T = need
    elif u < 0.37:
        T = max(1, need - int(rng.integers(1, 3)))  # refused: skipped
    elif u < 0.7:
        T = need + int(rng.integers(1, 6))  # a little slack
    else:
        T = min(40, need + int(rng.integers(1, 40)))
    dtype = np.float32 if rng.random() < 0.5 else np.float64
    x = draw_values(rng, T, C, dtype)
    poke(rng, x, targets, blank)
    return x, targets, blank


def torchaudio_align(x, targets, blank):
    """torchaudio's (paths, scores) for one item.

    The targets are handed over as the head of a longer buffer padded with an
    out-of-range class: when every state is -inf or NaN back to the first frames,
    torchaudio's back-trace can follow a state outside its window past the last
    label and read the targets out of bounds; the padding makes that read give an
    invalid class, which torchaudio's own score gather then rejects (IndexError),
    instead of whatever memory follows the targets.
    """
    C = x.shape[1]
    padded = np.full(len(targets) + 64, C + 7, dtype=np.int64)
    padded[:len(targets)] = targets
    tg = torch.from_numpy(padded)[None, :len(targets)]
    assert tg.is_contiguous()
    lp = torch.from_numpy(np.ascontiguousarray(x))[None]
    paths, scores = torchaudio.functional.forced_align(lp, tg, blank=blank)
    return paths[0].numpy().astype(np.int64), scores[0].numpy().copy()


def main():
    drawn = [(x, np.array(t, dtype=np.int64), 0) for x, t in hand_made()]
    rng = np.random.default_rng(SEED)
    drawn += [draw_case(rng) for _ in range(N_RANDOM)]
    out, n, skipped, escaped = {}, 0, 0, 0
    for x, targets, blank in drawn:
        feasible = x.shape[0] >= len(targets) + repeats(targets)
        try:
            paths, scores = torchaudio_align(x, targets, blank)
        except RuntimeError as e:
            assert not feasible and "too long" in str(e), e
            skipped += 1
            continue
        except IndexError:  # the back-trace left the states (see torchaudio_align)
            assert not np.isfinite(x).all()
            escaped += 1
            continue
        assert feasible and scores.dtype == x.dtype and paths.shape == (x.shape[0],)
        out["x%d" % n] = x
        out["targets%d" % n] = targets
        out["blank%d" % n] = np.array(blank, dtype=np.int64)
        out["paths%d" % n] = paths
        out["scores%d" % n] = scores
        n += 1
    out["n_cases"] = np.array(n, dtype=np.int64)
    np.savez_compressed(OUT, **out)
    print("torch %s, torchaudio %s: %d cases -> %s, %.0f KB; skipped: %d refused, "
          "%d whose path torchaudio reads past the targets"
          % (torch.__version__, torchaudio.__version__, n, OUT, os.path.getsize(OUT) / 1024,
             skipped, escaped))


if __name__ == "__main__":
    main()
