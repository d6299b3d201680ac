"""seqloss.align and error_rates(alignments=True): chunks, counts and error pairs equal
jiwer 4's (process_words / process_characters / collect_error_counts) and rapidfuzz's
opcodes (Hirschberg-sized pairs), the mixed unit, pre-tokenised and integer-token
inputs, thread-count and ISA invariance, and every bad input."""
import collections
import os
import pickle
import random
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import seqloss

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fuzz_cases import CJK_RE, mixed_words  # noqa: E402
from reference import jiwer_chars, jiwer_words, sdi_counts  # noqa: E402

jiwer = pytest.importorskip("jiwer")
from rapidfuzz.distance import Levenshtein as RFLev  # noqa: E402

WORDS = ["the", "cat", "sat", "on", "mat", "a", "é", "naïve", "\U0001F600", "x\ty", "東京",
         "中文", "한국어", "カタカナ", "ok"]
SEPS = [" ", " ", " ", "  ", "\t ", " \u3000 "]


@st.composite
def sentences(draw):
    words = draw(st.lists(st.sampled_from(WORDS), max_size=12))
    seps = draw(st.lists(st.sampled_from(SEPS), min_size=len(words) + 1,
                         max_size=len(words) + 1))
    lead = draw(st.sampled_from(["", "", " ", "\t"]))
    return lead + "".join(w + s for w, s in zip(words, seps[1:]))


@st.composite
def corpora(draw):
    """(hypotheses, references): empty sentences, repeated words, unicode; a hypothesis
    is often the reference with a few edits (so there are hits to align)."""
    refs = draw(st.lists(sentences(), min_size=1, max_size=6))
    hyps = []
    for r in refs:
        k = draw(st.integers(0, 4))
        if k == 0:
            hyps.append("")
        elif k == 1:
            hyps.append(draw(sentences()))
        else:
            ws = jiwer_words(r)
            for _ in range(draw(st.integers(0, 3))):
                j = draw(st.integers(0, len(ws)))
                op = draw(st.sampled_from(["sub", "del", "ins"]))
                if op == "ins" or not ws:
                    ws.insert(j, draw(st.sampled_from(WORDS)))
                elif op == "del":
                    del ws[min(j, len(ws) - 1)]
                else:
                    ws[min(j, len(ws) - 1)] = draw(st.sampled_from(WORDS))
            hyps.append(" ".join(ws))
    return hyps, refs


def as_tuples(chunks):
    return [(c.type, c.ref_start_idx, c.ref_end_idx, c.hyp_start_idx, c.hyp_end_idx)
            for c in chunks]


def rf_chunks(ref, hyp):
    """rapidfuzz's opcodes as jiwer turns them into chunks."""
    return [("substitute" if t == "replace" else t, i1, i2, j1, j2)
            for t, i1, i2, j1, j2 in RFLev.opcodes(ref, hyp)]


def check_against_jiwer(al, e, hyps, refs, out):
    """al's chunks, counts and error pairs equal the jiwer output ``out`` of the corpus."""
    assert al.n == len(hyps)
    for i in range(al.n):
        assert as_tuples(al.chunks(i)) == as_tuples(out.alignments[i]), i
        ops = al.pair(i)
        assert [r for o, r, _ in ops if o != "insert"] == out.references[i]
        assert [h for o, _, h in ops if o != "delete"] == out.hypotheses[i]
    c = al.counts()
    assert c.dtype == np.int64 and c.shape == (al.n, 4)
    assert c[:, 0].tolist() == e.pair_hits.tolist()
    assert c[:, 1].tolist() == e.pair_substitutions.tolist()
    assert c[:, 2].tolist() == e.pair_deletions.tolist()
    assert c[:, 3].tolist() == e.pair_insertions.tolist()
    assert tuple(c.sum(axis=0).tolist()) == (out.hits, out.substitutions, out.deletions,
                                             out.insertions)
    # error pairs: jiwer counts chunks (joined tokens); per token, the chunks' zips
    sep = " " if isinstance(out, jiwer.WordOutput) else ""
    subs, ins, dels = jiwer.collect_error_counts(out)
    voc = al.vocabulary
    my_subs, my_ins, my_dels = collections.Counter(), collections.Counter(), collections.Counter()
    tok_subs = collections.Counter()
    for i in range(al.n):
        rt, ht = out.references[i], out.hypotheses[i]
        for ch in al.chunks(i):
            r, h = rt[ch.ref_start_idx:ch.ref_end_idx], ht[ch.hyp_start_idx:ch.hyp_end_idx]
            if ch.type == "substitute":
                my_subs[(sep.join(r), sep.join(h))] += 1
                tok_subs.update(zip(r, h))
            elif ch.type == "insert":
                my_ins[sep.join(h)] += 1
            elif ch.type == "delete":
                my_dels[sep.join(r)] += 1
    assert my_subs == collections.Counter(dict(subs))
    assert my_ins == collections.Counter(dict(ins))
    assert my_dels == collections.Counter(dict(dels))
    assert al.collect_error_counts() == (dict(subs), dict(ins), dict(dels))
    rid, hid, n = al.substitutions()
    assert {(voc[a], voc[b]): k for a, b, k in zip(rid.tolist(), hid.tolist(), n.tolist())} \
        == dict(tok_subs)
    want_del = collections.Counter(t for i in range(al.n) for o, t, _ in al.pair(i)
                                   if o == "delete")
    ids, n = al.deletions()
    assert {voc[a]: k for a, k in zip(ids.tolist(), n.tolist())} == dict(want_del)
    assert sum(want_del.values()) == out.deletions


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corpora())
@example((["", "a b", "a a a"], ["x y", "", "a a"]))
@example((["the cat"], ["the cat"]))
def test_words_match_jiwer(corpus):
    """Word chunks, counts and error pairs equal jiwer.process_words (args swapped)."""
    hyps, refs = corpus
    e = seqloss.error_rates(hyps, refs, alignments=True)
    al = seqloss.align(hyps, refs)
    assert al == e.alignments
    check_against_jiwer(al, e, hyps, refs, jiwer.process_words(refs, hyps))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corpora())
@example((["", " ab", "x"], ["ab ", " ", ""]))
def test_chars_match_jiwer(corpus):
    """Char chunks, counts and error pairs equal jiwer.process_characters."""
    hyps, refs = corpus
    e = seqloss.error_rates(hyps, refs, unit="char", alignments=True)
    assert e.alignments.unit == "char" and e.error_rate == e.cer == e.wer
    check_against_jiwer(e.alignments, e, hyps, refs, jiwer.process_characters(refs, hyps))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corpora())
@example((["我爱北京天安门", "a\t中b", "中\tb"], ["我爱上海 天安门", "a 中 b", "中 b"]))
def test_mixed_unit_is_spaces_around_cjk(corpus):
    """unit="mixed" equals the word unit on text with a space around every CJK ideograph,
    kana and hangul code point (jiwer on that text gives the same chunks)."""
    hyps, refs = corpus
    e = seqloss.error_rates(hyps, refs, unit="mixed", alignments=True)
    assert e.unit == "mixed" and e.cer is None and e.error_rate == e.wer
    sh = [CJK_RE.sub(r" \1 ", x) for x in hyps]
    sr = [CJK_RE.sub(r" \1 ", x) for x in refs]
    check_against_jiwer(e.alignments, e, hyps, refs, jiwer.process_words(sr, sh))
    for h, r, i in zip(hyps, refs, range(len(hyps))):
        assert e.pair_reference_lengths[i] == len(mixed_words(r))
        assert e.pair_hypothesis_lengths[i] == len(mixed_words(h))


def test_mixed_unit_ranges():
    """Every documented range is one token per code point, its neighbours are not."""
    inside = [0x1100, 0x11FF, 0x3040, 0x30FF, 0x3130, 0x318F, 0x3400, 0x4DBF, 0x4E00, 0x9FFF,
              0xAC00, 0xD7AF, 0xF900, 0xFAFF, 0x20000, 0x2FA1F]
    outside = [0x10FF, 0x1200, 0x303F, 0x3100, 0x3190, 0x33FF, 0x4DC0, 0xA000, 0xABFF,
               0xD7B0, 0xF8FF, 0xFB00, 0x1FFFF, 0x2FA20]
    for c in inside:
        e = seqloss.error_rates("a" + chr(c) * 2 + "b", "x", unit="mixed")
        assert e.hypothesis_length == 4, hex(c)
    for c in outside:
        e = seqloss.error_rates("a" + chr(c) * 2 + "b", "x", unit="mixed")
        assert e.hypothesis_length == 1, hex(c)
    # a lone tab next to an ideograph separates (as after inserting the spaces)
    for text, tokens in (("a\t中", ["a", "中"]), ("中\tb", ["中", "b"]), ("a\tb", ["a\tb"]),
                         ("\t中 ", ["中"]), ("中中a", ["中", "中", "a"])):
        ops = seqloss.align(text, "x", unit="mixed").pair(0)
        assert [h for o, _, h in ops if o != "delete"] == tokens == mixed_words(text)


def mutate(rng, ref, vocab, rate):
    hyp = [x if rng.random() > rate else rng.randrange(vocab) for x in ref]
    for _ in range(rng.randint(0, len(ref) // 5 + 1)):
        if hyp and rng.random() < 0.5:
            del hyp[rng.randrange(len(hyp))]
        else:
            hyp.insert(rng.randint(0, len(hyp)), rng.randrange(vocab))
    return hyp


def long_pairs():
    """Pairs past rapidfuzz's matrix budget (its Hirschberg split decides the ops) and
    long ones under it (blocked recorded matrix), as int lists."""
    hyps, refs = [], []
    for seed in (1, 4):
        rng = random.Random(seed)
        v = rng.choice([2, 3])
        refs.append([rng.randrange(v) for _ in range(2100)])
        hyps.append([rng.randrange(v) for _ in range(rng.randint(2000, 4200))])
    rng = random.Random(8)
    for m, v in ((2600, 80), (3000, 30), (1200, 5), (300, 60), (65, 2)):
        ref = [rng.randrange(v) for _ in range(m)]
        hyps.append(mutate(rng, ref, v, 0.3))
        refs.append(ref)
    return hyps, refs


def test_long_pairs_match_rapidfuzz_opcodes():
    """Chunks of long pairs (Hirschberg-split, > 1000 tokens) equal rapidfuzz's opcodes,
    as words, as characters and as integer tokens."""
    hyps, refs = long_pairs()
    want = [rf_chunks(r, h) for h, r in zip(hyps, refs)]
    words = seqloss.align([" ".join(map(str, h)) for h in hyps],
                          [" ".join(map(str, r)) for r in refs])
    chars = seqloss.align(["".join(chr(0x4E00 + x) for x in h) for h in hyps],
                          ["".join(chr(0x4E00 + x) for x in r) for r in refs], unit="char")
    ints = seqloss.align(hyps, refs)
    for al in (words, chars, ints):
        assert [as_tuples(al.chunks(i)) for i in range(al.n)] == want
        assert al.counts().tolist() == [list(sdi_counts(r, h)) for h, r in zip(hyps, refs)]
    e = seqloss.error_rates([" ".join(map(str, h)) for h in hyps],
                            [" ".join(map(str, r)) for r in refs])
    assert words.counts()[:, 1].tolist() == e.pair_substitutions.tolist()
    assert ints.vocabulary is None


def test_pretokenised_equals_text():
    """Token lists (the unit's tokens of the text) give the text's alignments, ids and
    vocabulary included; error_rates takes them too."""
    rng = random.Random(3)
    refs = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 9))) for _ in range(300)]
    hyps = [" ".join(WORDS[i] for i in mutate(rng, [WORDS.index(w) for w in jiwer_words(r)],
                                               len(WORDS), 0.3)) for r in refs]
    for unit, tok in (("word", jiwer_words), ("char", jiwer_chars), ("mixed", mixed_words)):
        text = seqloss.align(hyps, refs, unit=unit)
        lists = seqloss.align([tok(h) for h in hyps], [tok(r) for r in refs], unit=unit)
        tuples = seqloss.align([tuple(tok(h)) for h in hyps], [tuple(tok(r)) for r in refs],
                               unit=unit)
        assert lists == text and tuples == text
        e1 = seqloss.error_rates(hyps, refs, unit=unit)
        e2 = seqloss.error_rates([tok(h) for h in hyps], [tok(r) for r in refs], unit=unit)
        assert e1 == e2
        assert e1.pair_substitutions.tolist() == e2.pair_substitutions.tolist()


def test_integer_tokens():
    """Lists of ints and 1-D integer arrays of any dtype: ids are the token values,
    vocabulary None, the same ops as the same tokens given as strings."""
    rng = random.Random(5)
    refs = [[rng.randrange(40) for _ in range(rng.randint(0, 30))] for _ in range(200)]
    hyps = [mutate(rng, r, 40, 0.2) for r in refs]
    as_str = seqloss.align([[str(x) for x in h] for h in hyps], [[str(x) for x in r] for r in refs])
    ints = seqloss.align(hyps, refs)
    assert ints.vocabulary is None
    for k in ("offsets", "ops", "ref_index", "hyp_index"):
        assert np.array_equal(getattr(ints, k), getattr(as_str, k)), k
    voc = np.array([int(t) for t in as_str.vocabulary] + [-1])
    assert np.array_equal(ints.ref_ids, voc[as_str.ref_ids])
    assert np.array_equal(ints.hyp_ids, voc[as_str.hyp_ids])
    for dt in (np.uint8, np.int16, np.int32, np.uint64, np.int64):
        arr = seqloss.align([np.array(h, dt) for h in hyps], [np.array(r, dt) for r in refs])
        assert arr == ints, dt
    mixed = seqloss.align([np.array(h, np.int32) for h in hyps], refs)  # arrays and lists
    assert mixed == ints
    # values anywhere in int64 (-1 included: absence is read from the ops)
    h, r = [-2**63, -1, 2**63 - 1, 5], [-1, 5, 2**63 - 1]
    al = seqloss.align([h], [r])
    assert as_tuples(al.chunks(0)) == rf_chunks(r, h)
    assert [t for o, _, t in al.pair(0) if o != "delete"] == h
    assert [t for o, t, _ in al.pair(0) if o != "insert"] == r
    # chunks never span two pairs (the empty one between included)
    assert seqloss.align([[1, 2], [], [3]], [[4, 5], [], [3, 6]]).collect_error_counts() == (
        {((4, 5), (1, 2)): 1}, {}, {(6,): 1})
    e = seqloss.error_rates(hyps, refs)
    assert al.ref_ids.dtype == np.int64
    assert e.pair_hits.tolist() == ints.counts()[:, 0].tolist()


def test_error_pairs_sorted_and_vectorised():
    """substitutions / deletions / insertions: distinct pairs with counts, most frequent
    first, ties by id; equal to counting the ops one by one."""
    rng = random.Random(11)
    refs = [[rng.choice("abcdefg") for _ in range(rng.randint(1, 15))] for _ in range(500)]
    hyps = [[t if rng.random() < 0.7 else rng.choice("abcdefgh") for t in r] for r in refs]
    al = seqloss.align(hyps, refs)
    r, h, n = al.substitutions()
    want = collections.Counter(zip(al.ref_ids[al.ops == 1].tolist(),
                                   al.hyp_ids[al.ops == 1].tolist()))
    assert dict(zip(zip(r.tolist(), h.tolist()), n.tolist())) == dict(want)
    keys = list(zip((-n).tolist(), r.tolist(), h.tolist()))
    assert keys == sorted(keys)
    for fn, op, ids in ((al.deletions, 2, al.ref_ids), (al.insertions, 3, al.hyp_ids)):
        u, k = fn()
        assert dict(zip(u.tolist(), k.tolist())) == dict(collections.Counter(
            ids[al.ops == op].tolist()))
        keys = list(zip((-k).tolist(), u.tolist()))
        assert keys == sorted(keys)
    # integer tokens spread over int64: the lexsort path
    wide = seqloss.align([[2**62, 3], [-2**62]], [[-2**62, 3], [2**62]])
    r, h, n = wide.substitutions()
    assert sorted(zip(r.tolist(), h.tolist())) == [(-2**62, 2**62), (2**62, -2**62)]
    assert n.tolist() == [1, 1]


def test_thread_counts_and_chunks_give_identical_alignments():
    """1, 2 or all threads, with or without progress chunks: the same arrays and ids."""
    rng = random.Random(2)
    vocab = ["w%d" % i for i in range(300)] + ["東京", "é"]
    refs = [" ".join(rng.choice(vocab) for _ in range(rng.randint(0, 25))) for _ in range(9000)]
    hyps = [" ".join(w if rng.random() < 0.8 else rng.choice(vocab) for w in r.split())
            for r in refs]
    base = seqloss.align(hyps, refs, n_threads=1)
    seen = []
    for nt in (2, None, -1):
        assert seqloss.align(hyps, refs, n_threads=nt) == base
    assert seqloss.align(hyps, refs, progress=lambda d, t: seen.append(d)) == base
    assert len(seen) > 1 and seen[-1] == len(hyps)
    e = seqloss.error_rates(hyps, refs, n_threads=2, alignments=True)
    assert e.alignments == base
    ints = [[int(w[1:]) if w.startswith("w") else 999 for w in s.split()] for s in hyps]
    rints = [[int(w[1:]) if w.startswith("w") else 999 for w in s.split()] for s in refs]
    one = seqloss.align(ints, rints, n_threads=1)
    assert seqloss.align(ints, rints, n_threads=2) == one
    assert seqloss.align(ints, rints, progress=lambda d, t: None) == one


ISA_CODE = """
hs, rs = inp["hyps"], inp["refs"]
for unit in ("word", "char", "mixed"):
    a = seqloss.align(hs, rs, unit=unit)
    out[unit] = [getattr(a, k).tolist() for k in a._ARRAYS] + [a.vocabulary]
a = seqloss.align(inp["ih"], inp["ir"])
out["ints"] = [getattr(a, k).tolist() for k in a._ARRAYS]
"""


def test_isa_variants_give_the_same_alignments(isa, run_isa):
    """Each SEQLOSS_ISA variant records the same ops (the recorded-matrix backtrace and
    the dense ids are compiled per level)."""
    ih, ir = long_pairs()
    rng = random.Random(6)
    refs = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 70))) for _ in range(60)]
    hyps = [" ".join(w if rng.random() < 0.8 else rng.choice(WORDS) for w in r.split(" "))
            for r in refs]
    inputs = dict(hyps=hyps, refs=refs, ih=ih, ir=ir)
    assert run_isa(isa, ISA_CODE, inputs) == run_isa(None, ISA_CODE, inputs)


def test_alignments_object():
    """Pickle and to_dict / from_dict round trips, pair / chunks by index, repr, len, the
    empty batch."""
    al = seqloss.align(["a b c", "x"], ["a c d", ""])
    assert len(al) == al.n == 2
    assert pickle.loads(pickle.dumps(al)) == al
    assert seqloss.Alignments.from_dict(al.to_dict()) == al
    import json
    assert seqloss.Alignments.from_dict(json.loads(json.dumps(al.to_dict()))) == al
    assert al.pair(-1) == [("insert", None, "x")] == al.pair(np.int64(1))
    assert al.pair(0) == [("equal", "a", "a"), ("insert", None, "b"), ("equal", "c", "c"),
                          ("delete", "d", None)]
    assert al.ops.dtype == np.uint8 and al.ref_index.dtype == np.int32
    assert al.offsets.dtype == np.int64 and al.ref_ids.dtype == np.int64
    assert al.ref_index.tolist() == [0, -1, 1, 2, -1]
    assert al.hyp_index.tolist() == [0, 1, 2, -1, 0]
    assert al.ref_ids.tolist() == [0, -1, 1, 2, -1] and al.vocabulary == ["a", "c", "d", "b", "x"]
    assert "n=2" in repr(al)
    empty = seqloss.align([], [])
    assert empty.n == 0 and empty.ops.shape == (0,) and empty.counts().shape == (0, 4)
    assert empty.vocabulary == [] and [x.shape for x in empty.substitutions()] == [(0,)] * 3
    assert seqloss.align(["", " "], [" ", ""]).ops.shape == (0,)
    assert seqloss.align([[], []], [[], []]).vocabulary == []
    e = seqloss.error_rates("a b", "a c")
    assert e.alignments is None and e.error_rate == e.wer == 0.5


def test_bad_input():
    """Bad inputs raise TypeError / ValueError naming the argument."""
    with pytest.raises(TypeError, match="same kind of items .* hypotheses\\[0\\] of type str "
                                        "and references\\[0\\] of type list"):
        seqloss.align(["a"], [["a"]])
    with pytest.raises(TypeError, match="same kind of items .* hypotheses\\[0\\] of type list "
                                        "and references\\[0\\] of type str"):
        seqloss.error_rates([["a"]], ["a"])
    with pytest.raises(TypeError, match=r"Expected every token to be a str like "
                                        r"references\[0\]\[0\], but hypotheses\[0\]\[1\] is int"):
        seqloss.align([["a", 1]], [["a"]])
    with pytest.raises(TypeError, match=r"Expected hypotheses\[0\]\[0\] to be a str or int "
                                        r"token, but got float"):
        seqloss.align([[1.5]], [[1]])
    with pytest.raises(TypeError, match=r"hypotheses\[0\]\[0\] to be a str or int token, but "
                                        r"got bool"):
        seqloss.error_rates([[True]], [[1]])
    with pytest.raises(ValueError, match=r"Expected references\[0\]\[0\] to fit in int64, but "
                                         r"got 18446744073709551616"):
        seqloss.align([[1]], [[2**64]])
    with pytest.raises(ValueError, match=r"references\[0\] to fit in int64"):
        seqloss.align([np.array([1], np.uint64)], [np.array([2**63], np.uint64)])
    with pytest.raises(TypeError, match=r"Expected references\[1\] to be a 1-D integer array, "
                                        r"but got an array of dtype float64"):
        seqloss.align([[1], [2]], [[1], np.zeros(2)])
    with pytest.raises(TypeError, match=r"Expected references\[1\] to be a token sequence .* "
                                        r"but got str"):
        seqloss.align([[1], [2]], [[1], "a b"])
    with pytest.raises(TypeError, match=r"Expected references\[1\] to be a str, but got list"):
        seqloss.align(["a", "b"], ["a", ["b"]])
    with pytest.raises(TypeError, match=r"Expected hypotheses\[0\] to be a str or a token "
                                        r"sequence .* but got NoneType"):
        seqloss.align([None], ["a"])
    with pytest.raises(ValueError, match="Expected unit to be 'word', 'char' or 'mixed', but "
                                         "got 'token'"):
        seqloss.align(["a"], ["a"], unit="token")
    with pytest.raises(ValueError, match="same batch size, but got 1 and 2"):
        seqloss.align(["a"], ["a", "b"])
    with pytest.raises(TypeError, match="Expected hypotheses to be a str or a sequence of str, "
                                        "but got int"):
        seqloss.align(5, "a")
    with pytest.raises(TypeError, match="Expected alignments to be a bool, but got str"):
        seqloss.error_rates("a", "a", alignments="yes")
    with pytest.raises(ValueError, match="non-zero int or None, but got 0"):
        seqloss.align("a", "a", n_threads=0)
    with pytest.raises(TypeError, match="progress to be a bool"):
        seqloss.align("a", "a", progress=3)
    al = seqloss.align(["a"], ["b"])
    with pytest.raises(IndexError, match=r"Expected i to be in \[-1, 1\), but got 1"):
        al.pair(1)
    with pytest.raises(TypeError, match="Expected i to be an int, but got float"):
        al.chunks(0.0)
