"""``seqloss eval``: read, normalise, score, report (the command's run function).

Every user mistake becomes the caller's ``UsageError`` (one line, exit status 2):
a missing or unreadable file, an unknown field, a malformed line (with its
number), ids on one side only, an option that needs a missing extra.
"""
import json
import shutil
import sys

import numpy as np

from . import _validate as V


def _progress(args):
    if args.progress is None:
        try:
            return sys.stderr.isatty()
        except Exception:
            return False
    return args.progress


def _same_ids(a, b) -> bool:
    """Whether two id sequences (lists, SpanTexts or None = none) are equal; spans
    of the same texts compare as arrays."""
    from ._spans import SpanTexts

    if isinstance(a, SpanTexts) and isinstance(b, SpanTexts) and \
            len(a.column) == len(b.column) and all(
                x[0] is y[0] and np.array_equal(x[1], y[1]) and np.array_equal(x[2], y[2])
                for x, y in zip(a.column, b.column)):
        return True
    return list(a or []) == list(b or [])


def _read(args, usage_error):
    """(ids, refs, hyps, hyps2, speakers, dropped) from the files named on the line."""
    from . import _eval_io as io

    kw = dict(format=args.format)
    try:
        if args.hyp is None:  # one file with both columns
            ref, hyp = io.read_pair(args.ref, ref_field=args.ref_field, hyp_field=args.hyp_field,
                                    id_field=args.id_field, **kw)
            hyp2 = None
        else:
            # the files are read at once (reading and the in-place parser release the
            # GIL); a mistake is reported for the first file named that has one
            jobs = [(args.ref, args.ref_field, "ref"), (args.hyp, args.hyp_field, "hyp")]
            if args.hyp2 is not None:
                jobs.append((args.hyp2, args.hyp_field, "hyp"))

            def read(job):
                path, field, role = job
                return io.read_transcripts(path, text_field=field, id_field=args.id_field,
                                           role=role, **kw)
            nt = min(len(jobs), V.resolve_n_threads(args.jobs))
            if nt > 1:
                from concurrent.futures import ThreadPoolExecutor
                with ThreadPoolExecutor(nt) as ex:
                    futures = [ex.submit(read, job) for job in jobs]
                    done = [f.result() for f in futures]
            else:
                done = [read(job) for job in jobs]
            ref, hyp = done[0], done[1]
            hyp2 = done[2] if len(done) > 2 else None
        ids, refs, hyps, speakers, dropped = io.match(ref, hyp, missing=args.missing)
        hyps2 = None
        if hyp2 is not None:
            ids2, refs2, hyps2, _, _ = io.match(ref, hyp2, missing=args.missing)
            if not _same_ids(ids2, ids) or len(hyps2) != len(hyps):
                raise usage_error("HYP2 does not cover the same utterances as HYP (%d vs %d "
                                  "after matching ids)" % (len(hyps2), len(hyps)))
        if args.utt2spk:
            if ids is None:
                raise usage_error("--utt2spk needs utterance ids, but %s is plain text"
                                  % args.ref)
            spk = io.read_utt2spk(args.utt2spk)
            unknown = [i for i in ids if i not in spk]
            if unknown:
                raise usage_error("%d utterance id(s) are not in %s, e.g. %s"
                                  % (len(unknown), args.utt2spk, ", ".join(unknown[:5])))
            speakers = [spk[i] for i in ids]
    except io.InputError as e:
        raise usage_error(str(e)) from None
    return ids, refs, hyps, hyps2, speakers, dropped


def _normalise(args, texts_lists, usage_error):
    from . import _normalize

    if args.normalize == "none" and not (args.lowercase or args.remove_punctuation or
                                         args.substitutions):
        return texts_lists
    try:
        f = _normalize.make_normalizer(mode=args.normalize, lowercase=args.lowercase,
                                       remove_punctuation=args.remove_punctuation,
                                       substitutions=args.substitutions)
    except ValueError as e:
        raise usage_error(str(e)) from None
    return [None if t is None else f(t) for t in texts_lists]


_CSV_ROWS = 1 << 16      # rows formatted per C++ call


def _column(x):
    """A Report column as SpanTexts (None stays None)."""
    from ._spans import SpanTexts

    if x is None or isinstance(x, SpanTexts):
        return x
    return SpanTexts.of_strings(x)


def write_csv(f, report, n_threads=None):
    """The per-utterance CSV (UTF-8 bytes to the binary file ``f``), formatted in
    C++ in chunks of rows (RFC 4180 quoting as Python's csv module; ids are row
    numbers when the input had none)."""
    from . import _edit

    u = np.ascontiguousarray(report.utterance, dtype=np.int64)
    ids, spk = _column(report.ids), _column(report.utterance_speakers)
    refs, hyps = _column(report.references), _column(report.hypotheses)
    f.write((",".join(report.PER_UTTERANCE_FIELDS) + "\n").encode("ascii"))

    def chunk(i0):
        i1 = min(u.shape[0], i0 + _CSV_ROWS)
        return _edit.csv_chunk(None if ids is None else ids.slice(i0, i1),
                               None if spk is None else spk.slice(i0, i1),
                               refs.slice(i0, i1), hyps.slice(i0, i1), u[i0:i1], i0)
    starts = list(range(0, u.shape[0], _CSV_ROWS))
    nt = min(V.resolve_n_threads(n_threads), len(starts))
    if nt <= 1:
        for i0 in starts:
            f.write(chunk(i0))
        return
    # chunks formatted on nt threads (the C++ formatter releases the GIL), written
    # in order, at most 2 * nt chunks held at once
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(nt) as ex:
        pending = deque()
        for i0 in starts:
            pending.append(ex.submit(chunk, i0))
            if len(pending) >= 2 * nt:
                f.write(pending.popleft().result())
        while pending:
            f.write(pending.popleft().result())


def _write_per_utt(report, path, usage_error, n_threads=None):
    try:
        if path.endswith(".jsonl"):
            header, rows = report.per_utterance_rows()
            with open(path, "w", encoding="utf-8", newline="") as f:
                enc = json.JSONEncoder(ensure_ascii=False).encode
                f.writelines(enc(dict(zip(header, r))) + "\n" for r in rows)
        else:
            with open(path, "wb") as f:
                write_csv(f, report, n_threads)
    except OSError as e:
        raise usage_error("cannot write %s: %s" % (path, e.strerror or e)) from None


def _plot(report, path, usage_error):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise usage_error("--plot needs matplotlib: pip install matplotlib") from None
    sp = report.speakers()
    u = report.utterance
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    ax = axes[0]
    if sp:
        names = list(sp["speakers"])
        vals = [sp["speakers"][n]["errors"] for n in names]
        order = np.argsort(vals)
        ax.bar(range(len(names)), np.asarray(vals)[order], color="#4c72b0")
        ax.axhline(100 * report.primary.error_rate, color="k", lw=1, ls="--",
                   label="corpus %.2f%%" % (100 * report.primary.error_rate))
        ax.set_xlabel("speakers (sorted)")
        ax.legend()
    else:
        ax.text(0.5, 0.5, "no speakers known", ha="center", va="center")
    ax.set_ylabel("error rate (%)")
    ax.set_title("Error rate per speaker")
    ax = axes[1]
    if u.shape[0]:
        n_ref = u[:, 5]
        err = u[:, 1] + u[:, 2] + u[:, 3]
        edges = np.unique(np.quantile(n_ref, np.linspace(0, 1, 11)).astype(np.int64))
        if edges.shape[0] < 2:
            edges = np.array([n_ref.min(), n_ref.max() + 1])
        idx = np.clip(np.searchsorted(edges, n_ref, side="right") - 1, 0, edges.shape[0] - 2)
        e = np.bincount(idx, err, minlength=edges.shape[0] - 1)
        n = np.bincount(idx, n_ref, minlength=edges.shape[0] - 1)
        rate = np.divide(100 * e, n, out=np.zeros_like(e), where=n > 0)
        ax.bar(range(rate.shape[0]), rate, color="#dd8452")
        ax.set_xticks(range(rate.shape[0]))
        ax.set_xticklabels(["%d-%d" % (edges[i], edges[i + 1]) for i in range(rate.shape[0])],
                           rotation=45, fontsize=8)
    ax.set_xlabel("reference length (tokens)")
    ax.set_title("Error rate by utterance length")
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=100)
    except OSError as e:
        raise usage_error("cannot write %s: %s" % (path, e.strerror or e)) from None
    plt.close(fig)


def run(args, usage_error):
    from . import corpus_eval as E

    if args.scheduler:
        try:
            from . import dask as sd
        except ImportError as e:
            raise usage_error("--scheduler needs Dask: pip install 'seqloss[dask]' (%s)"
                              % e) from None
        return sd.run_cli(args, usage_error)
    if args.hyp2 is not None and args.hyp is None:
        raise usage_error("HYP2 needs HYP")
    ids, refs, hyps, hyps2, speakers, dropped = _read(args, usage_error)
    refs, hyps, hyps2 = _normalise(args, [refs, hyps, hyps2], usage_error)
    reports = args.report
    progress = _progress(args)
    try:
        report = E.evaluate(hyps, refs, ids=ids, speakers=speakers, unit=args.unit,
                            hypotheses_b=hyps2,
                            confusions="confusions" in reports or args.json is not None,
                            alignments="alignments" in reports,
                            bootstrap=args.bootstrap, seed=args.seed, n_threads=args.jobs,
                            progress=progress)
    except MemoryError as e:
        raise usage_error(str(e)) from None
    return output(report, args, dropped, usage_error)


def output(report, args, dropped, usage_error):
    """Print the reports asked for and write the output files (local and Dask runs)."""
    reports = args.report
    if dropped:
        report.extra["skipped_ids"] = dropped
    width = args.width or shutil.get_terminal_size((100, 24)).columns
    sys.stdout.write(report.to_text(reports, top=args.top, width=width,
                                    skip_correct=args.skip_correct))
    if args.json:
        try:
            with open(args.json, "w", encoding="utf-8") as f:
                json.dump(report.to_dict(top=args.top,
                                         alignments="alignments" in reports), f,
                          ensure_ascii=False)
                f.write("\n")
        except OSError as e:
            raise usage_error("cannot write %s: %s" % (args.json, e.strerror or e)) from None
    if args.per_utt:
        _write_per_utt(report, args.per_utt, usage_error, args.jobs)
    if args.plot:
        _plot(report, args.plot, usage_error)
    return 0
