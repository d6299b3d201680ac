"""Peer CTC decoders for the decode benchmark, behind one small interface.

Every factory returns an object with

* ``prepare(log_probs_TC) -> prepared``: whatever conversion the peer needs
  (done outside the timed call);
* ``run(prepared) -> list[int]``: the best label sequence as token ids in the
  input's column space ``0..C-1``, blanks removed;
* ``run_text(prepared) -> str``: the same result as text.

Input everywhere: a float32 ``(T, C)`` array of natural-log probabilities with
the blank at column 0. Peers are imported lazily, each inside try/except: a
missing one makes its factory raise ``PeerUnavailable`` (an ``ImportError``),
and ``peer_versions()`` reports it as ``None``. The module imports under numpy
1.26 and numpy 2 (pyctcdecode itself pins ``numpy<2``, so it is normally only
available in a separate environment).
"""
import importlib
import re

import numpy as np

__all__ = ["PeerUnavailable", "peer_versions", "torch_greedy", "fast_ctc_decode_beam",
           "pyctcdecode_beam", "ctc_beam_decoder_beam", "ids_to_pyctcdecode_text"]

_DISTS = {"torch": "torch", "fast_ctc_decode": "fast-ctc-decode",
          "pyctcdecode": "pyctcdecode", "kenlm": "kenlm", "ctc_beam_decoder": "ctc-beam-decoder"}
_MODULES = {}


class PeerUnavailable(ImportError):
    """The peer package is not installed (or fails to import) here."""


def _peer(name):
    if name not in _MODULES:
        try:
            _MODULES[name] = importlib.import_module(name)
        except Exception as e:  # ImportError, or a peer broken by this numpy
            _MODULES[name] = e
    mod = _MODULES[name]
    if isinstance(mod, Exception):
        raise PeerUnavailable(f"{name} is unavailable: {type(mod).__name__}: {mod}") from mod
    return mod


def peer_versions():
    """{module name: installed version, or None when it does not import}."""
    from importlib import metadata
    out = {}
    for name, dist in _DISTS.items():
        try:
            _peer(name)
            out[name] = metadata.version(dist)
        except Exception:
            out[name] = None
    return out


def _check_labels(labels):
    labels = list(labels)
    if not labels or labels[0] != "":
        raise ValueError('labels[0] must be "" (the blank, column 0)')
    return labels


class _Decoder:
    name = "?"
    labels = None

    def prepare(self, log_probs_TC):
        return np.ascontiguousarray(log_probs_TC, dtype=np.float32)

    def run(self, prepared):
        raise NotImplementedError

    def run_text(self, prepared):
        return "".join(self.labels[i] for i in self.run(prepared))

    def __call__(self, log_probs_TC):
        """prepare + run in one go (the conversion is then inside the call)."""
        return self.run(self.prepare(log_probs_TC))

    def __repr__(self):
        return f"<{self.name}>"


# -- torch greedy ------------------------------------------------------------------------------

class _TorchGreedy(_Decoder):
    def __init__(self, blank, labels):
        self._torch = _peer("torch")
        self.blank, self.labels = blank, labels
        self.name = "torch greedy (argmax + unique_consecutive)"

    def prepare(self, log_probs_TC):
        return self._torch.from_numpy(np.ascontiguousarray(log_probs_TC, dtype=np.float32))

    def run(self, t):
        ids = self._torch.unique_consecutive(t.argmax(dim=-1))
        return ids[ids != self.blank].tolist()


def torch_greedy(blank=0, labels=None):
    """Best-path decode in torch: argmax over C per frame (ties -> lowest id, like numpy),
    ``torch.unique_consecutive`` (collapse repeats), then drop ``blank``. ``prepare`` is
    ``torch.from_numpy`` (no copy for a contiguous float32 array). ``labels`` only feeds
    ``run_text``."""
    return _TorchGreedy(blank, labels)


# -- fast-ctc-decode ---------------------------------------------------------------------------

class _FastCTCDecodeBeam(_Decoder):
    _BASE = 0xF0000  # Supplementary Private Use Area-A: 65534 code points, none a surrogate

    def __init__(self, labels, beam_width, beam_cut_threshold):
        self._fcd = _peer("fast_ctc_decode")
        self.labels = _check_labels(labels)
        C = len(self.labels)
        if C > 0xFFFE:
            raise ValueError("fast_ctc_decode_beam supports at most 65534 columns")
        thr = 0.0 if beam_cut_threshold is None else float(beam_cut_threshold)
        if not 0.0 <= thr < 1.0 / C:
            raise ValueError(f"beam_cut_threshold must be in [0, 1/C) = [0, {1.0 / C:.4g})")
        self.beam_width, self.beam_cut_threshold = int(beam_width), thr
        # One distinct single-character stand-in per column, so the returned string maps
        # back to ids exactly whatever the real labels look like (fast-ctc-decode
        # concatenates label strings, so multi-character labels would be ambiguous).
        self._alphabet = [chr(self._BASE + i) for i in range(C)]
        self.name = f"fast-ctc-decode beam_search (beam {self.beam_width}, cut {thr:g})"

    def prepare(self, log_probs_TC):
        # It wants probabilities, float32 (its PyArray2<f32>; float64 is rejected).
        return np.exp(np.ascontiguousarray(log_probs_TC, dtype=np.float32))

    def run_with_path(self, probs):
        """(ids, path): path[k] is the frame at which the k-th label's prefix-tree node was
        first created during the search (not necessarily on the winning alignment)."""
        seq, path = self._fcd.beam_search(probs, self._alphabet, beam_size=self.beam_width,
                                          beam_cut_threshold=self.beam_cut_threshold)
        return [ord(ch) - self._BASE for ch in seq], list(path)

    def run(self, probs):
        return self.run_with_path(probs)[0]


def fast_ctc_decode_beam(labels, beam_width, beam_cut_threshold=None):
    """fast-ctc-decode 0.3.x ``beam_search`` (Rust): CTC prefix beam search in float32
    *probability* space, no LM. Each beam entry is one prefix (a suffix-tree node) holding
    p_nonblank and p_blank, so the blank- and non-blank-ending versions of a prefix count
    once against ``beam_width``; after every frame the beam is sorted by p_nonblank+p_blank,
    cut to ``beam_width`` and rescaled by the top beam's total (no underflow). Column 0 is
    the blank. ``beam_cut_threshold`` (default 0.0 = library default) skips, at each frame,
    every label with probability < threshold (the blank when <= threshold); it must be in
    [0, 1/C). No always-keep-the-argmax rule: too high a cut raises "ran out of beam".
    The labels are replaced internally by single-character stand-ins (fast-ctc-decode
    returns the concatenation of label strings, ambiguous for multi-character labels), so
    ``run`` maps back to ids exactly. ``prepare`` = ``np.exp`` (float32)."""
    return _FastCTCDecodeBeam(labels, beam_width, beam_cut_threshold)


# -- pyctcdecode and its C++ re-implementation ---------------------------------------------------

def _pyctcdecode_alphabet(labels):
    """(labels as pyctcdecode normalises them, is_bpe), mirroring pyctcdecode/alphabet.py:
    BPE iff a label starts with "##" or "▁"; "##" style is turned into "▁" style; in a char
    alphabet "|" stands for " " when " " is absent; <unk>/[unk] becomes "⁇" ("▁⁇▁" if BPE)."""
    labels = list(labels)
    is_bpe = any(s.startswith(("##", "▁")) for s in labels)
    unk = re.compile(r"^[<\[]unk[>\]]$", flags=re.IGNORECASE)
    special = re.compile(r"^[<\[].+[>\]]$")
    if is_bpe:
        if any(s.startswith("##") for s in labels):
            labels = [s[2:] if s.startswith("##") else
                      s if special.match(s) or s in ("", "▁", "▁⁇▁") else "▁" + s
                      for s in labels]
        return ["▁⁇▁" if unk.match(s) else s for s in labels], True
    if "|" in labels and " " not in labels:
        labels[labels.index("|")] = " "
    return ["⁇" if unk.match(s) else s for s in labels], False


def ids_to_pyctcdecode_text(ids, labels):
    """Render token ids the way pyctcdecode builds its output text, so another decoder's ids
    can be compared with ``run_text`` (needs no peer installed). Char alphabets: labels are
    concatenated. BPE alphabets: a "▁"-prefixed piece starts a new word (a trailing "▁", as
    in "▁⁇▁", forces the next piece to start one too), other pieces extend the current
    word. Then whitespace is normalised (``" ".join(text.split())``), as pyctcdecode does."""
    lab, is_bpe = _pyctcdecode_alphabet(labels)
    if not is_bpe:
        return " ".join("".join(lab[i] for i in ids).split())
    words, force_break = [""], False
    for i in ids:
        piece = lab[i]
        if piece.startswith("▁") or force_break:  # same steps as pyctcdecode's decoder
            clean = piece[1:] if piece.startswith("▁") else piece
            force_break = piece.endswith("▁")
            words.append(clean[:-1] if force_break else clean)
        else:
            words[-1] += piece
    return " ".join(" ".join(words).split())


class _PyctcdecodeLike(_Decoder):
    """Shared by pyctcdecode and ctc-beam-decoder: same constructor, same decode_beams."""

    def __init__(self, module, name, labels, beam_width, arpa_path, alpha, beta,
                 token_min_logp, beam_prune_logp, unk_score_offset, hotwords, hotword_weight,
                 prune_history, lm_score_boundary):
        mod = _peer(module)
        if arpa_path is not None and module == "pyctcdecode":
            _peer("kenlm")  # pyctcdecode needs the kenlm package for an LM
        self.labels = _check_labels(labels)
        norm, self._is_bpe = _pyctcdecode_alphabet(self.labels)
        self._char2id = {s: i for i, s in enumerate(norm) if s != ""}
        self.decoder = mod.build_ctcdecoder(
            self.labels, kenlm_model_path=arpa_path, alpha=alpha, beta=beta,
            unk_score_offset=unk_score_offset, lm_score_boundary=lm_score_boundary)
        self.kw = dict(beam_width=int(beam_width), beam_prune_logp=beam_prune_logp,
                       token_min_logp=token_min_logp, prune_history=prune_history,
                       hotwords=list(hotwords) if hotwords else None,
                       hotword_weight=hotword_weight)
        lm = "no LM" if arpa_path is None else f"LM alpha={alpha} beta={beta}"
        self.name = f"{name} (beam {int(beam_width)}, {lm})"

    def prepare(self, log_probs_TC):
        # decode_beams re-normalises (log_softmax + clip to [ln 1e-15, 0]) inside every call;
        # that O(T*C) numpy pass cannot be moved out through the public API.
        return np.ascontiguousarray(log_probs_TC, dtype=np.float32)

    def run_beams(self, x):
        """The raw n-best list: [(text, lm_state, [(word, (start, end)), ...], logit_score,
        combined_score), ...], best first."""
        return self.decoder.decode_beams(x, **self.kw)

    def run_text(self, x):
        beams = self.run_beams(x)
        return beams[0][0] if beams else ""

    def run(self, x):
        """Ids of the top beam's text, char alphabets only (single-character labels): the text
        is whitespace-normalised, so leading/trailing/doubled delimiters are gone; compare
        texts with ``ids_to_pyctcdecode_text`` instead when that matters."""
        if self._is_bpe:
            raise NotImplementedError("BPE: text does not determine the pieces; use run_text")
        text = self.run_text(x)
        try:
            return [self._char2id[ch] for ch in text]
        except KeyError as e:
            raise NotImplementedError(f"label {e} not single-character; use run_text") from None

    def ids_to_text(self, ids):
        return ids_to_pyctcdecode_text(ids, self.labels)


def pyctcdecode_beam(labels, beam_width, arpa_path=None, alpha=0.5, beta=0.0,
                     token_min_logp=-5.0, beam_prune_logp=-10.0, unk_score_offset=-10.0,
                     hotwords=None, hotword_weight=10.0, prune_history=False,
                     lm_score_boundary=True):
    """pyctcdecode 0.5.0 ``decode_beams`` (pure Python + numpy, optional KenLM shallow fusion).

    Not a plain CTC prefix search with the usual pruning: per frame only tokens with
    logp >= ``token_min_logp`` (default -5) plus the argmax are expanded; beams scoring below
    best + ``beam_prune_logp`` (default -10) are dropped before the top-``beam_width`` cut; a
    prefix ending in blank and the same prefix ending in a token are separate beams (merge key
    ``(text, partial_word, last_char)``), each using a ``beam_width`` slot, merged only at the
    end. Ranking score = acoustic log-prob (logsumexp over merged paths) + for each completed
    word alpha*ln10*(log10 P_kenlm(word | history) [+ unk_score_offset if OOV]) + beta
    (+ </s> on the last word when ``lm_score_boundary``), + unk_score_offset in *nats*, not
    scaled by alpha (x len/6 past 6 chars), for a partial word that starts no known unigram,
    + hotword_weight per hotword. A text ending in the delimiter (or empty) gets an extra
    empty word scored as <unk> at the end. Without an LM, alpha/beta/unk do nothing and the
    ranking is acoustic + hotwords. NB: beta defaults to 0.0 here, pyctcdecode's own default
    is 1.5; ``decode()`` (not used here) turns ``prune_history`` on, decode_beams leaves it
    off. labels: "" (blank) first; char alphabets use " " as the word delimiter; BPE
    alphabets use "▁"-prefixed pieces (or "##" continuation pieces). ``run`` returns ids for
    char alphabets only; ``run_text`` always works. With a label ending in "▁" (e.g. "▁⁇▁",
    which "<unk>" becomes), pyctcdecode's word splits are not a function of the ids (one
    force-break flag is shared by all beams), so its text then differs from
    ``ids_to_pyctcdecode_text`` of the same ids."""
    return _PyctcdecodeLike("pyctcdecode", "pyctcdecode", labels, beam_width, arpa_path,
                            alpha, beta, token_min_logp, beam_prune_logp, unk_score_offset,
                            hotwords, hotword_weight, prune_history, lm_score_boundary)


def ctc_beam_decoder_beam(labels, beam_width, arpa_path=None, alpha=0.5, beta=0.0,
                          token_min_logp=-5.0, beam_prune_logp=-10.0, unk_score_offset=-10.0,
                          hotwords=None, hotword_weight=10.0, prune_history=False,
                          lm_score_boundary=True):
    """ctc-beam-decoder 0.2.0: a C++ (ctypes) re-implementation of pyctcdecode's search with
    the same constructor, ``decode_beams`` signature, defaults and five-tuple output, and the
    same semantics as ``pyctcdecode_beam`` (see there). Differences: it bundles its own KenLM
    (no ``kenlm`` Python package needed), normalises the input in numpy float32 in the
    binding, and returns [] instead of raising when every beam is pruned (``run_text`` ->
    "")."""
    return _PyctcdecodeLike("ctc_beam_decoder", "ctc-beam-decoder", labels, beam_width,
                            arpa_path, alpha, beta, token_min_logp, beam_prune_logp,
                            unk_score_offset, hotwords, hotword_weight, prune_history,
                            lm_score_boundary)
