"""CTC decoding: seqloss's greedy and beam search vs torch, fast-ctc-decode, pyctcdecode
(+ KenLM) and ctc-beam-decoder, alternating call by call in one process.

Inputs (seeded, ``seqloss._synthetic``): acoustic-model-like log-probabilities
around planted paths for the ``decode`` shapes of ../shared/bench_shapes.json
(chars [500, 32, 32], bpe [500, 32, 1000], server-single [200, 1, 32]); for
the LM runs, the planted paths spell sentences drawn from a generated word-level
3-gram ARPA model (3,000 words), which the script writes to a temporary folder.

Runs (each peer that imports; best paths compared before timing):

* greedy: ``ctc_greedy_decode`` on the batch vs torch ``argmax`` +
  ``unique_consecutive`` + drop blank per item;
* beam search without LM, one thread, beam 16 and 100, per utterance:
  ``ctc_beam_search(n_threads=1)`` on the batch vs each peer item by item;
  seqloss exact (its default) and, against the peers that prune by default
  (pyctcdecode, ctc-beam-decoder: token_min_logp -5, beam_prune_logp -10),
  also with those values (equal settings);
* beam search with the 3-gram LM (alpha 0.5, beta 0, same beam) vs pyctcdecode
  + kenlm and ctc-beam-decoder: time and top-hypothesis agreement, likewise;
* seqloss batch scaling, 2 threads vs 1.

pyctcdecode pins numpy<2: run the script with a Python that has the peers
(seqloss imports there from the checkout), e.g.

    PYTHONPATH=. /path/to/peers-venv/bin/python benchmarks/bench_decode.py

or ``--peers-python /path/to/peers-venv/bin/python`` re-runs it that way.
``--save DIR`` writes the inputs (npz + ARPA) for other tools.  Timings are
never asserted.
"""
import argparse
import os
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from _common import reexec_with_peers  # noqa: E402

reexec_with_peers(__file__)

import seqloss  # noqa: E402
from seqloss import _synthetic as S  # noqa: E402
from _common import alternate, cpu_name, load_shapes  # noqa: E402
import _decode_peers as P  # noqa: E402


def fmt(s):
    return "%.2f ms" % (s * 1e3) if s >= 1e-3 else "%.1f us" % (s * 1e6)


def ids_of(h, n):
    return h.tokens[n, 0, :h.lengths[n, 0]].tolist()


# ------------------------------------------------------------------ inputs

def sentences_input(T, N, vocab, words, seed, delimiter):
    """Log-probs whose planted paths spell random sentences of ``words``."""
    rng = np.random.default_rng(seed)
    labels = []
    for _ in range(N):
        sent = []
        # ~ T / (2.7 frames per token) tokens
        budget = int(T / 2.9)
        while True:
            w = words[int(rng.integers(0, len(words)))]
            ids = S.encode_words(sent + [w], vocab, delimiter)
            if len(ids) > budget:
                break
            sent.append(w)
        labels.append(S.encode_words(sent, vocab, delimiter))
    x, _ = S.peaked_log_probs(T, N, len(vocab), seed=seed, labels=labels)
    return x


# ------------------------------------------------------------------ runs

def run_greedy(shapes, reps, nt, rows):
    for name, (T, N, C) in shapes.items():
        x, _ = S.peaked_log_probs(T, N, C, seed=1)
        try:
            tg = P.torch_greedy(0)
        except P.PeerUnavailable:
            print("greedy: torch unavailable")
            return
        xt = tg.prepare(x)
        items = [xt[:, n] for n in range(N)]
        h = seqloss.ctc_greedy_decode(x, n_threads=nt)
        same = all(ids_of(h, n) == tg.run(items[n]) for n in range(N))
        fns = {"seqloss": lambda: seqloss.ctc_greedy_decode(x, n_threads=nt),
               "torch": lambda: [tg.run(it) for it in items]}
        med = alternate(fns, reps, inner=20)
        rows.append(("greedy", name, "batch of %d" % N, "torch argmax+unique_consecutive",
                     med["torch"], med["seqloss"], "%d/%d" % (N if same else 0, N)))
        print("greedy %-14s done" % name, flush=True)


def peer_beam(kind, labels, beam, arpa=None, alpha=0.5, beta=0.0):
    if kind == "fast-ctc-decode":
        return P.fast_ctc_decode_beam(labels, beam)
    if kind == "pyctcdecode":
        return P.pyctcdecode_beam(labels, beam, arpa_path=arpa, alpha=alpha, beta=beta)
    return P.ctc_beam_decoder_beam(labels, beam, arpa_path=arpa, alpha=alpha, beta=beta)


# pyctcdecode's (and ctc-beam-decoder's) default pruning; fast-ctc-decode is run
# without its beam_cut_threshold (0), i.e. unpruned like seqloss's exact default
PEER_PRUNING = dict(token_min_logp=-5.0, beam_prune_logp=-10.0)


def run_beam(name, shape, vocab, reps, rows, peers, beams, lm=None, arpa=None, x=None,
             n_peer_items=8):
    """Per utterance, one thread: the peer item by item vs seqloss on the same items as
    one batch (its time / items).  Against peers that prune, seqloss runs twice: exact
    (its default) and with the peer's pruning values (equal settings)."""
    T, N, C = shape
    if x is None:
        x, _ = S.peaked_log_probs(T, N, C, seed=2)
    sub = np.ascontiguousarray(x[:, :n_peer_items])
    for beam in beams:
        kw = dict(beam_width=beam, n_threads=1)
        if lm is not None:
            kw.update(tokens=vocab, lm=lm, lm_weight=0.5, word_score=0.0)
        for peer in peers:
            try:
                dec = peer_beam(peer, vocab, beam, arpa)
            except P.PeerUnavailable as e:
                print("%s unavailable: %s" % (peer, e))
                continue
            # agreement on every item, timing on the first n_peer_items
            prepared_all = [dec.prepare(np.ascontiguousarray(x[:, n])) for n in range(N)]
            prepared = prepared_all[:n_peer_items]
            by_ids = lm is None and peer == "fast-ctc-decode"
            variants = {"exact": kw}
            if not by_ids:
                variants["same pruning"] = dict(kw, **PEER_PRUNING)
            if by_ids:
                peer_out = [dec.run(p) for p in prepared_all]
            else:
                peer_out = [dec.run_text(p) for p in prepared_all]
            fns = {"peer": (lambda: [dec.run(p) for p in prepared]) if by_ids
                   else (lambda: [dec.run_text(p) for p in prepared])}
            agree = {}
            for v, vkw in variants.items():
                h = seqloss.ctc_beam_search(x, **vkw)
                if by_ids:
                    mine = [ids_of(h, n) for n in range(N)]
                else:
                    mine = [P.ids_to_pyctcdecode_text(ids_of(h, n), vocab) for n in range(N)]
                agree[v] = sum(a == b for a, b in zip(peer_out, mine))
                fns[v] = (lambda vkw=vkw: seqloss.ctc_beam_search(sub, **vkw))
            med = alternate(fns, reps)
            for v in variants:
                rows.append(("beam %d%s" % (beam, " + 3-gram LM" if lm is not None else ""),
                             name, "per utterance, 1 thread, seqloss " + v, peer,
                             med["peer"] / n_peer_items, med[v] / n_peer_items,
                             "%d/%d" % (agree[v], N)))
            print("beam %-3d %-8s vs %-16s done" % (beam, name, peer), flush=True)


def run_scaling(name, shape, reps, rows):
    T, N, C = shape
    x, _ = S.peaked_log_probs(T, N, C, seed=3)
    fns = {"1": lambda: seqloss.ctc_beam_search(x, beam_width=16, n_threads=1),
           "2": lambda: seqloss.ctc_beam_search(x, beam_width=16, n_threads=2)}
    med = alternate(fns, reps)
    rows.append(("beam 16 batch", name, "batch of %d, seqloss on 2 threads" % N,
                 "seqloss on 1 thread", med["1"],
                 med["2"], "-"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--peer-items", type=int, default=8,
                    help="utterances per peer call set (pyctcdecode is slow)")
    ap.add_argument("--peers-python", default=None,
                    help="re-run this script with that interpreter (a venv with the peers)")
    ap.add_argument("--save", default=None, help="write the inputs to this folder")
    ap.add_argument("--only", default=None, help="greedy,beam,lm,scaling")
    args = ap.parse_args()
    only = set((args.only or "greedy,beam,lm,scaling").split(","))
    shapes = load_shapes("decode")
    print("machine: %s, %d cores, seqloss simd=%s, openmp=%s, numpy %s, peers %s"
          % (cpu_name(), os.cpu_count(), seqloss.simd_level(), seqloss.openmp_enabled(),
             np.__version__, P.peer_versions()), flush=True)
    rows = []
    chars = S.char_vocab()
    words = S.random_words(3000, seed=11)
    bpe = S.bpe_vocab(words, shapes["bpe"][2], seed=12)
    peers = ["fast-ctc-decode", "pyctcdecode", "ctc-beam-decoder"]
    with tempfile.TemporaryDirectory() as tmp:
        arpa = os.path.join(tmp, "words3.arpa")
        with open(arpa, "w") as f:
            f.write(S.random_arpa(words, order=3, seed=13))
        if "greedy" in only:
            run_greedy(shapes, args.reps, args.threads, rows)
        if "beam" in only:
            run_beam("chars", shapes["chars"], chars, args.reps, rows, peers, (16, 100),
                     n_peer_items=args.peer_items)
            run_beam("bpe", shapes["bpe"], bpe, args.reps, rows, peers, (16,),
                     n_peer_items=args.peer_items)
        if "lm" in only:
            lm = seqloss.NgramLM.from_arpa(arpa)
            T, N, C = shapes["chars"]
            x = sentences_input(T, N, chars, words, 21, " ")
            run_beam("chars", shapes["chars"], chars, args.reps, rows,
                     ["pyctcdecode", "ctc-beam-decoder"], (16, 100), lm=lm, arpa=arpa, x=x,
                     n_peer_items=args.peer_items)
        if "scaling" in only:
            run_scaling("chars", shapes["chars"], args.reps, rows)
        if args.save:
            os.makedirs(args.save, exist_ok=True)
            np.savez(os.path.join(args.save, "decode_inputs.npz"),
                     **{k: S.peaked_log_probs(*v, seed=1)[0] for k, v in shapes.items()})
            with open(os.path.join(args.save, "words3.arpa"), "w") as f:
                f.write(S.random_arpa(words, order=3, seed=13))

    print()
    print("| run | shape | unit | peer | peer time | seqloss | x peer | same best |")
    print("|---|---|---|---|---|---|---|---|")
    for run, name, unit, peer, tp, ts, same in rows:
        print("| %s | %s | %s | %s | %s | %s | %.1fx | %s |"
              % (run, name, unit, peer, fmt(tp), fmt(ts), tp / ts, same))


if __name__ == "__main__":
    main()
