"""Score transcripts with NIST sclite (SCTK), when it is installed, for comparisons.

Debian and Ubuntu package it as ``sctk``: the command is ``sctk sclite ...``
(the binaries live in /usr/lib/sctk/bin); a source build installs a plain
``sclite``.  :func:`have_sclite` finds either.

What sclite does with "trn" input (checked against sclite 2.10 / SCTK 2.4.10
and its source), and what :func:`run_sclite` does about it:

* **Line format.**  ``word word ... (utt-id)``: the id is the text between the
  *last* ``(`` and the last ``)`` of the line.  A line whose transcript is
  empty is just ``(utt-id)``; it is scored (one sentence; with an empty
  reference every hypothesis word is an insertion and ``# Wrd`` is 0).
  Words are separated by any run of spaces or tabs.
* **Blank lines and comments.**  Blank lines are skipped, and so is every line
  that starts with ``;;`` (a comment), even one holding a transcript.
* **The last line needs its newline.**  sclite's reader tests ``feof`` right
  after ``fgets``, so a final line without ``\\n`` is silently dropped (from the
  hypothesis file: that utterance is not scored; from the reference file: the
  run fails with "Not enough Reference files loaded").
* **Which utterances are scored.**  The hypothesis file's ids decide:
  reference lines whose id is not among them are ignored without a word; a
  hypothesis id missing from the references, or an id that appears twice in
  the hypothesis file, ends the run with "Not enough Reference files loaded"
  (exit status 1).
* **Speakers: ``-i rm``** (``swb`` and ``spu_id`` are synonyms) says the id is
  ``<speaker><'-' or '_'><utterance>``: the speaker is the id up to its first
  ``-``, or up to its first ``_`` when it has no ``-`` (so ``spk_1-u9`` is
  speaker ``spk_1`` and ``a_b_c`` is speaker ``a``).  An id with neither is
  reported on stderr ("can't locate RM id") but the exit status is still 0,
  and it lands in a speaker with an empty name.  ``-i wsj`` / ``atis`` take
  characters 1-3 of the id instead.  The per-speaker tables (``-o sum`` ->
  ``.sys``, ``-o rsum`` -> ``.raw``) and ``.pra`` list speakers in the order
  they first appear in the hypothesis file, utterances in file order.
* **Case.**  By default sclite folds the whole line, ids included, to lower
  case (ASCII letters only: even with ``-e utf-8 generic`` "Ü" and "ü" differ), so
  ``Hello`` matches ``hello`` and the reports show ``spka`` for ``SpkA-u1``.
  ``-s`` makes the comparison case-sensitive and keeps ids as written.
  :func:`run_sclite` passes ``-s`` unless ``case_sensitive=False``.
* **Special tokens.**  ``(word)`` inside the text marks an optional word (its
  deletion still counts as an error unless ``-D``); ``@`` is a null word (not
  counted); ``{ a / b / @ }`` is an alternation.  :func:`run_sclite` refuses
  texts holding ``( ) { } @`` (and ids holding whitespace or parentheses), since
  scoring them would not be plain word error rate.
* **Alignment costs.**  sclite's DP minimises 3 * (deletions + insertions) +
  4 * substitutions (correct 0), not the plain Levenshtein distance.  Its
  error total S + D + I is therefore never below the Levenshtein distance and
  can exceed it: ref ``a b w1 w2 w3`` / hyp ``v1 v2 v3 a b`` is 3 D + 3 I
  (cost 18, 6 errors) for sclite, where Levenshtein's optimum is 5
  substitutions (cost 20 for sclite).  At equal error totals it prefers the
  alignment with more deletions and insertions (``a w1 w2`` / ``v1 v2 a``:
  3 S for both, but ``a b w1 w2`` / ``v1 v2 a b`` is 2 D + 2 I for sclite).
  Compare S + D + I with an edit distance only as "sclite >= Levenshtein".
* **Reports.**  ``.sys`` (``-o sum``) has only percentages rounded to 0.1;
  the counts are in ``.raw`` (``-o rsum``: per speaker and a ``Sum`` row, the
  same columns) and in ``.dtl`` (``-o dtl``: ``Percent Correct = 80.0% ( 12)``
  lines, the count in the parentheses, ``UNDEF%`` when there are no reference
  words).  ``-o pralign`` writes ``.pra`` with ``Scores: (#C #S #D #I)`` per
  utterance.  ``-O DIR -n NAME`` puts them at DIR/NAME.{raw,dtl,pra}; when
  DIR does not exist sclite prints the reports to stdout instead, exit status 0.
* **Cost.**  sclite's memory grows with the corpus, whatever the reports
  (``-o none`` too): about 50 KB per utterance of 20 words (a
  100,000-utterance corpus took 5 GB and 28 s), so keep a test's inputs small.
"""
import os
import re
import shutil
import subprocess

__all__ = ["have_sclite", "sclite_command", "run_sclite", "write_trn", "parse_dtl",
           "parse_raw", "parse_pra"]

_FORBIDDEN_TEXT = re.compile(r"[(){}@]")
_BAD_ID = re.compile(r"[\s()]")


def sclite_command():
    """The argv prefix that runs sclite (``["sctk", "sclite"]`` or ``["sclite"]``), or None."""
    if shutil.which("sctk") and os.path.exists("/usr/lib/sctk/bin/sclite"):
        return ["sctk", "sclite"]
    if shutil.which("sclite"):
        return ["sclite"]
    return None


def have_sclite():
    """True when sclite can be run (the Debian ``sctk`` package, or a plain ``sclite``)."""
    return sclite_command() is not None


def write_trn(path, texts):
    """Write ``{utt_id: text}`` as a trn file (sorted by id, one ``text (id)`` per line,
    every line newline-terminated: sclite drops a last line without one)."""
    with open(path, "w", encoding="utf-8") as f:
        for uid in sorted(texts):
            words = texts[uid].split()
            f.write("%s(%s)\n" % ("".join(w + " " for w in words), uid))


def _check_inputs(refs, hyps):
    missing = sorted(set(refs) - set(hyps))
    extra = sorted(set(hyps) - set(refs))
    if missing or extra:
        raise ValueError("refs and hyps must have the same ids; only in refs: %r, only in "
                         "hyps: %r" % (missing[:5], extra[:5]))
    for uid in refs:
        if not isinstance(uid, str) or not uid or _BAD_ID.search(uid):
            raise ValueError("Expected utterance ids without whitespace or parentheses, "
                             "but got %r" % (uid,))
        if "-" not in uid and "_" not in uid:
            raise ValueError("Expected utterance ids of the form SPEAKER-UTT or SPEAKER_UTT "
                             "(sclite's -i rm), but got %r" % uid)
        for name, text in (("refs", refs[uid]), ("hyps", hyps[uid])):
            if _FORBIDDEN_TEXT.search(text):
                raise ValueError("Expected %s[%r] without sclite markup ( ) { } @, but got %r"
                                 % (name, uid, text))
            if text.lstrip().startswith(";;"):
                raise ValueError("Expected %s[%r] not to start with ';;' (a comment to "
                                 "sclite), but got %r" % (name, uid, text))


_DTL_FIELDS = {"sentences": r"^ sentences\s+(\d+)\s*$",
               "correct": r"^Percent Correct\s*=.*\(\s*(\d+)\)",
               "substitutions": r"^Percent Substitution\s*=.*\(\s*(\d+)\)",
               "deletions": r"^Percent Deletions\s*=.*\(\s*(\d+)\)",
               "insertions": r"^Percent Insertions\s*=.*\(\s*(\d+)\)",
               "words": r"^Ref\. words\s*=.*\(\s*(\d+)\)"}


def parse_dtl(text):
    """Totals from a ``.dtl`` report: sentences, words (reference), correct,
    substitutions, deletions, insertions (the counts in parentheses)."""
    out = {}
    for key, pattern in _DTL_FIELDS.items():
        m = re.search(pattern, text, re.M)
        if m is None:
            raise ValueError("sclite .dtl report without a %r line" % key)
        out[key] = int(m.group(1))
    return out


_RAW_KEYS = ("sentences", "words", "correct", "substitutions", "deletions", "insertions",
             "errors", "sentence_errors")


def parse_raw(text):
    """``({speaker: counts}, sum_counts)`` from a ``.raw`` report (``-o rsum``): counts
    are sentences, words, correct, substitutions, deletions, insertions, errors,
    sentence_errors."""
    speakers, total = {}, None
    in_body = False
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("| SPKR"):
            in_body = True
            continue
        if not in_body or not s.startswith("|") or s.startswith("|-") or s.startswith("|="):
            continue
        cells = s.strip("|").split("|")
        if len(cells) != 3:
            continue
        name = cells[0].strip()
        nums = (cells[1] + " " + cells[2]).split()
        if name in ("Mean", "S.D.", "Median"):
            break
        counts = dict(zip(_RAW_KEYS, (int(v) for v in nums)))
        if name == "Sum":
            total = counts
        else:
            speakers[name] = counts
    if total is None:
        raise ValueError("sclite .raw report without a Sum row")
    return speakers, total


def parse_pra(text):
    """``{utt_id: {"correct", "substitutions", "deletions", "insertions"}}`` from a
    ``.pra`` report (``-o pralign``)."""
    out, uid = {}, None
    for line in text.splitlines():
        if line.startswith("id: ("):
            uid = line[len("id: ("):line.rindex(")")]
        elif line.startswith("Scores: (#C #S #D #I)") and uid is not None:
            c, s, d, i = (int(v) for v in line.split(")", 1)[1].split())
            out[uid] = {"correct": c, "substitutions": s, "deletions": d, "insertions": i}
            uid = None
    return out


def run_sclite(refs, hyps, tmpdir, *, case_sensitive=True, timeout=600):
    """Score ``{utt_id: text}`` hypotheses against references with sclite (``-i rm``).

    Ids must be ``SPEAKER-UTT`` (or ``SPEAKER_UTT``): the speaker is the part
    before the first ``-`` (see the module docstring).  Returns

        {"sentences", "words", "correct", "substitutions", "deletions", "insertions",
         "speakers": {speaker: same keys}, "utterances": {utt_id: {"correct", ...}}}

    where ``words`` counts reference words.  Files go to ``tmpdir``.
    """
    cmd = sclite_command()
    if cmd is None:
        raise RuntimeError("sclite is not installed (Debian/Ubuntu: apt-get install sctk)")
    _check_inputs(refs, hyps)
    tmpdir = str(tmpdir)
    ref_path = os.path.join(tmpdir, "ref.trn")
    hyp_path = os.path.join(tmpdir, "hyp.trn")
    write_trn(ref_path, refs)
    write_trn(hyp_path, hyps)
    argv = cmd + ["-r", ref_path, "trn", "-h", hyp_path, "trn", "-i", "rm",
                  "-o", "rsum", "dtl", "pralign", "-O", tmpdir, "-n", "sclite", "-f", "0"]
    if case_sensitive:
        argv.append("-s")
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    # sclite reports some input errors on stderr with exit status 0
    if proc.returncode != 0 or "Error" in proc.stderr:
        raise RuntimeError("sclite failed (exit status %d): %s"
                           % (proc.returncode, proc.stderr.strip()[-2000:]))

    def read(ext):
        with open(os.path.join(tmpdir, "sclite." + ext), encoding="utf-8") as f:
            return f.read()

    totals = parse_dtl(read("dtl"))
    speakers, raw_sum = parse_raw(read("raw"))
    for key in ("sentences", "words", "correct", "substitutions", "deletions", "insertions"):
        if raw_sum[key] != totals[key]:
            raise RuntimeError("sclite's .raw and .dtl disagree on %s: %d vs %d"
                               % (key, raw_sum[key], totals[key]))
    keys = ("sentences", "words", "correct", "substitutions", "deletions", "insertions")
    totals["speakers"] = {spk: {k: c[k] for k in keys} for spk, c in speakers.items()}
    totals["utterances"] = parse_pra(read("pra"))
    return totals
