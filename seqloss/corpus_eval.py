"""Corpus evaluation: mergeable error counts, reports and bootstrap statistics.

``evaluate(hypotheses, references, ...)`` scores a corpus with the edit-distance
kernels and returns a :class:`Report` (summary, per-speaker table, confusion pairs,
worst utterances, sclite-style alignments, per-utterance records, bootstrap
intervals); ``seqloss eval`` (seqloss/__main__.py) is built on it.  The totals
live in an :class:`ErrorCounts`, which adds up exactly (``a + b``) and pickles, so
partial results from many processes or machines combine into the same report
numbers (seqloss.dask uses that).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from . import _validate as V
from ._spans import SpanTexts

__all__ = ["ErrorCounts", "Report", "evaluate", "bootstrap_interval", "paired_bootstrap"]

UNITS = ("word", "char", "mixed")

# per-speaker totals: the columns of ErrorCounts.speakers[s]
_SPK_FIELDS = ("utterances", "utterances_with_errors", "hits", "substitutions", "deletions",
               "insertions", "reference_length", "hypothesis_length")


def _rates(H, S, D, I, n_ref, n_hyp):
    """(error rate, mer, wil, wip) as jiwer 4 defines them (ErrorRates)."""
    if n_ref == 0:
        wer = float(I)
        mer = 0.0 if n_hyp == 0 else 1.0
        wip = 1.0 if n_hyp == 0 else 0.0
    else:
        wer = (S + D + I) / float(H + S + D)
        mer = (S + D + I) / float(H + S + D + I)
        wip = (H / float(n_ref)) * (H / float(n_hyp)) if n_hyp >= 1 else 0.0
    return wer, mer, 1.0 - wip, wip


def _speaker_totals(speakers, cols) -> Dict[str, np.ndarray]:
    """{speaker: int64 totals of ``cols`` over the speaker's utterances} (speakers:
    one str per utterance, a SpanTexts or any sequence; ids interned in C++)."""
    from . import _edit

    n = cols[0].shape[0]
    if not isinstance(speakers, SpanTexts):
        speakers = SpanTexts.of_strings([str(x) for x in speakers])
    if len(speakers) != n:
        raise ValueError("Expected one speaker per utterance (%d), but got %d"
                         % (n, len(speakers)))
    inv, first = _edit.intern_column(speakers.column)
    k = first.shape[0]
    tot = np.zeros((k, len(cols)), dtype=np.int64)
    for j, col in enumerate(cols):
        np.add.at(tot[:, j], inv, np.asarray(col, dtype=np.int64))
    return {speakers[int(f)]: tot[i] for i, f in enumerate(first.tolist())}


def _merge_pending(p, q):
    """The confusion arrays of two parts added (vocabularies joined, equal keys
    summed), or None when one of them is not in that form (Counters, or token
    ids without a vocabulary)."""
    if p is None or q is None or p[0] is None or q[0] is None:
        return None
    index = {w: k for k, w in enumerate(p[0])}
    remap = np.fromiter((index.setdefault(w, len(index)) for w in q[0]), dtype=np.int64,
                        count=len(q[0]))
    voc = list(index)
    V = max(len(voc), 1)

    def merged(keys, counts):  # (distinct keys, summed counts)
        if keys.shape[0] == 0:
            return keys, counts
        order = np.argsort(keys, kind="stable")
        k, c = keys[order], counts[order]
        first = np.concatenate([[True], k[1:] != k[:-1]])
        at = np.flatnonzero(first)
        return k[at], np.add.reduceat(c, at)

    (r1, h1, n1), (r2, h2, n2) = p[1], q[1]
    key, n = merged(np.concatenate([r1 * V + h1, remap[r2] * V + remap[h2]]),
                    np.concatenate([n1, n2]))
    out = [voc, (key // V, key % V, n)]
    for a, b in ((p[2], q[2]), (p[3], q[3])):
        out.append(merged(np.concatenate([a[0], remap[b[0]]]), np.concatenate([a[1], b[1]])))
    return tuple(out)


@dataclass
class ErrorCounts:
    """Error counts of a corpus (or of a part of one) in one unit, exactly mergeable.

    ``a + b`` adds every count, concatenates the per-utterance arrays (the inputs of
    the bootstrap) and merges the per-speaker totals and the confusion counters, so
    scoring a corpus in parts and adding the parts gives the counts of scoring it
    whole.  Picklable; ``to_dict()`` / ``from_dict()`` give a JSON-ready form.

    Attributes: ``unit``; totals ``utterances``, ``utterances_with_errors``, ``hits``,
    ``substitutions``, ``deletions``, ``insertions``, ``reference_length``,
    ``hypothesis_length``; ``utterance_counts`` ((utterances, 6) int64: hits,
    substitutions, deletions, insertions, hypothesis length, reference length of
    each utterance, in corpus order; ``utterance_errors`` / ``utterance_lengths`` are
    its S + D + I and reference-length columns); ``speakers`` {speaker: int64
    array of the ``_SPK_FIELDS`` totals}; ``substitution_pairs`` {(ref token, hyp
    token): count}, ``deleted`` {ref token: count}, ``inserted`` {hyp token: count}
    (empty unless confusions were counted).
    """

    unit: str = "word"
    utterances: int = 0
    utterances_with_errors: int = 0
    hits: int = 0
    substitutions: int = 0
    deletions: int = 0
    insertions: int = 0
    reference_length: int = 0
    hypothesis_length: int = 0
    utterance_counts: np.ndarray = field(default_factory=lambda: np.zeros((0, 6), np.int64),
                                         repr=False)
    speakers: Dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    # confusion counters, or the arrays of one alignment they are built from on first use
    # (a million utterances hold ~2 million distinct pairs: counted as arrays, they
    # become Python objects only when merged or read whole)
    _subs: Optional[Counter] = field(default=None, repr=False)
    _dels: Optional[Counter] = field(default=None, repr=False)
    _ins: Optional[Counter] = field(default=None, repr=False)
    _pending: Any = field(default=None, repr=False)

    def _materialise(self):
        if self._pending is not None:
            voc, (r, h, n), (di, dn), (ii, inn) = self._pending
            va = np.asarray(voc, dtype=object) if voc is not None else None

            def names(ids):
                return va[ids].tolist() if va is not None else [str(i) for i in ids.tolist()]
            self._subs = Counter(dict(zip(zip(names(r), names(h)), n.tolist())))
            self._dels = Counter(dict(zip(names(di), dn.tolist())))
            self._ins = Counter(dict(zip(names(ii), inn.tolist())))
            self._pending = None
        if self._subs is None:
            self._subs, self._dels, self._ins = Counter(), Counter(), Counter()

    @property
    def substitution_pairs(self) -> Counter:
        self._materialise()
        return self._subs

    @property
    def deleted(self) -> Counter:
        self._materialise()
        return self._dels

    @property
    def inserted(self) -> Counter:
        self._materialise()
        return self._ins

    def top_confusions(self, top: int) -> dict:
        """The ``top`` most frequent substitution pairs, deletions and insertions; ties
        in code point order of the tokens, so the result never depends on how the
        corpus was split into parts."""
        def best(keys, counts):
            if len(counts) == 0 or top <= 0:
                return []
            c = np.asarray(counts)
            k = min(top, c.shape[0])
            thr = np.partition(c, c.shape[0] - k)[c.shape[0] - k]
            idx = np.nonzero(c >= thr)[0].tolist()
            cand = sorted(((-int(c[i]), keys(i)) for i in idx))[:k]
            return [(key, -neg) for neg, key in cand]

        if self._pending is not None:
            voc, (r, h, n), (di, dn), (ii, inn) = self._pending
            name = (lambda i: voc[i]) if voc is not None else (lambda i: str(int(i)))
            subs = best(lambda i: (name(r[i]), name(h[i])), n)
            dels = best(lambda i: name(di[i]), dn)
            ins = best(lambda i: name(ii[i]), inn)
        else:
            def from_counter(cn):
                items = list(cn.items())
                return best(lambda i: items[i][0], [v for _, v in items])
            subs = from_counter(self.substitution_pairs)
            dels = from_counter(self.deleted)
            ins = from_counter(self.inserted)
        return {"substitutions": [[a, b, k] for (a, b), k in subs],
                "deletions": [[a, k] for a, k in dels],
                "insertions": [[a, k] for a, k in ins]}

    # ---------------------------------------------------------------- rates

    @property
    def utterance_errors(self) -> np.ndarray:
        u = self.utterance_counts
        return u[:, 1] + u[:, 2] + u[:, 3]

    @property
    def utterance_lengths(self) -> np.ndarray:
        return self.utterance_counts[:, 5]

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    def rates(self) -> tuple:
        """(error rate, mer, wil, wip), as jiwer 4 defines them."""
        return _rates(self.hits, self.substitutions, self.deletions, self.insertions,
                      self.reference_length, self.hypothesis_length)

    @property
    def error_rate(self) -> float:
        """WER for words, CER for characters (jiwer 4's definition and empty-reference
        convention)."""
        return self.rates()[0]

    @property
    def mer(self) -> float:
        return self.rates()[1]

    @property
    def wil(self) -> float:
        return self.rates()[2]

    @property
    def wip(self) -> float:
        return self.rates()[3]

    @property
    def sentence_error_rate(self) -> float:
        """Share of utterances with at least one error (0.0 for no utterances)."""
        return self.utterances_with_errors / self.utterances if self.utterances else 0.0

    # ---------------------------------------------------------------- building

    @classmethod
    def from_pairs(cls, hypotheses: Sequence[str], references: Sequence[str], *,
                   unit: str = "word", speakers: Optional[Sequence[str]] = None,
                   confusions: bool = True, n_threads: Optional[int] = None,
                   progress: Any = None) -> "ErrorCounts":
        """Count one corpus (or part): the error counts and, from the same pass,
        the confusion counts (``confusions=False`` skips them)."""
        return _count(hypotheses, references, unit, speakers, confusions, False, n_threads,
                      progress)[0]

    @classmethod
    def _from_error_rates(cls, r, speakers=None):
        """The counts of an ErrorRates (per-pair arrays), speaker totals added."""
        return cls._from_pair_counts(r.unit, r.pair_hits, r.pair_substitutions,
                                     r.pair_deletions, r.pair_insertions,
                                     r.pair_reference_lengths, r.pair_hypothesis_lengths,
                                     speakers)

    @classmethod
    def _from_pair_counts(cls, unit, H, S, D, I, n_ref, n_hyp, speakers=None):
        u = np.stack([H, S, D, I, n_hyp, n_ref], axis=1).astype(np.int64)
        return cls._from_counts(unit, u, speakers)

    @classmethod
    def _from_counts(cls, unit, u, speakers=None):
        """The counts of an (N, 6) int64 array of per-utterance hits, substitutions,
        deletions, insertions, hypothesis and reference lengths (kept, not copied)."""
        tot = u.sum(axis=0) if u.shape[0] else np.zeros(6, np.int64)
        err = u[:, 1] + u[:, 2] + u[:, 3]
        c = cls(unit=unit, utterances=int(u.shape[0]),
                utterances_with_errors=int(np.count_nonzero(err)),
                hits=int(tot[0]), substitutions=int(tot[1]), deletions=int(tot[2]),
                insertions=int(tot[3]), reference_length=int(tot[5]),
                hypothesis_length=int(tot[4]), utterance_counts=u)
        if speakers is not None:
            c.speakers = _speaker_totals(speakers, [np.ones_like(err), (err > 0).astype(np.int64),
                                                    u[:, 0], u[:, 1], u[:, 2], u[:, 3], u[:, 5],
                                                    u[:, 4]])
        return c

    def _add_confusions(self, al):
        """Take the confusion counts of one alignment (this object's own counts
        must be empty: ErrorCounts are built from one alignment, then added)."""
        self._subs = self._dels = self._ins = None
        self._pending = (al.vocabulary, al.substitutions(), al.deletions(), al.insertions())

    # ---------------------------------------------------------------- merging

    def __add__(self, other: "ErrorCounts") -> "ErrorCounts":
        if not isinstance(other, ErrorCounts):
            return NotImplemented
        if other.unit != self.unit:
            raise ValueError("Expected counts of the same unit, but got %r and %r"
                             % (self.unit, other.unit))
        spk = {k: v.copy() for k, v in self.speakers.items()}
        for k, v in other.speakers.items():
            spk[k] = spk[k] + v if k in spk else v.copy()
        pending = _merge_pending(self._pending_or_empty(), other._pending_or_empty())
        if pending is None:
            self._materialise()
            other._materialise()
        out = ErrorCounts(
            unit=self.unit,
            utterances=self.utterances + other.utterances,
            utterances_with_errors=self.utterances_with_errors + other.utterances_with_errors,
            hits=self.hits + other.hits, substitutions=self.substitutions + other.substitutions,
            deletions=self.deletions + other.deletions,
            insertions=self.insertions + other.insertions,
            reference_length=self.reference_length + other.reference_length,
            hypothesis_length=self.hypothesis_length + other.hypothesis_length,
            utterance_counts=np.concatenate([self.utterance_counts, other.utterance_counts]),
            speakers=spk)
        if pending is not None:
            out._pending = pending
        else:
            out._subs, out._dels = self._subs + other._subs, self._dels + other._dels
            out._ins = self._ins + other._ins
        return out

    def _pending_or_empty(self):
        """The confusion arrays (``_pending``), empty ones when none were counted, or
        None when the counts are Counters already."""
        if self._pending is not None:
            return self._pending
        if self._subs is None or not (self._subs or self._dels or self._ins):
            z = np.zeros(0, np.int64)
            return [], (z, z, z), (z, z), (z, z)
        return None

    def __radd__(self, other):
        if other == 0:  # sum(parts)
            return self
        return NotImplemented

    def __eq__(self, other):
        if not isinstance(other, ErrorCounts):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def to_dict(self) -> dict:
        return {
            "unit": self.unit,
            "totals": {k: getattr(self, k) for k in (
                "utterances", "utterances_with_errors", "hits", "substitutions", "deletions",
                "insertions", "reference_length", "hypothesis_length")},
            "utterance_counts": self.utterance_counts.tolist(),
            "speakers": {k: dict(zip(_SPK_FIELDS, v.tolist()))
                         for k, v in sorted(self.speakers.items())},
            "substitution_pairs": [[a, b, n] for (a, b), n in
                                   sorted(self.substitution_pairs.items())],
            "deleted": dict(sorted(self.deleted.items())),
            "inserted": dict(sorted(self.inserted.items())),
        }

    @classmethod
    def from_dict(cls, d: dict) -> "ErrorCounts":
        try:
            c = cls(unit=d["unit"], **{k: int(v) for k, v in d["totals"].items()})
            c.utterance_counts = np.asarray(d["utterance_counts"], dtype=np.int64).reshape(-1, 6)
            c.speakers = {k: np.array([v[f] for f in _SPK_FIELDS], dtype=np.int64)
                          for k, v in d["speakers"].items()}
            c._subs = Counter({(a, b): int(n) for a, b, n in d["substitution_pairs"]})
            c._dels = Counter({k: int(v) for k, v in d["deleted"].items()})
            c._ins = Counter({k: int(v) for k, v in d["inserted"].items()})
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError("Expected a dict made by ErrorCounts.to_dict(), but reading it "
                             "failed: %s" % e) from None
        return c

    def summary(self) -> dict:
        wer, mer, wil, wip = self.rates()
        return {"unit": self.unit, "utterances": self.utterances,
                "utterances_with_errors": self.utterances_with_errors,
                "sentence_error_rate": self.sentence_error_rate,
                "reference_length": self.reference_length,
                "hypothesis_length": self.hypothesis_length, "hits": self.hits,
                "substitutions": self.substitutions, "deletions": self.deletions,
                "insertions": self.insertions, "errors": self.errors,
                "error_rate": wer, "mer": mer, "wil": wil, "wip": wip}


# -------------------------------------------------------------------- bootstrap

def _classes(*cols):
    """Distinct rows of the non-negative integer columns and how many utterances
    have each (one int64 key per row when the values allow, else rows)."""
    a = np.stack([np.asarray(c, dtype=np.int64) for c in cols], axis=1)
    if a.shape[0] == 0:
        return a, np.zeros(0, np.int64)
    lo, span = a.min(axis=0), a.max(axis=0) - a.min(axis=0) + 1
    size = float(np.prod(span.astype(np.float64)))
    if size < 2.0**62:
        mult = np.concatenate([np.cumprod(span[::-1])[::-1][1:], [1]]).astype(np.int64)
        key = (a - lo) @ mult
        if size <= 4 * a.shape[0] + 65536:      # few possible rows: count them, no sort
            counts = np.bincount(key, minlength=int(size))
            keys = np.flatnonzero(counts)
            counts = counts[keys]
        else:
            keys, counts = np.unique(key, return_counts=True)
        u = np.empty((keys.shape[0], a.shape[1]), np.int64)
        for j in range(a.shape[1]):
            u[:, j] = keys // mult[j] % span[j] + lo[j]
        return u, counts
    u, counts = np.unique(a, axis=0, return_counts=True)
    return u, counts


def _multinomial(rng, n, counts, size):
    """``size`` draws of how many times each class is picked when n utterances are
    drawn with replacement: exactly resampling the utterances, done per class."""
    return rng.multinomial(n, counts / counts.sum(), size=size)


def bootstrap_interval(errors, lengths, n: int = 1000, seed: int = 0,
                       level: float = 0.95) -> dict:
    """Bootstrap interval of the corpus error rate (Bisani & Ney 2004, as Kaldi's
    ``compute-wer-bootci``): the utterances are resampled with replacement ``n``
    times and the rate ``sum(errors) / sum(lengths)`` recomputed.  Done exactly
    per class of equal (errors, length) utterances (a multinomial draw of the
    class counts has the distribution of resampling the utterances one by one),
    so a million utterances cost as much as their few hundred classes.  Seeded
    with ``numpy.random.default_rng(seed)``: reproducible.

    Returns {"n", "seed", "level", "mean", "lower", "upper", "std"} (rates as
    fractions; a replicate with no reference tokens counts as rate 0).
    """
    n = V.check_int("bootstrap", n)
    if n < 1:
        raise ValueError("Expected bootstrap to be a positive number of replicates, but got %d"
                         % n)
    u, counts = _classes(errors, lengths)
    N = int(counts.sum())
    if N == 0:
        return {"n": n, "seed": seed, "level": level, "mean": 0.0, "lower": 0.0,
                "upper": 0.0, "std": 0.0}
    rng = np.random.default_rng(seed)
    m = _multinomial(rng, N, counts, n).astype(np.float64)
    num, den = m @ u[:, 0], m @ u[:, 1]
    rate = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    lo, hi = np.quantile(rate, [(1 - level) / 2, 1 - (1 - level) / 2])
    return {"n": n, "seed": seed, "level": level, "mean": float(rate.mean()),
            "lower": float(lo), "upper": float(hi), "std": float(rate.std(ddof=1)) if n > 1
            else 0.0}


def paired_bootstrap(errors_a, errors_b, lengths, n: int = 1000, seed: int = 0,
                     level: float = 0.95) -> dict:
    """Paired bootstrap of two systems on the same utterances (Bisani & Ney): the
    utterances are resampled jointly; returns the rate difference B - A, its interval
    and the probability that B is better (its rate lower) over the replicates."""
    n = V.check_int("bootstrap", n)
    if n < 1:
        raise ValueError("Expected bootstrap to be a positive number of replicates, but got %d"
                         % n)
    u, counts = _classes(errors_a, errors_b, lengths)
    N = int(counts.sum())
    if N == 0:
        return {"n": n, "seed": seed, "level": level, "delta": 0.0, "lower": 0.0,
                "upper": 0.0, "prob_b_better": 0.0}
    rng = np.random.default_rng(seed)
    m = _multinomial(rng, N, counts, n).astype(np.float64)
    den = m @ u[:, 2]
    ra = np.divide(m @ u[:, 0], den, out=np.zeros(n), where=den > 0)
    rb = np.divide(m @ u[:, 1], den, out=np.zeros(n), where=den > 0)
    d = rb - ra
    lo, hi = np.quantile(d, [(1 - level) / 2, 1 - (1 - level) / 2])
    tot = float(u[:, 2] @ counts)
    delta = float((u[:, 1] - u[:, 0]) @ counts) / tot if tot else 0.0
    return {"n": n, "seed": seed, "level": level, "delta": delta, "lower": float(lo),
            "upper": float(hi), "prob_b_better": float(np.mean(rb < ra))}


# -------------------------------------------------------------------- report

def _pct(x):
    return 100.0 * x


class Report:
    """A scored corpus: counts per unit, per-utterance records, statistics.

    ``counts`` {unit: ErrorCounts} (the first unit is the primary one); ``ids``,
    ``references``, ``hypotheses`` (the texts as scored, after normalisation);
    ``utterance`` per-utterance hits, substitutions, deletions, insertions,
    hypothesis and reference lengths of the primary unit ((N, 6) int64);
    ``alignments`` (seqloss.Alignments of the primary unit, or None);
    ``bootstrap`` / ``paired`` (dicts, or None); ``system_b`` (the second
    hypothesis file's ErrorCounts, or None).
    """

    def __init__(self, counts, ids, references, hypotheses, utterance, alignments=None,
                 bootstrap=None, paired=None, system_b=None, speakers=None, extra=None):
        self.counts = counts
        self.unit = next(iter(counts))
        self.ids = ids
        self.references = references
        self.hypotheses = hypotheses
        self.utterance = utterance
        self.alignments = alignments
        self.bootstrap = bootstrap
        self.paired = paired
        self.system_b = system_b
        self.utterance_speakers = speakers
        self.extra = extra or {}

    @property
    def primary(self) -> ErrorCounts:
        return self.counts[self.unit]

    # ---------------------------------------------------------------- parts

    def summary(self) -> dict:
        out = self.primary.summary()
        for u, c in self.counts.items():
            if u != self.unit:
                out["%s_error_rate" % u] = c.error_rate
        if self.bootstrap is not None:
            out["bootstrap"] = self.bootstrap
        if self.system_b is not None:
            out["system_b"] = self.system_b.summary()
        if self.paired is not None:
            out["paired_bootstrap"] = self.paired
        out.update(self.extra)
        return out

    def speakers(self) -> dict:
        """sclite's per-speaker table: rows {speaker: {...}} with percentages of the
        speaker's reference tokens, plus "Mean", "S.D." (sample) and "Median" rows over
        the speakers (empty when no speakers are known)."""
        spk = self.primary.speakers
        rows = {}
        for name in sorted(spk):
            u, ue, H, S, D, I, n_ref, n_hyp = (int(v) for v in spk[name])
            den = float(n_ref) if n_ref else float("nan")
            rows[name] = {"sentences": u, "words": n_ref,
                          "correct": _pct(H / den), "substitutions": _pct(S / den),
                          "deletions": _pct(D / den), "insertions": _pct(I / den),
                          "errors": _pct((S + D + I) / den),
                          "sentence_errors": _pct(ue / u) if u else 0.0}
        if not rows:
            return {}
        keys = list(next(iter(rows.values())))
        table = np.array([[r[k] for k in keys] for r in rows.values()], dtype=np.float64)
        stats = {"Mean": np.nanmean(table, axis=0),
                 "S.D.": np.nanstd(table, axis=0, ddof=1) if table.shape[0] > 1
                 else np.zeros(len(keys)),
                 "Median": np.nanmedian(table, axis=0)}
        return {"speakers": rows, **{k: dict(zip(keys, v.tolist())) for k, v in stats.items()}}

    def confusions(self, top: int = 10) -> dict:
        return self.primary.top_confusions(top)

    def worst(self, top: int = 10) -> List[dict]:
        """The ``top`` utterances with the most errors (ties: the higher rate, then
        the input order)."""
        u = self.utterance
        if u.shape[0] == 0:
            return []
        err = u[:, 1] + u[:, 2] + u[:, 3]
        n = err.shape[0]
        if top <= 0:
            return []
        cand = np.arange(n)
        if n > 4 * top:             # only utterances with at least the top-th most errors
            cand = np.flatnonzero(err >= np.partition(err, n - top)[n - top])
        rate = err[cand] / np.maximum(u[cand, 5], 1)
        order = cand[np.lexsort((cand, -rate, -err[cand]))][:top]
        return [self.record(int(i)) for i in order if err[i] > 0]

    def record(self, i: int) -> dict:
        H, S, D, I, nh, nr = (int(v) for v in self.utterance[i])
        err = S + D + I
        return {"id": self.ids[i] if self.ids is not None else str(i),
                "speaker": (self.utterance_speakers[i]
                            if self.utterance_speakers is not None else None),
                "hits": H, "substitutions": S, "deletions": D, "insertions": I,
                "reference_length": nr, "hypothesis_length": nh, "errors": err,
                "error_rate": (err / nr) if nr else float(I),
                "reference": self.references[i], "hypothesis": self.hypotheses[i]}

    def alignment_lines(self, i: int, width: int = 100, skip_correct: bool = False) -> List[str]:
        """sclite ``pra``-style lines of utterance i: id, scores, then REF/HYP/Eval
        rows (correct tokens lower case, errors upper case, ``***`` for a missing
        token), wrapped to ``width`` columns."""
        if self.alignments is None:
            raise ValueError("the report holds no alignments (evaluate(..., alignments=True))")
        rec = self.record(i)
        out = ["id: (%s)" % rec["id"],
               "Scores: (#C #S #D #I) %d %d %d %d" % (rec["hits"], rec["substitutions"],
                                                     rec["deletions"], rec["insertions"])]
        if skip_correct and rec["errors"] == 0:
            return out
        cols = []
        for op, r, h in self.alignments.pair(i):
            if op == "equal":
                cols.append((r.lower(), h.lower(), ""))
            elif op == "substitute":
                cols.append((r.upper(), h.upper(), "S"))
            elif op == "delete":
                cols.append((r.upper(), "*" * max(3, len(r)), "D"))
            else:
                cols.append(("*" * max(3, len(h)), h.upper(), "I"))
        lines = [["REF: "], ["HYP: "], ["Eval:"]]
        used = 5
        rows = []
        for r, h, e in cols:
            w = max(len(r), len(h), len(e))
            if used + 1 + w > width and used > 5:
                rows.append(lines)
                lines = [["REF: "], ["HYP: "], ["Eval:"]]
                used = 5
            for line, s in zip(lines, (r, h, e)):
                line.append(s.ljust(w))
            used += 1 + w
        rows.append(lines)
        for block in rows:
            out += [" ".join(x).rstrip() for x in block]
        out.append("")
        return out

    # ---------------------------------------------------------------- outputs

    def to_dict(self, top: int = 10, alignments: bool = False) -> dict:
        """Every report as JSON-ready data (per-utterance records: per_utterance_rows;
        the full mergeable counts: ``counts[unit].to_dict()``)."""
        d = {"summary": self.summary(), "speakers": self.speakers(),
             "confusions": self.confusions(top), "worst": self.worst(top)}
        if alignments and self.alignments is not None:
            d["alignments"] = [{"id": self.record(i)["id"],
                                "ops": [list(x) for x in self.alignments.pair(i)]}
                               for i in range(len(self.references))]
        return d

    PER_UTTERANCE_FIELDS = ("id", "speaker", "reference_length", "hypothesis_length", "hits",
                            "substitutions", "deletions", "insertions", "errors", "error_rate",
                            "reference", "hypothesis")

    def per_utterance_columns(self) -> dict:
        """The per-utterance records as columns (lists), in PER_UTTERANCE_FIELDS order."""
        u = self.utterance
        n = u.shape[0]
        err = u[:, 1] + u[:, 2] + u[:, 3]
        nr = u[:, 5]
        rate = np.where(nr > 0, err / np.maximum(nr, 1), u[:, 3].astype(np.float64))
        return {"id": self.ids if self.ids is not None else [str(i) for i in range(n)],
                "speaker": (self.utterance_speakers if self.utterance_speakers is not None
                            else [""] * n),
                "reference_length": nr.tolist(), "hypothesis_length": u[:, 4].tolist(),
                "hits": u[:, 0].tolist(), "substitutions": u[:, 1].tolist(),
                "deletions": u[:, 2].tolist(), "insertions": u[:, 3].tolist(),
                "errors": err.tolist(), "error_rate": [round(x, 6) for x in rate.tolist()],
                "reference": self.references, "hypothesis": self.hypotheses}

    def per_utterance_rows(self):
        """(header, rows): one row (a tuple) per utterance."""
        cols = self.per_utterance_columns()
        return list(self.PER_UTTERANCE_FIELDS), zip(*(cols[k] for k in
                                                      self.PER_UTTERANCE_FIELDS))

    def to_text(self, reports=("summary",), top: int = 10, width: int = 100,
                skip_correct: bool = False) -> str:
        s = self.summary()
        unit = self.unit
        out = []
        if "summary" in reports:
            name = {"word": "WER", "char": "CER", "mixed": "MER(mixed)"}.get(unit, "ER")
            if unit == "mixed":
                name = "Error rate (mixed units)"
            out += ["Summary (%s)" % unit,
                    "  utterances            %d (with errors: %d, sentence error rate %.2f%%)"
                    % (s["utterances"], s["utterances_with_errors"],
                       _pct(s["sentence_error_rate"])),
                    "  reference %-11s %d" % (unit + "s", s["reference_length"]),
                    "  hits / sub / del / ins %d / %d / %d / %d"
                    % (s["hits"], s["substitutions"], s["deletions"], s["insertions"]),
                    "  %-21s %.2f%%" % (name, _pct(s["error_rate"])),
                    "  MER / WIL / WIP        %.2f%% / %.2f%% / %.2f%%"
                    % (_pct(s["mer"]), _pct(s["wil"]), _pct(s["wip"]))]
            for u in self.counts:
                if u != unit:
                    out.append("  %-21s %.2f%%" % ({"char": "CER", "word": "WER"}.get(u, u),
                                                   _pct(self.counts[u].error_rate)))
            if self.bootstrap is not None:
                b = self.bootstrap
                out.append("  bootstrap (%d, seed %d) %.0f%% interval: [%.2f%%, %.2f%%]"
                           % (b["n"], b["seed"], 100 * b["level"], _pct(b["lower"]),
                              _pct(b["upper"])))
            if self.system_b is not None:
                out.append("  system B %-12s %.2f%%" % (name, _pct(self.system_b.error_rate)))
            if self.paired is not None:
                p = self.paired
                out.append("  paired bootstrap: B - A = %+.2f%% [%+.2f%%, %+.2f%%], "
                           "P(B better) = %.3f" % (_pct(p["delta"]), _pct(p["lower"]),
                                                   _pct(p["upper"]), p["prob_b_better"]))
            out.append("")
        if "speakers" in reports:
            sp = self.speakers()
            if sp:
                head = "%-16s %7s %8s | %6s %6s %6s %6s %6s %6s" % (
                    "SPKR", "# Snt", "# Wrd", "Corr", "Sub", "Del", "Ins", "Err", "S.Err")
                out += ["Speakers", head, "-" * len(head)]

                def row(name, r, ints=True):
                    fmt = "%-16s %7d %8d" if ints else "%-16s %7.1f %8.1f"
                    return (fmt % (name[:16], r["sentences"], r["words"]) +
                            " | %6.1f %6.1f %6.1f %6.1f %6.1f %6.1f" % (
                                r["correct"], r["substitutions"], r["deletions"],
                                r["insertions"], r["errors"], r["sentence_errors"]))
                for name, r in sp["speakers"].items():
                    out.append(row(name, r))
                out.append("-" * len(head))
                for k in ("Mean", "S.D.", "Median"):
                    out.append(row(k, sp[k], ints=False))
                out.append("")
            else:
                out += ["Speakers: none known (give --utt2spk, or ids with speaker prefixes)",
                        ""]
        if "confusions" in reports:
            c = self.confusions(top)
            out.append("Top substitutions (reference ==> hypothesis)")
            out += ["  %6d  %s ==> %s" % (n, a, b) for a, b, n in c["substitutions"]]
            out.append("Top deletions")
            out += ["  %6d  %s" % (n, a) for a, n in c["deletions"]]
            out.append("Top insertions")
            out += ["  %6d  %s" % (n, a) for a, n in c["insertions"]]
            out.append("")
        if "worst" in reports:
            out.append("Worst utterances")
            for r in self.worst(top):
                out.append("  %s  errors %d / %d (%.1f%%)" % (
                    r["id"], r["errors"], r["reference_length"], _pct(r["error_rate"])))
                out.append("    REF: %s" % r["reference"])
                out.append("    HYP: %s" % r["hypothesis"])
            out.append("")
        if "alignments" in reports and self.alignments is not None:
            out.append("Alignments")
            for i in range(len(self.references)):
                out += self.alignment_lines(i, width=width, skip_correct=skip_correct)
        return "\n".join(out).rstrip("\n") + "\n"


def _count(hyps, refs, unit, speakers, confusions, alignments, n_threads, progress):
    """(ErrorCounts of the pairs in ``unit``, their Alignments or None): one pass
    over the pairs; confusion counts from the tallies of that pass (or from the
    alignments when those are asked for, or the input is pre-tokenised)."""
    from .edit_distance import _counts_and_tallies, error_rates

    if confusions and not alignments:
        out = _counts_and_tallies(hyps, refs, unit, n_threads, progress)
        if out is not None:
            u, tallies = out
            c = ErrorCounts._from_counts(unit, u, speakers=speakers)
            c._subs = c._dels = c._ins = None
            c._pending = tallies
            return c, None
    r = error_rates(hyps, refs, unit=unit, n_threads=n_threads, progress=progress,
                    alignments=confusions or alignments)
    c = ErrorCounts._from_error_rates(r, speakers)
    if confusions:
        c._add_confusions(r.alignments)
    return c, r.alignments if alignments else None


def evaluate(hypotheses: Sequence[str], references: Sequence[str], *,
             ids: Optional[Sequence[str]] = None, speakers: Optional[Sequence[str]] = None,
             unit: Any = "word", hypotheses_b: Optional[Sequence[str]] = None,
             confusions: bool = True, alignments: bool = False, bootstrap: int = 0,
             seed: int = 0, n_threads: Optional[int] = None, progress: Any = None) -> Report:
    """Score a corpus: the API ``seqloss eval`` is built on.

    ``hypotheses`` / ``references``: equal-length sequences of str (hypotheses first,
    as :func:`seqloss.error_rates`).  ``unit``: "word", "char", "mixed" or a list of
    them (the first is the primary unit of the report).  ``ids`` / ``speakers``: per
    utterance (for records and the per-speaker table).  ``hypotheses_b``: a second
    system on the same references (its counts and a paired bootstrap).
    ``confusions``: count substitution pairs, deletions and insertions;
    ``alignments``: keep the per-utterance alignments (sclite ``pra`` printout);
    ``bootstrap``: replicates of the bootstrap interval (0: none), ``seed``.
    """
    units = [unit] if isinstance(unit, str) else list(unit)
    if not units or any(u not in UNITS for u in units):
        raise ValueError("Expected unit to be one or more of %s, but got %r"
                         % (", ".join(UNITS), unit))
    units = list(dict.fromkeys(units))
    def texts(x):  # (a str is one utterance, as in error_rates)
        return x if isinstance(x, SpanTexts) else [x] if isinstance(x, str) else list(x)
    hyps, refs = texts(hypotheses), texts(references)
    if len(hyps) != len(refs):
        raise ValueError("Expected hypotheses and references to have the same number of "
                         "utterances, but got %d and %d" % (len(hyps), len(refs)))
    if ids is not None and len(ids) != len(refs):
        raise ValueError("Expected one id per utterance (%d), but got %d"
                         % (len(refs), len(ids)))
    counts = {}
    utter = None
    al = None
    for k, u in enumerate(units):
        c, a = _count(hyps, refs, u, speakers, k == 0 and confusions, k == 0 and alignments,
                      n_threads, progress)
        if k == 0:
            utter = c.utterance_counts
            al = a
        counts[u] = c
    primary = counts[units[0]]
    boot = None
    if bootstrap:
        boot = bootstrap_interval(primary.utterance_errors, primary.utterance_lengths,
                                  bootstrap, seed)
    system_b = paired = None
    if hypotheses_b is not None:
        hb = texts(hypotheses_b)
        if len(hb) != len(refs):
            raise ValueError("Expected the second hypotheses to have %d utterances, but got %d"
                             % (len(refs), len(hb)))
        system_b = _count(hb, refs, units[0], speakers, False, False, n_threads, progress)[0]
        if bootstrap:
            paired = paired_bootstrap(primary.utterance_errors, system_b.utterance_errors,
                                      primary.utterance_lengths, bootstrap, seed)
    def keep(x):
        return x if x is None or isinstance(x, SpanTexts) else list(x)
    return Report(counts, keep(ids), refs, hyps, utter, alignments=al, bootstrap=boot,
                  paired=paired, system_b=system_b, speakers=keep(speakers))
