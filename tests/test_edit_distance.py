"""Edit distance, WER and CER: textbook references, peers (editdistance,
rapidfuzz, jiwer), thread-count and ISA agreement, and every bad input."""
import os
import random
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

import seqloss
from seqloss import _edit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference import (_direct_counts, jiwer_chars, jiwer_words,  # noqa: E402
                             levenshtein_dp, levenshtein_np, sdi_counts)

editdistance = pytest.importorskip("editdistance")
jiwer = pytest.importorskip("jiwer")
rapidfuzz = pytest.importorskip("rapidfuzz")
from rapidfuzz.distance import Levenshtein as RFLev  # noqa: E402
from strategies import token_pairs  # noqa: E402

SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def rf_counts(ref, hyp):
    """(hits, subs, dels, ins) from rapidfuzz opcodes, as jiwer computes them."""
    h = s = d = i = 0
    for tag, i1, i2, j1, j2 in RFLev.opcodes(ref, hyp):
        if tag == "equal":
            h += i2 - i1
        elif tag == "replace":
            s += i2 - i1
        elif tag == "delete":
            d += i2 - i1
        else:
            i += j2 - j1
    return (h, s, d, i)


def mutate(rng, ref, vocab, rate=0.2):
    """A hypothesis near ``ref``: substitutions, insertions, deletions."""
    hyp = [x if rng.random() > rate else rng.randrange(vocab) for x in ref]
    for _ in range(rng.randint(0, len(ref) // 5 + 1)):
        if hyp and rng.random() < 0.5:
            del hyp[rng.randrange(len(hyp))]
        else:
            hyp.insert(rng.randint(0, len(hyp)), rng.randrange(vocab))
    return hyp


# ---------------------------------------------------------------- references

def test_reference_dp_known_values():
    """The textbook DP gives the hand-computed distances."""
    assert levenshtein_dp("kitten", "sitting") == 3
    assert levenshtein_dp("", "abc") == 3
    assert levenshtein_dp("flaw", "lawn") == 2
    assert levenshtein_dp("abc", "abc") == 0
    assert levenshtein_dp([1, 2, 3], [3, 2, 1]) == 2


def test_reference_matrix_equals_textbook_dp():
    """The row-vectorised DP equals the textbook DP on random small pairs."""
    rng = random.Random(0)
    for _ in range(200):
        a = [rng.randrange(3) for _ in range(rng.randint(0, 12))]
        b = [rng.randrange(3) for _ in range(rng.randint(0, 12))]
        assert levenshtein_np(a, b) == levenshtein_dp(a, b)


def test_reference_backtrace_matches_rapidfuzz():
    """The reference S/D/I backtrace reproduces rapidfuzz's opcode counts."""
    rng = random.Random(1)
    for _ in range(300):
        m = rng.choice([rng.randint(0, 10), rng.randint(0, 80), rng.randint(60, 300)])
        v = rng.choice([2, 3, 30])
        ref = [rng.randrange(v) for _ in range(m)]
        hyp = mutate(rng, ref, v) if rng.random() < 0.6 else \
            [rng.randrange(v) for _ in range(rng.randint(0, 2 * m + 2))]
        assert sdi_counts(ref, hyp) == rf_counts(ref, hyp)


# ---------------------------------------------------------------- distances

@SETTINGS
@example(([], []))                      # both empty
@example(([], [3, 1]))                  # empty hypothesis
@example(([5] * 65, []))                # empty reference, one block plus one
@example(([1, 2, 3] * 43, [1, 2, 3] * 43))  # identical, 129 tokens
@example(([7], [7]))                    # single token, equal
@example(([7], [8]))                    # single token, substituted
@example(([0] * 64, [0] * 63 + [1]))    # one word exactly, last position differs
@given(token_pairs())
def test_distance_matches_dp_over_block_boundaries(pair):
    """edit_distance equals the DP for lengths 0..2000, block boundaries forced."""
    hyp, ref = pair
    expected = levenshtein_np(hyp, ref)
    assert seqloss.edit_distance(hyp, ref) == expected
    assert seqloss.edit_distance(np.array(hyp, dtype=np.int64),
                                 np.array(ref, dtype=np.int64)) == expected


@SETTINGS
@example([([], []), ([1], []), ([], [2])], np.uint8)   # empty rows among short ones
@example([([4] * 129, [4] * 129), ([9], [9]), ([9], [8])], np.int64)  # identical, single
@given(st.lists(token_pairs(max_len=700), min_size=1, max_size=8),
       st.sampled_from([np.uint8, np.int16, np.int32, np.int64, np.uint64]))
def test_batch_padded_and_ragged_agree_with_single(pairs, dtype):
    """Padded arrays (garbage past the lengths), ragged lists and single calls agree."""
    pairs = [([x % 250 for x in h], [x % 250 for x in r]) for h, r in pairs]  # fit uint8
    hyps = [h for h, _ in pairs]
    refs = [r for _, r in pairs]
    expected = [levenshtein_np(h, r) for h, r in pairs]
    single = [seqloss.edit_distance(h, r) for h, r in pairs]
    ragged = seqloss.edit_distance_batch(hyps, refs)
    n = len(pairs)
    wh = max(len(h) for h in hyps) + 3
    wr = max(len(r) for r in refs) + 1
    H = np.full((n, wh), 255, dtype=dtype)
    R = np.full((n, wr), 254, dtype=dtype)
    for i, (h, r) in enumerate(pairs):
        H[i, :len(h)] = h
        R[i, :len(r)] = r
    padded = seqloss.edit_distance_batch(H, R, hyp_lengths=[len(h) for h in hyps],
                                         ref_lengths=np.array([len(r) for r in refs], np.int32))
    assert single == expected
    assert ragged.dtype == np.int64 and ragged.tolist() == expected
    assert padded.tolist() == expected


@settings(max_examples=60, deadline=None)
@example("", "", "")                                  # both empty
@example("abc", "", "")                               # one empty
@example("", "", "\U0001F600")                        # empty vs astral only
@example("h\u00e9llo \u6771", "h\u00e9llo \u6771", "")    # identical
@example("a", "b", "")                                # single token
@example("\U0001F600", "\U0001F601", "\U00010000")    # astral neighbours
@given(st.text(max_size=150), st.text(max_size=150),
       st.text(alphabet=st.characters(min_codepoint=0x10000, max_codepoint=0x1F9FF),
               max_size=70))
def test_unicode_strings_by_code_point(a, b, astral):
    """str compares by code point (non-BMP included), as the DP on code points."""
    b2 = b + astral
    expected = levenshtein_dp([ord(c) for c in a], [ord(c) for c in b2])
    assert seqloss.edit_distance(a, b2) == expected
    assert seqloss.edit_distance_batch([a, astral, b2], [b2, a, astral]).tolist() == [
        expected, levenshtein_dp(astral, a), levenshtein_dp(b2, astral)]


def test_non_bmp_neighbours_are_distinct():
    """Astral characters sharing UTF-16 surrogates or low bytes stay distinct."""
    assert seqloss.edit_distance("\U0001F600", "\U0001F601") == 1
    assert seqloss.edit_distance("\U0001F600", "\u00F6\u00F6") == 2  # 0x1F600 vs low bytes
    assert seqloss.edit_distance("a\U00010000b", "a\U00010000b") == 0
    assert seqloss.edit_distance("\u0100", "\u0000") == 1
    assert seqloss.edit_distance_batch(["é" * 70, "\U00010437" * 3],
                                       ["e" * 70, "\U00010437" * 2]).tolist() == [70, 1]


def test_bytes_compare_by_byte():
    """bytes compare by byte value."""
    assert seqloss.edit_distance(b"kitten", b"sitting") == 3
    assert seqloss.edit_distance_batch([b"", bytearray(b"ab")], [b"abc", b"b"]).tolist() == [3, 1]


def test_negative_and_64bit_ids_by_value():
    """Token ids compare by full 64-bit value, never by Python hash."""
    assert hash(-1) == hash(-2)
    assert editdistance.eval([-1], [-2]) == 0  # the peer's bug this guards against
    assert seqloss.edit_distance([-1], [-2]) == 1
    assert seqloss.edit_distance(np.array([-1]), np.array([-2])) == 1
    assert seqloss.edit_distance([2**40, 5], [0, 5]) == 1
    assert seqloss.edit_distance(np.array([2**40 + 1]), np.array([1], np.int8)) == 1
    assert seqloss.edit_distance(np.array([2**40 + 1]), np.array([2**40 + 1], np.uint64)) == 0
    # uint64 above 2**63 vs a negative int64 with the same bits
    assert seqloss.edit_distance(np.array([2**63], np.uint64),
                                 np.array([-2**63], np.int64)) == 1
    assert seqloss.edit_distance(np.array([2**64 - 1, 3], np.uint64),
                                 np.array([2**64 - 1, 3], np.uint64)) == 0
    assert seqloss.edit_distance([2**64 + 7], [7]) == 1  # beyond 64 bits: by ==
    a = np.array([[-1, -2, 2**40, 0]], np.int64)
    b = np.array([[-2, -1, 2**40, 0]], np.int64)
    assert seqloss.edit_distance_batch(a, b).tolist() == [2]
    h = np.array([[300, 1]], np.int16)
    r = np.array([[44, 1]], np.uint8)  # 300 & 0xFF == 44: must not match
    assert seqloss.edit_distance_batch(h, r).tolist() == [1]
    # hash(2**63 - 1) == hash(3) == 3 (ints hash modulo 2**61 - 1): both peers call them equal,
    # rapidfuzz even on NumPy arrays
    assert hash(2**63 - 1) == hash(3)
    assert RFLev.distance(np.array([2**63 - 1]), np.array([3])) == 0
    assert seqloss.edit_distance([2**63 - 1], [3]) == 1
    big = np.array([[2**63 - 1, 5, 2**61 + 1]], np.int64)
    small = np.array([[3, 5, 2]], np.int64)  # hash(2**61 + 1) == 2 as well
    assert seqloss.edit_distance_batch(big, small).tolist() == [2]
    assert seqloss.edit_distance_batch([big[0].tolist()], [small[0].tolist()]).tolist() == [2]


def test_hashable_tokens_by_equality():
    """Lists of hashables compare by ==, including mixed types."""
    # word tokens of different string widths and mixed str / bytes / int items
    assert seqloss.edit_distance_batch(
        [["a", "é", "東京"], "aé", b"ab", ["x", 2**40]],
        [("a", "é", "東京"), ["a", "é"], [97, 98], ["x", 2**40 + 1]]).tolist() == [0, 0, 0, 1]
    assert seqloss.edit_distance_batch([["é"]], ["é"]).tolist() == [0]  # 1-char vs char of a str
    assert seqloss.edit_distance_batch([["é", "a"]], ["aé"]).tolist() == [2]
    # 'a' alone is a 1-byte-wide str, inside "a東" a 2-byte-wide one: still equal
    assert seqloss.edit_distance_batch([["a", "東"], ["\U0001F600"]],
                                       ["a東", "\U0001F600b"]).tolist() == [0, 1]
    assert seqloss.edit_distance(["the", "cat"], ["the", "hat"]) == 1
    assert seqloss.edit_distance([(1, 2), "x", None], [(1, 2), "y", None]) == 1
    assert seqloss.edit_distance([1, 2.0, True], [1.0, 2, 1]) == 0  # Python equality
    assert seqloss.edit_distance([1.5], [1]) == 1
    assert seqloss.edit_distance("ab", ["a", "b"]) == 0  # a str is its characters
    assert seqloss.edit_distance(b"a", [97]) == 0  # bytes are ints


def test_matches_editdistance_on_random_lists():
    """Same distances as editdistance.eval where it is right (no hash collisions)."""
    rng = random.Random(7)
    hyps, refs = [], []
    for _ in range(400):
        ref = [rng.randrange(50) for _ in range(rng.randint(0, 300))]
        hyps.append(mutate(rng, ref, 50))
        refs.append(ref)
    expected = [editdistance.eval(h, r) for h, r in zip(hyps, refs)]
    assert seqloss.edit_distance_batch(hyps, refs).tolist() == expected
    words = ["w%d" % i for i in range(40)] + ["é", "東京", "\U0001F600", "e\u0301", "ß"]
    wh = [[words[x % 45] for x in h] for h in hyps]
    wr = [tuple(words[x % 45] for x in r) for r in refs]
    assert seqloss.edit_distance_batch(wh, wr).tolist() == [
        editdistance.eval(a, b) for a, b in zip(wh, wr)]
    strs_h = ["".join(chr(97 + x % 26) for x in h) for h in hyps]
    strs_r = ["".join(chr(97 + x % 26) for x in r) for r in refs]
    assert seqloss.edit_distance_batch(strs_h, strs_r).tolist() == [
        editdistance.eval(a, b) for a, b in zip(strs_h, strs_r)]


def test_long_pairs_banded_and_unbounded():
    """Long pairs (blocked, banded) match the DP: similar, disjoint, very unequal."""
    rng = random.Random(3)
    cases = []
    for m in (900, 1500, 2000):
        ref = [rng.randrange(80) for _ in range(m)]
        cases.append((mutate(rng, ref, 80, 0.15), ref))
        cases.append((ref[: m // 3], ref))
        cases.append(([rng.randrange(80) for _ in range(m // 2)], ref))
        cases.append((ref + [1] * 300, ref))
    got = seqloss.edit_distance_batch([h for h, _ in cases], [r for _, r in cases])
    assert got.tolist() == [levenshtein_np(h, r) for h, r in cases]


def test_long_pairs_mostly_substitutions():
    """Long pairs (over 256 tokens, blocked band with a doubling bound capped
    by the substitution upper bound) equal the DP: substitutions only (the
    upper bound is then tight) at and around the band's block sizes, plus
    a few insertions / deletions (a loose upper bound), either side longer."""
    rng = random.Random(23)
    cases = []
    for m in (257, 300, 700, 1500):
        ref = [rng.randrange(80) for _ in range(m)]
        for n_subs in (1, 10, 63, 64, 65, 130, 300):
            hyp = list(ref)
            for i in rng.sample(range(m), min(n_subs, m)):
                hyp[i] = (hyp[i] + 1 + rng.randrange(79)) % 80
            cases.append((hyp, ref))
            cases.append((_edited(rng, hyp, 3, lambda: rng.randrange(80)), ref))
            cases.append((ref, hyp[: m - n_subs // 3]))
    got = seqloss.edit_distance_batch([h for h, _ in cases], [r for _, r in cases])
    assert got.tolist() == [levenshtein_np(h, r) for h, r in cases]


def _padded_batch(pairs, dtype):
    """Padded (N, W) arrays of ``dtype`` (garbage past the lengths) and the lengths."""
    w = max([len(x) for p in pairs for x in p] + [1]) + 3
    hyp = np.full((len(pairs), w), 7, dtype=dtype)
    ref = np.full((len(pairs), w), 5, dtype=dtype)
    for i, (h, r) in enumerate(pairs):
        hyp[i, :len(h)] = h
        ref[i, :len(r)] = r
    return (hyp, ref, np.array([len(h) for h, _ in pairs]), np.array([len(r) for _, r in pairs]))


def _edited(rng, seq, n_edits, new_token):
    """``seq`` with n_edits random substitutions / insertions / deletions."""
    out = list(seq)
    for _ in range(n_edits):
        i = rng.randrange(len(out) + 1)
        op = rng.random()
        if op < 0.5 and i < len(out):
            out[i] = new_token()
        elif op < 0.75 and i < len(out):
            del out[i]
        else:
            out.insert(i, new_token())
    return out


# token values per dtype: around the narrowing limits (0xFE / 0xFF / 0xFFFE /
# 0xFFFF sentinels of the 8- and 16-bit compares), negative and 2**40 ids
LOCK_VALUES = {
    np.int8: [-128, -1, 0, 1, 5, 127],
    np.int16: [-32768, -2, 0, 3, 254, 255, 32767],
    np.int32: [-2**31, -7, 0, 1, 0xFE, 0xFF, 0xFFFE, 0xFFFF, 2**31 - 1],
    np.int64: [-2**40, -1, 0, 2, 0xFE, 0xFF, 0xFFFE, 0xFFFF, 2**40, 2**40 + 1],
    np.uint8: [0, 1, 2, 0xFE, 0xFF],
    np.uint16: [0, 1, 0xFE, 0xFF, 0xFFFE, 0xFFFF],
    np.uint32: [0, 3, 0xFFFE, 0xFFFF, 2**32 - 2, 2**32 - 1],
}


@pytest.mark.parametrize("dtype", list(LOCK_VALUES))
def test_short_pairs_in_lockstep_groups(dtype):
    """Short pairs (pattern <= 64 after the affixes) computed 4 or 8 at a time
    equal the DP: lanes with very different text lengths (so they finish at
    different steps), empty and fully equal pairs between them, patterns of
    exactly 64 and 65 tokens, texts past the lockstep limit, values at the
    narrowing limits, every token type."""
    rng = random.Random(17)
    vals = LOCK_VALUES[dtype]
    small = [v for v in vals if abs(v) < 2**15] if dtype in (np.int32, np.int64) else vals

    def tok(pool):
        return pool[rng.randrange(len(pool))] if rng.random() < 0.3 else \
            int(np.array(rng.randrange(2**20), dtype=np.int64).astype(dtype))

    pairs = []
    for _ in range(160):
        pool = vals if rng.random() < 0.5 else small
        kind = rng.random()
        if kind < 0.1:  # an empty side
            x = [tok(pool) for _ in range(rng.randint(0, 70))]
            pairs.append(([], x) if rng.random() < 0.5 else (x, []))
            continue
        if kind < 0.2:  # fully equal
            x = [tok(pool) for _ in range(rng.randint(0, 80))]
            pairs.append((x, list(x)))
            continue
        m = rng.choice([1, 2, 7, 31, 32, 33, 63, 64, 65, rng.randint(1, 64)])
        p = [tok(pool) for _ in range(m)]
        # a text from m to far past the lockstep limit (287 tokens)
        n = m + rng.choice([0, 1, 5, rng.randint(0, 40), rng.randint(0, 230), 300])
        t = list(p)
        while len(t) < n:
            t.insert(rng.randrange(len(t) + 1), tok(pool))
        t = _edited(rng, t, rng.randint(0, 6), lambda: tok(pool))
        if m and t:  # keep the ends different so the pattern is not stripped shorter
            t[0] = t[0] ^ 1 if t[0] == p[0] else t[0]
            t[-1] = t[-1] ^ 2 if t[-1] == p[-1] else t[-1]
        t = [int(np.array([x]).astype(dtype)[0]) for x in t]
        pairs.append((t, p) if rng.random() < 0.5 else (p, t))
    rng.shuffle(pairs)
    hyp, ref, hl, rl = _padded_batch(pairs, dtype)
    expected = [levenshtein_np([int(x) for x in h], [int(x) for x in r]) for h, r in pairs]
    assert seqloss.edit_distance_batch(hyp, ref, hyp_lengths=hl, ref_lengths=rl,
                                       n_threads=1).tolist() == expected
    # groups are formed within tasks of consecutive pairs: any thread count agrees
    assert seqloss.edit_distance_batch(hyp, ref, hyp_lengths=hl, ref_lengths=rl,
                                       n_threads=2).tolist() == expected


@pytest.mark.parametrize("dtype,vocab", [
    (np.uint8, 60), (np.uint8, 256), (np.uint16, 300), (np.uint16, 65536),
    (np.int32, 100), (np.int32, 2**31), (np.int64, 250), (np.int64, 70000), (np.int64, 2**50)])
def test_band_for_medium_patterns_at_its_bound(dtype, vocab):
    """Patterns of 65..256 tokens against texts at most 31 longer go through
    the single-word band (bound 31): distances just under, at and over the
    bound (over it: the exact fallback), length differences at the bound,
    pattern on either side, small / 16-bit / wide value ranges; all equal
    the DP."""
    rng = random.Random(vocab)
    lo = -vocab // 2 if np.issubdtype(dtype, np.signedinteger) else 0

    def tok():
        return lo + rng.randrange(vocab)

    pairs = []
    for _ in range(36):
        m = rng.choice([65, 66, 100, 128, 129, 192, 193, 255, 256, 257])
        p = [tok() for _ in range(m)]
        diff = rng.choice([0, 1, 15, 30, 31, 32, 33])
        n_subs = rng.choice([0, 1, 10, 27, 29, 30, 31, 32, 40])
        t = list(p)
        for _ in range(diff):
            t.insert(rng.randrange(len(t) + 1), tok())
        for i in rng.sample(range(len(t)), min(n_subs, len(t))):
            t[i] = tok()
        t[0] = p[0] + 1 if t[0] == p[0] else t[0]  # no common prefix / suffix
        t[-1] = p[-1] - 1 if t[-1] == p[-1] else t[-1]
        info = np.iinfo(dtype)
        t = [min(max(x, info.min), info.max) for x in t]
        pairs.append((t, p) if rng.random() < 0.5 else (p, t))
    hyp, ref, hl, rl = _padded_batch(pairs, dtype)
    expected = [levenshtein_np(h, r) for h, r in pairs]
    assert any(31 <= e <= 33 for e in expected)  # the bound itself is exercised
    got = seqloss.edit_distance_batch(hyp, ref, hyp_lengths=hl, ref_lengths=rl)
    assert got.tolist() == expected
    # one pair at a time (no lockstep group) agrees
    assert [seqloss.edit_distance(np.asarray(h, dtype), np.asarray(r, dtype))
            for h, r in pairs] == expected


def test_thread_counts_give_identical_results():
    """n_threads 1, 2, None and -1 give identical arrays on a batch big enough to split."""
    rng = np.random.default_rng(5)
    n, w = 3000, 90
    H = rng.integers(0, 20, (n, w))
    R = H.copy()
    R[rng.random((n, w)) < 0.2] = 7
    hl = rng.integers(0, w + 1, n)
    rl = rng.integers(0, w + 1, n)
    outs = [seqloss.edit_distance_batch(H, R, hyp_lengths=hl, ref_lengths=rl, n_threads=t)
            for t in (1, 2, None, -1)]
    for o in outs[1:]:
        assert np.array_equal(o, outs[0])
    hs = [" ".join(map(str, row[:k])) for row, k in zip(H, hl)]
    rs = [" ".join(map(str, row[:k])) for row, k in zip(R, rl)]
    ers = [seqloss.error_rates(hs, rs, n_threads=t) for t in (1, 2, None)]
    for e in ers[1:]:
        assert e == ers[0]
        assert np.array_equal(e.pair_insertions, ers[0].pair_insertions)


def test_normalize_tf_semantics():
    """normalize divides by the reference length; 0/0 -> 0.0, x/0 -> inf."""
    got = seqloss.edit_distance_batch(["", "ab", "abcd", ""], ["", "", "abce", "xy"],
                                      normalize=True)
    assert got.dtype == np.float64
    assert got.tolist() == [0.0, float("inf"), 0.25, 1.0]


def test_empty_batch():
    """An empty batch gives empty results."""
    assert seqloss.edit_distance_batch([], []).shape == (0,)
    z = np.zeros((0, 5), np.int64)
    assert seqloss.edit_distance_batch(z, z).shape == (0,)


def isa_pairs():
    """(hyps, refs): near and independent pairs across the block sizes, then single-word
    bands at their bound and short lanes of uneven lengths (lockstep groups)."""
    rng = random.Random(11)
    hs, rs = [], []
    for _ in range(300):
        m = rng.choice([rng.randint(0, 70), rng.randint(60, 400)])
        r = [rng.randrange(40) - 20 for _ in range(m)]
        h = [x if rng.random() > 0.2 else rng.randrange(40) for x in r][: rng.randint(0, m + 5)]
        hs.append(h)
        rs.append(r)
    for _ in range(200):
        m = rng.choice([rng.randint(65, 256), rng.randint(1, 64)])
        r = [rng.randrange(60) for _ in range(m)]
        h = r + [rng.randrange(60) for _ in range(rng.choice([0, 5, 31, 32, 200]))]
        for _ in range(rng.randint(0, 38)):
            i = rng.randrange(len(h) + 1)
            k = rng.random()
            if k < 0.5 and i < len(h):
                h[i] = rng.randrange(60)
            elif k < 0.75 and i < len(h):
                del h[i]
            else:
                h.insert(i, rng.randrange(60))
        hs.append(h)
        rs.append(r)
    return hs, rs


ISA_CODE = """
hs, rs = inp["hyps"], inp["refs"]
for dt in ("int64", "int32", "int16", "uint8"):
    out[dt] = seqloss.edit_distance_batch([np.array(x, np.int64).astype(dt) for x in hs],
                                          [np.array(x, np.int64).astype(dt) for x in rs]).tolist()
astral = lambda seq: "".join(chr(0x1F600 + x) for x in seq)
out["str"] = seqloss.edit_distance_batch([astral(h) for h in hs], [astral(r) for r in rs]).tolist()
e = seqloss.error_rates([" ".join(map(str, h)) for h in hs], [" ".join(map(str, r)) for r in rs])
out["sdi"] = list(zip(e.pair_hits.tolist(), e.pair_substitutions.tolist(),
                      e.pair_deletions.tolist(), e.pair_insertions.tolist()))
"""

_isa_reference = {}


def test_isa_variants_match_reference(isa, run_isa):
    """Each SEQLOSS_ISA variant gives the Wagner-Fischer distances and reference S/D/I counts."""
    hs, rs = isa_pairs()
    inputs = dict(hyps=hs, refs=rs)
    if not _isa_reference:  # once for the three variants
        _isa_reference["dist"] = [levenshtein_np(h, r) for h, r in zip(hs, rs)]
        _isa_reference["sdi"] = [sdi_counts([str(x) for x in r], [str(x) for x in h])
                                 for h, r in zip(hs, rs)]
    got = run_isa(isa, ISA_CODE, inputs)
    # token values -20..59 stay distinct in every dtype (uint8 wraps -20..-1 to 236..255)
    for key in ("int64", "int32", "int16", "uint8", "str"):
        assert got[key] == _isa_reference["dist"], key
    assert got["sdi"] == _isa_reference["sdi"]
    assert got == run_isa(None, ISA_CODE, inputs)


def band_pairs_16bit():
    """(hyps, refs): 65..256-token patterns, texts at most 31 longer, values spanning
    256..65533 (the band's 16-bit lanes: the match mask of a step joins two 32-lane
    compares), distances under, at and over the band's bound 31."""
    rng = random.Random(9)
    hs, rs = [], []
    for _ in range(160):
        vocab = rng.choice([300, 4000, 65000])
        m = rng.choice([65, 66, 96, 127, 128, 129, 200, 255, 256])
        p = [rng.randrange(vocab) for _ in range(m)]
        t = list(p)
        for _ in range(rng.choice([0, 1, 7, 20, 31])):
            t.insert(rng.randrange(len(t) + 1), rng.randrange(vocab))
        for i in rng.sample(range(len(t)), min(len(t), rng.choice([0, 1, 5, 15, 30, 40]))):
            t[i] = rng.randrange(vocab)
        t[0] = p[0] + 1 if t[0] == p[0] else t[0]  # no common prefix / suffix
        t[-1] = p[-1] + 1 if t[-1] == p[-1] else t[-1]
        hs.append(t if rng.random() < 0.5 else p)
        rs.append(p if hs[-1] is t else t)
    return hs, rs


BAND16_CODE = """
hs, rs = inp["hyps"], inp["refs"]
for dt in ("uint16", "int32", "int64"):
    out[dt] = seqloss.edit_distance_batch([np.array(x, dt) for x in hs],
                                          [np.array(x, dt) for x in rs]).tolist()
out["single"] = [seqloss.edit_distance(np.array(h, np.uint16), np.array(r, np.uint16))
                 for h, r in zip(hs, rs)]
"""


def test_band_lanes_of_16_bit_values_on_every_isa(isa, run_isa):
    """Band lanes of 16-bit values (two 32-lane compares per step) give the
    Wagner-Fischer distances on every level (GCC 12 once miscompiled the join of the
    two masks under the sanitizers: most distances came out too small)."""
    hs, rs = band_pairs_16bit()
    expected = [levenshtein_np(h, r) for h, r in zip(hs, rs)]
    assert any(e > 31 for e in expected) and any(e <= 31 for e in expected)
    got = run_isa(isa, BAND16_CODE, dict(hyps=hs, refs=rs))
    for key in ("uint16", "int32", "int64", "single"):
        assert got[key] == expected, key


# ---------------------------------------------------------------- WER / CER

WORDS = ["a", "b", "ab", "the", "cat", "x\ty", "über", "東京", "\U0001F600", "z"]
SEPS = [" ", " ", " ", "  ", "\t\t", " \t", "\u3000 ", "\n\n", "\u2028\u2029", " \u0085 "]


@st.composite
def sentences(draw, min_words=0):
    words = draw(st.lists(st.sampled_from(WORDS), min_size=min_words, max_size=14))
    seps = draw(st.lists(st.sampled_from(SEPS), min_size=len(words) + 1,
                         max_size=len(words) + 1))
    lead = draw(st.sampled_from(["", "", " ", "\t", "  "]))
    s = lead + "".join(w + sp for w, sp in zip(words, seps[1:]))
    if draw(st.booleans()):
        s = s.rstrip(" ")
    return s


@st.composite
def corpora(draw):
    refs = draw(st.lists(sentences(), min_size=1, max_size=6))
    hyps = []
    for r in refs:
        if draw(st.integers(0, 4)) == 0:
            hyps.append("")
        else:
            hyps.append(draw(sentences()))
    assume(any(jiwer_words(r) for r in refs))
    return hyps, refs


@settings(max_examples=150, deadline=None)
@given(corpora())
def test_error_rates_match_jiwer_words(corpus):
    """Word hits/S/D/I and wer/mer/wil/wip equal jiwer.process_words (args swapped)."""
    hyps, refs = corpus
    e = seqloss.error_rates(hyps, refs)
    o = jiwer.process_words(refs, hyps)
    assert (e.hits, e.substitutions, e.deletions, e.insertions) == (
        o.hits, o.substitutions, o.deletions, o.insertions)
    assert (e.wer, e.mer, e.wil, e.wip) == (o.wer, o.mer, o.wil, o.wip)
    assert seqloss.wer(hyps, refs) == jiwer.wer(refs, hyps)
    per = [sdi_counts(jiwer_words(r), jiwer_words(h)) for h, r in zip(hyps, refs)]
    assert e.pair_hits.tolist() == [p[0] for p in per]
    assert e.pair_substitutions.tolist() == [p[1] for p in per]
    assert e.pair_deletions.tolist() == [p[2] for p in per]
    assert e.pair_insertions.tolist() == [p[3] for p in per]
    assert e.pair_reference_lengths.tolist() == [len(jiwer_words(r)) for r in refs]


@settings(max_examples=120, deadline=None)
@given(corpora())
def test_error_rates_match_jiwer_chars(corpus):
    """Char hits/S/D/I and cer equal jiwer.process_characters (args swapped)."""
    hyps, refs = corpus
    assume(any(r.strip() for r in refs))
    e = seqloss.error_rates(hyps, refs, unit="char")
    o = jiwer.process_characters(refs, hyps)
    assert (e.hits, e.substitutions, e.deletions, e.insertions) == (
        o.hits, o.substitutions, o.deletions, o.insertions)
    assert e.cer == o.cer == e.wer
    assert seqloss.cer(hyps, refs) == jiwer.cer(refs, hyps)
    assert e.pair_reference_lengths.tolist() == [len(jiwer_chars(r)) for r in refs]


def test_counts_match_rapidfuzz_on_long_sequences():
    """S/D/I of long pairs (blocked recorded matrix) equal rapidfuzz opcodes."""
    rng = random.Random(21)
    hyps, refs = [], []
    for m in (65, 128, 129, 300, 700, 1000):
        for v in (2, 5, 60):
            ref = [rng.randrange(v) for _ in range(m)]
            hyps.append(mutate(rng, ref, v, 0.3))
            refs.append(ref)
    e = seqloss.error_rates([" ".join(map(str, h)) for h in hyps],
                            [" ".join(map(str, r)) for r in refs])
    exp = [rf_counts(r, h) for h, r in zip(hyps, refs)]
    assert list(zip(e.pair_hits.tolist(), e.pair_substitutions.tolist(),
                    e.pair_deletions.tolist(), e.pair_insertions.tolist())) == exp
    c = seqloss.error_rates(["".join(chr(65 + x) for x in h) for h in hyps],
                            ["".join(chr(65 + x) for x in r) for r in refs], unit="char")
    assert c.pair_substitutions.tolist() == [x[1] for x in exp]
    assert c.pair_insertions.tolist() == [x[3] for x in exp]


def test_counts_match_rapidfuzz_on_hirschberg_sized_pairs():
    """Pairs big enough for rapidfuzz's Hirschberg split get its exact S/D/I."""
    hyps, refs = [], []
    for seed in (1, 4):  # random binary pairs where the split changes the counts
        rng = random.Random(seed)
        v = rng.choice([2, 3])
        ref = [rng.randrange(v) for _ in range(2100)]
        hyps.append([rng.randrange(v) for _ in range(rng.randint(2000, 4200))])
        refs.append(ref)
    rng = random.Random(8)
    for m, v in ((2600, 80), (3000, 30)):
        ref = [rng.randrange(v) for _ in range(m)]
        hyps.append(mutate(rng, ref, v, 0.3))
        refs.append(ref)
    expected = [rf_counts(r, h) for h, r in zip(hyps, refs)]
    # a plain backtrace (no split) differs here, and the reference's split agrees
    s, d, i = _direct_counts(refs[0], hyps[0])
    assert (len(refs[0]) - s - d, s, d, i) != expected[0]
    assert sdi_counts(refs[0], hyps[0]) == expected[0]
    e = seqloss.error_rates(["".join(chr(0x4E00 + x) for x in h) for h in hyps],
                            ["".join(chr(0x4E00 + x) for x in r) for r in refs], unit="char")
    got = list(zip(e.pair_hits.tolist(), e.pair_substitutions.tolist(),
                   e.pair_deletions.tolist(), e.pair_insertions.tolist()))
    assert got == expected


def test_word_transform_edge_cases():
    """A lone tab stays inside a word; runs of whitespace split; strip applies."""
    e = seqloss.error_rates(["a\tb c"], ["a\tb c"])
    assert (e.hits, e.reference_length) == (2, 2)
    assert seqloss.wer("a\tb", "a b") == jiwer.wer("a b", "a\tb") == 1.0
    assert seqloss.wer("a \tb", "a b") == 0.0
    assert seqloss.wer("\ta b\u3000", "a b") == 0.0
    assert seqloss.error_rates("x\u00a0y", "x\u00a0y").reference_length == 1
    assert seqloss.error_rates(" \t ", "a").hypothesis_length == 0


SPACEY = st.text(alphabet=st.sampled_from(
    list("ab c\t\n\r\x0b\x0c") + ["\x1c", "\x1f", "\x85", "\xa0", "\u1680", "\u2000",
                                      "\u200a", "\u200b", "\u2028", "\u3000", "\ufeff",
                                      "\U0001F600", "\u00e9"]), max_size=40)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(SPACEY, SPACEY), min_size=1, max_size=4))
def test_tokenizers_match_jiwer_on_arbitrary_whitespace(pairs):
    """Word and char tokens equal jiwer's transforms for any mix of whitespace."""
    hyps = [h for h, _ in pairs]
    refs = [r for _, r in pairs]
    from jiwer.transformations import cer_default, wer_default
    for x in hyps + refs:  # the test's reference transforms are jiwer's
        assert wer_default([x]) == [jiwer_words(x)]
        assert cer_default([x]) == [jiwer_chars(x)]
    w = seqloss.error_rates(hyps, refs)
    c = seqloss.error_rates(hyps, refs, unit="char")
    assert w.pair_reference_lengths.tolist() == [len(jiwer_words(r)) for r in refs]
    assert w.pair_hypothesis_lengths.tolist() == [len(jiwer_words(h)) for h in hyps]
    assert c.pair_reference_lengths.tolist() == [len(jiwer_chars(r)) for r in refs]
    assert w.pair_substitutions.tolist() == [
        sdi_counts(jiwer_words(r), jiwer_words(h))[1] for h, r in zip(hyps, refs)]
    if any(jiwer_words(r) for r in refs):
        o = jiwer.process_words(refs, hyps)
        assert (w.hits, w.substitutions, w.deletions, w.insertions, w.wer, w.wip) == (
            o.hits, o.substitutions, o.deletions, o.insertions, o.wer, o.wip)
    if any(r.strip() for r in refs):
        assert c.cer == jiwer.cer(refs, hyps)


def test_tokenizer_whitespace_is_python_isspace():
    """The C++ whitespace test equals str.isspace() on every code point."""
    cps = np.arange(0x110000, dtype=np.uint32)
    mask = np.frombuffer(_edit.space_mask(cps), dtype=np.uint8).astype(bool)
    expected = np.array([chr(c).isspace() for c in range(0x110000)])
    assert np.array_equal(mask, expected)


def test_empty_hypotheses_and_references():
    """Empty hypotheses are deletions; empty references follow jiwer 4's convention."""
    assert seqloss.wer(["", "a b"], ["x y", "a b"]) == jiwer.wer(["x y", "a b"], ["", "a b"])
    assert seqloss.wer("", "a b c") == 1.0
    e = seqloss.error_rates("", "a b")
    assert (e.wip, e.wil) == (0.0, 1.0)
    # an empty reference inside a corpus contributes its insertions
    assert seqloss.wer(["a b", "c"], ["", "c"]) == jiwer.wer(["", "c"], ["a b", "c"]) == 2.0
    # every reference empty: wer = number of insertions (jiwer 4)
    assert seqloss.wer("a b", "") == jiwer.wer("", "a b") == 2.0
    assert seqloss.wer("", "") == jiwer.wer("", "") == 0.0
    assert seqloss.cer("ab", " ") == jiwer.cer(" ", "ab") == 2.0
    e = seqloss.error_rates(["", ""], ["", " "])
    assert (e.wer, e.mer, e.wil, e.wip) == (0.0, 0.0, 0.0, 1.0)
    e = seqloss.error_rates(["q"], [""])
    assert (e.wer, e.mer, e.wil, e.wip) == (1.0, 1.0, 1.0, 0.0)
    assert seqloss.error_rates([], []).wer == 0.0


def test_single_strings_and_tuples_accepted():
    """A single str pair and tuples of str work like one-element lists."""
    assert seqloss.wer("the cat sat", "the hat sat") == jiwer.wer("the hat sat", "the cat sat")
    assert seqloss.cer(("abc", "d"), ("abd", "d")) == jiwer.cer(["abd", "d"], ["abc", "d"])


# ---------------------------------------------------------------- bad input

def test_bad_batch_sizes():
    """Different batch sizes raise ValueError naming both sizes."""
    with pytest.raises(ValueError, match="same batch size, but got 2 and 1"):
        seqloss.edit_distance_batch(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="same batch size, but got 3 and 2"):
        seqloss.edit_distance_batch(np.zeros((3, 4), np.int64), np.zeros((2, 4), np.int64))
    with pytest.raises(ValueError, match="same batch size, but got 1 and 2"):
        seqloss.error_rates(["a"], ["a", "b"])


def test_bad_lengths():
    """Negative lengths, lengths over the width and wrong shapes raise ValueError."""
    h = np.zeros((2, 4), np.int64)
    with pytest.raises(ValueError, match="hyp_lengths to be non-negative, but got value -1"):
        seqloss.edit_distance_batch(h, h, hyp_lengths=[-1, 2])
    with pytest.raises(ValueError, match="ref_lengths to have value at most 4 .* got value 5"):
        seqloss.edit_distance_batch(h, h, ref_lengths=[5, 2])
    with pytest.raises(ValueError, match=r"hyp_lengths to have size 2 \(the batch size\), but "
                                         r"got size 3"):
        seqloss.edit_distance_batch(h, h, hyp_lengths=[1, 2, 3])
    with pytest.raises(TypeError, match="ref_lengths to have an integer dtype, but got dtype "
                                        "float64"):
        seqloss.edit_distance_batch(h, h, ref_lengths=[1.0, 2.0])


def test_lengths_with_list_inputs():
    """Lengths given for sequence inputs raise ValueError."""
    with pytest.raises(ValueError, match="Expected hyp_lengths to be None for sequence inputs"):
        seqloss.edit_distance_batch(["ab"], ["a"], hyp_lengths=[1])
    with pytest.raises(ValueError, match="Expected ref_lengths to be None for sequence inputs"):
        seqloss.edit_distance_batch([[1]], [[1]], ref_lengths=[1])


def test_non_integer_arrays():
    """Float or object arrays raise TypeError naming the argument and dtype."""
    with pytest.raises(TypeError, match="hypotheses to have an integer dtype, but got dtype "
                                        "float32"):
        seqloss.edit_distance_batch(np.zeros((2, 3), np.float32), np.zeros((2, 3), np.int64))
    with pytest.raises(TypeError, match=r"references\[1\] to be a 1-D integer array, but got "
                                        r"ndarray of dtype float64"):
        seqloss.edit_distance_batch([np.arange(2)] * 2, [np.arange(2), np.ones(2)])
    with pytest.raises(TypeError, match="Expected a to be a str, bytes, list, tuple or 1-D "
                                        "integer array, but got ndarray of dtype bool"):
        seqloss.edit_distance(np.array([True]), [1])
    with pytest.raises(ValueError, match=r"Expected b to be 1-D, but got an array of shape "
                                         r"\(1, 2\)"):
        seqloss.edit_distance([1], np.zeros((1, 2), np.int64))
    with pytest.raises(ValueError, match="2-D .* but got 3-D"):
        seqloss.edit_distance_batch(np.zeros((1, 2, 2), np.int64), np.zeros((1, 2, 2), np.int64))


def test_unsupported_items():
    """Unsupported item and token types raise TypeError naming them."""
    with pytest.raises(TypeError, match=r"hypotheses\[1\] to be a str, bytes, list, tuple or "
                                        r"1-D integer array, but got int"):
        seqloss.edit_distance_batch(["a", 3], ["a", "b"])
    with pytest.raises(TypeError, match="Expected b to be a str, bytes, list, tuple or 1-D "
                                        "integer array, but got set"):
        seqloss.edit_distance("a", {"a"})
    with pytest.raises(TypeError, match="Expected every token to be hashable, but got a token "
                                        "of type list"):
        seqloss.edit_distance([[1]], [[1]])
    with pytest.raises(TypeError, match="Expected hypotheses to be a sequence of items .* but "
                                        "got str"):
        seqloss.edit_distance_batch("abc", ["a", "b", "c"])
    with pytest.raises(TypeError, match="both 2-D integer arrays or both sequences"):
        seqloss.edit_distance_batch(np.zeros((1, 2), np.int64), [[1, 2]])
    with pytest.raises(TypeError, match=r"Expected references\[0\] to be a str, but got bytes"):
        seqloss.error_rates(["a"], [b"a"])
    with pytest.raises(TypeError, match="Expected hypotheses to be a str or a sequence of str, "
                                        "but got int"):
        seqloss.wer(5, "a")


def test_bad_threads_and_unit():
    """n_threads=0, a non-int n_threads and an unknown unit raise."""
    with pytest.raises(ValueError, match="non-zero int or None, but got 0"):
        seqloss.edit_distance_batch(["a"], ["b"], n_threads=0)
    with pytest.raises(TypeError, match="n_threads to be an int or None, but got 'x'"):
        seqloss.error_rates(["a"], ["b"], n_threads="x")
    with pytest.raises(ValueError, match="unit to be 'word', 'char' or 'mixed', but got 'token'"):
        seqloss.error_rates(["a"], ["b"], unit="token")
