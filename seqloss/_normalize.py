"""Text normalisation and the ``mixed`` unit for ``seqloss eval``.

Normalisers work on a whole list of transcripts at once: the list is joined with
``\\n`` into chunks of ``CHUNK_LINES`` lines, each chunk is transformed by a few
calls that run in C (``str.lower``, ``bytes.translate``, NumPy look-ups in a
per-code-point class table, ``str.replace``), and split back. Chunks holding only
ASCII take a bytes path; others go through the class table (built on first use,
about 0.3 s). Nothing loops over characters in Python. One million lines of 20
English words (105 MB) take about 0.6 s in ``mode="basic"``; text that is not
ASCII about 0.5 s (Chinese, 30 characters a line) to 1.5 s (French, 120).
Substitutions are Python regular expressions: one pass of word rules, or each
``re:`` rule, costs about 2 s for those million lines (``re`` scans ~15 ns a
character).

:func:`make_normalizer` steps, in this order:

1. ``substitutions`` (a file, :func:`load_substitutions`), applied to the text as
   given, so they are case-sensitive and see the punctuation;
2. ``mode="whisper-en"``: the Whisper English normaliser of the optional
   ``whisper-normalizer`` package (it lowercases, removes punctuation and
   collapses spaces itself);
3. lowercase: ``str.lower`` (what jiwer's ``ToLowerCase`` does; not
   ``str.casefold``, which also rewrites letters, e.g. ``ß`` -> ``ss``, and would
   change character counts);
4. remove punctuation: delete every character whose Unicode category starts with
   ``P`` (so ``don't`` -> ``dont``, ``well-known`` -> ``wellknown``, as jiwer's
   ``RemovePunctuation``; symbols such as ``$`` or ``+`` stay);
5. collapse whitespace: every run of Unicode whitespace (``str.isspace``) becomes
   one space, and each transcript is stripped.

``mode="basic"`` is steps 3-5; ``mode="none"`` is none of them, unless
``lowercase``/``remove_punctuation`` ask for 3/4 (without 5: whitespace then stays
as it is, which matters to character error rates).

The ``mixed`` unit (:func:`mixed_tokens`): every CJK character is a token of its
own and other text splits at whitespace. CJK characters here are the letters
and numbers (Unicode category ``L*``/``N*``) of these blocks; their punctuation
(category ``P*``, e.g. U+3001 and U+3002, U+30FB) is punctuation like any other,
their symbols stay non-token text and U+3000 is whitespace:

- CJK Unified Ideographs U+4E00-U+9FFF, Extension A U+3400-U+4DBF, Compatibility
  Ideographs U+F900-U+FAFF, the supplementary ideographic planes U+20000-U+3FFFF
  (Extensions B-I, Compatibility Supplement), ideographic letters in CJK Symbols
  and Punctuation U+3000-U+303F (U+3005-U+3007, U+3021-U+3029, ...);
- Hiragana U+3040-U+309F, Katakana U+30A0-U+30FF, Katakana Phonetic Extensions
  U+31F0-U+31FF, halfwidth katakana U+FF66-U+FF9D, kana supplements
  U+1AFF0-U+1B16F; Bopomofo U+3100-U+312F and U+31A0-U+31BF;
- Hangul Syllables U+AC00-U+D7A3, Hangul Jamo U+1100-U+11FF, Compatibility Jamo
  U+3130-U+318F, Jamo Extended-A U+A960-U+A97F and -B U+D7B0-U+D7FF, halfwidth
  Hangul U+FFA0-U+FFDC.

A token keeps the characters that continue it: combining marks (category
``M*``: variation selectors of ideographic variation sequences, kana voicing
marks U+3099/U+309A), halfwidth voicing marks U+FF9E/U+FF9F, and the vowel and
final conjoining jamo (U+1160-U+11FF, U+D7B0-U+D7FF) after a leading jamo or a
syllable, so decomposed (NFD) Hangul stays one token per syllable.
"""
from __future__ import annotations

import re
import sys
import unicodedata
from functools import lru_cache
from typing import Callable, List, Sequence

import numpy as np

from ._eval_io import InputError, read_text_file, split_lines

__all__ = ["MODES", "CHUNK_LINES", "make_normalizer", "load_substitutions", "mixed_tokens",
           "mixed_tokens_list"]

MODES = ("none", "basic", "whisper-en")
CHUNK_LINES = 2048        # transcripts joined per vectorised call (fastest at 1-4k here)

# Classes of code points (``_classes()``).
_OTHER, _PUNCT, _SPACE, _CJK, _CONT = 0, 1, 2, 3, 4

_CJK_BLOCKS = (
    (0x1100, 0x11FF), (0x3000, 0x303F), (0x3040, 0x309F), (0x30A0, 0x30FF),
    (0x3100, 0x312F), (0x3130, 0x318F), (0x31A0, 0x31BF), (0x31F0, 0x31FF),
    (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xA960, 0xA97F), (0xAC00, 0xD7A3),
    (0xD7B0, 0xD7FF), (0xF900, 0xFAFF), (0xFF66, 0xFF9D), (0xFFA0, 0xFFDC),
    (0x1AFF0, 0x1B16F), (0x20000, 0x3FFFF),
)
# Characters that continue the token before them (besides category M*).
_CONT_RANGES = ((0x1160, 0x11FF), (0xD7B0, 0xD7FF), (0xFF9E, 0xFF9F))

_ASCII_PUNCT = bytes(c for c in range(128) if unicodedata.category(chr(c)).startswith("P"))
_ASCII_BLANKS = bytes(32 if chr(c).isspace() and c != 10 else c for c in range(256))


@lru_cache(maxsize=None)
def _classes() -> np.ndarray:
    """uint8 class of every code point: _PUNCT (category P*), _SPACE (whitespace but
    ``\\n``), _CJK (a CJK token character), _CONT (continues a CJK token), else _OTHER.
    Built once, on first use (about 0.3 s)."""
    table = np.zeros(sys.maxunicode + 1, dtype=np.uint8)
    cats = [unicodedata.category(chr(c)) for c in range(sys.maxunicode + 1)]
    for lo, hi in _CJK_BLOCKS:
        for c in range(lo, hi + 1):
            if cats[c][0] in "LN":
                table[c] = _CJK
    for lo, hi in _CONT_RANGES:
        table[lo:hi + 1] = _CONT
    for c, cat in enumerate(cats):
        first = cat[0]
        if first == "M":
            table[c] = _CONT
        elif first == "P":
            table[c] = _PUNCT
    for c in range(0x3001):             # U+3000 is the last whitespace character
        if c != 10 and chr(c).isspace():
            table[c] = _SPACE
    table.setflags(write=False)
    return table


# ----------------------------------------------------------------- chunk engine
#
# A chunk is transcripts joined by "\n", as one array of characters (uint8 for
# ASCII, uint32 code points otherwise). Deleting characters one by one from an
# array is slow (a boolean-mask compaction costs ~3 ns a character), so spaces to
# drop are overwritten with a tab, which whitespace collapsing has already turned
# into a space everywhere else, and all tabs are deleted at once by
# bytes.replace / str.replace after the array is turned back into text.

_DROP = 9       # "\t": marks a character to delete


def _codes(s: str) -> np.ndarray:
    # surrogatepass: JSON may hold lone surrogates ("\ud800").
    return np.frombuffer(s.encode("utf-32-le", "surrogatepass"), dtype="<u4")


def _decode(codes: np.ndarray) -> str:
    return codes.astype("<u4", copy=False).tobytes().decode("utf-32-le", "surrogatepass")


def _collapsed(chars: np.ndarray, space: np.ndarray):
    """(``chars`` collapsed, ragged): every whitespace character (``space``, a mask
    that leaves out ``\\n``) a space, and every space after whitespace, a ``\\n`` or
    the start marked _DROP. Runs become their first space and no line starts with
    a space; a line can still end in one when ``ragged``.

    Branch-free arithmetic: NumPy's masked assignment and ``where`` cost ~2 ns a
    character here, ten times a multiply-add.
    """
    if not chars.size:
        return chars, False
    after_stop = np.empty_like(space)
    after_stop[0] = True
    np.logical_or(space[:-1], chars[:-1] == 10, out=after_stop[1:])
    drop = after_stop & space
    kept = space & ~after_stop
    ragged = bool(kept[-1]) or bool(np.any(kept[:-1] & after_stop[1:]))
    marks = drop.view(np.uint8) * chars.dtype.type(32 - _DROP)
    if chars.dtype == np.uint8 or not np.any(space & (chars != 32)):
        return chars - marks, ragged            # whitespace is all spaces already
    # uint32 wraps around, so codes + (target - codes) * 1 == target.
    target = np.uint32(32) - marks
    return chars + (target - chars) * space.view(np.uint8), ragged


def _split(text: str, ragged: bool) -> List[str]:
    lines = text.split("\n")
    return [line.rstrip(" ") for line in lines] if ragged else lines


def _ascii_lines(chars: np.ndarray, space: np.ndarray) -> List[str]:
    chars, ragged = _collapsed(chars, space)
    return _split(chars.tobytes().replace(b"\t", b"").decode("ascii"), ragged)


def _code_lines(codes: np.ndarray, space: np.ndarray) -> List[str]:
    codes, ragged = _collapsed(codes, space)
    return _split(_decode(codes).replace("\t", ""), ragged)


def _ascii_bytes(s: str, punct: bool) -> np.ndarray:
    """The ASCII str ``s`` as bytes, whitespace but ``\\n`` made spaces, punctuation
    deleted if ``punct``."""
    return np.frombuffer(s.encode("ascii").translate(_ASCII_BLANKS,
                                                     _ASCII_PUNCT if punct else b""),
                         dtype=np.uint8)


def _lower_punct(s: str, lower: bool, punct: bool) -> str:
    """Steps 3-4 of the module docstring (they never look across characters)."""
    if lower:
        s = s.lower()
    if not punct:
        return s
    if s.isascii():
        return s.encode("ascii").translate(None, _ASCII_PUNCT).decode("ascii")
    codes = _codes(s)
    keep = _classes().take(codes) != _PUNCT
    return s if keep.all() else _decode(codes[keep])


def _basic_lines(s: str, lower: bool, punct: bool) -> List[str]:
    """Steps 3 (if ``lower``), 4 (if ``punct``) and 5 of the module docstring on ``s``
    (transcripts joined by ``\\n``), split back into transcripts."""
    if lower:
        s = s.lower()
    if not s:
        return [s]
    if s.isascii():
        chars = _ascii_bytes(s, punct)
        return _ascii_lines(chars, chars == 32)
    table = _classes()
    codes = _codes(s)
    cls = table.take(codes)
    if punct:
        keep = cls != _PUNCT
        if not keep.all():
            codes = codes[keep]
            cls = table.take(codes)
    return _code_lines(codes, cls == _SPACE)


def _mixed_lines(s: str) -> List[str]:
    """:func:`mixed_tokens` on transcripts joined by ``\\n``, split back."""
    if not s:
        return [s]
    if s.isascii():
        chars = _ascii_bytes(s, punct=False)
        return _ascii_lines(chars, chars == 32)
    codes = _codes(s)
    cls = _classes().take(codes)
    space = cls == _SPACE
    cjk = cls == _CJK
    if not cjk.any():
        return _code_lines(codes, space)
    cont = cls == _CONT
    if cont.any():
        # A continuation belongs to the last character before it that is not one.
        position = np.arange(codes.size)
        owner = np.maximum.accumulate(np.where(cont, 0, position))
        in_token = cjk | (cont & cjk[owner])
    else:
        in_token = cjk
    # One space goes into the gap before character i when a token starts at i or
    # one ends at i - 1, unless whitespace or a line break is already there.
    stop = space | (codes == 10)
    gap = np.zeros(codes.size, dtype=bool)
    gap[1:] = (cjk[1:] | (in_token[:-1] & ~cont[1:])) & ~stop[:-1] & ~stop[1:]
    chars, ragged = _collapsed(codes, space)
    out = np.empty((codes.size, 2), dtype=np.uint32)     # (character, [gap before, it])
    out[:, 0] = np.uint32(_DROP) + gap.view(np.uint8) * np.uint32(32 - _DROP)
    out[:, 1] = chars
    return _split(_decode(out.ravel()).replace("\t", ""), ragged)


def _by_chunks(texts: List[str], lines_of: Callable[[str], List[str]]) -> List[str]:
    """``lines_of`` applied to the transcripts joined by ``\\n``, CHUNK_LINES at a time.
    ``lines_of`` must treat ``\\n`` as whitespace; a ``\\n`` inside a transcript (possible
    in tsv and jsonl) is made a space first."""
    out: List[str] = []
    for start in range(0, len(texts), CHUNK_LINES):
        part = texts[start:start + CHUNK_LINES]
        joined = "\n".join(part)
        if joined.count("\n") != len(part) - 1:
            joined = "\n".join(t.replace("\n", " ") for t in part)
        out.extend(lines_of(joined))
    return out


def _joined_map(texts: List[str], fn: Callable[[str], str]) -> List[str]:
    """``fn`` (which keeps every ``\\n`` and never looks across one) of every transcript,
    CHUNK_LINES at a time; transcripts holding ``\\n`` go one by one."""
    out: List[str] = []
    for start in range(0, len(texts), CHUNK_LINES):
        part = texts[start:start + CHUNK_LINES]
        joined = "\n".join(part)
        if joined.count("\n") != len(part) - 1:
            out.extend(fn(t) for t in part)
        else:
            out.extend(fn(joined).split("\n"))
    return out


def mixed_tokens_list(texts: Sequence[str]) -> List[str]:
    """:func:`mixed_tokens` of every transcript."""
    return _by_chunks(list(texts), _mixed_lines)


def mixed_tokens(text: str) -> str:
    """``text`` with every CJK character a space-separated token and other text split
    at whitespace: runs of whitespace become one space, the ends are stripped, so
    ``result.split(" ")`` (or jiwer's word tokenisation) gives the tokens
    (``[""]`` for no tokens: ``result`` is then ``""``)."""
    return _mixed_lines(text.replace("\n", " "))[0]


# ----------------------------------------------------------------- substitutions


_WORD_EDGE = r"\w'\u2019"     # a whole word is not next to these (letters, digits, _ and ')


def load_substitutions(path) -> List[Callable[[List[str]], List[str]]]:
    """The steps of a substitutions file, in file order.

    Each line is ``FROM<TAB>TO`` (exactly one tab); blank lines and lines whose first
    non-blank character is ``#`` are ignored. ``FROM`` is a word or phrase replaced
    where it stands as a whole word: not next to a letter, digit, ``_`` or apostrophe
    (``'`` or U+2019), so ``don`` leaves ``don't`` alone; a space inside ``FROM``
    matches any run of whitespace within a transcript. ``re:PATTERN<TAB>REPL`` is a
    Python regular expression and its ``re.sub`` replacement. Consecutive word lines
    form one simultaneous pass (the longest ``FROM`` wins; a replacement is not
    replaced again; one word twice is an error); each regex line is a pass of its
    own, applied to every transcript separately.
    """
    name = str(path)
    steps: List[Callable[[List[str]], List[str]]] = []
    words: dict = {}
    where: dict = {}
    for n, line in enumerate(split_lines(read_text_file(path)), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line.count("\t") != 1:
            raise InputError("%s, line %d: expected 'FROM<TAB>TO' (one tab), got %r"
                             % (name, n, line if len(line) <= 60 else line[:60] + "..."))
        source, target = line.split("\t")
        if source.startswith("re:"):
            if words:
                steps.append(_word_step(words))
                words, where = {}, {}
            steps.append(_regex_step(name, n, source[3:], target))
            continue
        key = " ".join(source.split())
        if not key:
            raise InputError("%s, line %d: nothing to replace before the tab" % (name, n))
        if key in where:
            raise InputError("%s, line %d: %r is already replaced on line %d"
                             % (name, n, key, where[key]))
        where[key] = n
        words[key] = target.strip()
    if words:
        steps.append(_word_step(words))
    return steps


def _word_alternative(key: str) -> str:
    """The pattern of one word rule, without the check after it. A single word checks
    the character before it from its end: ``colour(?<![\\w'].{6})``; sre then skips
    ahead on the words' first characters, twice as fast as a leading lookbehind."""
    if " " not in key:
        return r"%s(?<![%s].{%d})" % (re.escape(key), _WORD_EDGE, len(key))
    phrase = r"[^\S\n]+".join(re.escape(w) for w in key.split(" "))
    return r"(?<![%s])%s" % (_WORD_EDGE, phrase)


def _word_step(words: dict) -> Callable[[List[str]], List[str]]:
    alternatives = "|".join(_word_alternative(key)
                            for key in sorted(words, key=len, reverse=True))
    pattern = re.compile(r"(?:%s)(?![%s])" % (alternatives, _WORD_EDGE))

    def replace(m):
        return words[" ".join(m.group().split())]

    def chunk(s: str) -> str:
        return pattern.sub(replace, s)

    def step(texts: List[str]) -> List[str]:
        return _joined_map(texts, chunk)       # the pattern never matches "\n"

    return step


def _regex_step(name: str, n: int, source: str, target: str):
    try:
        pattern = re.compile(source)
        pattern.sub(target, "")         # checks the replacement's group references
    except (re.error, IndexError) as e:
        raise InputError("%s, line %d: bad regular expression: %s" % (name, n, e)) from None

    def step(texts: List[str]) -> List[str]:
        sub = pattern.sub
        return [sub(target, t) for t in texts]

    return step


# ----------------------------------------------------------------- normalisers


def _whisper_en_step() -> Callable[[List[str]], List[str]]:
    try:
        from whisper_normalizer.english import EnglishTextNormalizer
    except ImportError:
        raise InputError("normalisation 'whisper-en' needs the whisper-normalizer package: "
                         "pip install whisper-normalizer") from None
    normalize = EnglishTextNormalizer()

    def step(texts: List[str]) -> List[str]:
        return [normalize(t) for t in texts]

    return step


def make_normalizer(*, mode: str = "none", lowercase: bool = False,
                    remove_punctuation: bool = False,
                    substitutions=None) -> Callable[[Sequence[str]], List[str]]:
    """A function from a list of transcripts to their normalised list (a new list;
    the steps and their order are in the module docstring)."""
    if mode not in MODES:
        raise InputError("unknown normalisation %r; expected one of %s"
                         % (mode, ", ".join(MODES)))
    steps: List[Callable[[List[str]], List[str]]] = []
    if substitutions is not None:
        steps.extend(load_substitutions(substitutions))
    if mode == "whisper-en":
        steps.append(_whisper_en_step())
    lower = lowercase or mode == "basic"
    punct = remove_punctuation or mode == "basic"
    collapse = mode == "basic"
    if collapse:
        steps.append(lambda texts: _by_chunks(texts, lambda s: _basic_lines(s, lower, punct)))
    elif lower or punct:
        steps.append(lambda texts: _joined_map(texts, lambda s: _lower_punct(s, lower, punct)))

    def normalize(texts: Sequence[str]) -> List[str]:
        out = list(texts)
        for step in steps:
            out = step(out)
        return out

    return normalize
