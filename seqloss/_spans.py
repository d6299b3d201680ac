"""Strings held as spans of a few large strs (the transcripts of a file read in
place): a read-only sequence of str that the kernels read without making a
Python object per string.

A *column* is a list of segments ``(text, starts, ends)``: string i of a
segment is ``text[starts[i]:ends[i]]`` (int64 arrays); the column's strings are
its segments' strings in order.  ``SpanTexts`` wraps a column as a
``Sequence[str]`` (strings are made on access); the C++ side reads columns
through ``seqloss._edit`` (``TextPairs.of_columns``, ``csv_chunk``,
``intern_column``).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import List, Tuple

import numpy as np

__all__ = ["SpanTexts"]


class SpanTexts(Sequence):
    """A sequence of str stored as spans of large strs (see the module docstring)."""

    __slots__ = ("column", "_bounds")

    def __init__(self, column: List[Tuple[str, np.ndarray, np.ndarray]]):
        self.column = [(t, np.ascontiguousarray(s, dtype=np.int64),
                        np.ascontiguousarray(e, dtype=np.int64)) for t, s, e in column]
        self._bounds = np.cumsum([0] + [s.shape[0] for _, s, _ in self.column])

    @classmethod
    def of_strings(cls, strings) -> "SpanTexts":
        """A column holding ``strings`` (joined into one text)."""
        strings = list(strings)
        lengths = np.fromiter(map(len, strings), dtype=np.int64, count=len(strings))
        ends = np.cumsum(lengths)
        return cls([("".join(strings), ends - lengths, ends)])

    def __len__(self) -> int:
        return int(self._bounds[-1])

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        n = len(self)
        i = int(i)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("SpanTexts index out of range")
        k = int(np.searchsorted(self._bounds, i, side="right")) - 1
        text, s, e = self.column[k]
        j = i - int(self._bounds[k])
        return text[int(s[j]):int(e[j])]

    def __iter__(self):
        for text, s, e in self.column:
            for a, b in zip(s.tolist(), e.tolist()):
                yield text[a:b]

    def __eq__(self, other):
        if isinstance(other, (SpanTexts, list, tuple)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other))
        return NotImplemented

    def __repr__(self) -> str:
        return "SpanTexts(%d strings)" % len(self)

    def slice(self, i0: int, i1: int) -> list:
        """The column of strings [i0, i1) (views of the arrays)."""
        out = []
        for k, (text, s, e) in enumerate(self.column):
            lo, hi = int(self._bounds[k]), int(self._bounds[k + 1])
            a, b = max(i0, lo), min(i1, hi)
            if a < b:
                out.append((text, s[a - lo:b - lo], e[a - lo:b - lo]))
        return out

    def take(self, index) -> "SpanTexts":
        """The strings at ``index`` (int64; -1: the empty string) of a one-segment
        column, as a new column."""
        if len(self.column) != 1:
            raise ValueError("SpanTexts.take needs a column of one segment")
        text, s, e = self.column[0]
        index = np.asarray(index, dtype=np.int64)
        inside = index >= 0
        if s.shape[0] == 0:
            z = np.zeros(index.shape[0], np.int64)
            return SpanTexts([(text, z, z)])
        j = np.where(inside, index, 0)
        return SpanTexts([(text, np.where(inside, s[j], 0), np.where(inside, e[j], 0))])

    def __add__(self, other: "SpanTexts") -> "SpanTexts":
        if not isinstance(other, SpanTexts):
            return NotImplemented
        return SpanTexts(self.column + other.column)
