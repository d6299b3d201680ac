"""Reading reference and hypothesis transcripts for ``seqloss eval``.

Every mistake in a user's file is an :class:`InputError` (a ``ValueError``)
whose message is one line, ``FILE, line N: what is wrong`` (or ``FILE: ...``
when no single line is at fault), so the command line can print it as it is.

Formats (``FORMATS``)
=====================

``text``
    One transcript per line, matched to the other file by line number. An empty
    line is an empty transcript (never dropped); a newline at the very end of the
    file does not start another transcript. ``\\n``, ``\\r\\n`` and ``\\r`` all end a
    line.
``kaldi``
    ``utt-id text...`` (Kaldi's ``data/*/text``): the id is the first
    whitespace-separated field, the transcript the rest of the line (tabs read as
    spaces: Kaldi reads words). A line with only an id is an empty transcript;
    blank lines carry no id and are skipped (Kaldi's own readers skip them too).
``trn``
    sclite's transcript format, ``text (utt-id)``: the id is inside the last
    parentheses, which must end the line; the text is what comes before them, less
    one separating space. Blank lines and sclite comment lines (starting with
    ``;;``) are skipped. sclite's alternations (``{ a / b }``) and optionally
    deletable words (``(uh)``) are not interpreted: they stay text.
``tsv``
    A header line naming the columns, then one row per utterance, tab-separated,
    quoted as Python's ``csv`` module does with ``delimiter='\\t'`` (a field may be
    ``"quoted"``, holding tabs, newlines and ``""`` for a quote). Blank lines are
    skipped, except in a single-column file, where they are empty transcripts.
``jsonl``
    One JSON object per line (JSON Lines; NeMo manifests); blank lines skipped.
    The fields are those of the first object; a file without objects has no
    transcripts.

A name ending in ``.gz`` is read through gzip, whatever the format. Text is
decoded as ``encoding`` (UTF-8 by default; a leading byte-order mark is
dropped).

Fields of ``tsv`` and ``jsonl``
-------------------------------
The id field defaults to the first present of ``ID_FIELDS`` (``id``, then
NeMo's ``audio_filepath``); with none present the file is matched by line
number, like ``text``. The transcript field defaults by role:
``REF_FIELDS`` (``ref``, ``text``) for a reference, ``HYP_FIELDS`` (``hyp``,
NeMo's ``pred_text``, then ``text``) for a hypothesis; without a role, exactly
one of ``text``/``ref``/``hyp``/``pred_text`` must be present. :func:`read_pair`
reads both columns of one file (``ref``/``text`` and ``hyp``/``pred_text``).

Format detection (``format="auto"``)
------------------------------------
1. By name, after dropping ``.gz``: ``.trn`` -> trn, ``.tsv`` -> tsv,
   ``.jsonl``/``.json``/``.ndjson`` -> jsonl, ``.ark`` (a Kaldi text archive) and
   a file named exactly ``text`` (Kaldi's data-directory name) -> kaldi.
2. Otherwise by content. trn when every non-blank line ends in ``(ID)`` (ID
   without spaces or parentheses) and those ids are all different -- this also
   applies to ``.txt``/``.text`` files, where a line-aligned reading would score
   the ids as words. For other extensions (not ``.txt``/``.text``) also: jsonl
   when the first non-blank line is a JSON object, tsv when the first line has a
   tab and names one of the known id or text fields.
3. Otherwise ``text``. Content is never taken as Kaldi's ``utt-id text``: a
   plain sentence cannot be told from an id followed by words. When the first
   lines look like that (every one starts with a distinct token holding a digit)
   the result carries a ``warning`` for the caller to show, and :func:`match`
   refuses to pair such a file by line number with a file whose ids are those
   first tokens.

Speakers
--------
For ``trn`` and ``kaldi`` ids, sclite's rule for its ``-i rm|swb|spu_id`` id
types (SCTK ``extract_speaker``): the speaker is the part of the id before its
first ``-``; an id without ``-`` is cut at its first ``_``. ``Transcripts.speakers``
is that list when every id has a non-empty speaker this way, else None (no
partial lists). A Kaldi ``utt2spk`` file (:func:`read_utt2spk`,
:func:`speakers_from_utt2spk`) gives exact speakers instead.

Matching (:func:`match`)
------------------------
Two line-aligned files pair by line number and must have as many lines. Files
with ids pair by id, in the reference's order; ids on one side only are an error
(``missing="error"``), dropped (``"skip"``) or scored against an empty
transcript (``"empty"``, Kaldi ``compute-wer --mode=all``; hypothesis-only ids
come after the reference's, in the hypothesis's order, as insertions -- Kaldi
ignores those). An id file and a line-aligned file pair by line number when
their line counts agree, taking the ids (and speakers) from the id file.
Ids are compared exactly (sclite folds case by default; Kaldi does not).

Speed
-----
``text``, ``kaldi`` and ``trn`` files are read in place (``in_place=True``, the
default): decoded, then parsed by C++ into spans of the decoded text
(about 0.2 s for a million lines of 20 words, no Python string per line). The
general reader, also used for TSV and JSONL, runs a handful of C-level passes over
all lines: a million lines take about 0.3 s as text, 1-1.4 s as kaldi or trn, about
1.5 s as TSV (3-4 s when fields are quoted: Python's csv module) and about 3 s as
JSON Lines (json.loads); gzip adds about 0.7 s.
"""
from __future__ import annotations

import codecs
import csv
import gzip
import json
import os
from itertools import islice, repeat
from operator import itemgetter
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

__all__ = [
    "InputError", "Transcripts", "Matched", "FORMATS", "MISSING_MODES", "ID_FIELDS",
    "REF_FIELDS", "HYP_FIELDS", "read_transcripts", "read_pair", "match", "read_utt2spk",
    "speakers_from_utt2spk", "sclite_speaker", "read_text_file", "split_lines",
    "detect_format",
]

FORMATS = ("text", "kaldi", "trn", "tsv", "jsonl")
MISSING_MODES = ("error", "skip", "empty")
ID_FIELDS = ("id", "audio_filepath")
REF_FIELDS = ("ref", "text")
HYP_FIELDS = ("hyp", "pred_text", "text")
_PAIR_HYP_FIELDS = ("hyp", "pred_text")
_ANY_TEXT_FIELDS = ("text", "ref", "hyp", "pred_text")
_ROLES = (None, "ref", "hyp")
_SNIFF_LINES = 1000     # lines looked at for the "looks like Kaldi" warning
_SHOW_IDS = 5           # ids named in a message about many
_CHUNK = 4096           # TSV rows / JSON lines parsed per call


class InputError(ValueError):
    """A mistake in an input file or a reading option; the message is one line."""


_FROM_IDS = object()    # Transcripts(speakers=_FROM_IDS): sclite's rule, on first use


class Transcripts:
    """The transcripts of one file, in file order.

    ``ids`` is None for line-aligned input (``text``, or ``tsv``/``jsonl``
    without an id field); ``speakers`` is None unless every id gives one (see the
    module docstring; derived on first use); ``warning`` is a one-line note for the
    user, or None.
    """

    __slots__ = ("path", "format", "texts", "ids", "warning", "_speakers", "records")

    def __init__(self, path: str, format: str, texts: List[str],
                 ids: Optional[List[str]] = None, speakers=None,
                 warning: Optional[str] = None, records=None):
        self.path = path
        self.format = format
        self.texts = texts
        self.ids = ids
        self._speakers = speakers
        self.warning = warning
        self.records = records      # read in place: (RecordFile, its arrays); texts/ids SpanTexts

    @property
    def speakers(self) -> Optional[List[str]]:
        if self._speakers is _FROM_IDS:
            if self.records is not None:
                self._speakers = _span_speakers(self, np.arange(len(self.texts))) \
                    if self.ids is not None else None
            else:
                self._speakers = _speakers(self.ids)
        return self._speakers

    def materialise(self) -> "Transcripts":
        """This file with its texts and ids as lists (read in place -> the general form)."""
        if self.records is None:
            return self
        ids = None if self.ids is None else list(self.ids)
        sp = self.speakers
        return Transcripts(self.path, self.format, list(self.texts), ids=ids,
                           speakers=None if sp is None else list(sp), warning=self.warning)

    @speakers.setter
    def speakers(self, value: Optional[List[str]]) -> None:
        self._speakers = value

    def __len__(self) -> int:
        return len(self.texts)

    def __repr__(self) -> str:
        return "Transcripts(%r, format=%r, %d transcripts%s)" % (
            self.path, self.format, len(self.texts), "" if self.ids is None else ", with ids")


class Matched:
    """Reference and hypothesis transcripts paired for scoring; unpacks as
    ``ids, ref_texts, hyp_texts, speakers, dropped = match(ref, hyp)``.

    ``ids``/``speakers`` are None when the inputs had none (speakers are worked out
    on first use). ``only_ref`` and ``only_hyp`` list the ids present on one side
    only: dropped with ``missing="skip"`` (``dropped`` counts them, else it is 0),
    scored against an empty transcript with ``"empty"``, none with ``"error"``.
    """

    __slots__ = ("ids", "ref_texts", "hyp_texts", "only_ref", "only_hyp", "dropped",
                 "_speakers")

    def __init__(self, ids, ref_texts, hyp_texts, speakers, only_ref=(), only_hyp=(),
                 dropped=0):
        self.ids = ids
        self.ref_texts = ref_texts
        self.hyp_texts = hyp_texts
        self._speakers = speakers       # a list, None, or a function giving either
        self.only_ref = list(only_ref)
        self.only_hyp = list(only_hyp)
        self.dropped = dropped

    @property
    def speakers(self) -> Optional[List[str]]:
        if callable(self._speakers):
            self._speakers = self._speakers()
        return self._speakers

    def __iter__(self):
        return iter((self.ids, self.ref_texts, self.hyp_texts, self.speakers, self.dropped))


# --------------------------------------------------------------------------- files


def read_text_file(path, encoding: str = "utf-8") -> str:
    """The whole file as a str: gunzipped if the name ends in ``.gz``, decoded as
    ``encoding`` with a leading byte-order mark dropped."""
    name = os.fspath(path)
    if os.path.isdir(name):
        raise InputError("%s: is a directory, not a transcript file" % name)
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise InputError("unknown text encoding %r" % (encoding,)) from None
    try:
        if name.lower().endswith(".gz"):
            with gzip.open(name, "rb") as f:
                data = f.read()
        else:
            with open(name, "rb") as f:
                data = f.read()
    except FileNotFoundError:
        raise InputError("%s: no such file" % name) from None
    except PermissionError:
        raise InputError("%s: permission denied" % name) from None
    except (OSError, EOFError) as e:        # gzip.BadGzipFile is an OSError
        raise InputError("%s: cannot read: %s" % (name, e)) from None
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as e:
        sep = b"\n" if b"\n" in data else b"\r"
        line = data.count(sep, 0, e.start) + 1
        hint = (" (it looks gzip-compressed: name it *.gz)" if data[:2] == b"\x1f\x8b"
                else " (give the file's encoding)")
        raise InputError("%s, line %d: byte 0x%02x is not valid %s%s"
                         % (name, line, data[e.start], encoding, hint)) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    return text


def split_lines(text: str) -> List[str]:
    """Lines ended by ``\\n``, ``\\r\\n`` or ``\\r`` (only those: a form feed or
    U+2028 inside a line stays there); a final line ending adds no line."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def _name(path) -> str:
    return os.fspath(path)


def _stem_and_ext(path) -> Tuple[str, str]:
    """(base name, extension), both lower-case, after dropping a ``.gz``."""
    base = os.path.basename(_name(path)).lower()
    if base.endswith(".gz"):
        base = base[:-3]
    return base, os.path.splitext(base)[1]


def _list_ids(ids: Sequence[str]) -> str:
    shown = ", ".join(repr(i) for i in ids[:_SHOW_IDS])
    return shown + (", ..." if len(ids) > _SHOW_IDS else "")


# ------------------------------------------------------------------ format parsers
#
# Parsers run a few list comprehensions over all lines rather than one loop with
# several calls per line (faster by a third to a half), and keep no per-line
# containers alive: a million live lists or dicts make the cyclic garbage
# collector rescan them (TSV and JSONL reading took twice as long).


def _clip(line: str, width: int = 60) -> str:
    return line if len(line) <= width else line[:width] + "..."


def _blank_or_comment(line: str, comments: bool) -> bool:
    return not line or line.isspace() or (comments and line.startswith(";;"))


def _kept_lines(lines: List[str], comments: bool) -> Tuple[List[str], Optional[List[int]]]:
    """(lines that are not blank (nor ``;;`` comments), their line numbers or None
    when every line was kept)."""
    if (all(lines) and not any(map(str.isspace, lines))
            and not (comments and any(map(str.startswith, lines, repeat(";;"))))):
        return lines, None
    numbers = [n for n, line in enumerate(lines, 1) if not _blank_or_comment(line, comments)]
    return [lines[n - 1] for n in numbers], numbers


def _line_of(numbers: Optional[List[int]], i: int, offset: int = 1) -> int:
    return numbers[i] if numbers is not None else i + offset


def _trn_split(line: str) -> Optional[Tuple[str, str]]:
    """(text, id) of an sclite ``text (id)`` line, or None if it does not end in ``(id)``."""
    s = line.rstrip()
    if not s.endswith(")"):
        return None
    left = s.rfind("(")
    if left < 0:
        return None
    return s[:left].rstrip(), s[left + 1:-1].strip()


def _trn_fields(lines: List[str]):
    """(ids, texts, line numbers or None) of trn lines, or (None, None, index of the
    first line that does not end in ``(id)``)."""
    lines, numbers = _kept_lines(lines, comments=True)
    lines = [line.rstrip() for line in lines]
    lefts = [line.rfind("(") for line in lines]
    if (lines and min(lefts) < 0) or [line[-1:] for line in lines].count(")") != len(lines):
        i = next(i for i, line in enumerate(lines) if _trn_split(line) is None)
        return None, None, _line_of(numbers, i)
    ids = [line[left + 1:-1].strip() for line, left in zip(lines, lefts)]
    # The text ends before the space that separates it from "(id)" (one copy, not two).
    texts = [line[:left - 1] if line[left - 1:left] == " " else line[:left]
             for line, left in zip(lines, lefts)]
    return ids, texts, numbers


def _parse_trn(name: str, lines: List[str]):
    ids, texts, numbers = _trn_fields(lines)
    if ids is None:
        raise InputError("%s, line %d: expected 'text (utterance-id)' (sclite trn), got %r"
                         % (name, numbers, _clip(lines[numbers - 1])))
    if "" in ids:
        raise InputError("%s, line %d: empty utterance id '()'"
                         % (name, _line_of(numbers, ids.index(""))))
    return ids, texts, numbers


def _parse_kaldi(name: str, lines: List[str], tabs: bool):
    """Kaldi reads a transcript as whitespace-separated words, so tabs become spaces
    (``tabs``: the file has some) and the ends of lines are stripped."""
    if tabs:
        lines = [line.replace("\t", " ") for line in lines]
    lines, numbers = _kept_lines(lines, comments=False)
    lines = [line.strip() for line in lines]
    cuts = [line.find(" ") for line in lines]
    ids = [line[:cut] if cut >= 0 else line for line, cut in zip(lines, cuts)]
    texts = [line[cut + 1:].lstrip() if cut >= 0 else "" for line, cut in zip(lines, cuts)]
    return ids, texts, numbers


class _Table:
    """A ``tsv`` or ``jsonl`` file: its field names (the TSV header, or the keys of
    the first JSON object) and ``columns(fields)``, the values of those fields in
    every record (str, or for JSON any value and None where absent)."""

    def __init__(self, name: str, fmt: str, fields: List[str]):
        self.name = name
        self.format = fmt
        self.fields = fields

    def describe_fields(self) -> str:
        return ", ".join(repr(f) for f in self.fields) if self.fields else "none"

    def columns(self, fields: Sequence[str]) -> List[list]:
        raise NotImplementedError

    def lineno(self, i: int) -> int:
        """Line number of record ``i``."""
        raise NotImplementedError


class _TsvTable(_Table):
    def __init__(self, name: str, text: str, lines: List[str]):
        if not lines or not lines[0].strip():
            raise InputError("%s: %s, expected a header line naming the columns"
                             % (name, "empty first line" if lines else "empty file"))
        # A field is quoted only if it starts with '"'; elsewhere '"' is a character.
        # (Searching for one character is ten times faster than for two.)
        quoted = '"' in text and (text.startswith('"') or '\t"' in text or '\n"' in text
                                  or '\r"' in text)
        if quoted:
            header, cols, numbers = self._csv(name, lines)
        else:
            header, cols, numbers = self._split(name, lines)
        super().__init__(name, "tsv", header)
        self._index = {}
        for i, field in enumerate(header):
            self._index.setdefault(field, i)
        self._cols = cols
        self._numbers = numbers

    @staticmethod
    def _split(name: str, lines: List[str]):
        header = lines[0].split("\t")
        width = len(header)
        body = lines[1:]
        numbers = None
        if width > 1 and not all(body):
            numbers = [n for n, line in enumerate(body, 2) if line]
            body = [lines[n - 1] for n in numbers]
        tabs = [line.count("\t") for line in body]
        if tabs.count(width - 1) != len(tabs):
            i = next(i for i, t in enumerate(tabs) if t != width - 1)
            raise InputError("%s, line %d: %d tab-separated fields, but the header has %d"
                             % (name, _line_of(numbers, i, 2), tabs[i] + 1, width))
        flat = "\t".join(body).split("\t") if body else []
        return header, [flat[j::width] for j in range(width)], numbers

    @staticmethod
    def _csv(name: str, lines: List[str]):
        # csv reads a list of lines faster than a file; it needs their line ends to
        # keep a newline inside a quoted field (as "\n", whatever the file used).
        lines = [line + "\n" for line in lines]
        reader = csv.reader(lines, delimiter="\t")
        try:
            header = next(reader)
            width = len(header)
            cols: List[list] = [[] for _ in header]
            while True:
                rows = list(islice(reader, _CHUNK))
                if not rows:
                    break
                if set(map(len, rows)) != {width}:
                    rows = _TsvTable._fix_rows(name, lines, rows, width, len(cols[0]))
                for j, col in enumerate(cols):
                    col.extend(map(itemgetter(j), rows))
        except csv.Error as e:
            raise InputError("%s, line %d: %s" % (name, reader.line_num, e)) from None
        return header, cols, _csv_lines(lines, width)

    @staticmethod
    def _fix_rows(name, lines, rows, width, done):
        """``rows`` without blank lines (empty transcripts in a one-column file);
        a row of the wrong width is an error."""
        rows = [row if row else [""] for row in rows] if width == 1 else [r for r in rows if r]
        bad = next((i for i, row in enumerate(rows) if len(row) != width), None)
        if bad is not None:
            raise InputError("%s, line %d: %d tab-separated fields, but the header has %d"
                             % (name, _csv_lines(lines, width)(done + bad), len(rows[bad]),
                                width))
        return rows

    def columns(self, fields):
        return [self._cols[self._index[f]] for f in fields]

    def lineno(self, i):
        numbers = self._numbers
        return numbers(i) if callable(numbers) else _line_of(numbers, i, 2)


def _csv_lines(lines: List[str], width: int):
    """A function from row index to the line a quoted TSV row starts on (found by
    reading the lines again: only error messages need it)."""
    def lineno(i):
        reader = csv.reader(lines, delimiter="\t")
        next(reader)
        start = reader.line_num + 1
        row_index = -1
        for row in reader:
            if row or width == 1:
                row_index += 1
                if row_index == i:
                    return start
            start = reader.line_num + 1
        raise IndexError(i)
    return lineno


class _JsonlTable(_Table):

    def __init__(self, name: str, lines: List[str]):
        super().__init__(name, "jsonl", [])
        self._lines, self._numbers = _kept_lines(lines, comments=False)
        if self._lines:
            self.fields = list(self._record(0))

    def _record(self, i: int) -> dict:
        try:
            rec = json.loads(self._lines[i])
        except (ValueError, RecursionError) as e:
            raise InputError("%s, line %d: not valid JSON (%s)"
                             % (self.name, self.lineno(i), getattr(e, "msg", None) or e)
                             ) from None
        if type(rec) is not dict:
            raise InputError("%s, line %d: a JSON %s, expected one JSON object per line "
                             "(JSON Lines)" % (self.name, self.lineno(i), _json_kind(rec)))
        return rec

    def columns(self, fields):
        cols: List[list] = [[] for _ in fields]
        lines = self._lines
        for start in range(0, len(lines), _CHUNK):
            part = lines[start:start + _CHUNK]
            try:        # one parse per chunk; line by line only to find a fault
                records = json.loads("[" + ",".join(part) + "]")
            except (ValueError, RecursionError):
                records = None
            if (records is None or len(records) != len(part)
                    or set(map(type, records)) != {dict}):
                records = [self._record(start + i) for i in range(len(part))]
            for col, field in zip(cols, fields):
                try:
                    col.extend(map(itemgetter(field), records))
                except KeyError:        # the checks name the record without it
                    del col[start:]
                    col.extend([r.get(field) for r in records])
        return cols

    def lineno(self, i):
        return _line_of(self._numbers, i)


def _json_kind(value) -> str:
    return {bool: "boolean", int: "number", float: "number", list: "array", dict: "object",
            str: "string", type(None): "null"}.get(type(value), type(value).__name__)


def _open_table(name: str, fmt: str, text: str, lines: List[str]) -> _Table:
    return _TsvTable(name, text, lines) if fmt == "tsv" else _JsonlTable(name, lines)


def _pick(table: _Table, given: Optional[str], candidates: Sequence[str], what: str,
          required: bool = True) -> Optional[str]:
    """The field to read: ``given`` (which must exist), else the first present candidate."""
    if given is not None:
        if given not in table.fields:
            raise InputError("%s: no %s field %r; the fields are %s"
                             % (table.name, what, given, table.describe_fields()))
        return given
    for field in candidates:
        if field in table.fields:
            return field
    if required:
        raise InputError("%s: no %s field (looked for %s); the fields are %s"
                         % (table.name, what, " or ".join(repr(c) for c in candidates),
                            table.describe_fields()))
    return None


def _check_texts(table: _Table, field: str, values: list) -> List[str]:
    if table.format == "jsonl" and values and set(map(type, values)) != {str}:
        i = next(i for i, v in enumerate(values) if type(v) is not str)
        if values[i] is None:
            raise InputError("%s, line %d: field %r is missing or null"
                             % (table.name, table.lineno(i), field))
        raise InputError("%s, line %d: field %r is a JSON %s, expected a string"
                         % (table.name, table.lineno(i), field, _json_kind(values[i])))
    return values


def _check_ids(table: _Table, field: str, values: list) -> List[str]:
    if table.format == "jsonl" and values and set(map(type, values)) != {str}:
        out = []
        for i, v in enumerate(values):
            if type(v) is int:
                v = str(v)
            elif type(v) is not str:
                what = "missing or null" if v is None else "a JSON %s" % _json_kind(v)
                raise InputError("%s, line %d: id field %r is %s, expected a string or integer"
                                 % (table.name, table.lineno(i), field, what))
            out.append(v)
        values = out
    if "" in values:
        raise InputError("%s, line %d: empty id in field %r"
                         % (table.name, table.lineno(values.index("")), field))
    return values


# ------------------------------------------------------------------ detection


def _looks_like_id(token: str) -> bool:
    return any(c.isdigit() for c in token)


def _kaldi_warning(name: str, lines: List[str]) -> Optional[str]:
    sample = lines[:_SNIFF_LINES]
    if len(sample) < 2:
        return None
    firsts = []
    for line in sample:
        parts = line.split(None, 1)
        if not parts or not _looks_like_id(parts[0]):
            return None
        firsts.append(parts[0])
    if len(set(firsts)) != len(firsts):
        return None
    return ("%s: read as plain text (one transcript per line), but every line starts with "
            "an id-like token such as %r; if those are Kaldi utterance ids, give the format "
            "kaldi" % (name, firsts[0]))


def _trn_ids(lines: List[str]) -> Optional[tuple]:
    """The ``_trn_fields`` of ``lines`` if every non-blank line ends in ``(ID)`` with
    distinct IDs free of spaces and parentheses, else None."""
    first = next((line for line in lines if not _blank_or_comment(line, True)), None)
    parts = None if first is None else _trn_split(first)
    if parts is None or not parts[1]:       # the usual case, decided on one line
        return None
    fields = _trn_fields(lines)
    ids = fields[0]
    if ids is None or "" in ids or len(set(ids)) != len(ids):
        return None
    joined = "".join(ids)
    if "(" in joined or ")" in joined or len(joined.split(None, 1)) != 1:
        return None
    return fields


def _is_jsonl(lines: List[str]) -> bool:
    first = next((line for line in lines if line and not line.isspace()), None)
    if first is None or not first.lstrip().startswith("{"):
        return False
    try:
        return type(json.loads(first)) is dict
    except (ValueError, RecursionError):
        return False


def _is_tsv(lines: List[str]) -> bool:
    if not lines or "\t" not in lines[0]:
        return False
    try:
        header = next(csv.reader([lines[0]], delimiter="\t"))
    except csv.Error:
        return False
    known = set(ID_FIELDS) | set(_ANY_TEXT_FIELDS)
    return any(f in known for f in header)


def detect_format(path, text: str) -> str:
    """The format ``format="auto"`` picks for ``path`` with contents ``text``
    (the rule is in the module docstring)."""
    return _detect(path, split_lines(text))[0]


def _detect(path, lines: List[str]):
    """(format, the trn fields when the content decided trn, else None)."""
    base, ext = _stem_and_ext(path)
    by_name = {".trn": "trn", ".tsv": "tsv", ".jsonl": "jsonl", ".json": "jsonl",
               ".ndjson": "jsonl", ".ark": "kaldi"}
    if ext in by_name:
        return by_name[ext], None
    if base == "text":
        return "kaldi", None
    fields = _trn_ids(lines)
    if fields is not None:
        return "trn", fields
    if ext not in (".txt", ".text"):
        if _is_jsonl(lines):
            return "jsonl", None
        if _is_tsv(lines):
            return "tsv", None
    return "text", None


# ------------------------------------------------------------------ reading


def _check_format(fmt: str, allowed=FORMATS + ("auto",)) -> None:
    if fmt not in allowed:
        raise InputError("unknown transcript format %r; expected one of %s"
                         % (fmt, ", ".join(allowed)))


def _check_unique(name: str, ids: List[str], lineno) -> None:
    """Duplicate ids are an error naming the lines of the first repeat."""
    if len(set(ids)) == len(ids):
        return
    first = {}
    for i, uid in enumerate(ids):
        if uid in first:
            raise InputError("%s, line %d: duplicate utterance id %r (first on line %d)"
                             % (name, lineno(i), uid, lineno(first[uid])))
        first[uid] = i


def sclite_speaker(uid: str) -> Optional[str]:
    """sclite's speaker of an utterance id: the part before the first ``-``, or
    before the first ``_`` when there is no ``-``; None when neither gives a
    non-empty speaker."""
    cut = uid.find("-")
    if cut < 0:
        cut = uid.find("_")
    return uid[:cut] if cut > 0 else None


def _speakers(ids: List[str]) -> Optional[List[str]]:
    """sclite_speaker of every id, or None if one has none."""
    cuts = [uid.find("-") for uid in ids]
    if ids and min(cuts) > 0:                   # the usual case: every id has a '-'
        return [uid[:cut] for uid, cut in zip(ids, cuts)]
    speakers = [sclite_speaker(uid) for uid in ids]
    return None if None in speakers else speakers


def read_transcripts(path, *, format: str = "auto", id_field: Optional[str] = None,
                     text_field: Optional[str] = None, encoding: str = "utf-8",
                     role: Optional[str] = None, in_place: bool = True) -> Transcripts:
    """Read one transcript file (formats, detection and speakers: module docstring).

    ``id_field``/``text_field`` choose the columns of a ``tsv``/``jsonl`` file;
    ``role`` (``"ref"``, ``"hyp"`` or None) picks the default transcript field.
    ``in_place``: read ``text``/``kaldi``/``trn`` files in place (C++: texts
    and ids are SpanTexts over the file's text, no str per line); False reads
    every format into lists (the reference implementation of the in-place
    reader, whose results are the same).
    """
    _check_format(format)
    if role not in _ROLES:
        raise ValueError("role must be None, 'ref' or 'hyp', got %r" % (role,))
    name = _name(path)
    text = read_text_file(path, encoding)
    if id_field is None and text_field is None and in_place:
        fmt = _in_place_format(path, text, format)
        if fmt is not None:
            return _read_in_place(name, text, fmt, format == "auto")
    lines = split_lines(text)
    fmt, fields = _detect(path, lines) if format == "auto" else (format, None)
    if fmt not in ("tsv", "jsonl") and (id_field is not None or text_field is not None):
        raise InputError("%s: id and text fields apply to tsv and jsonl files, not %s"
                         % (name, fmt))
    if fmt in ("tsv", "jsonl"):
        return _from_table(_open_table(name, fmt, text, lines), id_field, text_field, role)
    if fmt == "text":
        warning = _kaldi_warning(name, lines) if format == "auto" else None
        return Transcripts(name, "text", lines, warning=warning)
    if fmt == "trn":
        ids, texts, numbers = fields if fields is not None else _parse_trn(name, lines)
    else:
        ids, texts, numbers = _parse_kaldi(name, lines, "\t" in text)
    _check_unique(name, ids, lambda i: _line_of(numbers, i))
    return Transcripts(name, fmt, texts, ids=ids, speakers=_FROM_IDS)


def _text_candidates(table: _Table, role: Optional[str]) -> Sequence[str]:
    if role == "ref":
        return REF_FIELDS
    if role == "hyp":
        return HYP_FIELDS
    present = [f for f in _ANY_TEXT_FIELDS if f in table.fields]
    if len(present) > 1:
        raise InputError("%s: several transcript fields (%s); name the one to read"
                         % (table.name, ", ".join(repr(f) for f in present)))
    return _ANY_TEXT_FIELDS


def _from_table(table: _Table, id_field, text_field, role) -> Transcripts:
    if table.format == "jsonl" and not table.fields:     # no records: nothing to check
        return Transcripts(table.name, "jsonl", [], ids=None if id_field is None else [])
    candidates = () if text_field is not None else _text_candidates(table, role)
    text_key = _pick(table, text_field, candidates, "transcript")
    id_key = _pick(table, id_field, ID_FIELDS, "id", required=False)
    texts, ids = _read_columns(table, [text_key], id_key)
    return Transcripts(table.name, table.format, texts, ids=ids)


def _read_columns(table: _Table, text_keys: List[str], id_key: Optional[str]) -> list:
    """[texts of each of ``text_keys``..., ids or None], checked."""
    columns = table.columns(text_keys + ([] if id_key is None else [id_key]))
    out = [_check_texts(table, key, col) for key, col in zip(text_keys, columns)]
    ids = None
    if id_key is not None:
        ids = _check_ids(table, id_key, columns[-1])
        _check_unique(table.name, ids, table.lineno)
    return out + [ids]


def read_pair(path, *, format: str = "auto", ref_field: Optional[str] = None,
              hyp_field: Optional[str] = None, id_field: Optional[str] = None,
              encoding: str = "utf-8") -> Tuple[Transcripts, Transcripts]:
    """The reference and hypothesis columns of one ``tsv`` or ``jsonl`` file.

    Defaults: reference ``ref`` or ``text``, hypothesis ``hyp`` or ``pred_text``,
    id as in :func:`read_transcripts`.
    """
    _check_format(format, ("auto", "tsv", "jsonl"))
    name = _name(path)
    text = read_text_file(path, encoding)
    lines = split_lines(text)
    fmt = _detect(path, lines)[0] if format == "auto" else format
    if fmt not in ("tsv", "jsonl"):
        raise InputError("%s: a file holding both reference and hypothesis must be tsv or "
                         "jsonl, but it reads as %s" % (name, fmt))
    table = _open_table(name, fmt, text, lines)
    if fmt == "jsonl" and not table.fields:             # no records: nothing to check
        ids = None if id_field is None else []
        return (Transcripts(name, fmt, [], ids=ids),
                Transcripts(name, fmt, [], ids=None if ids is None else []))
    ref_key = _pick(table, ref_field, REF_FIELDS, "reference")
    hyp_key = _pick(table, hyp_field, _PAIR_HYP_FIELDS, "hypothesis")
    if ref_key == hyp_key:
        raise InputError("%s: the reference and hypothesis fields are both %r"
                         % (name, ref_key))
    id_key = _pick(table, id_field, ID_FIELDS, "id", required=False)
    ref_texts, hyp_texts, ids = _read_columns(table, [ref_key, hyp_key], id_key)
    return (Transcripts(name, fmt, ref_texts, ids=ids),
            Transcripts(name, fmt, hyp_texts, ids=None if ids is None else list(ids)))


# ------------------------------------------------------------------ matching


def match(ref: Transcripts, hyp: Transcripts, *, missing: str = "error") -> Matched:
    """Pair ``ref`` and ``hyp`` for scoring (rules in the module docstring)."""
    if missing not in MISSING_MODES:
        raise ValueError("missing must be one of %s, got %r" % (", ".join(MISSING_MODES),
                                                                missing))
    if ref.records is not None and hyp.records is not None:
        return _match_in_place(ref, hyp, missing)
    ref, hyp = ref.materialise(), hyp.materialise()
    if ref.ids is None or hyp.ids is None:
        return _match_lines(ref, hyp)
    return _match_ids(ref, hyp, missing)


def _match_lines(ref: Transcripts, hyp: Transcripts) -> Matched:
    if len(ref) != len(hyp):
        if ref.ids is None and hyp.ids is None:
            unit = "lines" if ref.format == hyp.format == "text" else "transcripts"
            raise InputError("%s has %d %s but %s has %d; line-aligned files must have one "
                             "line per utterance, in the same order"
                             % (ref.path, len(ref), unit, hyp.path, len(hyp)))
        keyed, plain = (ref, hyp) if ref.ids is not None else (hyp, ref)
        raise InputError("%s has utterance ids (%s) but %s is line-aligned %s, and they "
                         "differ in length (%d vs %d); give both files ids, or the same "
                         "number of lines" % (keyed.path, keyed.format, plain.path,
                                              plain.format, len(keyed), len(plain)))
    keyed = ref if ref.ids is not None else hyp if hyp.ids is not None else None
    if keyed is None:
        return Matched(None, list(ref.texts), list(hyp.texts), None)
    plain = hyp if keyed is ref else ref
    _refuse_inline_ids(keyed, plain)
    return Matched(list(keyed.ids), list(ref.texts), list(hyp.texts),
                   lambda: _copy(keyed.speakers))


def _refuse_inline_ids(keyed: Transcripts, plain: Transcripts) -> None:
    """A line-aligned file whose every line starts with the other file's id is a
    Kaldi file read as text: pairing it would score the ids as words."""
    if not keyed.ids:
        return
    for uid, line in zip(keyed.ids, plain.texts):
        parts = line.split(None, 1)
        if not parts or parts[0] != uid:
            return
    raise InputError("%s was read as line-aligned %s, but every line starts with the "
                     "utterance id of %s; read it as kaldi" % (plain.path, plain.format,
                                                               keyed.path))


def _match_ids(ref: Transcripts, hyp: Transcripts, missing: str) -> Matched:
    if ref.ids == hyp.ids:                      # the usual case: same ids, same order
        return Matched(list(ref.ids), list(ref.texts), list(hyp.texts),
                       lambda: _copy(ref.speakers if ref.speakers is not None
                                     else hyp.speakers))
    hyp_text = dict(zip(hyp.ids, hyp.texts))
    hyp_texts = [hyp_text.get(uid) for uid in ref.ids]
    only_ref = [uid for uid, t in zip(ref.ids, hyp_texts) if t is None] \
        if None in hyp_texts else []
    only_hyp = []
    if len(hyp.ids) != len(ref.ids) - len(only_ref):    # ids are unique on each side
        ref_set = set(ref.ids)
        only_hyp = [uid for uid in hyp.ids if uid not in ref_set]
    if (only_ref or only_hyp) and missing == "error":
        raise InputError(_missing_message(ref, hyp, only_ref, only_hyp))
    ids, ref_texts = list(ref.ids), list(ref.texts)
    if only_ref and missing == "skip":
        keep = [i for i, t in enumerate(hyp_texts) if t is not None]
        ids = [ids[i] for i in keep]
        ref_texts = [ref_texts[i] for i in keep]
        hyp_texts = [hyp_texts[i] for i in keep]
    elif only_ref:                              # "empty": deleted utterances
        hyp_texts = ["" if t is None else t for t in hyp_texts]
    if only_hyp and missing == "empty":         # inserted utterances, after the reference's
        ids += only_hyp
        ref_texts += [""] * len(only_hyp)
        hyp_texts += [hyp_text[uid] for uid in only_hyp]
    dropped = len(only_ref) + len(only_hyp) if missing == "skip" else 0
    return Matched(ids, ref_texts, hyp_texts, lambda: _matched_speakers(ref, hyp, ids),
                   only_ref, only_hyp, dropped)


def _copy(items: Optional[list]) -> Optional[list]:
    return None if items is None else list(items)


def _matched_speakers(ref: Transcripts, hyp: Transcripts, ids: List[str]):
    """The speaker of every id (the reference's, else the hypothesis's), or None
    if one has none."""
    spk: Dict[str, str] = {}
    for side in (hyp, ref):                     # the reference's speakers win
        if side.speakers is not None:
            spk.update(zip(side.ids, side.speakers))
    if not spk:
        return None
    speakers = [spk.get(uid) for uid in ids]
    return None if None in speakers else speakers


def _missing_message(ref, hyp, only_ref, only_hyp) -> str:
    parts = []
    if only_ref:
        parts.append("%d utterance id%s in %s only (%s)" % (
            len(only_ref), "" if len(only_ref) == 1 else "s", ref.path, _list_ids(only_ref)))
    if only_hyp:
        parts.append("%d in %s only (%s)" % (len(only_hyp), hyp.path, _list_ids(only_hyp)))
    return ("; ".join(parts) + "; missing 'skip' drops them, missing 'empty' scores them "
            "against an empty transcript")


# ------------------------------------------------------------------ in place
#
# text, kaldi and trn files are parsed by C++ over the decoded text
# (src_cpp/edit/corpus.hpp, the same rules as the parsers above): records are
# spans, texts and ids SpanTexts, ids matched by a hash in C++.  The general
# reader above is the reference (tests compare the two on every rule).

_IN_PLACE = {"text": 0, "kaldi": 1, "trn": 2}
_HEAD_CHARS = 1 << 16


def _first_lines(text: str, n: int) -> List[str]:
    """The first ``n`` lines of ``text`` (its line ends already "\\n")."""
    end = -1
    for _ in range(n):
        end = text.find("\n", end + 1)
        if end < 0:
            return split_lines(text)
    return text[:end].split("\n")


def _in_place_format(path, text: str, format: str) -> Optional[str]:
    """The format to read ``text`` in place with, or None when the general reader
    must decide (tsv, jsonl, and content that might be trn, jsonl or tsv)."""
    if format != "auto":
        return format if format in _IN_PLACE else None
    base, ext = _stem_and_ext(path)
    if ext in (".trn", ".ark") or base == "text":
        return "kaldi" if ext != ".trn" else "trn"
    if ext in (".tsv", ".jsonl", ".json", ".ndjson"):
        return None
    head = text[:_HEAD_CHARS]
    if "\r" in head:
        head = head.replace("\r\n", "\n").replace("\r", "\n")
    cut = head.find("\n")
    if cut < 0 and len(text) > _HEAD_CHARS:
        return None
    first = head if cut < 0 else head[:cut]
    if _blank_or_comment(first, True) or _trn_split(first) is not None:
        return None                 # blank first lines, or possibly trn: decide in full
    if ext in (".txt", ".text"):
        return "text"
    if first.lstrip().startswith("{") or "\t" in first:
        return None                 # possibly jsonl or tsv
    return "text"


def _read_in_place(name: str, text: str, fmt: str, auto: bool) -> Transcripts:
    from . import _edit
    from ._spans import SpanTexts

    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if fmt == "kaldi" and "\t" in text:
        text = text.replace("\t", " ")
    rec = _edit.RecordFile(text, _IN_PLACE[fmt])
    if rec.bad_line:
        line = text.split("\n")[rec.bad_line - 1] if rec.bad_line else ""
        raise InputError("%s, line %d: expected 'text (utterance-id)' (sclite trn), got %r"
                         % (name, rec.bad_line, _clip(line)))
    a = rec.arrays()
    texts = SpanTexts([(text, a["text_start"], a["text_end"])])
    if fmt == "text":
        warning = _kaldi_warning(name, _first_lines(text, _SNIFF_LINES)) if auto else None
        return Transcripts(name, "text", texts, warning=warning, records=(rec, a))
    if rec.empty_id_record >= 0:
        raise InputError("%s, line %d: empty utterance id '()'"
                         % (name, int(a["line"][rec.empty_id_record])))
    ids = SpanTexts([(text, a["id_start"], a["id_end"])])
    if rec.duplicate is not None:
        r, first = rec.duplicate
        raise InputError("%s, line %d: duplicate utterance id %r (first on line %d)"
                         % (name, int(a["line"][r]), ids[r], int(a["line"][first])))
    return Transcripts(name, fmt, texts, ids=ids, speakers=_FROM_IDS, records=(rec, a))


def _span_speakers(t: Transcripts, index):
    """sclite's speakers of records ``index`` of a file read in place, or None if
    one of them has none."""
    from ._spans import SpanTexts

    rec, a = t.records
    end = a["speaker_end"][index]
    if end.shape[0] and int(end.min()) < 0:
        return None
    return SpanTexts([(rec.text, a["id_start"][index], end)])


def _match_in_place(ref: Transcripts, hyp: Transcripts, missing: str) -> Matched:
    """match() of two files read in place: index arrays instead of dicts."""
    from . import _edit
    from ._spans import SpanTexts

    if ref.ids is None or hyp.ids is None:
        if len(ref) != len(hyp):
            _match_lines(ref, hyp)          # raises the message for the lengths
        keyed = ref if ref.ids is not None else hyp if hyp.ids is not None else None
        if keyed is None:
            return Matched(None, ref.texts, hyp.texts, None)
        _refuse_inline_ids(keyed, hyp if keyed is ref else ref)
        return Matched(keyed.ids, ref.texts, hyp.texts, lambda: keyed.speakers)
    hyp_of_ref, used = _edit.match_files(ref.records[0], hyp.records[0])
    R, H = len(ref), len(hyp)
    if R == H and bool(used.all()) and bool((hyp_of_ref == np.arange(R)).all()):
        return Matched(ref.ids, ref.texts, hyp.texts, lambda: ref.speakers)
    only_ref_idx = np.flatnonzero(hyp_of_ref < 0)
    only_hyp_idx = np.flatnonzero(~used)
    only_ref = [ref.ids[i] for i in only_ref_idx.tolist()]
    only_hyp = [hyp.ids[i] for i in only_hyp_idx.tolist()]
    if (only_ref or only_hyp) and missing == "error":
        raise InputError(_missing_message(ref, hyp, only_ref, only_hyp))
    if missing == "skip":
        ref_idx = np.flatnonzero(hyp_of_ref >= 0)
        hyp_idx = hyp_of_ref[ref_idx]
        tail = np.zeros(0, np.int64)
    else:                                   # "empty" (or nothing missing)
        ref_idx = np.arange(R, dtype=np.int64)
        hyp_idx = hyp_of_ref
        tail = only_hyp_idx if missing == "empty" else np.zeros(0, np.int64)
    none = np.full(tail.shape[0], -1, np.int64)
    whole = ref_idx.shape[0] == R           # every reference record, in order
    ids = (ref.ids if whole else ref.ids.take(ref_idx)) + hyp.ids.take(tail)
    refs = ref.texts if whole and not tail.shape[0] else \
        ref.texts.take(np.concatenate([ref_idx, none]))
    # the hypotheses in the reference's order, copied together: later passes (the
    # kernels, the CSV) then read them in order instead of all over the file
    hyps = SpanTexts([_edit.gather_column(hyp.texts.take(np.concatenate([hyp_idx, tail]))
                                          .column)])

    def speakers():
        # as _matched_speakers: the speakers of a file count only when every id of
        # it has one; an utterance needs its id in such a file (the speaker is a
        # function of the id, so either file's spans give it)
        ref_ok, hyp_ok = ref.records[0].all_speakers, hyp.records[0].all_speakers
        if not ((ref_ok and R) or (hyp_ok and H)):
            return None
        if not (ref_ok or (hyp_ok and bool((hyp_idx >= 0).all()))) or \
                (tail.shape[0] and not hyp_ok):
            return None
        a = _span_speakers(ref, ref_idx)
        b = _span_speakers(hyp, tail)
        return None if a is None or b is None else a + b
    dropped = len(only_ref) + len(only_hyp) if missing == "skip" else 0
    return Matched(ids, refs, hyps, speakers, only_ref, only_hyp, dropped)


# ------------------------------------------------------------------ speakers


def read_utt2spk(path, encoding: str = "utf-8") -> Dict[str, str]:
    """A Kaldi ``utt2spk`` file (``utterance-id speaker-id`` per line) as a dict.
    Blank lines are skipped; any other line must have exactly two fields."""
    name = _name(path)
    lines = split_lines(read_text_file(path, encoding))
    out: Dict[str, str] = {}
    where: Dict[str, int] = {}
    for n, line in enumerate(lines, 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2:
            raise InputError("%s, line %d: expected 'utterance-id speaker-id', got %d fields"
                             % (name, n, len(parts)))
        uid, spk = parts
        if uid in where:
            raise InputError("%s, line %d: duplicate utterance id %r (first on line %d)"
                             % (name, n, uid, where[uid]))
        where[uid] = n
        out[uid] = spk
    return out


def speakers_from_utt2spk(ids: Sequence[str], utt2spk: Dict[str, str],
                          path="utt2spk") -> List[str]:
    """The speaker of every id; ids missing from ``utt2spk`` are an error naming them."""
    missing = [uid for uid in ids if uid not in utt2spk]
    if missing:
        raise InputError("%s: no speaker for %d utterance id%s (%s)"
                         % (_name(path), len(missing), "" if len(missing) == 1 else "s",
                            _list_ids(missing)))
    return [utt2spk[uid] for uid in ids]
