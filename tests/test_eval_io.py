"""Reading transcripts for ``seqloss eval`` (formats, detection, matching, speakers)
and normalising them (basic, substitutions, whisper-en, the ``mixed`` unit).

The vectorised normaliser and mixed tokeniser are compared with the per-character
reference versions below; every user mistake must be an InputError with a one-line
message naming the file (and line, where one is at fault).
"""
import contextlib
import csv
import gzip
import io
import json
import sys
import time
import unicodedata

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from seqloss import _normalize
from seqloss._eval_io import (InputError, detect_format, match, read_pair, read_transcripts,
                              read_utt2spk, sclite_speaker, speakers_from_utt2spk)
from seqloss._normalize import make_normalizer, mixed_tokens, mixed_tokens_list

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


def write(path, data, gz=None):
    """Write str (UTF-8) or bytes to ``path``; gzip it when the name ends in .gz."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if gz if gz is not None else str(path).endswith(".gz"):
        raw = gzip.compress(raw)
    with open(path, "wb") as f:
        f.write(raw)
    return str(path)


def error(func, *args, **kwargs):
    """The message of the InputError ``func`` raises: always one line."""
    with pytest.raises(InputError) as info:
        func(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


# ------------------------------------------------------------------ reference versions


def ref_basic(text):
    """mode='basic', one character at a time."""
    text = "".join(c for c in text.lower() if not unicodedata.category(c).startswith("P"))
    return " ".join(text.split())


# The documented ranges of the mixed unit, restated independently of the module.
CJK_BLOCKS = [(0x1100, 0x11FF), (0x3000, 0x303F), (0x3040, 0x309F), (0x30A0, 0x30FF),
              (0x3100, 0x312F), (0x3130, 0x318F), (0x31A0, 0x31BF), (0x31F0, 0x31FF),
              (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xA960, 0xA97F), (0xAC00, 0xD7A3),
              (0xD7B0, 0xD7FF), (0xF900, 0xFAFF), (0xFF66, 0xFF9D), (0xFFA0, 0xFFDC),
              (0x1AFF0, 0x1B16F), (0x20000, 0x3FFFF)]
CONTINUATIONS = [(0x1160, 0x11FF), (0xD7B0, 0xD7FF), (0xFF9E, 0xFF9F)]


def char_kind(c):
    cat, cp = unicodedata.category(c), ord(c)
    if c.isspace():
        return "space"
    if cat[0] == "P":
        return "punct"
    if cat[0] == "M" or any(lo <= cp <= hi for lo, hi in CONTINUATIONS):
        return "cont"
    if cat[0] in "LN" and any(lo <= cp <= hi for lo, hi in CJK_BLOCKS):
        return "cjk"
    return "other"


def ref_mixed(text):
    """The mixed unit, one character at a time: a CJK character (and the marks after
    it) is a token, other text splits at whitespace."""
    tokens, word, in_cjk = [], "", False
    for c in text:
        kind = char_kind(c)
        if kind == "space" or kind == "cjk" or (in_cjk and kind != "cont"):
            if word:
                tokens.append(word)
            word, in_cjk = "", False
        if kind == "space":
            continue
        if kind == "cjk":
            in_cjk = True
        word += c
    if word:
        tokens.append(word)
    return " ".join(tokens)


# ------------------------------------------------------------------ text format


def test_text_keeps_empty_lines(tmp_path):
    """Empty lines are empty transcripts; a final newline adds none; an empty file has none."""
    cases = {"a\n\nb\n": ["a", "", "b"], "a\n\nb": ["a", "", "b"], "\n": [""],
             "a\n\n": ["a", ""], "": [], "\n\n\n": ["", "", ""], "  \n x ": ["  ", " x "]}
    for i, (content, texts) in enumerate(cases.items()):
        t = read_transcripts(write(tmp_path / ("%d.txt" % i), content))
        assert (t.format, t.texts, t.ids, t.speakers) == ("text", texts, None, None)


def test_text_line_endings(tmp_path):
    """CRLF, CR and LF all end lines (mixed too); a form feed or U+2028 stays inside one."""
    t = read_transcripts(write(tmp_path / "a.txt", "one\r\ntwo\rthree\n\r\nfive\x0c\u2028x\r"))
    assert t.texts == ["one", "two", "three", "", "five\x0c\u2028x"]


def test_text_unicode_bom_and_encoding(tmp_path):
    """UTF-8 text reads as is, a leading BOM is dropped, other encodings on request,
    and undecodable bytes name their line."""
    t = read_transcripts(write(tmp_path / "u.txt", "\ufeff你好\nçà va 🙂\n"))
    assert t.texts == ["你好", "çà va 🙂"]
    path = write(tmp_path / "l.txt", "ok\ncaf\xe9\n".encode("latin-1"))
    assert read_transcripts(path, encoding="latin-1").texts == ["ok", "café"]
    assert error(read_transcripts, path) == (
        "%s, line 2: byte 0xe9 is not valid utf-8 (give the file's encoding)" % path)
    assert "unknown text encoding 'nope'" in error(read_transcripts, path, encoding="nope")
    gz = write(tmp_path / "g.txt", b"x\n", gz=True)
    assert "looks gzip-compressed" in error(read_transcripts, gz)


def test_gzip_every_format(tmp_path):
    """A .gz name is read through gzip for every format, with the same result."""
    files = {"a.txt": "hi there\n\nyo\n", "text": "u1 hi there\nu2\n",
             "a.trn": "hi there (s-1)\n (s-2)\n", "a.tsv": "id\ttext\nu1\thi there\nu2\t\n",
             "a.jsonl": '{"id": "u1", "text": "hi there"}\n{"id": "u2", "text": ""}\n'}
    for name, content in files.items():
        plain = read_transcripts(write(tmp_path / name, content))
        packed = read_transcripts(write(tmp_path / (name + ".gz"), content))
        assert packed.format == plain.format
        assert (packed.texts, packed.ids) == (plain.texts, plain.ids)
    bad = write(tmp_path / "bad.txt.gz", b"not gzip", gz=False)
    assert error(read_transcripts, bad).startswith(bad + ": cannot read: ")


def test_file_errors(tmp_path):
    """A missing file, a directory or an unknown format is a one-line error."""
    assert error(read_transcripts, tmp_path / "nope.txt") == "%s: no such file" % (
        tmp_path / "nope.txt")
    assert error(read_transcripts, tmp_path) == (
        "%s: is a directory, not a transcript file" % tmp_path)
    path = write(tmp_path / "a.txt", "x\n")
    assert error(read_transcripts, path, format="csv") == (
        "unknown transcript format 'csv'; expected one of text, kaldi, trn, tsv, jsonl, auto")
    assert "apply to tsv and jsonl" in error(read_transcripts, path, text_field="text")


# ------------------------------------------------------------------ trn


def test_trn_ids_and_texts(tmp_path):
    """The id is in the last parentheses; earlier ones (sclite's optional words) stay
    text; blank lines and ';;' comments are skipped; a line with only an id is empty."""
    path = write(tmp_path / "a.trn", ";; a comment\nI am a (farmer) (cmh-sa03)\n\n"
                 "  (cmh-sa04)\t\r\nshe had\t( spk_2-x )\n")
    t = read_transcripts(path)
    assert t.format == "trn"
    assert t.ids == ["cmh-sa03", "cmh-sa04", "spk_2-x"]
    assert t.texts == ["I am a (farmer)", " ", "she had\t"]


def test_trn_errors(tmp_path):
    """A line without '(id)' at its end, an empty id or a repeated id names its line."""
    path = write(tmp_path / "a.trn", "ok (a-1)\n\nno id here\n")
    assert error(read_transcripts, path) == (
        "%s, line 3: expected 'text (utterance-id)' (sclite trn), got 'no id here'" % path)
    path = write(tmp_path / "b.trn", "ok (a-1)\nempty ()\n")
    assert error(read_transcripts, path) == "%s, line 2: empty utterance id '()'" % path
    path = write(tmp_path / "c.trn", "x (a-1)\n;; note\ny (a-2)\nz (a-1)\n")
    assert error(read_transcripts, path) == (
        "%s, line 4: duplicate utterance id 'a-1' (first on line 1)" % path)


@pytest.mark.parametrize("uid, speaker", [
    ("spk1-utt1", "spk1"), ("cmh_sa01", "cmh"), ("a_b-c_d", "a_b"), ("4k0c0301-x_y", "4k0c0301"),
    ("1089-134686-0000", "1089"), ("nospeaker", None), ("-lead", None), ("_lead", None),
])
def test_sclite_speaker(uid, speaker):
    """sclite (-i rm/swb/spu_id): the speaker ends at the first '-', or at the first '_'
    when the id has no '-'."""
    assert sclite_speaker(uid) == speaker


def test_speakers_all_or_none(tmp_path):
    """Speakers come from the ids when every id gives one, else there are none."""
    t = read_transcripts(write(tmp_path / "a.trn", "x (s1-u1)\ny (s2_u2)\n"))
    assert t.speakers == ["s1", "s2"]
    t = read_transcripts(write(tmp_path / "b.trn", "x (s1-u1)\ny (u2)\n"))
    assert t.speakers is None
    t.speakers = ["a", "b"]
    assert t.speakers == ["a", "b"]


# ------------------------------------------------------------------ kaldi


def test_kaldi(tmp_path):
    """'utt-id text': an id alone is an empty transcript, blank lines are skipped, tabs
    and runs of spaces separate words (Kaldi reads words); speakers by sclite's rule."""
    path = write(tmp_path / "text", "spk1-u1 hello  world\n\nspk1-u2\nspk2-u3\tTAB\tsep \r\n")
    t = read_transcripts(path)
    assert t.format == "kaldi"
    assert t.ids == ["spk1-u1", "spk1-u2", "spk2-u3"]
    assert t.texts == ["hello  world", "", "TAB sep"]
    assert t.speakers == ["spk1", "spk1", "spk2"]


def test_kaldi_duplicates_name_both_lines(tmp_path):
    """A repeated id is an error naming the line of the repeat and of the first one."""
    path = write(tmp_path / "dup.ark", "a x\n\nb y\na z\n")
    assert error(read_transcripts, path, format="kaldi") == (
        "%s, line 4: duplicate utterance id 'a' (first on line 1)" % path)


# ------------------------------------------------------------------ tsv


def test_tsv_quoting(tmp_path):
    """Fields quote as Python's csv does with a tab delimiter: tabs, newlines and
    doubled quotes inside quotes; a quote inside an unquoted field is a character."""
    content = ('id\tref\thyp\n'
               'u1\t"a\tb"\tsay "hi"\n'
               'u2\t"two\nlines"\t""\n'
               'u3\t"he said ""no"""\t\n')
    ref, hyp = read_pair(write(tmp_path / "a.tsv", content))
    assert ref.ids == hyp.ids == ["u1", "u2", "u3"]
    assert ref.texts == ["a\tb", "two\nlines", 'he said "no"']
    assert hyp.texts == ['say "hi"', "", ""]


def test_tsv_rows_and_blank_lines(tmp_path):
    """A row with the wrong number of fields names its line (also after a quoted
    multi-line field); blank lines are skipped, except in a one-column file where
    they are empty transcripts."""
    path = write(tmp_path / "a.tsv", "id\ttext\nu1\tx\n\nu2\ty\tz\n")
    assert error(read_transcripts, path) == (
        "%s, line 4: 3 tab-separated fields, but the header has 2" % path)
    path = write(tmp_path / "b.tsv", 'id\ttext\nu1\t"x\ny"\nu2\n')
    assert error(read_transcripts, path) == (
        "%s, line 4: 1 tab-separated fields, but the header has 2" % path)
    t = read_transcripts(write(tmp_path / "c.tsv", "id\ttext\nu1\tx\n\nu2\t\n"))
    assert (t.ids, t.texts) == (["u1", "u2"], ["x", ""])
    t = read_transcripts(write(tmp_path / "d.tsv", "text\nx\n\ny\n"))
    assert (t.ids, t.texts) == (None, ["x", "", "y"])
    assert error(read_transcripts, write(tmp_path / "e.tsv", "")) == (
        "%s: empty file, expected a header line naming the columns" % (tmp_path / "e.tsv"))


def test_tsv_fields(tmp_path):
    """Default fields by role; a named field that is absent lists the fields there are;
    an empty or repeated id names its line."""
    path = write(tmp_path / "a.tsv", "id\tref\thyp\tscore\nu1\tr1\th1\t3\n")
    assert read_transcripts(path, role="ref").texts == ["r1"]
    assert read_transcripts(path, role="hyp").texts == ["h1"]
    assert read_transcripts(path, text_field="score", id_field="hyp").ids == ["h1"]
    assert error(read_transcripts, path) == (
        "%s: several transcript fields ('ref', 'hyp'); name the one to read" % path)
    assert error(read_transcripts, path, text_field="pred") == (
        "%s: no transcript field 'pred'; the fields are 'id', 'ref', 'hyp', 'score'" % path)
    path = write(tmp_path / "b.tsv", "id\tscore\nu1\t3\n")
    assert error(read_transcripts, path, role="ref") == (
        "%s: no transcript field (looked for 'ref' or 'text'); the fields are 'id', 'score'"
        % path)
    path = write(tmp_path / "c.tsv", "id\ttext\nu1\tx\n\tyy\n")
    assert error(read_transcripts, path) == "%s, line 3: empty id in field 'id'" % path
    path = write(tmp_path / "d.tsv", "id\ttext\nu1\tx\nu1\tyy\n")
    assert error(read_transcripts, path) == (
        "%s, line 3: duplicate utterance id 'u1' (first on line 2)" % path)


# ------------------------------------------------------------------ jsonl


def test_jsonl_nemo_manifests(tmp_path):
    """NeMo manifests: 'text' is the reference, 'pred_text' the hypothesis, ids from
    'audio_filepath' (or 'id', which wins); blank lines are skipped."""
    rows = [{"audio_filepath": "/a/1.wav", "duration": 1.5, "text": "hi", "pred_text": "hey"},
            {"audio_filepath": "/a/2.wav", "duration": 2.0, "text": "yo", "pred_text": ""}]
    path = write(tmp_path / "m.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n\n")
    ref, hyp = read_pair(path)
    assert ref.ids == hyp.ids == ["/a/1.wav", "/a/2.wav"]
    assert (ref.texts, hyp.texts) == (["hi", "yo"], ["hey", ""])
    assert read_transcripts(path, role="ref").texts == ["hi", "yo"]
    assert read_transcripts(path, role="hyp").texts == ["hey", ""]
    path = write(tmp_path / "n.json", '{"id": 7, "audio_filepath": "x", "text": "a"}\n')
    assert read_transcripts(path).ids == ["7"]
    t = read_transcripts(write(tmp_path / "o.jsonl", '{"text": "a"}\n{"text": "b"}\n'))
    assert (t.ids, t.texts) == (None, ["a", "b"])


def test_jsonl_errors_name_the_line(tmp_path):
    """A malformed line, a non-object, a missing or non-string field names its line
    (blank lines counted)."""
    path = write(tmp_path / "a.jsonl", '{"text": "a"}\n\n\n{"text": "b",}\n')
    assert error(read_transcripts, path) == (
        "%s, line 4: not valid JSON (Expecting property name enclosed in double quotes)" % path)
    path = write(tmp_path / "b.jsonl", '[{"text": "a"}]\n')
    assert error(read_transcripts, path) == (
        "%s, line 1: a JSON array, expected one JSON object per line (JSON Lines)" % path)
    path = write(tmp_path / "c.jsonl", '{"text": "a"}\n\n{"txt": "b"}\n')
    assert error(read_transcripts, path) == "%s, line 3: field 'text' is missing or null" % path
    path = write(tmp_path / "d.jsonl", '{"text": "a"}\n{"text": 5}\n')
    assert error(read_transcripts, path) == (
        "%s, line 2: field 'text' is a JSON number, expected a string" % path)
    path = write(tmp_path / "e.jsonl", '{"id": "a", "text": "a"}\n{"id": null, "text": "b"}\n')
    assert error(read_transcripts, path) == (
        "%s, line 2: id field 'id' is missing or null, expected a string or integer" % path)
    path = write(tmp_path / "f.jsonl", '{"text": "a"}\n')
    assert error(read_transcripts, path, id_field="utt") == (
        "%s: no id field 'utt'; the fields are 'text'" % path)


def test_jsonl_many_lines_one_fault(tmp_path):
    """Across parse chunks, the fault is still found on its line."""
    lines = [json.dumps({"id": "u%d" % i, "text": "w%d" % i}) for i in range(10000)]
    lines[9876] = '{"id": "u9876", "text": "oops"'
    path = write(tmp_path / "a.jsonl", "\n".join(lines) + "\n")
    assert error(read_transcripts, path).startswith("%s, line 9877: not valid JSON" % path)


# ------------------------------------------------------------------ read_pair


def test_read_pair_errors(tmp_path):
    """One file holding both sides must be tsv or jsonl with two different fields."""
    path = write(tmp_path / "a.txt", "x\n")
    assert error(read_pair, path) == (
        "%s: a file holding both reference and hypothesis must be tsv or jsonl, but it "
        "reads as text" % path)
    path = write(tmp_path / "b.tsv", "id\ttext\nu\tx\n")
    assert error(read_pair, path) == (
        "%s: no hypothesis field (looked for 'hyp' or 'pred_text'); the fields are "
        "'id', 'text'" % path)
    assert error(read_pair, path, hyp_field="text") == (
        "%s: the reference and hypothesis fields are both 'text'" % path)


# ------------------------------------------------------------------ detection


@pytest.mark.parametrize("name, content, fmt", [
    ("a.trn", "x\n", "trn"), ("a.TSV", "x\n", "tsv"), ("a.jsonl", "x\n", "jsonl"),
    ("a.json.gz", "x\n", "jsonl"), ("text", "x\n", "kaldi"), ("text.gz", "x\n", "kaldi"),
    ("hyp.ark", "x\n", "kaldi"),
    ("a.txt", "hello\n", "text"), ("a.txt", "utt1 hello\n", "text"),
    ("a.txt", "hi (a-1)\n;; c\n\nyo (a-2)\n", "trn"),       # content beats .txt for trn
    ("a.txt", "hi (a-1)\nyo (a-1)\n", "text"),              # repeated ids: not trn
    ("a.txt", "hi (a 1)\n", "text"),                        # space in the id: not trn
    ("a.txt", "hi (a-1)\nyo\n", "text"),
    ("a.txt", '{"text": "x"}\n', "text"),                   # .txt: never JSON or TSV
    ("hyp", '\n{"text": "x"}\n', "jsonl"), ("hyp", "{not json}\n", "text"),
    ("hyp.ref", "id\ttext\nu\tx\n", "tsv"), ("hyp", "a\tb\n", "text"),
    ("hyp", "", "text"),
])
def test_auto_detection(tmp_path, name, content, fmt):
    """format='auto': by name first, then trn by content (even for .txt), then JSON Lines
    or a TSV header for other names, else plain text; never Kaldi by content."""
    assert detect_format(tmp_path / name, content) == fmt
    if content != "x\n":
        assert read_transcripts(write(tmp_path / name, content), role="ref").format == fmt


def test_kaldi_like_text_warns(tmp_path):
    """Plain text whose lines start with distinct id-like tokens reads as text, with a
    warning; ordinary text has none."""
    t = read_transcripts(write(tmp_path / "a.txt", "utt1 hello\nutt2 world\n"))
    assert t.format == "text" and t.texts == ["utt1 hello", "utt2 world"]
    assert t.warning == (
        "%s: read as plain text (one transcript per line), but every line starts with an "
        "id-like token such as 'utt1'; if those are Kaldi utterance ids, give the format "
        "kaldi" % (tmp_path / "a.txt"))
    assert read_transcripts(write(tmp_path / "b.txt", "hello\nworld\n")).warning is None
    assert read_transcripts(write(tmp_path / "c.txt", "utt1 a\nutt1 b\n")).warning is None


# ------------------------------------------------------------------ matching


def test_match_line_aligned(tmp_path):
    """Line-aligned files pair by line; different counts name both files and counts."""
    ref = read_transcripts(write(tmp_path / "ref.txt", "a\n\nc\n"))
    hyp = read_transcripts(write(tmp_path / "hyp.txt", "a\nb\n\n"))
    ids, refs, hyps, speakers, dropped = match(ref, hyp)
    assert (ids, refs, hyps, speakers, dropped) == (None, ["a", "", "c"], ["a", "b", ""], None,
                                                    0)
    short = read_transcripts(write(tmp_path / "short.txt", "a\n"))
    assert error(match, ref, short) == (
        "%s has 3 lines but %s has 1; line-aligned files must have one line per "
        "utterance, in the same order" % (ref.path, short.path))


def test_match_ids_in_reference_order(tmp_path):
    """Id files pair by id in the reference's order, whatever the hypothesis's order."""
    ref = read_transcripts(write(tmp_path / "ref.trn", "a (s1-1)\nb (s2-2)\nc (s1-3)\n"))
    hyp = read_transcripts(write(tmp_path / "text", "s1-3 C\ns1-1 A\ns2-2 B\n"))
    m = match(ref, hyp)
    assert list(m) == [["s1-1", "s2-2", "s1-3"], ["a", "b", "c"], ["A", "B", "C"],
                       ["s1", "s2", "s1"], 0]
    assert (m.only_ref, m.only_hyp) == ([], [])


@pytest.fixture
def one_sided(tmp_path):
    """A reference with ids r0..r7 and a hypothesis missing r1..r6 and adding h1, h2."""
    ref = read_transcripts(write(tmp_path / "ref.trn",
                                 "".join("w%d (r%d)\n" % (i, i) for i in range(8))))
    hyp = read_transcripts(write(tmp_path / "hyp.trn", "x0 (r0)\nextra (h1)\nx7 (r7)\n"
                                 "more (h2)\n"))
    return ref, hyp


def test_match_missing_error(one_sided):
    """missing='error' names up to five one-sided ids per side and how many there are."""
    ref, hyp = one_sided
    assert error(match, ref, hyp) == (
        "6 utterance ids in %s only ('r1', 'r2', 'r3', 'r4', 'r5', ...); 2 in %s only "
        "('h1', 'h2'); missing 'skip' drops them, missing 'empty' scores them against an "
        "empty transcript" % (ref.path, hyp.path))
    with pytest.raises(ValueError, match="missing must be one of error, skip, empty"):
        match(ref, hyp, missing="drop")


def test_match_missing_skip(one_sided):
    """missing='skip' scores the ids on both sides, counts and lists the dropped ones."""
    m = match(*one_sided, missing="skip")
    assert list(m) == [["r0", "r7"], ["w0", "w7"], ["x0", "x7"], None, 8]
    assert m.only_ref == ["r%d" % i for i in range(1, 7)] and m.only_hyp == ["h1", "h2"]


def test_match_missing_empty(one_sided):
    """missing='empty' (Kaldi --mode=all) pairs a missing side with an empty transcript;
    hypothesis-only ids come last, in the hypothesis's order."""
    m = match(*one_sided, missing="empty")
    assert m.ids == ["r%d" % i for i in range(8)] + ["h1", "h2"]
    assert m.ref_texts == ["w%d" % i for i in range(8)] + ["", ""]
    assert m.hyp_texts == ["x0"] + [""] * 6 + ["x7", "extra", "more"]
    assert len(m.only_ref) == 6 and m.only_hyp == ["h1", "h2"] and m.dropped == 0


def test_match_mixed_id_and_text(tmp_path):
    """An id file and a line-aligned file pair by line when their counts agree (ids and
    speakers from the id side), else it is an error naming both counts."""
    ref = read_transcripts(write(tmp_path / "ref.trn", "a b (s1-1)\nc (s2-2)\n"))
    hyp = read_transcripts(write(tmp_path / "hyp.txt", "a b\nd\n"))
    assert list(match(ref, hyp)) == [["s1-1", "s2-2"], ["a b", "c"], ["a b", "d"],
                                     ["s1", "s2"], 0]
    assert list(match(hyp, ref))[0] == ["s1-1", "s2-2"]
    long = read_transcripts(write(tmp_path / "long.txt", "a\nb\nc\n"))
    assert error(match, ref, long) == (
        "%s has utterance ids (trn) but %s is line-aligned text, and they differ in length "
        "(2 vs 3); give both files ids, or the same number of lines" % (ref.path, long.path))


def test_match_refuses_kaldi_read_as_text(tmp_path):
    """A line-aligned file whose lines start with the other side's ids would score the
    ids as words: that is an error, not a silent match."""
    ref = read_transcripts(write(tmp_path / "ref.trn", "a b (s1-1)\nc (s2-2)\n"))
    hyp = read_transcripts(write(tmp_path / "hyp.txt", "s1-1 a b\ns2-2 c\n"))
    assert error(match, ref, hyp) == (
        "%s was read as line-aligned text, but every line starts with the utterance id of "
        "%s; read it as kaldi" % (hyp.path, ref.path))


def test_match_does_not_alias_inputs(tmp_path):
    """The matched lists are new lists: editing them leaves the Transcripts alone
    (files read in place give immutable sequences: nothing to alias)."""
    path = write(tmp_path / "text", "u1 a\nu2 b\n")
    ref = read_transcripts(path, format="kaldi", in_place=False)
    m = match(ref, ref)
    m.ids.append("x")
    m.ref_texts[0] = "changed"
    m.speakers
    assert ref.ids == ["u1", "u2"] and ref.texts == ["a", "b"]
    ref = read_transcripts(path, format="kaldi")
    m = match(ref, ref)
    with pytest.raises((TypeError, AttributeError)):
        m.ref_texts[0] = "changed"
    assert not hasattr(m.ids, "append")
    assert list(ref.ids) == ["u1", "u2"] and list(ref.texts) == ["a", "b"]


# ------------------------------------------------------------------ utt2spk


def test_utt2spk(tmp_path):
    """Kaldi utt2spk: two fields a line, blank lines skipped; bad lines, repeated ids and
    ids without a speaker are errors."""
    path = write(tmp_path / "utt2spk", "u1 s1\n\nu2\ts2\n")
    utt2spk = read_utt2spk(path)
    assert utt2spk == {"u1": "s1", "u2": "s2"}
    assert speakers_from_utt2spk(["u2", "u1"], utt2spk) == ["s2", "s1"]
    ids = ["u1"] + ["x%d" % i for i in range(7)]
    assert error(speakers_from_utt2spk, ids, utt2spk, path) == (
        "%s: no speaker for 7 utterance ids ('x0', 'x1', 'x2', 'x3', 'x4', ...)" % path)
    path = write(tmp_path / "bad", "u1 s1\nu2 s2 extra\n")
    assert error(read_utt2spk, path) == (
        "%s, line 2: expected 'utterance-id speaker-id', got 3 fields" % path)
    path = write(tmp_path / "dup", "u1 s1\nu1 s2\n")
    assert error(read_utt2spk, path) == (
        "%s, line 2: duplicate utterance id 'u1' (first on line 1)" % path)


# ------------------------------------------------------------------ round trips

WORD_CHARS = st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp"),
                           blacklist_characters="\ufeff\u180e")
WORDS = st.text(WORD_CHARS, min_size=1, max_size=8)
TRANSCRIPTS = st.lists(st.lists(WORDS, max_size=5).map(" ".join), max_size=12)


def write_format(path, fmt, ids, texts, newline):
    """``texts`` written in ``fmt`` the way other tools write it."""
    if fmt == "text":
        data = "".join(t + newline for t in texts)
    elif fmt == "kaldi":
        data = "".join((u + " " + t if t else u) + newline for u, t in zip(ids, texts))
    elif fmt == "trn":
        data = "".join("%s (%s)%s" % (t, u, newline) for u, t in zip(ids, texts))
    elif fmt == "tsv":
        out = io.StringIO(newline="")
        writer = csv.writer(out, delimiter="\t", lineterminator=newline)
        writer.writerow(["id", "text"])
        writer.writerows(zip(ids, texts))
        data = out.getvalue()
    else:
        data = "".join(json.dumps({"id": u, "text": t}, ensure_ascii=False) + newline
                       for u, t in zip(ids, texts))
    return write(path, data)


@SETTINGS
@given(texts=TRANSCRIPTS, fmt=st.sampled_from(["text", "kaldi", "trn", "tsv", "jsonl"]),
       newline=st.sampled_from(["\n", "\r\n", "\r"]), gz=st.booleans())
@example(texts=[], fmt="tsv", newline="\n", gz=False)
@example(texts=["", "", ""], fmt="text", newline="\r\n", gz=True)
@example(texts=["(x) y", 'a "b', "\u3000"], fmt="trn", newline="\r", gz=False)
def test_round_trip(tmp_path_factory, texts, fmt, newline, gz):
    """Transcripts written in any format (any line ending, gzipped or not) read back
    unchanged, with their ids."""
    if fmt == "trn":        # sclite would take these lines for comments
        texts = [t for t in texts if not t.startswith(";;")]
    ids = ["s%d-u%d" % (i % 3, i) for i in range(len(texts))]
    names = {"text": "a.txt", "kaldi": "text", "trn": "a.trn", "tsv": "a.tsv",
             "jsonl": "a.jsonl"}
    path = tmp_path_factory.mktemp("rt") / (names[fmt] + (".gz" if gz else ""))
    write_format(path, fmt, ids, texts, newline)
    t = read_transcripts(path, format="text" if fmt == "text" else "auto")
    assert t.format == fmt and t.texts == texts
    assert t.ids == (None if fmt == "text" or (fmt == "jsonl" and not texts) else ids)


# ------------------------------------------------------------------ normalisation


@pytest.mark.parametrize("text, expected", [
    ("  Hello,  World!  ", "hello world"),
    ("«Ça va ?» — oui…", "ça va oui"),
    ("¿Qué tal? ¡Bien!", "qué tal bien"),
    ("don't stop, well-known", "dont stop wellknown"),
    ("你好，世界。", "你好世界"),
    ("「東京」へ、行く・ラーメン。", "東京へ行くラーメン"),
    ("مرحبا، كيف حالك؟", "مرحبا كيف حالك"),
    ("नमस्ते। आप कैसे हैं?", "नमस्ते आप कैसे हैं"),
    ("Τι κάνεις; Καλά", "τι κάνεις καλά"),
    ("$5 + 3 = 8 #tag", "$5 + 3 = 8 tag"),
    ("a\u00a0\u3000\t\x0bb\u2028c", "a b c"),
    ("İSTANBUL ΣΑΣ", "i̇stanbul σας"),                      # str.lower knows final sigma
    (" - ", ""),
])
def test_basic_punctuation_scripts(text, expected):
    """mode='basic': str.lower, delete every character of category P* (any script),
    collapse whitespace; symbols stay."""
    assert make_normalizer(mode="basic")([text]) == [expected] == [ref_basic(text)]


def test_basic_keeps_list_shape():
    """Empty lists, empty strings, transcripts holding newlines and lists longer than a
    chunk keep their length and order."""
    basic = make_normalizer(mode="basic")
    assert basic([]) == []
    texts = ["", "A\nB", "x\r\ny,"] * 1500 + ["Z."]
    assert basic(texts) == [ref_basic(t) for t in texts]
    source = ["Keep Me"]
    assert basic(source) == ["keep me"] and source == ["Keep Me"]


TEXT_ALPHABET = st.one_of(
    st.characters(blacklist_categories=("Cs",)),
    st.sampled_from(list(" \t\n\r\u3000\u00a0,.!?'-\u2019\u3001\u3002\u30fb"
                         "AbÇßİΣ你好タワーｶﾞ안녕\u1100\u1161\u11a8\u3099\U000E0100")),
)
TEXT_LISTS = st.lists(st.text(TEXT_ALPHABET, max_size=24), max_size=8)




@contextlib.contextmanager
def small_chunks(lines):
    """Normalise ``lines`` transcripts per vectorised call (a few, to cross chunks)."""
    saved = _normalize.CHUNK_LINES
    _normalize.CHUNK_LINES = lines
    try:
        yield
    finally:
        _normalize.CHUNK_LINES = saved


@SETTINGS
@given(texts=TEXT_LISTS, chunk=st.sampled_from([1, 3, 2048]))
@example(texts=["", " ", "\n"], chunk=1)
@example(texts=["a , b", " x", "y ", ",,,"], chunk=2048)
def test_basic_matches_reference(texts, chunk):
    """The vectorised basic normaliser equals the per-character reference on any text
    (ASCII and not, across chunk boundaries)."""
    with small_chunks(chunk):
        assert make_normalizer(mode="basic")(texts) == [ref_basic(t) for t in texts]


@SETTINGS
@given(texts=TEXT_LISTS)
def test_single_flags(texts):
    """mode='none' is the identity; lowercase and remove_punctuation alone change
    nothing else (whitespace stays as it is)."""
    assert make_normalizer()(texts) == texts
    assert make_normalizer(lowercase=True)(texts) == [t.lower() for t in texts]
    unpunct = ["".join(c for c in t if not unicodedata.category(c).startswith("P"))
               for t in texts]
    assert make_normalizer(remove_punctuation=True)(texts) == unpunct
    both = make_normalizer(lowercase=True, remove_punctuation=True)(texts)
    assert both == ["".join(c for c in t.lower() if not unicodedata.category(c).startswith("P"))
                    for t in texts]


def test_unknown_mode():
    """An unknown mode lists the modes."""
    assert error(make_normalizer, mode="fancy") == (
        "unknown normalisation 'fancy'; expected one of none, basic, whisper-en")


# ------------------------------------------------------------------ substitutions


def test_substitutions_whole_words(tmp_path):
    """Word rules replace whole words and phrases only (not inside a word, nor next to
    an apostrophe), in one pass, before lowercasing; blank and '#' lines are ignored."""
    path = write(tmp_path / "subs.tsv", "# spelling\ncolour\tcolor\n\n  \n"
                 "new york\tNYC\ndon\tdonald\nOK\tokay\na\tb\nb\tc\nuh\t\n")
    norm = make_normalizer(substitutions=path)
    assert norm(["colour colours recolour colour, (colour)",
                 "new  york newyork New york", "don don't don’s don-key",
                 "OK ok", "a b", "uh huh uh"]) == [
        "color colours recolour color, (color)",
        "NYC newyork New york", "donald don't don’s donald-key",
        "okay ok", "b c", " huh "]
    basic = make_normalizer(mode="basic", substitutions=path)
    assert basic(["OK, uh, Colour!"]) == ["okay colour"]    # case-sensitive: before lower


def test_substitutions_regex(tmp_path):
    """'re:' rules are Python regular expressions with re.sub replacements, applied in
    file order after and before the word rules around them."""
    path = write(tmp_path / "subs", "re:(\\d+)%\t\\1 percent\nfifty\t50\n"
                 "re:\\b50 percent\thalf\nre:\\s+\t_\n")
    norm = make_normalizer(substitutions=path)
    assert norm(["10% and fifty%", "fifty%", "a\nb"]) == [
        "10_percent_and_50%", "50%", "a_b"]


def test_substitution_file_errors(tmp_path):
    """A line without exactly one tab, a bad regex, a repeated word or a missing file is
    an error naming the line."""
    cases = {"a b\n": "1: expected 'FROM<TAB>TO' (one tab), got 'a b'",
             "x\ty\na\tb\tc\n": "2: expected 'FROM<TAB>TO' (one tab), got 'a\\tb\\tc'",
             "re:(\tx\n": "1: bad regular expression: missing ), unterminated subpattern "
                           "at position 0",
             "re:a\t\\2\n": "1: bad regular expression: invalid group reference 2 at "
                             "position 1",
             "x\ty\n\t z\n": "2: nothing to replace before the tab",
             "x\ty\n x \tw\n": "2: 'x' is already replaced on line 1"}
    for i, (content, message) in enumerate(cases.items()):
        path = write(tmp_path / ("s%d" % i), content)
        assert error(make_normalizer, substitutions=path) == "%s, line %s" % (path, message)
    assert error(make_normalizer, substitutions=tmp_path / "none") == (
        "%s: no such file" % (tmp_path / "none"))


# ------------------------------------------------------------------ whisper-en


def test_whisper_en_needs_its_package(monkeypatch):
    """Without whisper-normalizer, mode='whisper-en' says how to install it."""
    monkeypatch.setitem(sys.modules, "whisper_normalizer", None)
    monkeypatch.setitem(sys.modules, "whisper_normalizer.english", None)
    assert error(make_normalizer, mode="whisper-en") == (
        "normalisation 'whisper-en' needs the whisper-normalizer package: "
        "pip install whisper-normalizer")


def test_whisper_en_parity():
    """mode='whisper-en' gives what the package's EnglishTextNormalizer gives."""
    english = pytest.importorskip("whisper_normalizer.english")
    texts = ["Mr. Smith's colour TV cost $20 and fifty cents!", "", "Um, I'm gonna go."]
    normalize = english.EnglishTextNormalizer()
    assert make_normalizer(mode="whisper-en")(texts) == [normalize(t) for t in texts]


# ------------------------------------------------------------------ mixed unit


@pytest.mark.parametrize("text, tokens", [
    ("我爱北京天安门", "我 爱 北 京 天 安 门"),
    ("你好，世界。", "你 好 ， 世 界 。"),
    ("東京タワーに行きます", "東 京 タ ワ ー に 行 き ま す"),
    ("ラーメン・すし", "ラ ー メ ン ・ す し"),
    ("ｶﾞｷﾞ", "ｶﾞ ｷﾞ"),                               # halfwidth voicing marks attach
    ("葛\U000E0100飾区", "葛\U000E0100 飾 区"),       # an ideographic variation sequence
    ("か\u3099き", "か\u3099 き"),                      # combining voiced sound mark
    ("안녕하세요 세계", "안 녕 하 세 요 세 계"),
    ("\u1112\u1161\u11ab\u1100\u1173\u11af", "\u1112\u1161\u11ab \u1100\u1173\u11af"),
    ("ㅋㅋㅋ", "ㅋ ㅋ ㅋ"),
    ("我用Python写code", "我 用 Python 写 code"),
    ("I love 東京 and Seoul(서울)!", "I love 東 京 and Seoul( 서 울 )!"),
    ("2024年3月", "2024 年 3 月"),
    ("  hello \t  world\n ", "hello world"),
    ("", ""), ("   ", ""),
])
def test_mixed_tokens(text, tokens):
    """CJK characters (with their marks; one Hangul syllable for decomposed jamo) are
    tokens of their own, other text splits at whitespace, CJK punctuation is not a
    token character."""
    assert mixed_tokens(text) == tokens == ref_mixed(text)
    assert mixed_tokens_list([text, text]) == [tokens, tokens]


@SETTINGS
@given(texts=TEXT_LISTS, chunk=st.sampled_from([1, 3, 2048]))
@example(texts=["\u3099你", "a\u0301好b", "你 \n 好"], chunk=2048)
def test_mixed_matches_reference(texts, chunk):
    """The vectorised mixed tokeniser equals the per-character reference, one text or
    a list, and jiwer's word tokenisation of its output gives the same tokens."""
    jiwer = pytest.importorskip("jiwer")
    with small_chunks(chunk):
        out = mixed_tokens_list(texts)
    assert out == [ref_mixed(t) for t in texts] == [mixed_tokens(t) for t in texts]
    for line in out:
        if line:
            assert jiwer.wer_default(line) == [line.split(" ")]


# ------------------------------------------------------------------ speed


def test_normalise_million_lines_timing(capsys):
    """Prints (never asserts) the time to normalise 1,000,000 lines of 20 words."""
    words = ("The quick, brown fox jumps over the lazy dog! Isn't it well-known that "
             "seqloss scores WER and CER - fast?").split()
    distinct = [" ".join(words[(i * 7 + j * 3) % len(words)] for j in range(20))
                for i in range(1000)]
    lines = distinct * 1000
    basic = make_normalizer(mode="basic")
    start = time.perf_counter()
    out = basic(lines)
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    mixed = mixed_tokens_list(out)
    mixed_seconds = time.perf_counter() - start
    assert len(out) == len(mixed) == len(lines)
    assert out[:1000] == [ref_basic(t) for t in distinct] and mixed[:1000] == out[:1000]
    with capsys.disabled():
        print("\nnormalise 1M lines (%.0f MB, mode basic): %.2f s; mixed tokens: %.2f s"
              % (sum(map(len, distinct)) * 1000 / 1e6, seconds, mixed_seconds))
