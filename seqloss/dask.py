"""Corpus evaluation on a Dask cluster (needs the ``dask`` extra:
``pip install 'seqloss[dask]'``).

Each partition is scored with seqloss's kernels into an
:class:`seqloss.evaluate.ErrorCounts`; the partial counts are added with a tree
reduction.  ErrorCounts add up exactly, so the result equals scoring the whole
corpus in one process (counts, per-speaker totals, confusion counters and the
per-utterance arrays the bootstrap draws from, in the corpus order).
"""
from __future__ import annotations

from typing import Any, Optional

try:
    import dask.bag as db
except ImportError as e:  # pragma: no cover - exercised without the extra
    raise ImportError("seqloss.dask needs Dask: pip install 'seqloss[dask]' "
                      "(dask[bag] and distributed)") from e

from .corpus_eval import ErrorCounts, Report, bootstrap_interval

__all__ = ["evaluate", "score_partition"]


def score_partition(rows, unit: str = "word", confusions: bool = True) -> ErrorCounts:
    """ErrorCounts of one partition: an iterable of (hypothesis, reference) or
    (hypothesis, reference, speaker) tuples, or dicts with "hyp", "ref" and
    optionally "speaker"."""
    hyps, refs, spk = [], [], []
    have_spk = None
    for r in rows:
        if isinstance(r, dict):
            h, ref, s = r["hyp"], r["ref"], r.get("speaker")
        else:
            h, ref, s = (tuple(r) + (None,))[:3]
        hyps.append(h)
        refs.append(ref)
        spk.append(s)
        have_spk = (s is not None) if have_spk is None else have_spk
    return ErrorCounts.from_pairs(hyps, refs, unit=unit,
                                  speakers=spk if have_spk else None,
                                  confusions=confusions, n_threads=1)


def _add(parts):
    parts = list(parts)
    if not parts:
        return None
    total = parts[0]
    for p in parts[1:]:
        total = total + p
    return total


def evaluate(data: Any, *, unit: str = "word", confusions: bool = True,
             hyp_field: str = "hyp", ref_field: str = "ref",
             speaker_field: Optional[str] = None, split_every: int = 8) -> ErrorCounts:
    """Score a corpus held in a Dask bag or DataFrame; returns the ErrorCounts.

    ``data``: a ``dask.bag.Bag`` of (hypothesis, reference[, speaker]) tuples or of
    dicts with those fields, or a ``dask.dataframe.DataFrame`` with columns
    ``hyp_field``, ``ref_field`` (and ``speaker_field``).  Computed with the
    current scheduler (a ``distributed.Client`` if one is active).
    """
    if hasattr(data, "to_bag") and hasattr(data, "columns"):  # a DataFrame
        cols = [hyp_field, ref_field] + ([speaker_field] if speaker_field else [])
        missing = [c for c in cols if c not in data.columns]
        if missing:
            raise ValueError("Expected the DataFrame to have the columns %s, but %s missing "
                             "(it has %s)" % (cols, missing, list(data.columns)))
        data = data[cols].to_bag(index=False)
    elif not isinstance(data, db.Bag):
        raise TypeError("Expected a dask.bag.Bag or a dask.dataframe.DataFrame, but got %s"
                        % type(data).__name__)
    parts = data.map_partitions(lambda rows: [score_partition(rows, unit, confusions)])
    total = parts.reduction(_add, _add, split_every=split_every).compute()
    if total is None:
        return ErrorCounts(unit=unit)
    return total


def _column(packed):
    """A span column from gather_column(..., as_bytes=True)'s tuple (or None)."""
    from ._spans import SpanTexts

    if packed is None:
        return None
    data, encoding, starts, ends = packed
    return SpanTexts([(data.decode(encoding, "surrogatepass"), starts, ends)])


def _score_columns(hyp_col, ref_col, spk_col, unit, confusions) -> ErrorCounts:
    """ErrorCounts of packed span columns (on a worker)."""
    return ErrorCounts.from_pairs(_column(hyp_col), _column(ref_col), unit=unit,
                                  speakers=_column(spk_col), confusions=confusions,
                                  n_threads=1)


def _score_on_cluster(client, hyps, refs, speakers, units, slots) -> dict:
    """{unit: ErrorCounts} of the corpus scored on the cluster: one range of
    utterances per worker thread, its strings copied together into one buffer per
    column (bytes: no Python object per utterance, nothing to encode) and sent to
    one worker; one task adds the parts (their confusion counts stay arrays)."""
    from . import _edit
    from ._spans import SpanTexts

    cols = [x if x is None or isinstance(x, SpanTexts) else SpanTexts.of_strings(x)
            for x in (hyps, refs, speakers)]
    n = len(cols[0])
    bounds = [n * k // slots for k in range(slots + 1)]
    parts = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        if b > a:
            part = [None if c is None else _edit.gather_column(c.slice(a, b), as_bytes=True)
                    for c in cols]
            parts.append(client.scatter(part, hash=False, direct=True))
    out = {}
    for k, u in enumerate(units):
        done = [client.submit(_score_columns, *p, u, k == 0, pure=False) for p in parts]
        total = client.submit(_add, done, pure=False).result() if done else None
        out[u] = total if total is not None else ErrorCounts(unit=u)
    return out


def run_cli(args, usage_error) -> int:
    """``seqloss eval --scheduler ADDRESS``: read and normalise the inputs on this
    machine (any path fsspec opens), score them in partitions on the cluster, sum
    the counts there, print the same reports as a local run."""
    from . import _eval_cli
    import importlib.util
    if importlib.util.find_spec("distributed") is None:
        raise usage_error("--scheduler needs distributed: pip install 'seqloss[dask]'")
    if "alignments" in args.report or args.hyp2 is not None:
        raise usage_error("--scheduler does not support the alignments report or HYP2 yet")
    ids, refs, hyps, hyps2, speakers, dropped = _eval_cli._read(args, usage_error)
    refs, hyps, _ = _eval_cli._normalise(args, [refs, hyps, None], usage_error)
    # (imported only now: its background threads slow the reading threads down)
    from distributed import Client
    try:
        client = Client(args.scheduler, timeout="10s")
    except Exception as e:
        raise usage_error("cannot connect to the Dask scheduler at %s: %s"
                          % (args.scheduler, e)) from None
    try:
        workers = client.scheduler_info().get("workers", {})
        slots = max(1, sum(int(w.get("nthreads", 1)) for w in workers.values()))
        units = args.unit
        counts = _score_on_cluster(client, hyps, refs, speakers, units, slots)
    finally:
        client.close()
    primary = counts[units[0]]
    boot = (bootstrap_interval(primary.utterance_errors, primary.utterance_lengths,
                               args.bootstrap, args.seed) if args.bootstrap else None)
    report = Report(counts, ids, refs, hyps, primary.utterance_counts, bootstrap=boot,
                    speakers=speakers)
    return _eval_cli.output(report, args, dropped, usage_error)
