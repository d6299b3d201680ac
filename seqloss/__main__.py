"""Command line: ``seqloss COMMAND ...``, also ``python -m seqloss COMMAND ...``.

Each subcommand is one ``add_<name>(subparsers)`` function that builds its
parser and sets ``run`` to a function ``run(args) -> int``; adding a command is
that function plus one entry in ``SUBCOMMANDS``.  A run function reports a user
mistake by raising :class:`UsageError`; :func:`main` prints it as one
``PROG: error: ...`` line and returns 2, as argparse does for bad arguments.
"""
import argparse
import os
import sys

from ._version import __version__


class UsageError(Exception):
    """A mistake the user can fix (printed as one line, exit status 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse, but an error is one line (the usage is one ``--help`` away)."""

    def error(self, message):
        self.exit(2, "%s: error: %s; see '%s --help'\n" % (self.prog, message, self.prog))


def positive_int(text):
    """argparse type: an integer >= 1."""
    return _int_at_least(text, 1, "a positive integer")


def non_negative_int(text):
    """argparse type: an integer >= 0."""
    return _int_at_least(text, 0, "a non-negative integer")


def _int_at_least(text, low, what):
    try:
        value = int(text, 10)
    except ValueError:
        value = None
    if value is None or value < low:
        raise argparse.ArgumentTypeError("expected %s, but got %r" % (what, text))
    return value


def version_string():
    """``seqloss X.Y.Z (simd level, OpenMP on|off)``: the version and what this build runs."""
    from . import openmp_enabled, simd_level

    return "seqloss %s (%s, OpenMP %s)" % (__version__, simd_level(),
                                           "on" if openmp_enabled() else "off")


# --- demo -----------------------------------------------------------------------------------

def add_demo(subparsers):
    from .demo import BACKENDS

    p = subparsers.add_parser(
        "demo", help="train a small CTC sequence recogniser on a synthetic task",
        description="Train a small sequence recogniser with seqloss's CTC loss on a task "
                    "generated in code (no downloads), printing the loss, the greedy-decoded "
                    "accuracy, the label error rate and the time of the CTC loss step. With "
                    "torch it trains a convolutional model with seqloss.torch.CTCLoss and times "
                    "torch's own CTC loss on the same logits; without torch it trains a NumPy "
                    "model with seqloss.ctc_loss_and_grad.")
    p.add_argument("--steps", type=positive_int, default=300, metavar="N",
                   help="training steps (default: %(default)s)")
    p.add_argument("--batch", type=positive_int, default=32, metavar="N",
                   help="utterances per training batch (default: %(default)s)")
    p.add_argument("--log-every", type=positive_int, default=25, metavar="N",
                   help="print a row every N steps, and at the first and last (default: "
                        "%(default)s)")
    p.add_argument("--backend", choices=BACKENDS, default="auto",
                   help="torch, numpy, or auto: torch if it can be imported (default: "
                        "%(default)s)")
    p.add_argument("--seed", type=non_negative_int, default=0, metavar="N",
                   help="seed of the task and the model (default: %(default)s)")
    p.set_defaults(run=run_demo)
    return p


def run_demo(args):
    from . import demo

    try:
        demo.run(steps=args.steps, batch=args.batch, backend=args.backend, seed=args.seed,
                 log_every=args.log_every)
    except demo.BackendUnavailable as e:
        raise UsageError(str(e)) from e
    return 0


# --- eval -----------------------------------------------------------------------------------

REPORTS = ("summary", "speakers", "confusions", "alignments", "worst")


def _choices_list(allowed, what):
    """argparse type: a comma-separated list of ``allowed`` names."""
    def parse(text):
        items = [t.strip() for t in text.split(",") if t.strip()]
        bad = [t for t in items if t not in allowed]
        if not items or bad:
            raise argparse.ArgumentTypeError(
                "expected %s from %s (comma-separated), but got %r"
                % (what, ", ".join(allowed), text))
        return list(dict.fromkeys(items))
    return parse


def add_eval(subparsers):
    p = subparsers.add_parser(
        "eval", help="score hypotheses against references (WER/CER, sclite-style reports)",
        description="Score a corpus: REF and HYP transcript files (plain text line by line, "
                    "Kaldi 'utt-id text', sclite trn 'text (utt-id)', TSV with a header, "
                    "JSONL manifests; .gz read as gzip; one TSV/JSONL file may hold both "
                    "columns: give it alone). Prints the reports asked for; --json and "
                    "--per-utt write everything to files. A second hypothesis file HYP2 adds "
                    "its scores and, with --bootstrap, a paired bootstrap against HYP.")
    p.add_argument("ref", metavar="REF", help="reference transcripts")
    p.add_argument("hyp", metavar="HYP", nargs="?", help="hypothesis transcripts")
    p.add_argument("hyp2", metavar="HYP2", nargs="?", help="a second system's hypotheses")
    p.add_argument("--unit", type=_choices_list(("word", "char", "mixed"), "units"),
                   default=["word"], help="word (jiwer's tokens), char (jiwer's CER), mixed "
                   "(CJK characters as tokens, other scripts as words), or a comma list: "
                   "the first is the primary unit (default: word)")
    p.add_argument("--format", choices=("auto", "text", "kaldi", "trn", "tsv", "jsonl"),
                   default="auto", help="input format of every file (default: auto)")
    p.add_argument("--ref-field", metavar="F", help="reference field of TSV/JSONL input")
    p.add_argument("--hyp-field", metavar="F", help="hypothesis field of TSV/JSONL input")
    p.add_argument("--id-field", metavar="F", help="utterance id field of TSV/JSONL input")
    p.add_argument("--normalize", choices=("none", "basic", "whisper-en"), default="none",
                   help="text normalisation before scoring (default: none, jiwer's numbers)")
    p.add_argument("--lowercase", action="store_true", help="lowercase both sides")
    p.add_argument("--remove-punctuation", action="store_true",
                   help="remove Unicode punctuation (categories P*)")
    p.add_argument("--substitutions", metavar="FILE",
                   help="'from<TAB>to' lines (words; 're:' prefix for a regex) applied first")
    p.add_argument("--utt2spk", metavar="FILE", help="Kaldi utt2spk: speaker of each id")
    p.add_argument("--report", type=_choices_list(REPORTS, "reports"), default=["summary"],
                   help="reports to print: %s (default: summary)" % ",".join(REPORTS))
    p.add_argument("--top", type=positive_int, default=10, metavar="N",
                   help="entries of the confusion and worst-utterance reports (default: 10)")
    p.add_argument("--skip-correct", action="store_true",
                   help="alignments report: only the header of error-free utterances")
    p.add_argument("--width", type=positive_int, metavar="N",
                   help="wrap alignments at N columns (default: the terminal's)")
    p.add_argument("--per-utt", metavar="OUT", help="per-utterance records, .csv or .jsonl")
    p.add_argument("--json", metavar="OUT", help="every report as JSON")
    p.add_argument("--bootstrap", type=non_negative_int, default=0, metavar="N",
                   help="bootstrap replicates of the WER interval (default: 0, none)")
    p.add_argument("--seed", type=non_negative_int, default=0, metavar="S",
                   help="bootstrap seed (default: 0)")
    p.add_argument("--missing", choices=("error", "skip", "empty"), default="error",
                   help="an id on one side only: error (default), skip it, or score it "
                        "against an empty transcript")
    p.add_argument("--plot", metavar="OUT.png",
                   help="WER per speaker and by utterance length (needs matplotlib)")
    p.add_argument("--progress", dest="progress", action="store_true", default=None,
                   help="show a progress bar on stderr (default: on a terminal)")
    p.add_argument("--no-progress", dest="progress", action="store_false")
    p.add_argument("-j", "--jobs", type=positive_int, metavar="N",
                   help="threads (default: all cores)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="score on a Dask cluster (tcp://host:8786; needs seqloss[dask])")
    p.set_defaults(run=run_eval)
    return p


def run_eval(args):
    from . import _eval_cli

    return _eval_cli.run(args, UsageError)


# Each entry adds one subcommand (a ``decode`` command is one more function).
SUBCOMMANDS = [add_demo, add_eval]


def build_parser(prog="seqloss"):
    """The command-line parser; ``prog`` is how the user ran it (``python -m seqloss`` for -m)."""
    parser = _Parser(
        prog=prog,
        description="seqloss: fast CTC loss, edit distance / WER / CER and fused softmax "
                    "cross-entropy on the CPU. Run '%s COMMAND --help' for a command's "
                    "options." % prog)
    parser.add_argument("--version", action="version", version=version_string(),
                        help="print the version, SIMD level and OpenMP status, then exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                title="commands")
    for add in SUBCOMMANDS:
        sp = add(sub)
        sp.set_defaults(parser=sp)
    return parser


def main(argv=None, prog="seqloss"):
    """Run the command line on ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    parser = build_parser(prog)
    # exits 2 (one line) on a bad argument, 0 after --help or --version
    args, extra = parser.parse_known_args(argv)
    if extra:  # reported by the subcommand's parser, which names itself and its --help
        args.parser.error("unrecognized arguments: %s" % " ".join(extra))
    try:
        return args.run(args)
    except UsageError as e:  # one line, without the --help hint: the arguments parsed
        print("%s: error: %s" % (args.parser.prog, e), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("%s: interrupted" % prog, file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `seqloss demo | head`: stop quietly, as other tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush cannot fail
        return 141


if __name__ == "__main__":
    sys.exit(main(prog="python -m seqloss"))
