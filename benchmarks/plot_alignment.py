"""Draw docs/alignment.png: a forced alignment over its emission matrix.

A short synthetic utterance (``seqloss._synthetic``: 120 frames of
acoustic-model-like log-probabilities over the 32-token character vocabulary,
planted around the spelling of a short phrase, words joined by the " " token)
is aligned to its transcript with ``seqloss.ctc_forced_align``; the picture shows

* the log-probabilities as an image: frames on x, on y only the classes the
  transcript uses (blank on top, then in order of first use, so the path runs
  down the diagonal), clipped below at -10;
* the forced-alignment path over it (a square on each frame's class);
* under it, the words from ``ctc_token_spans`` + ``ctc_word_spans`` (delimiter
  " ") as bars over their frames, labelled with the word and its mean frame
  probability.

Needs matplotlib (imported here only):

    PYTHONPATH=. python benchmarks/plot_alignment.py [--out docs/alignment.png]
"""
import argparse
import os

import numpy as np

import seqloss
from seqloss import _synthetic as SYN

HERE = os.path.dirname(os.path.abspath(__file__))
PHRASE = "the quick brown fox jumps"
T_FRAMES = 120
SEED = 7
FLOOR = -10.0  # log-probs below this share the darkest colour


def make_alignment():
    """(log_probs (T, C), transcript ids, path (T,), TokenSpans, WordSpans)."""
    vocab = SYN.char_vocab()
    ids = np.array(SYN.encode_words(PHRASE.split(), vocab, " "), dtype=np.int64)
    x, _ = SYN.peaked_log_probs(T_FRAMES, 1, len(vocab), seed=SEED, labels=[ids])
    x = np.ascontiguousarray(x[:, 0])
    path, scores = seqloss.ctc_forced_align(x, ids, blank=0)
    spans = seqloss.ctc_token_spans(path, scores, blank=0)
    words = seqloss.ctc_word_spans(spans, delimiter=vocab.index(" "), tokens=vocab)
    return vocab, x, ids, path, words


def token_label(tok):
    return {"": "<blank>", " ": "<space>"}.get(tok, tok)


def draw(out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    vocab, x, ids, path, words = make_alignment()
    rows = [0] + list(dict.fromkeys(ids.tolist()))  # blank, then classes by first use
    row_of = {c: r for r, c in enumerate(rows)}
    T = x.shape[0]

    fig, (ax, axw) = plt.subplots(
        2, 1, figsize=(9.0, 4.2), dpi=100, sharex=True,
        gridspec_kw=dict(height_ratios=[5.2, 1.0], hspace=0.06))
    fig.subplots_adjust(left=0.085, right=0.945, top=0.93, bottom=0.1)
    img = ax.imshow(np.maximum(x[:, rows].T, FLOOR), aspect="auto", cmap="magma",
                    interpolation="nearest", vmin=FLOOR, vmax=0.0,
                    extent=(-0.5, T - 0.5, len(rows) - 0.5, -0.5))
    ax.scatter(np.arange(T), [row_of[int(c)] for c in path], s=14, marker="s",
               facecolors="none", edgecolors="#2ee6d6", linewidths=1.0)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([token_label(vocab[c]) for c in rows], fontsize=6.5)
    ax.set_ylabel("class", fontsize=8)
    ax.set_title('ctc_forced_align: "%s", %d frames; log-probabilities (colour) and the '
                 'path\'s class at each frame (cyan squares)' % (PHRASE, T), fontsize=8.5)
    cb = fig.colorbar(img, ax=[ax, axw], fraction=0.025, pad=0.012)
    cb.set_label("log-probability", fontsize=7)
    cb.ax.tick_params(labelsize=6)

    for w in words.to_list():
        axw.barh(0, w.end - w.start, left=w.start - 0.5, height=0.8, color="#4c72b0",
                 alpha=0.85, edgecolor="black", linewidth=0.5)
        axw.text((w.start + w.end - 1) / 2.0, 0, "%s\n%.2f" % (w.text, w.confidence),
                 ha="center", va="center", fontsize=7, color="white")
    axw.set_yticks([])
    axw.set_ylim(-0.5, 0.5)
    axw.set_ylabel("words", fontsize=8)
    axw.set_xlim(-0.5, T - 0.5)
    axw.set_xlabel("frame  (word bars: text and mean frame probability)", fontsize=8)
    axw.tick_params(labelsize=7)
    ax.tick_params(axis="x", labelsize=7)

    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    print("wrote %s (%.0f KB)" % (out, os.path.getsize(out) / 1024))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(HERE, "..", "docs", "alignment.png"))
    draw(os.path.normpath(ap.parse_args().out))


if __name__ == "__main__":
    main()
