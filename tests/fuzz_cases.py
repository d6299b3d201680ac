"""Malformed-argument cases for every public seqloss function, and their oracle.

Shared by ``tests/test_fuzz.py`` (a bounded hypothesis run) and ``tools/fuzz.py``
(the long run, in subprocess batches).  A case is a *valid* call of one public
function (built from a small drawn "spec": the values the call means) with one
*mutator* applied.  The oracle (``execute``) accepts only:

* a ``ValueError`` / ``TypeError`` (``MemoryError`` only for a case marked
  ``huge``), and only when the case may raise (``expect`` is ``"raise"`` or
  ``"either"``), and its message must tell the truth about the value it quotes;
* or a result, when the case may succeed, equal to the canonical call's result
  (layout-only mutations: ``"same"``) or to the slow reference of
  ``tests/reference.py`` (``"ok"``), or at least satisfying the family's
  invariants (``"either"``).

In every outcome no input may have changed (each input is snapshotted first).

Data-driven: ``FUNCTIONS`` maps each public function to its family; a family
is a spec drawer, a builder (spec -> named arguments), a validity rule, a
reference and a list of mutators.  A new public function is one entry in
``FUNCTIONS``; a new kind of malformed argument is one mutator.

Randomness comes from a ``Draw``: ``RandomDraw`` (a seeded ``random.Random``,
for tools/fuzz.py) or ``HypothesisDraw`` (hypothesis draws, so failures shrink).
"""
from __future__ import annotations

import copy
import inspect
import math
import os
import random
import re
import sys
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference as R  # noqa: E402

import seqloss  # noqa: E402

try:
    import torch
    import seqloss.torch as st
except ImportError:  # the NumPy API is fuzzed alone
    torch = st = None

BIG_INTS = [2**31, 2**32, 2**63 - 1, 2**63, -2**63 - 1, 2**64, -2**64, 10**400, -10**400]
ALLOWED = (ValueError, TypeError)


# ------------------------------------------------------------------ randomness

class Draw:
    """Small random choices: ``int(lo, hi)`` (inclusive), ``bool()``, ``choice(seq)``."""

    def int(self, lo, hi):
        raise NotImplementedError

    def bool(self):
        return self.int(0, 1) == 1

    def choice(self, seq):
        seq = list(seq)
        return seq[self.int(0, len(seq) - 1)]


class RandomDraw(Draw):
    def __init__(self, seed):
        self.r = random.Random(seed)

    def int(self, lo, hi):
        return self.r.randint(lo, hi)


class HypothesisDraw(Draw):
    """Draws through hypothesis (``st.data()``), so a failing case shrinks towards
    the first choice of every list and the smallest ints."""

    def __init__(self, data):
        from hypothesis import strategies as hs
        self.data, self.hs = data, hs

    def int(self, lo, hi):
        return self.data.draw(self.hs.integers(lo, hi))


# ------------------------------------------------------------------ helpers

class Lazy:
    """A sequence that builds fresh items on every access (nothing else holds them)."""

    def __init__(self, items):
        self.items = items

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if not -len(self.items) <= i < len(self.items):
            raise IndexError(i)
        x = self.items[i]
        if isinstance(x, str):
            return (" " + x)[1:]  # a new str object each time
        if isinstance(x, (list, tuple)):
            return [(" " + t)[1:] if isinstance(t, str) else int(str(t)) for t in x]
        return copy.copy(x)

    def __repr__(self):
        return "Lazy(%r)" % (self.items,)


def _fits(vals, dt):
    info = np.iinfo(dt)
    return all(info.min <= v <= info.max for v in vals)


def to_src(v):
    """Python source that rebuilds ``v`` (plain values, arrays, tensors, Lazy)."""
    if isinstance(v, np.ndarray):
        dt = v.dtype
        name = "np.%s" % dt.name if dt.kind != "U" else repr(dt.str)
        if dt == object:
            name = "object"
        body = repr(v.tolist()).replace("inf", "np.inf").replace("nan", "np.nan")
        s = "np.array(%s, dtype=%s)" % (body, name)
        if v.size == 0 and v.ndim != 1:
            s = "np.zeros(%r, dtype=%s)" % (v.shape, name)
        if not v.flags.writeable:
            s = "_readonly(%s)" % s
        return s
    if torch is not None and isinstance(v, torch.Tensor):
        body = repr(v.detach().tolist()).replace("inf", "math.inf").replace("nan", "math.nan")
        s = "torch.tensor(%s, dtype=%s" % (body, v.dtype)
        if v.numel() == 0:
            s = "torch.zeros(%s, dtype=%s" % (tuple(v.shape), v.dtype)
        return s + (", requires_grad=True)" if v.requires_grad else ")")
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            return "float(%r)" % repr(v)
        return repr(v)
    if isinstance(v, (np.generic,)):
        return "np.%s(%r)" % (type(v).__name__, v.item())
    if isinstance(v, list):
        return "[%s]" % ", ".join(to_src(x) for x in v)
    if isinstance(v, tuple):
        return "(%s%s)" % (", ".join(to_src(x) for x in v), "," if len(v) == 1 else "")
    if isinstance(v, Lazy):
        return "Lazy(%s)" % to_src(v.items)
    if isinstance(v, dict):
        return "{%s}" % ", ".join("%r: %s" % (k, to_src(x)) for k, x in v.items())
    if isinstance(v, seqloss.NgramLM):
        return lm_src(v)
    if isinstance(v, seqloss.TokenSpans):
        return v._fuzz_src
    return repr(v)


def _snapshot(v):
    if isinstance(v, np.ndarray):
        return ("nd", v, v.copy(), v.dtype, v.shape)
    if torch is not None and isinstance(v, torch.Tensor):
        return ("t", v, v.detach().clone(), None, None)
    if isinstance(v, (list, tuple)):
        return ("seq", v, [_snapshot(x) for x in v], len(v), None)
    if isinstance(v, dict):
        return ("dict", v, repr(v), None, None)
    if isinstance(v, bytearray):
        return ("dict", v, repr(v), None, None)
    return None


def _same_arr(a, b):
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.kind in "fc":
        return bool(np.array_equal(a, b, equal_nan=True))
    return bool(np.array_equal(a, b))


def _changed(snap):
    if snap is None:
        return False
    kind, obj, saved, a, b = snap
    if kind == "nd":
        return obj.dtype != a or obj.shape != b or not _same_arr(obj, saved)
    if kind == "t":
        return not torch.equal(torch.nan_to_num(obj.detach()), torch.nan_to_num(saved))
    if kind == "dict":
        return repr(obj) != saved
    return len(obj) != a or any(_changed(s) for s in saved)


def _as_np(r):
    if torch is not None and isinstance(r, torch.Tensor):
        return r.detach().numpy()
    return np.asarray(r)


# ------------------------------------------------------------------ the call

@dataclass
class Case:
    """One call: ``fn(*[args[n] for n in pos], **{n: args[n] for n in kw})``."""
    name: str                   # key of FUNCTIONS
    mutator: str
    args: dict                  # argument name -> value (insertion order = call order)
    pos: list                   # names passed positionally
    expect: str = "either"      # "same" | "ok" | "raise" | "either"
    canonical: Optional[dict] = None   # args of the canonical call (for "same")
    check: Optional[Callable] = None   # check(result) -> None, AssertionError on a bad result
    huge: bool = False          # MemoryError allowed
    outputs: tuple = ("grad_out",)     # args the call may write to
    setup: list = field(default_factory=list)   # reproducer lines building special args
    note: str = ""
    backward: bool = False      # torch: run .sum().backward() and check the gradient
    msg_check: Optional[Callable] = None  # msg_check(exc) -> None or a complaint

    def call(self, args=None):
        args = self.args if args is None else args
        fn = FUNCTIONS[self.name].resolve(args)
        pos = [args[n] for n in self.pos]
        kw = {n: v for n, v in args.items() if n not in self.pos and not n.startswith("_")}
        return fn(*pos, **kw)

    def reproducer(self, outcome=""):
        """A standalone Python script that makes the same call."""
        f = FUNCTIONS[self.name]
        lines = ["import math", "import pickle", "import numpy as np", "import seqloss"]
        body = "\n".join(self.setup)
        if self.name.startswith("torch."):
            lines += ["import torch", "import seqloss.torch as st"]
        elif torch is not None and any(isinstance(v, torch.Tensor) for v in self.args.values()):
            lines.append("import torch")
        if "Lazy(" in body or any(isinstance(v, Lazy) for v in self.args.values()):
            lines += ["import copy", inspect.getsource(Lazy).rstrip()]
        if "_readonly(" in body or any(isinstance(v, np.ndarray) and not v.flags.writeable
                                       for v in self.args.values()):
            lines.append("def _readonly(a):\n    a.flags.writeable = False\n    return a")
        lines += self.setup
        given = {ln.split("=")[0].strip() for ln in self.setup if "=" in ln}
        for n, v in self.args.items():
            if n not in given:
                lines.append("%s = %s" % (n, to_src(v)))
        call = f.src(self)
        lines.append("result = %s" % call)
        lines.append("print(result)")
        head = "# %s / %s%s\n" % (self.name, self.mutator, " (%s)" % self.note if self.note else "")
        if outcome:
            head += "".join("# %s\n" % ln for ln in outcome.splitlines())
        return head + "\n".join(lines) + "\n"


@dataclass
class Outcome:
    ok: bool
    kind: str          # "result", "raised", or the failure class
    detail: str = ""


def _exc_text(e):
    return "%s: %s" % (type(e).__name__, str(e)[:300])


def execute(case: Case) -> Outcome:
    """Run one case and judge it (see the module docstring)."""
    want = None
    if case.expect == "same":
        try:
            want = case.call(case.canonical)
        except Exception as e:  # the canonical call itself must work
            return Outcome(False, "canonical-failed", _exc_text(e))
    snaps = [(n, _snapshot(v)) for n, v in case.args.items() if n not in case.outputs]
    try:
        got = case.call()
        if case.backward:
            got = (got, _backward(case, got))
    except UnicodeError as e:  # a ValueError subclass, but an encoder's, not ours
        return Outcome(False, "wrong-exception:%s" % type(e).__name__, _exc_text(e))
    except ALLOWED as e:
        changed = [n for n, s in snaps if _changed(s)]
        if changed:
            return Outcome(False, "input-modified", "%s after %s" % (changed, _exc_text(e)))
        if case.expect in ("same", "ok"):
            return Outcome(False, "rejected-valid", _exc_text(e))
        if case.msg_check is not None:
            bad = case.msg_check(e)
            if bad:
                return Outcome(False, "false-message", "%s (%s)" % (_exc_text(e), bad))
        return Outcome(True, "raised", type(e).__name__)
    except MemoryError as e:
        if case.huge:
            return Outcome(True, "raised", "MemoryError")
        return Outcome(False, "wrong-exception:MemoryError", _exc_text(e))
    except RecursionError as e:
        return Outcome(False, "wrong-exception:RecursionError", _exc_text(e))
    except Exception as e:  # noqa: BLE001 -- that is the point
        tb = traceback.extract_tb(e.__traceback__)
        where = "%s:%d" % (os.path.basename(tb[-1].filename), tb[-1].lineno) if tb else ""
        return Outcome(False, "wrong-exception:%s" % type(e).__name__,
                       "%s at %s" % (_exc_text(e), where))
    changed = [n for n, s in snaps if _changed(s)]
    if changed:
        return Outcome(False, "input-modified", "%s changed by a call that returned" % changed)
    if case.expect == "raise":
        return Outcome(False, "accepted-invalid", "returned %s" % _short(got))
    try:
        if want is not None:
            _assert_same(got, want)
        if case.check is not None:
            case.check(got)
    except AssertionError as e:
        return Outcome(False, "wrong-result", str(e)[:600])
    return Outcome(True, "result")


def _short(v):
    s = repr(v)
    return s if len(s) < 200 else s[:200] + "..."


def _assert_same(got, want, what="result"):
    if isinstance(want, tuple) or isinstance(got, tuple):
        assert isinstance(got, tuple) and isinstance(want, tuple) and len(got) == len(want), \
            "%s: %s vs canonical %s" % (what, _short(got), _short(want))
        for i, (g, w) in enumerate(zip(got, want)):
            _assert_same(g, w, "%s[%d]" % (what, i))
        return
    if isinstance(want, seqloss.ErrorRates):
        assert got == want, "%s: %r vs canonical %r" % (what, got, want)
        return
    if isinstance(want, seqloss.Alignments):
        assert got == want, "%s: %r vs canonical %r" % (what, got, want)
        return
    if isinstance(want, seqloss.CTCHypotheses):
        assert isinstance(got, seqloss.CTCHypotheses), "%s: %s" % (what, _short(got))
        for k in ("counts", "lengths", "scores", "acoustic_scores", "lm_scores",
                  "hotword_scores", "word_counts", "tokens", "start_frames", "end_frames",
                  "confidence_mean", "confidence_min"):
            _assert_same(getattr(got, k), getattr(want, k), "%s.%s" % (what, k))
        assert got.token_strings == want.token_strings, "%s: token strings" % what
        return
    if isinstance(want, seqloss.NgramLM):
        assert isinstance(got, seqloss.NgramLM) and got.unit == want.unit and \
            got._model.to_binary() == want._model.to_binary(), \
            "%s: %r vs canonical %r" % (what, got, want)
        return
    if isinstance(want, (seqloss.TokenSpans, seqloss.WordSpans)):
        assert type(got) is type(want), "%s: %s" % (what, _short(got))
        for k, v in vars(want).items():
            if isinstance(v, np.ndarray) or v is None:
                _assert_same(getattr(got, k), v, "%s.%s" % (what, k))
            elif not k.startswith("_"):
                assert getattr(got, k) == v, "%s.%s" % (what, k)
        return
    if want is None or got is None:
        assert got is want, "%s: %s vs canonical %s" % (what, _short(got), _short(want))
        return
    g, w = _as_np(got), _as_np(want)
    assert g.shape == w.shape and g.dtype == w.dtype, \
        "%s: shape/dtype %s %s vs canonical %s %s" % (what, g.shape, g.dtype, w.shape, w.dtype)
    assert _same_arr(g, w), "%s: %s vs canonical %s" % (what, _short(g), _short(w))


def _backward(case, loss):
    x = case.args["input"] if "input" in case.args else case.args["log_probs"]
    if not (torch is not None and isinstance(x, torch.Tensor) and x.requires_grad):
        return None
    x.grad = None
    loss.sum().backward()
    return x.grad


def close(got, want, tol, what="result"):
    """Assert |got - want| <= tol (elementwise; NaN only where the reference is NaN,
    infinities equal)."""
    ga = _as_np(got)
    g = np.asarray(ga, dtype=np.float64)
    w = np.asarray(want, dtype=np.float64)
    if getattr(ga, "dtype", None) is not None and ga.dtype.kind == "f" and ga.dtype.itemsize < 8:
        # a value beyond the output dtype's range is that dtype's infinity
        big = float(np.finfo(ga.dtype).max)
        with np.errstate(invalid="ignore"):
            w = np.where(np.abs(w) > big * (1 + 1e-6), np.sign(w) * np.inf, w)
    assert g.shape == w.shape, "%s: shape %s, reference %s" % (what, g.shape, w.shape)
    gn, wn = np.isnan(g), np.isnan(w)
    bad = gn != wn
    fin = ~gn & ~wn
    with np.errstate(invalid="ignore", over="ignore"):
        inf = fin & (np.isinf(g) | np.isinf(w))
        bad |= inf & (g != w)
        f = fin & ~inf
        bad |= f & ~(np.abs(g - w) <= np.broadcast_to(tol, g.shape))
    assert not bad.any(), "%s: %s, reference %s (tolerance %s)" % (
        what, _short(g.tolist()), _short(w.tolist()), _short(np.asarray(tol).tolist()))


EPS = {np.dtype(np.float16): 1e-3, np.dtype(np.float32): 1e-6, np.dtype(np.float64): 1e-14}


def eps_of(dt):
    """The working precision a float input dtype deserves: longdouble at least float64's."""
    dt = np.dtype(dt)
    if dt.kind == "f" and dt.itemsize > 8:
        return EPS[np.dtype(np.float64)]
    return EPS.get(dt, 1e-6)


# ------------------------------------------------------------------ shared rules

def is_int(v):
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def threads_valid(n):
    """n_threads rule of _validate.resolve_n_threads: True / False."""
    if n is None:
        return True
    if not is_int(n):
        return False
    n = int(n)
    return n != 0 and n <= max(1024, seqloss.get_num_threads())


THREAD_VALUES = [None, 1, 2, -1, -1000, np.int64(2), 0, 2**40, -2**40, 2**64, 10**400,
                 True, 1.0, "2"]
REDUCTION_VALUES = ["mean", "sum", "none", "bogus", "", None, "MEAN", b"mean", 1, "mean\0"]


def _xvals(draw, n):
    """n float64 values k * 0.37 (not exact in float32), k small."""
    return np.array([draw.int(-8, 8) * 0.37 for _ in range(n)], dtype=np.float64)


def _int_arg(vals):
    """A (nested) list of Python ints as the call passes it: an int64 array when every
    value fits (and rows are equal), else the list itself."""
    flat = [v for r in vals for v in r] if vals and isinstance(vals[0], list) else vals
    if all(is_int(v) for v in flat) and _fits([int(v) for v in flat], np.int64) and \
            len({len(r) for r in vals if isinstance(r, list)}) <= 1:
        return np.array(vals, dtype=np.int64)
    return list(vals)


def _tol(eps, ref, extra):
    return 64 * eps * (np.abs(np.nan_to_num(ref, posinf=0, neginf=0)) + extra)


# ------------------------------------------------------------------ CTC

def ctc_spec(draw):
    T, N, C = draw.int(1, 5), draw.int(1, 3), draw.int(1, 5)
    blank = draw.int(0, C - 1)
    labels = [c for c in range(C) if c != blank]
    rows = []
    for _ in range(N):
        L = draw.int(0, min(3, T)) if labels else 0
        rows.append([draw.choice(labels) for _ in range(L)])
    il = [draw.int(0, T) if draw.int(0, 3) == 0 else T for _ in range(N)]
    return dict(T=T, N=N, C=C, x=_xvals(draw, T * N * C).reshape(T, N, C),
                dtype=np.dtype(draw.choice([np.float64, np.float32])),
                rows=rows, il=il, tl=[len(r) for r in rows], blank=blank,
                reduction=draw.choice(["mean", "sum", "none"]), zi=draw.bool(),
                fl=draw.bool(), form=draw.choice(["padded", "padded", "concat"]),
                pad=0 if not labels else labels[0], bf=draw.int(0, 3) == 0,
                unbatched=N == 1 and draw.int(0, 3) == 0, n_threads=None)


def ctc_width(s):
    return max([len(r) for r in s["rows"]] + [1])


def ctc_build(s, torch_api=False):
    T, N, C = s["T"], s["N"], s["C"]
    x = s["x"].astype(s["dtype"]) if s["dtype"] != object else s["x"]
    if s["unbatched"]:
        x = x[:, 0]
    elif s["bf"]:
        x = np.ascontiguousarray(x.transpose(1, 0, 2))
    if s["form"] == "padded" and not s["unbatched"]:
        W = ctc_width(s)
        tg = [list(r) + [s["pad"]] * (W - len(r)) for r in s["rows"]]
    else:
        tg = [v for r in s["rows"] for v in r]
    tg = _int_arg(tg)
    if s["unbatched"] and s["form"] == "padded" and isinstance(tg, np.ndarray):
        tg = tg.reshape(-1)
    if isinstance(tg, np.ndarray) and tg.size == 0 and s["form"] == "padded" and \
            not s["unbatched"]:
        tg = tg.reshape(N, 0)
    il, tl = _int_arg(s["il"]), _int_arg(s["tl"])
    if s["unbatched"]:
        il = il.reshape(()) if isinstance(il, np.ndarray) else il
        tl = tl.reshape(()) if isinstance(tl, np.ndarray) else tl
    args = dict(log_probs=x, targets=tg, input_lengths=il, target_lengths=tl)
    if torch_api:
        args["log_probs"] = torch.from_numpy(np.array(x)) if x.dtype != object else x
        for k in ("targets", "input_lengths", "target_lengths"):
            if isinstance(args[k], np.ndarray):
                args[k] = torch.from_numpy(args[k].copy())
        args.update(blank=s["blank"], reduction=s["reduction"], zero_infinity=s["zi"],
                    from_logits=s["fl"])
        return args
    args.update(blank=s["blank"], reduction=s["reduction"], zero_infinity=s["zi"],
                from_logits=s["fl"])
    if s["bf"] and not s["unbatched"]:
        args["batch_first"] = True
    if s["n_threads"] is not None:
        args["n_threads"] = s["n_threads"]
    return args


def ctc_valid(s):
    T, C = s["T"], s["C"]
    if not (is_int(s["blank"]) and 0 <= s["blank"] < C):
        return False
    if s["reduction"] not in ("mean", "sum", "none") or not isinstance(s["reduction"], str):
        return False
    if not threads_valid(s["n_threads"]):
        return False
    if s["dtype"] == object or s["dtype"].kind != "f":
        return False
    W = ctc_width(s)
    flat = [v for r in s["rows"] for v in r]
    for n in range(s["N"]):
        il, tl = s["il"][n], s["tl"][n]
        if not (is_int(il) and is_int(tl)) or not 0 <= il <= T or tl < 0:
            return False
        if s["form"] == "padded" and tl > (W if not s["unbatched"] else len(s["rows"][0])):
            return False
    if s["form"] == "concat" and not s["unbatched"] and sum(s["tl"]) != len(flat):
        return False
    if s["form"] == "concat" and s["unbatched"] and s["tl"][0] > len(flat):
        return False
    for n in range(s["N"]):
        for v in ctc_rows(s)[n]:
            if not is_int(v) or not 0 <= v < C or v == s["blank"]:
                return False
    return True


def ctc_rows(s):
    """Each item's labels as the kernel must read them (truncated to its target length)."""
    if s["form"] == "concat" and not s["unbatched"]:
        flat = [v for r in s["rows"] for v in r]
        out, o = [], 0
        for tl in s["tl"]:
            out.append(flat[o:o + tl])
            o += tl
        return out
    W = ctc_width(s) if not s["unbatched"] else len(s["rows"][0])
    return [(list(r) + [s["pad"]] * (W - len(r)))[:tl] if is_int(tl) else r
            for r, tl in zip(s["rows"], s["tl"])]


def ctc_reference(s):
    """(per-item losses, reduced or per-item result, per-item scale) in float64."""
    x = s["x"].astype(s["dtype"]).astype(np.float64) if s["dtype"].kind == "f" else s["x"]
    with np.errstate(all="ignore"):
        lp = R.log_softmax(x) if s["fl"] else x
        # seqloss's documented bound: log-probabilities below -6.93e29 count as
        # log 0, and so does a path whose total is below -3.47e29
        lp = np.where(lp < -1e30 / math.log2(math.e), -np.inf, lp)
        losses = np.array([R.ctc_nll_single(lp[:s["il"][n], n], row, s["blank"])
                           for n, row in enumerate(ctc_rows(s))])
        losses[losses > 0.5e30 * math.log(2)] = np.inf
        # NaN, +inf or a value >= 2**98 in the log-probability of a class the item
        # uses (its labels, the blank) within its input length gives NaN (from
        # logits: NaN or +inf anywhere in such a frame), unless the item has no
        # alignment at all (inf whatever the values)
        for n, row in enumerate(ctc_rows(s)):
            row = [int(v) for v in row]
            if s["il"][n] < len(row) + sum(a == b for a, b in zip(row, row[1:])):
                losses[n] = np.inf  # the textbook recursion may say NaN here
                continue
            if s["fl"]:  # from logits: NaN or +inf anywhere in a used frame (as torch)
                used = x[:s["il"][n], n]
                bad = np.isnan(used) | (used == np.inf)
            else:
                used = lp[:s["il"][n], n][:, sorted(set(row) | {s["blank"]})]
                bad = np.isnan(used) | (used >= 2.0 ** 98)
            if np.any(bad):
                losses[n] = np.nan
    raw = losses.copy()
    if s["zi"]:
        losses[np.isinf(losses)] = 0.0
    s["_raw_losses"] = raw
    tl = np.maximum(np.array(s["tl"], dtype=np.float64), 1.0)
    if s["reduction"] == "none":
        return losses, losses, np.ones(s["N"])
    if s["reduction"] == "sum":
        return losses, losses.sum(), np.ones(s["N"])
    with np.errstate(all="ignore"):
        return losses, np.mean(losses / tl), 1.0 / (tl * s["N"])


def ctc_check(s, want_grad, torch_api=False):
    def check(got):
        grad = None
        if torch_api and isinstance(got, tuple):
            got, grad = got
        elif want_grad:
            got, grad = got
        odt = s["dtype"]
        g = _as_np(got)
        if torch_api:
            assert g.dtype == odt, "loss dtype %s, input %s" % (g.dtype, odt)
        else:
            assert g.dtype == odt, "loss dtype %s, input %s" % (g.dtype, odt)
        losses, red, scale = ctc_reference(s)
        eps = eps_of(odt)
        xf = s["x"].astype(odt).astype(np.float64)
        big = np.abs(xf[np.isfinite(xf)]).max() if np.isfinite(xf).any() else 0.0
        extra = s["T"] * (2 + math.log(s["C"] + 1) + big)
        if s["fl"]:  # -log of a probability: never negative
            items = g.reshape(-1) if s["reduction"] == "none" else g.reshape(1)
            assert not np.any(items < -64 * eps * s["T"]), \
                "negative CTC loss from logits: %s" % items.tolist()
        if s["reduction"] == "none":
            want = losses.reshape(()) if s["unbatched"] and not torch_api else losses
            if torch_api and s["unbatched"]:
                want = losses.reshape(())
            close(g, want, _tol(eps, want, extra), "loss")
        else:
            close(g, red, _tol(eps, red, extra * (np.sum(scale) if s["reduction"] == "mean"
                                                  else s["N"])), "loss")
        if grad is None:
            return
        gr = _as_np(grad).astype(np.float64)
        shape = s["x"][:, 0].shape if s["unbatched"] else (
            (s["N"], s["T"], s["C"]) if s["bf"] and not torch_api else s["x"].shape)
        assert gr.shape == shape, "grad shape %s, want %s" % (gr.shape, shape)
        assert _as_np(grad).dtype == odt, "grad dtype %s" % _as_np(grad).dtype
        if s["unbatched"]:
            gr = gr[:, None]
        elif s["bf"] and not torch_api:
            gr = gr.transpose(1, 0, 2)
        xf = s["x"].astype(odt).astype(np.float64)
        for n in range(s["N"]):
            if not np.isfinite(s["_raw_losses"][n]) or not np.all(np.isfinite(xf[:, n])):
                continue
            sums = gr[:, n].sum(axis=1)
            il = s["il"][n]
            want = np.zeros(s["T"])
            if not s["fl"]:
                want[:il] = -scale[n]
            # posteriors are 2^(alpha + beta - log2 p): their relative error grows
            # with the magnitude of those sums (up to T x the largest |input|)
            close(sums, want, 256 * eps * s["C"] * (1 + abs(losses[n])) + 4 * eps * s["T"] * big,
                  "grad row sums of item %d" % n)
            close(gr[il:, n], np.zeros_like(gr[il:, n]), 0.0, "grad past input length")
    return check


# ------------------------------------------------------------------ softmax family

def sm_spec(draw):
    nd = draw.int(1, 3)
    shape = tuple(draw.int(1, 3) for _ in range(nd - 1)) + (draw.int(1, 4),)
    C = shape[-1]
    n = int(np.prod(shape))
    t = [draw.int(0, C - 1) if draw.int(0, 5) else -100 for _ in range(n // C)]
    probs = draw.int(0, 4) == 0
    return dict(x=_xvals(draw, n).reshape(shape), dtype=np.dtype(draw.choice([np.float64,
                                                                               np.float32])),
                t=np.array(t, dtype=np.int64).reshape(shape[:-1]),
                probs=(np.array([draw.int(0, 4) for _ in range(n)], dtype=np.float64)
                       .reshape(shape) / 4.0) if probs else None,
                weight=None if draw.int(0, 2) else np.array([draw.int(0, 3) * 0.5
                                                             for _ in range(C)]),
                ignore_index=-100, reduction=draw.choice(["mean", "sum", "none"]),
                ls=draw.choice([0.0, 0.0, 0.25]), axis=-1, n_threads=None)


def sm_build(s, name):
    f = FUNCTIONS[name]
    x = s["x"].astype(s["dtype"]) if s["dtype"] != object else s["x"]
    if f.kind == "softmax":
        a = dict(x=x)
        if s["axis"] != -1:
            a["axis"] = s["axis"]
        if s["n_threads"] is not None:
            a["n_threads"] = s["n_threads"]
        return a
    tgt = s["probs"].astype(s["dtype"]) if (s["probs"] is not None and not f.nll) else s["t"]
    if f.torch:
        xt = torch.from_numpy(np.array(x))
        if xt.dim() >= 2:  # torch's layout: class dim 1
            xt = xt.movedim(-1, 1).contiguous()
            if tgt.ndim == x.ndim:
                tgt = np.moveaxis(tgt, -1, 1)
        a = dict(input=xt, target=torch.from_numpy(np.array(tgt)))
        if s["weight"] is not None:
            a["weight"] = torch.from_numpy(np.array(s["weight"], dtype=np.float64)).to(xt.dtype)
    else:
        a = dict(logits=x, targets=tgt) if not f.nll else dict(log_probs=x, targets=tgt)
        if s["weight"] is not None:
            a["weight"] = s["weight"]
    if s["ignore_index"] != -100:
        a["ignore_index"] = s["ignore_index"]
    a["reduction"] = s["reduction"]
    if s["ls"] != 0.0 and not f.nll:
        a["label_smoothing"] = s["ls"]
    if s["n_threads"] is not None:
        a["n_threads"] = s["n_threads"]
    return a


def sm_valid(s, name):
    f = FUNCTIONS[name]
    if s["dtype"] == object or s["dtype"].kind != "f" or not threads_valid(s["n_threads"]):
        return False
    if f.kind == "softmax":
        return is_int(s["axis"]) and -s["x"].ndim <= s["axis"] < s["x"].ndim
    C = s["x"].shape[-1]
    if not isinstance(s["reduction"], str) or s["reduction"] not in ("mean", "sum", "none"):
        return False
    ii = s["ignore_index"]
    if not is_int(ii) or not -2**63 <= ii < 2**63:
        return False
    ls = s["ls"]
    if not f.nll and (isinstance(ls, (bool, np.bool_)) or not isinstance(ls, (int, float,
                                                                                np.floating,
                                                                                np.integer))
                      or not 0 <= ls <= 1):
        return False
    if s["weight"] is not None and not np.all(np.asarray(s["weight"]) >= 0):
        return False
    if s["probs"] is None or f.nll:
        if not all(0 <= v < C or v == ii for v in s["t"].ravel().tolist()):
            return False
    return True


def sm_check(s, name, want_grad):
    f = FUNCTIONS[name]

    def check(got):
        odt = s["dtype"]
        eps = eps_of(odt)
        x = s["x"].astype(odt).astype(np.float64)
        grad = None
        if want_grad or (f.torch and isinstance(got, tuple)):
            got, grad = got
        g = _as_np(got)
        if f.kind == "softmax":
            ref = (R.log_softmax if f.log else R.softmax)(x, axis=s["axis"])
            assert g.dtype == odt, "dtype %s, input %s" % (g.dtype, odt)
            fx = np.where(np.isfinite(x), np.abs(x), 0)
            close(g, ref, _tol(eps, ref, 1 + fx.max(axis=s["axis"], keepdims=True)))
            return
        C = x.shape[-1]
        tg = s["probs"] if (s["probs"] is not None and not f.nll) else s["t"]
        if f.torch and x.ndim >= 2 and tg.ndim == x.ndim:
            pass
        with np.errstate(all="ignore"):
          try:
            if f.nll:
                ref = R.nll_loss(x, s["t"], s["weight"], s["ignore_index"], s["reduction"])
            else:
                probs = None if s["probs"] is None else s["probs"].astype(odt)
                ref = R.cross_entropy(x, s["t"] if probs is None else probs, s["weight"],
                                      s["ignore_index"], s["reduction"], s["ls"])
          except ValueError:  # math.fsum of inf and -inf
            ref = float("nan") if s["reduction"] != "none" else np.full(x.shape[:-1], np.nan)
        if f.torch and s["reduction"] == "none" and x.ndim >= 2:
            gg = g
        else:
            gg = g
        assert g.dtype == odt, "loss dtype %s, input %s" % (g.dtype, odt)
        wmax = 1.0 if s["weight"] is None else max(1.0, float(np.max(s["weight"])))
        fin = np.abs(x[np.isfinite(x)])
        scale = wmax * (1 + (fin.max() if fin.size else 0) + math.log(C + 1))
        if s["reduction"] != "none":
            n = max(1, x.size // C)
            tol = _tol(eps, ref, scale) * (n if s["reduction"] == "sum" else 1)
            tol = tol * (1 if s["weight"] is None or s["reduction"] == "sum" else 1 + wmax * n)
        else:
            tol = _tol(eps, ref, scale)
        close(gg, ref, tol, "loss")
        if grad is not None and torch is not None and np.all(np.isfinite(x)):
            want = sm_torch_grad(s, f, x)
            gr = _as_np(grad).astype(np.float64)
            if f.torch and gr.ndim >= 2:
                gr = np.moveaxis(gr, 1, -1)
            close(gr, want, 64 * eps * wmax * (1 + np.abs(want)) * C, "grad")
    return check


def sm_torch_grad(s, f, x):
    xt = torch.tensor(x.reshape(-1, x.shape[-1]), dtype=torch.float64, requires_grad=True)
    w = None if s["weight"] is None else torch.tensor(s["weight"], dtype=torch.float64)
    if f.nll:
        loss = torch.nn.functional.nll_loss(xt, torch.from_numpy(s["t"].reshape(-1)), w,
                                            ignore_index=s["ignore_index"],
                                            reduction=s["reduction"])
    else:
        tg = (torch.from_numpy(s["t"].reshape(-1)) if s["probs"] is None else
              torch.from_numpy(s["probs"].astype(s["dtype"]).astype(np.float64)
                               .reshape(-1, x.shape[-1])))
        loss = torch.nn.functional.cross_entropy(xt, tg, w, ignore_index=(
                                                     s["ignore_index"] if s["probs"] is None
                                                     else -100),
                                                 reduction=s["reduction"],
                                                 label_smoothing=float(s["ls"]))
    loss.sum().backward()
    return xt.grad.numpy().reshape(x.shape)


# ------------------------------------------------------------------ edit distance

ALPHABET = ["a", "b", "c", "é", "\U0001F600", "\u4e2d"]


def ed_spec(draw, batch=True):
    n = draw.int(0, 3) if batch else 1
    kind = draw.choice(["str", "bytes", "list_int", "list_str", "tuple", "array"] +
                       (["padded"] if batch else []))
    dt = draw.choice(["int64", "int32", "uint8", "uint16", "int8", "uint64"])
    pairs = []
    for _ in range(n):
        pairs.append(tuple([draw.int(0, 3) for _ in range(draw.int(0, 5))] for _ in range(2)))
    return dict(kind=kind, dtype=dt, pairs=pairs, normalize=draw.int(0, 3) == 0,
                n_threads=None, batch=batch, tokens=None)


def ed_item(s, seq):
    k = s["kind"]
    if k == "str":
        return "".join(ALPHABET[v] for v in seq)
    if k == "bytes":
        return bytes(seq)
    if k == "list_int":
        return list(seq)
    if k == "list_str":  # multi-character tokens: never one of CPython's cached strings
        return [ALPHABET[v] * 2 for v in seq]
    if k == "tuple":
        return tuple(seq)
    return np.array(seq, dtype=s["dtype"])


def ed_tokens(s, seq):
    """The tokens the reference compares."""
    if s["kind"] == "str":
        return [ALPHABET[v] for v in seq]
    if s["kind"] == "list_str":
        return [ALPHABET[v] * 2 for v in seq]
    return list(seq)


def ed_build(s):
    if not s["batch"]:
        a, b = s["pairs"][0]
        return dict(a=ed_item(s, a), b=ed_item(s, b))
    if s["kind"] == "padded":
        args = {}
        for side, nm in ((0, "hypotheses"), (1, "references")):
            rows = [p[side] for p in s["pairs"]]
            W = max([len(r) for r in rows] + [0])
            arr = np.zeros((len(rows), W), dtype=s["dtype"])
            for i, r in enumerate(rows):
                arr[i, :len(r)] = r
                arr[i, len(r):] = 3 if W > len(r) else 0
            args[nm] = arr
        args["hyp_lengths"] = np.array([len(p[0]) for p in s["pairs"]], dtype=np.int64)
        args["ref_lengths"] = np.array([len(p[1]) for p in s["pairs"]], dtype=np.int64)
    else:
        args = dict(hypotheses=[ed_item(s, p[0]) for p in s["pairs"]],
                    references=[ed_item(s, p[1]) for p in s["pairs"]])
    if s["normalize"]:
        args["normalize"] = True
    if s["n_threads"] is not None:
        args["n_threads"] = s["n_threads"]
    return args


def ed_reference(s):
    d = np.array([R.levenshtein_dp(ed_tokens(s, a), ed_tokens(s, b)) for a, b in s["pairs"]],
                 dtype=np.int64)
    if not s["batch"]:
        return int(d[0])
    if not s["normalize"]:
        return d
    rl = np.array([len(b) for _, b in s["pairs"]], dtype=np.float64)
    with np.errstate(all="ignore"):
        return np.where(rl > 0, d / np.maximum(rl, 1), np.where(d == 0, 0.0, np.inf))


def ed_check(s):
    def check(got):
        want = ed_reference(s)
        if not s["batch"]:
            assert type(got) is int and got == want, "distance %r, reference %r" % (got, want)
            return
        g = np.asarray(got)
        assert g.dtype == want.dtype and g.shape == want.shape, \
            "dtype/shape %s %s, reference %s %s" % (g.dtype, g.shape, want.dtype, want.shape)
        assert np.array_equal(g, want), "distances %s, reference %s" % (g.tolist(),
                                                                       want.tolist())
    return check


# ------------------------------------------------------------------ WER / CER

WORDS = ["a", "bb", "ccc", "é", "\U0001F600", "x\ty", "中文", "a한"]
SPACES = [" ", " ", " ", "  ", " \t "]
# code points the mixed unit makes tokens of their own (seqloss.error_rates' docstring)
CJK_RE = re.compile("([\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff"
                    "\uac00-\ud7af\uf900-\ufaff\U00020000-\U0002fa1f])")
# integer tokens of the pre-tokenised form (distinct tokens, in order of appearance)
INT_TOKENS = [0, 7, -1, 2**40, -2**63, 2**63 - 1, 3, 1]


def mixed_words(s):
    """The mixed unit, written out: a space around every CJK code point, then jiwer's words."""
    return R.jiwer_words(CJK_RE.sub(r" \1 ", s))


def unit_tokens(unit):
    return {"word": R.jiwer_words, "char": R.jiwer_chars, "mixed": mixed_words}[unit]


def er_spec(draw):
    n = draw.int(0, 3)
    sents = []
    for _ in range(n):
        pair = []
        for _ in range(2):
            ws = [draw.choice(WORDS) for _ in range(draw.int(0, 4))]
            text = ""
            for i, w in enumerate(ws):
                text += (draw.choice(SPACES) if i else draw.choice(["", "", " "])) + w
            pair.append(text + draw.choice(["", "", " "]))
        sents.append(tuple(pair))
    # form: text, or pre-tokenised (the unit's tokens of the text) as lists of str / of ints
    # / int64 arrays
    return dict(sents=sents, unit=draw.choice(["word", "char", "mixed"]), n_threads=None,
                form=draw.choice(["text", "text", "text", "str_tokens", "int_tokens",
                                  "int_arrays"]))


def er_unit(s, name):
    return "char" if name == "cer" else ("word" if name == "wer" else s["unit"])


def er_pairs(s, name):
    """Each pair's (hypothesis tokens, reference tokens) as the call must compare them."""
    tok = unit_tokens(er_unit(s, name) if isinstance(s["unit"], str) and
                      s["unit"] in ("word", "char", "mixed") else "word")
    pairs = [(tok(h), tok(r)) for h, r in s["sents"]]
    if s["form"] in ("int_tokens", "int_arrays"):
        ids = {}
        for h, r in pairs:
            for t in r + h:
                if t not in ids:
                    ids[t] = INT_TOKENS[len(ids)] if len(ids) < len(INT_TOKENS) else 100 + len(ids)
        pairs = [([ids[t] for t in h], [ids[t] for t in r]) for h, r in pairs]
    return pairs


def er_build(s, name):
    if s["form"] == "text":
        hyps = [h for h, _ in s["sents"]]
        refs = [r for _, r in s["sents"]]
    else:
        pairs = er_pairs(s, name)
        if s["form"] == "int_arrays":
            hyps = [np.array(h, dtype=np.int64) for h, _ in pairs]
            refs = [np.array(r, dtype=np.int64) for _, r in pairs]
        else:
            hyps = [h for h, _ in pairs]
            refs = [r for _, r in pairs]
    args = dict(hypotheses=hyps, references=refs)
    if name in ("error_rates", "align", "evaluate"):
        args["unit"] = s["unit"]
    if s["n_threads"] is not None:
        args["n_threads"] = s["n_threads"]
    return args


def er_reference(s, name):
    H = S = D = I = nh = nr = 0
    for ht, rt in er_pairs(s, name):
        c = R.sdi_counts(rt, ht)
        H, S, D, I = H + c[0], S + c[1], D + c[2], I + c[3]
        nh, nr = nh + len(ht), nr + len(rt)
    if nr == 0:
        return float(I), (H, S, D, I, nh, nr)
    return (S + D + I) / (H + S + D), (H, S, D, I, nh, nr)


def align_check(s, got):
    """An Alignments equal to the reference's counts, replaying each pair's tokens."""
    assert isinstance(got, seqloss.Alignments), "type %s" % type(got).__name__
    pairs = er_pairs(s, "align")
    assert got.n == len(pairs), "n %d, %d pairs" % (got.n, len(pairs))
    ints = s["form"] in ("int_tokens", "int_arrays")
    assert (got.vocabulary is None) == (ints and any(h or r for h, r in pairs)), \
        "vocabulary %r" % (got.vocabulary,)
    counts = got.counts()
    for i, (ht, rt) in enumerate(pairs):
        want = R.sdi_counts(rt, ht)
        assert tuple(counts[i].tolist()) == want, "pair %d counts %s, reference %s" % (
            i, counts[i].tolist(), want)
        ops = got.pair(i)
        refs = [r for o, r, _ in ops if o != "insert"]
        hyps = [h for o, _, h in ops if o != "delete"]
        assert refs == rt and hyps == ht, "pair %d replays %r / %r, tokens %r / %r" % (
            i, refs, hyps, rt, ht)
        for o, r, h in ops:
            assert (o == "equal") == (r == h) or o in ("insert", "delete"), \
                "pair %d: %s of %r and %r" % (i, o, r, h)
        a, b = int(got.offsets[i]), int(got.offsets[i + 1])
        ri, hi = got.ref_index[a:b].tolist(), got.hyp_index[a:b].tolist()
        assert [x for x in ri if x >= 0] == list(range(len(rt))) and \
            [x for x in hi if x >= 0] == list(range(len(ht))), "pair %d positions" % i


def er_check(s, name):
    def check(got):
        if name == "align":
            align_check(s, got)
            return
        w, counts = er_reference(s, name)
        if name == "evaluate":
            assert isinstance(got, seqloss.Report), "type %s" % type(got).__name__
            p = got.primary
            c = (p.hits, p.substitutions, p.deletions, p.insertions, p.hypothesis_length,
                 p.reference_length)
            assert c[0] + c[1] + c[2] == counts[0] + counts[1] + counts[2] and \
                c[4:] == counts[4:] and c[1] + c[2] + c[3] == sum(counts[1:4]), \
                "counts %s, reference %s" % (c, counts)
            u = got.utterance
            assert u.shape == (len(er_pairs(s, name)), 6) and \
                int(u[:, 1:4].sum()) == sum(counts[1:4]), "per-utterance counts %s" % (u,)
            subs = sum(p.substitution_pairs.values())
            assert (subs, sum(p.deleted.values()), sum(p.inserted.values())) == c[1:4], \
                "confusion totals %s, counts %s" % ((subs, sum(p.deleted.values()),
                                                     sum(p.inserted.values())), c[1:4])
            got = p.error_rate
        elif name == "error_rates":
            c = (got.hits, got.substitutions, got.deletions, got.insertions,
                 got.hypothesis_length, got.reference_length)
            assert c[0] + c[1] + c[2] == counts[0] + counts[1] + counts[2] and \
                c[4:] == counts[4:] and c[1] + c[2] + c[3] == sum(counts[1:4]), \
                "counts %s, reference %s" % (c, counts)
            assert got.error_rate == got.wer, "error_rate %r, wer %r" % (got.error_rate,
                                                                       got.wer)
            got = got.wer
        assert isinstance(got, float), "type %s" % type(got).__name__
        assert got == w or abs(got - w) <= 1e-12 * abs(w), "rate %r, reference %r" % (got, w)
    return check


# ------------------------------------------------------------------ n-gram LMs (ARPA)
#
# A small backoff model drawn as data (``arpa_spec``), written as ARPA text
# (``arpa_text``) and scored straight from that data (``arpa_logprob``): the
# reference of ``NgramLM.from_arpa`` on unmutated text.  Mutated text that still
# loads is held to ``reference.ArpaLM`` (an independent ARPA parser) when the
# reference module has it.

LN10 = math.log(10.0)
LM_WORDS = ["a", "b", "ab", "ba", "é", "c", "x\u4e2d", "aé"]
def arpa_spec(draw, words=None, order=None):
    """A well-formed backoff model: every n-gram's context and suffix are (n-1)-grams."""
    order = draw.int(1, 3) if order is None else order
    if words is None:
        words = [w for w in LM_WORDS if draw.int(0, 2)] or [LM_WORDS[0]]
    words = list(dict.fromkeys(words))
    uni = []
    if draw.int(0, 2) == 0:
        uni.append(["<unk>", -0.25 * draw.int(4, 16)])
    uni.append(["<s>", draw.choice([-99.0, -99.0, -0.25 * draw.int(1, 8)])])
    uni.append(["</s>", -0.25 * draw.int(1, 8)])
    uni += [[w, -0.25 * draw.int(1, 12)] for w in words]
    if draw.int(0, 3) == 0:  # the unigrams in another order
        k = draw.int(0, len(uni) - 1)
        uni = uni[k:] + uni[:k]
    grams = {1: [(tuple([w]), p) for w, p in uni]}
    if order >= 2:
        big = []
        for a in ["<s>"] + words:
            for b in words + ["</s>"]:
                if len(big) < 8 and draw.int(0, 3) == 0:
                    big.append(((a, b), -0.125 * draw.int(0, 16)))
        grams[2] = big
    if order >= 3:
        have = {g for g, _ in grams[2]}
        tri = []
        for a, b in sorted(have):
            if b == "</s>":
                continue
            for w in words + ["</s>"]:
                if (b, w) in have and len(tri) < 6 and draw.int(0, 2) == 0:
                    tri.append(((a, b, w), -0.125 * draw.int(0, 12)))
        grams[3] = tri
    backoff = {}
    for n in range(1, order):
        for g, _ in grams[n]:
            if draw.int(0, 2) and g != ("</s>",):
                backoff[g] = -0.125 * draw.int(0, 8)
    return dict(order=order, grams=grams, backoff=backoff, sep=draw.choice([" ", " ", "\t"]),
                fmt=draw.choice(["%g", "%g", "%.6f", "%.3e"]), unit=None, form="str",
                path_dir=None)


def arpa_text(a):
    """The model as ARPA text."""
    sep, fmt = a["sep"], a["fmt"]
    out = ["\\data\\"]
    for n in range(1, a["order"] + 1):
        out.append("ngram %d=%d" % (n, len(a["grams"][n])))
    for n in range(1, a["order"] + 1):
        out += ["", "\\%d-grams:" % n]
        for g, p in a["grams"][n]:
            line = (fmt % p) + sep + " ".join(g)
            if g in a["backoff"]:
                line += sep + fmt % a["backoff"][g]
            out.append(line)
    out += ["", "\\end\\", ""]
    return "\n".join(out)


def arpa_logprob(a, words, bos=True, eos=True):
    """log10 P(sentence) of the model ``a`` (KenLM's ``Model.score``)."""
    probs = {g: p for n in a["grams"] for g, p in a["grams"][n]}
    vocab = {g[0] for g, _ in a["grams"][1]}
    order = a["order"]
    ctx, total = (["<s>"] if bos else []), 0.0
    for w in list(words) + (["</s>"] if eos else []):
        w = w if w in vocab else "<unk>"
        bo, got = 0.0, None
        h = ctx[-(order - 1):] if order > 1 else []
        for k in range(len(h), 0, -1):
            g = tuple(h[-k:]) + (w,)
            if g in probs:
                got = bo + probs[g]
                break
            bo += a["backoff"].get(tuple(h[-k:]), 0.0)
        if got is None:
            got = bo + probs.get((w,), -100.0)  # <unk> missing: KenLM's -100
        total += got
        ctx.append(w)
    return total


_LM_CACHE = {}


def build_lm(text, unit=None):
    """NgramLM.from_arpa(text), cached (decoder cases share a few models)."""
    key = (text, unit)
    lm = _LM_CACHE.get(key)
    if lm is None:
        lm = seqloss.NgramLM.from_arpa(text) if unit is None else \
            seqloss.NgramLM.from_arpa(text, unit=unit)
        if len(_LM_CACHE) > 64:
            _LM_CACHE.clear()
        _LM_CACHE[key] = lm
    return lm


def lm_src(lm):
    for (text, unit), v in _LM_CACHE.items():
        if v is lm:
            return "seqloss.NgramLM.from_arpa(%r%s)" % (text, "" if unit is None
                                                        else ", unit=%r" % unit)
    return repr(lm)


# characters Python's str.split / splitlines treat as white space but ARPA readers
# (seqloss, KenLM: lines end at "\n", fields at " " and "\t") do not
_PY_SPACE = re.compile("[\x0b\x0c\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029"
                       "\u202f\u205f\u3000]|\r(?!\n)")


def _ref_arpa_model(data):
    """(reference.ArpaLM of ARPA bytes or None, why not): None when the text holds white
    space the reference's Python splitting reads differently, or the reference refuses
    it (then the reason)."""
    cls = getattr(R, "ArpaLM", None)
    if cls is None:
        return None, "no reference.ArpaLM"
    text = data.decode("utf-8", "surrogateescape")
    if _PY_SPACE.search(text):
        return None, "white space outside ARPA's"
    try:
        return cls(text), ""
    except ValueError as e:
        return None, "refused: %s" % e


def lm_spec(draw):
    a = arpa_spec(draw)
    a["sentences"] = [([draw.choice(LM_WORDS + ["zz", "a", "b"])
                        for _ in range(draw.int(0, 4))], draw.int(0, 3) > 0, draw.int(0, 3) > 0)
                      for _ in range(3)]
    a["unit"] = draw.choice([None, None, "word", "token"])
    a["form"] = draw.choice(["str", "str", "str", "bytes", "bytearray", "path", "gz"])
    a["text"] = None  # mutated text (str), else arpa_text(a)
    return a


def _lm_data(s):
    text = arpa_text(s) if s["text"] is None else s["text"]
    return text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)


_TMP = []


def _tmpdir():
    if not _TMP:
        import atexit
        import shutil
        import tempfile
        d = tempfile.mkdtemp(prefix="seqloss-fuzz-")
        atexit.register(shutil.rmtree, d, True)
        _TMP.append(d)
    return _TMP[0]


def lm_build(s):
    data = _lm_data(s)
    form = s["form"]
    if form == "str":
        v = s["text"] if isinstance(s["text"], str) else data.decode("utf-8", "surrogatepass")
    elif form == "bytes":
        v = data
    elif form == "bytearray":
        v = bytearray(data)
    else:
        import gzip
        import hashlib
        name = hashlib.sha1(data).hexdigest()[:16] + (".arpa.gz" if form == "gz" else ".arpa")
        v = os.path.join(_tmpdir(), name)
        if not os.path.exists(v):
            with (gzip.open(v, "wb") if form == "gz" else open(v, "wb")) as f:
                f.write(data)
    args = dict(path_or_text=v)
    if s["unit"] is not None:
        args["unit"] = s["unit"]
    return args


def lm_setup(s, args):
    """Reproducer lines that write the file of a path case."""
    if s["form"] not in ("path", "gz"):
        return []
    opener = "gzip.open" if s["form"] == "gz" else "open"
    return ["import gzip, os, tempfile",
            "path_or_text = os.path.join(tempfile.mkdtemp(), %r)"
            % os.path.basename(args["path_or_text"]),
            "_data = %r" % _lm_data(s),
            "with %s(path_or_text, 'wb') as _f:\n    _f.write(_data)" % opener]


def lm_valid(s):
    return s["unit"] is None or (isinstance(s["unit"], str) and s["unit"] in ("word", "token"))


def lm_check(s, exact=True):
    """A loaded model scores like the reference: the drawn model itself (``exact``: its
    data, and reference.ArpaLM of its text), or reference.ArpaLM of the (mutated) text."""
    def check(got):
        assert isinstance(got, seqloss.NgramLM), "type %s" % type(got).__name__
        unit = "word" if s["unit"] is None else s["unit"]
        assert got.unit == unit, "unit %r, asked %r" % (got.unit, unit)
        if exact:
            m, why = _ref_arpa_model(_lm_data(s))
            assert m is not None or not why.startswith("refused"), \
                "reference.ArpaLM %s a drawn model" % why

            def ref(ws, b, e):
                v = arpa_logprob(s, ws, b, e)
                if m is not None:
                    w = m.sentence_logprob(ws, b, e)
                    assert abs(v - w) <= 1e-9 * max(1.0, abs(v)), \
                        "the two references differ on %r: %r %r" % (ws, v, w)
                return v
            order = s["order"]
            names = {g[0] for g, _ in s["grams"][1]}
            counts = [len(names | {"<unk>"})] + [len(s["grams"][n])
                                                 for n in range(2, order + 1)]
            assert got.order == order and got.counts == counts, \
                "order %d counts %s, reference %d %s" % (got.order, got.counts, order, counts)
            for w in names:
                assert w in got, "%r not in the model" % w
            assert "zz" not in got
        else:
            m, why = _ref_arpa_model(_lm_data(s))
            if m is None:
                # loaded where KenLM's rules refuse: only a positive log-probability
                # (KenLM's default refuses it; seqloss reads it) is let through
                assert not why.startswith("refused") or "positive log probability" in why, \
                    "loaded an ARPA text reference.ArpaLM %s" % why
                for words, b, e in s["sentences"]:
                    assert not math.isnan(got.score(words, bos=b, eos=e)), "NaN score"
                return
            ref = lambda ws, b, e: m.sentence_logprob(ws, b, e)  # noqa: E731
        import pickle
        again = pickle.loads(pickle.dumps(got))
        for words, b, e in s["sentences"] + [([], True, True)]:
            v = got.score(words, bos=b, eos=e)
            w = LN10 * ref(list(words), b, e)
            # (a log10 value beyond float32 is -inf for KenLM and seqloss alike)
            assert abs(v - w) <= 1e-4 * max(1.0, abs(w)) or v == w or (v < -1e30 and
                                                                    w < -1e30), \
                "score(%r, bos=%r, eos=%r) = %r, reference %r" % (words, b, e, v, w)
            assert again.score(words, bos=b, eos=e) == v, "score changed by pickling"
    return check


_ARPA_LINE = re.compile(r"^ARPA line (\d+): (.*)$", re.S)


def _unquote(q):
    """The bytes an ARPA message quotes: its text with the escapes turned back into bytes
    (\\xNN: a byte that is not printable UTF-8; \\\\: a backslash), and a trailing "..."
    (cut) dropped."""
    if q.endswith("..."):
        q = q[:-3]
    out = b""
    for part in re.split(r"(\\x[0-9a-f]{2}|\\\\)", q):
        if re.fullmatch(r"\\x[0-9a-f]{2}", part):
            out += bytes([int(part[2:], 16)])
        elif part == "\\\\":
            out += b"\\"
        else:
            out += part.encode("utf-8", "surrogateescape")
    return out


def arpa_msg_check(data):
    """An 'ARPA line N: ...' message must point at the line that holds what it says
    (the offending text it quotes, or the place the problem was detected)."""
    lines = [ln[:-1] if ln.endswith(b"\r") else ln for ln in data.split(b"\n")]
    if data.endswith(b"\n"):
        lines = lines[:-1]

    def trim(b):
        return b.strip(b" \t")

    def check(e):
        try:
            return _check(e)
        except (AttributeError, ValueError, IndexError):  # a message not in its form
            return "the message is not in its documented form (cut short?)"

    def _check(e):
        msg = str(e)
        if msg.count("'") % 2:  # an unterminated quote: the message was cut
            return "the message is cut short"
        m = _ARPA_LINE.match(msg)
        if not m:
            if re.match(r"^ARPA line", msg):
                return "an ARPA line message in an unexpected form"
            return _arpa_other_msg(msg, lines)
        n, what = int(m.group(1)), m.group(2)
        if not 1 <= n <= len(lines):
            return "line %d of %d lines" % (n, len(lines))
        line = lines[n - 1]
        t = trim(line)
        fields = [f for f in re.split(rb"[ \t]+", t) if f]  # (ARPA's white space only)
        quoted = re.search(r"(?:got |: )'(.*)'$", what, re.S)
        if quoted:
            q = _unquote(quoted.group(1))
            if q not in line:
                return "line %d is %r: no %r there" % (n, line, q)
        if t == b"" and not what.startswith("section"):
            return "line %d is blank" % n
        if what.startswith("expected '\\data\\' before anything else"):
            if any(trim(ln) for ln in lines[:n - 1]):
                return "a non-blank line before line %d" % n
        elif what.startswith(("expected 'ngram N=count'", "expected the count of order",
                              "expected a non-negative n-gram count", "n-gram count too")):
            # the header: \data\, then count lines up to line n (no blank line)
            head = [i for i, ln in enumerate(lines[:n - 1]) if trim(ln) == b"\\data\\"]
            between = [trim(ln) for ln in lines[head[0] + 1:n - 1]] if head else None
            if between is None or any(not re.match(rb"^ngram\s*\d+\s*=\s*\d+$", b)
                                      for b in between if b) or \
                    (b"" in between and any(between[between.index(b""):])):
                return "line %d is not where the header's count lines end" % n
            if what.startswith("expected 'ngram N=count'"):
                if re.match(rb"^ngram\s*\d+\s*=\s*\d+$", t):
                    return "line %d is a well-formed count line" % n
            elif what.startswith("expected the count of order"):
                k = int(re.search(r"order (\d+)", what).group(1))
                mm = re.match(rb"^ngram\s*(\d+)", t)
                if not mm or int(mm.group(1)) == k or len([b for b in between if b]) != k - 1:
                    return "line %d (%r) is not the count line of order %d" % (n, t, k)
            elif what.startswith("n-gram count too"):
                v = what.rsplit(" ", 1)[-1].encode()
                if not re.search(rb"^ngram.*=\s*" + re.escape(v) + rb"$", t):
                    return "line %d (%r) does not hold the count %r" % (n, t, v)
        elif what.startswith("section "):
            mm = re.match(r"section (\d+)-grams has (\d+) entries, the header says (\d+)", what)
            if not mm or not t.startswith(b"\\"):
                return "line %d (%r) does not start a section" % (n, t)
            k, got_n, want = (int(v) for v in mm.groups())
            head = [i for i, ln in enumerate(lines[:n - 1]) if trim(ln) == b"\\%d-grams:" % k]
            if not head:
                return "no \\%d-grams: header before line %d" % (k, n)
            entries = sum(1 for ln in lines[head[-1] + 1:n - 1] if trim(ln))
            if entries != got_n or got_n == want:
                return "the section holds %d entries before line %d" % (entries, n)
        elif what.startswith("expected a log-prob"):
            k = int(re.search(r"log-prob, (\d+) word", what).group(1))
            if len(fields) in (k + 1, k + 2):
                return "line %d has %d fields, right for order %d" % (n, len(fields), k)
        elif what.startswith("a backoff weight on a highest-order n-gram"):
            heads = [int(mm.group(1)) for mm in (re.match(rb"^\\(\d+)-grams:$", trim(ln))
                                                 for ln in lines[:n - 1]) if mm]
            if not heads or len(fields) != heads[-1] + 2:
                return "line %d has %d fields" % (n, len(fields))
        elif what.startswith("word '"):
            wq = re.match(r"word '(.*)' of an n-gram", what, re.S).group(1)
            w = _unquote(wq)
            if w not in fields[1:] and not (wq.endswith("...") and
                                            any(f.startswith(w) for f in fields[1:])):
                return "no word %r on line %d" % (w, n)
            uni, sec = set(), False
            for ln in lines[:n - 1]:
                tt = trim(ln)
                if tt == b"\\1-grams:":
                    sec = True
                elif tt.startswith(b"\\"):
                    sec = False
                elif sec and tt:
                    f = [v for v in re.split(rb"[ \t]+", tt) if v]
                    if len(f) >= 2:
                        uni.add(f[1])
            if w in uni:
                return "%r is a unigram" % w
        elif what.startswith("positive log10 probability"):
            v = _unquote(what.rsplit(" ", 1)[-1])
            if not fields or fields[0] != v:
                return "line %d does not start with the log-probability %r" % (n, v)
        elif what.startswith(("expected a number", "number out of range",
                              "expected a finite log-probability")):
            q = _unquote(quoted.group(1)) if quoted else None
            cut = quoted is not None and quoted.group(1).endswith("...")
            if q is None or not (q in fields or (cut and any(f.startswith(q) for f in fields))):
                return "the quoted number is not a field of line %d" % n
        elif what.startswith("expected '\\end\\'") or re.match(r"expected '\\\d+-grams:'", what):
            want = re.match(r"expected '([^']*)'", what).group(1).encode()
            if t == want:
                return "line %d is %r" % (n, t)
        return None
    return check


def _arpa_other_msg(msg, lines):
    """Messages without a line number that state counts: the counts must be true."""
    m = re.match(r"ARPA file ends in section (\d+)-grams after (\d+) of (\d+) entries", msg)
    if m:
        k, got_n, want = (int(v) for v in m.groups())
        head = [i for i, ln in enumerate(lines) if ln.strip(b" \t") == b"\\%d-grams:" % k]
        if not head:
            return "no \\%d-grams: section" % k
        entries = sum(1 for ln in lines[head[-1] + 1:] if ln.strip(b" \t"))
        if entries != got_n or got_n >= want:
            return "the section holds %d entries" % entries
    m = re.match(r"duplicate unigram '(.*)'$", msg, re.S)
    if m:
        w = m.group(1).encode("utf-8", "surrogateescape")
        n = sum(1 for ln in lines if w in re.split(rb"[ \t]+", ln))
        if n < 2:
            return "%r is on %d lines" % (w, n)
    return None


# ------------------------------------------------------------------ decoding

TOKEN_POOL = ["a", "b", "c", "é", "ab", "x\u4e2d"]


def _draw_tokens(draw, C, blank):
    """C distinct token strings and how words are made: (tokens, word_delimiter, mode)."""
    mode = draw.choice(["none", "delim", "delim", "space", "prefix"])
    labels = [c for c in range(C) if c != blank]
    pool = list(TOKEN_POOL)
    toks = [None] * C
    toks[blank] = draw.choice(["_", "<b>", "_"])
    dpos = draw.choice(labels) if labels and mode in ("delim", "space") else None
    for c in labels:
        if c == dpos:
            toks[c] = "|" if mode == "delim" else " "
            continue
        t = pool.pop(draw.int(0, len(pool) - 1))
        if mode == "prefix" and draw.bool():
            t = "\u2581" + t
        toks[c] = t
    if mode == "prefix" and labels and draw.int(0, 3) == 0:
        toks[draw.choice(labels)] = "\u2581"
    delim = None
    if draw.int(0, 2) == 0:  # say it explicitly
        delim = {"delim": "|", "space": " ", "prefix": "\u2581"}.get(mode)
        if mode in ("delim", "space") and dpos is None:
            delim = None
    return toks, delim


def dec_spec(draw, beam):
    small = beam and draw.int(0, 2) == 0  # a beam that holds every prefix: exact scores
    if small:
        C = draw.choice([2, 3, 3])
        T = draw.int(0, 7 if C == 2 else 2)
    else:
        C = draw.int(1, 6 if beam else 5)
        T = draw.int(0, draw.choice([4, 8, 12]) if beam else 8)
    N = draw.int(1, 3)
    blank = draw.choice([0, 0, draw.int(0, C - 1)])
    x = _xvals(draw, T * N * C).reshape(T, N, C)
    kind = draw.choice(["raw", "logsoftmax", "logsoftmax", "logits"]) if beam else \
        draw.choice(["raw", "raw", "logits"])
    if kind == "logsoftmax" and x.size:
        x = R.log_softmax(x)
    s = dict(T=T, N=N, C=C, x=x, dtype=np.dtype(draw.choice([np.float64, np.float32])),
             blank=blank, il=[draw.int(0, T) if draw.int(0, 3) == 0 else T for _ in range(N)],
             pass_il=None, fl=kind == "logits", bf=draw.int(0, 3) == 0,
             unbatched=N == 1 and draw.int(0, 3) == 0, n_threads=None, beam=beam,
             merge=draw.choice([None, None, True, False]), tokens=None, delim=None,
             bw=None, nbest=None, tmin=None, bprune=None, lm=None, lmw=None, ws=None,
             unk=None, hot=None)
    s["pass_il"] = draw.choice(["list", "list", "none"]) if all(v == T for v in s["il"]) \
        else "list"
    if draw.int(0, 2) == 0 or (beam and draw.bool()):
        s["tokens"], s["delim"] = _draw_tokens(draw, C, blank)
    if not beam:
        return s
    s["merge"] = None
    s["bw"] = draw.choice([None, draw.int(1, 8), draw.int(1, 8)])
    if small:
        s["bw"] = draw.choice([None, 8, _possible_prefixes(C, T), 8])
    bw = 16 if s["bw"] is None else s["bw"]
    s["nbest"] = draw.choice([None, draw.int(1, min(bw, 8))])
    if draw.int(0, 4) == 0 and not small:
        s["tmin"] = draw.choice([-2.0, -0.5, -30.0])
    if draw.int(0, 4) == 0 and not small:
        s["bprune"] = draw.choice([-3.0, -0.5, 0.0, -50.0])
    if draw.int(0, 3) == 0:
        s["ws"] = draw.choice([0.0, 0.5, -1.0, 2.0])
    toks = s["tokens"]
    if toks is not None:
        mode, _ = dec_word_mode(s)
        if draw.int(0, 2) > 0:
            texts = [t.lstrip("\u2581") for i, t in enumerate(toks)
                     if i != blank and t not in ("|", " ", "\u2581")]
            if mode != "none" and texts and draw.bool():
                words = texts + [draw.choice(texts) + draw.choice(texts) for _ in range(2)]
                s["lm"] = dict(a=arpa_spec(draw, words=words), unit=draw.choice([None, "word"]))
            elif texts or any(i != blank for i in range(C)):
                words = [t for i, t in enumerate(toks) if i != blank and t and t.split() == [t]]
                words = [w for w in words if draw.int(0, 3)] or words[:1]
                if words:
                    s["lm"] = dict(a=arpa_spec(draw, words=words), unit="token")
            if s["lm"] is not None:
                s["lmw"] = draw.choice([None, 0.0, 0.5, 1.5])
                s["unk"] = draw.choice([None, None, -5.0, 0.0])
        if draw.int(0, 2) == 0:
            texts = [t.lstrip("\u2581") for i, t in enumerate(toks)
                     if i != blank and t not in ("|", " ", "\u2581", "")]
            if texts:
                hot = {}
                for _ in range(draw.int(1, 2)):
                    k = draw.int(1, 2)
                    ph = [draw.choice(texts) for _ in range(k)]
                    p = " ".join(ph) if mode != "none" else "".join(ph)
                    hot[p] = 0.5 * draw.int(1, 6)
                s["hot"] = hot
    return s


def _is_lm_spec(v):
    """A drawn LM of a decoder spec: dict(a=arpa_spec, unit=...)."""
    return isinstance(v, dict) and set(v) == {"a", "unit"}


def dec_build(s):
    x = s["x"].astype(s["dtype"]) if s["dtype"] != object else s["x"]
    if s["unbatched"]:
        x = x[:, 0]
    elif s["bf"]:
        x = np.ascontiguousarray(x.transpose(1, 0, 2))
    args = dict(log_probs=x)
    if s["pass_il"] != "none":
        il = _int_arg(s["il"])
        if s["unbatched"] and isinstance(il, np.ndarray):
            il = il.reshape(())
        args["input_lengths"] = il
    for key, name in (("blank", "blank"), ("bw", "beam_width"), ("nbest", "nbest"),
                      ("tmin", "token_min_logp"), ("bprune", "beam_prune_logp"),
                      ("merge", "merge_repeated"), ("tokens", "tokens"),
                      ("delim", "word_delimiter"), ("lmw", "lm_weight"), ("ws", "word_score"),
                      ("unk", "unk_score_offset"), ("hot", "hotwords"),
                      ("n_threads", "n_threads")):
        v = s[key]
        if key == "blank":
            if not (type(v) is int and v == 0):  # (0 is the default)
                args["blank"] = v
            continue
        if v is not None or key in s.get("_none", ()):
            args[name] = v
    if s["lm"] is not None:
        lm = s["lm"]
        args["lm"] = build_lm(arpa_text(lm["a"]), lm["unit"]) if _is_lm_spec(lm) else lm
    if s["bf"] and not s["unbatched"]:
        args["batch_first"] = True
    if s["fl"]:
        args["from_logits"] = True
    return args


def _is_real(v):
    import numbers
    return isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))


def _finite_real(v, hi=math.inf):
    if not _is_real(v):
        return False
    try:
        f = float(v)
    except OverflowError:
        return False
    return math.isfinite(f) and f <= hi


def dec_word_mode(s):
    """(mode, delimiter) the decoder must use: "none" / "delim" / "prefix"."""
    toks, d, blank = s["tokens"], s["delim"], s["blank"]
    if toks is None:
        return "none", ""
    if d is None:
        if any(t.startswith("\u2581") for i, t in enumerate(toks) if i != blank):
            return "prefix", "\u2581"
        for c in (" ", "|"):
            if c in toks and toks.index(c) != blank:
                return "delim", c
        return "none", ""
    if d == "\u2581":  # documented: SentencePiece word starts (whether or not a token)
        return "prefix", d
    return "delim", d


def _utf8_ok(t):
    try:
        t.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def dec_valid(s):
    """The decoders' argument rules (True: a result; False: ValueError / TypeError)."""
    C, T = s["C"], s["T"]
    dt = s["dtype"]
    if dt == object or dt.kind != "f" or dt.itemsize > 8:
        return False
    if not (is_int(s["blank"]) and 0 <= s["blank"] < C):
        return False
    if not threads_valid(s["n_threads"]):
        return False
    if s["pass_il"] != "none":
        for v in s["il"]:
            if not is_int(v) or not 0 <= v <= T:
                return False
    toks = s["tokens"]
    if toks is not None:
        if isinstance(toks, (str, bytes)) or not isinstance(toks, (list, tuple)):
            return False
        if not all(isinstance(t, str) for t in toks) or len(toks) != C or \
                len(set(toks)) != len(toks):
            return False
        if not all(_utf8_ok(t) for t in toks):  # a lone surrogate has no UTF-8 form
            return False
        d = s["delim"]
        if d is not None:
            if not isinstance(d, str):
                return False
            if d != "\u2581" and (d not in toks or toks.index(d) == s["blank"]):
                return False
    if not s["beam"]:
        return True
    if set(s.get("_none", ())) & {"bw", "nbest", "lmw", "ws", "unk"}:
        return False  # None given for an int / a number: a TypeError
    bw = 16 if s["bw"] is None else s["bw"]
    if not is_int(bw) or not 1 <= bw <= 2**31 - 2:  # (seqloss.decode.MAX_BEAM)
        return False
    nb = 1 if s["nbest"] is None else s["nbest"]
    if not is_int(nb) or not 1 <= nb <= bw:
        return False
    if s["tmin"] is not None and not _finite_real(s["tmin"]):
        return False
    if s["bprune"] is not None and not _finite_real(s["bprune"], 0.0):
        return False
    for k, hi in (("lmw", math.inf), ("ws", math.inf), ("unk", 0.0)):
        if s[k] is not None and not _finite_real(s[k], hi):
            return False
    lm = s["lm"]
    if lm is not None and not (_is_lm_spec(lm) or isinstance(lm, seqloss.NgramLM)):
        return False
    if toks is None:
        return lm is None and s["hot"] is None and s["delim"] is None
    mode, _ = dec_word_mode(s)
    unit = None if lm is None else (lm["unit"] if _is_lm_spec(lm) else lm.unit)
    if lm is not None and unit in (None, "word") and mode == "none":
        return False
    if s["hot"] is not None:
        if not isinstance(s["hot"], dict):
            return False
        for p, w in s["hot"].items():
            if not isinstance(p, str) or not _finite_real(w) or not 0 < float(w) <= 1e300:
                return False
            if not p.split() or not _utf8_ok(p):
                return False
    return True


def dec_x64(s):
    """The values the decoder reads, in float64 (items on axis 1)."""
    dt = s["dtype"]
    if dt.kind == "f" and dt.itemsize < 4:
        return s["x"].astype(dt).astype(np.float32).astype(np.float64)
    return s["x"].astype(dt).astype(np.float64)


def dec_lengths(s):
    return [int(v) for v in s["il"]] if s["pass_il"] != "none" else [s["T"]] * s["N"]


def greedy_reference(lp, blank, merge, from_logits):
    """(tokens, starts, ends, score, conf_mean, conf_min) of one (T, C) item."""
    T = lp.shape[0]
    toks, starts, ends, cm, cn = [], [], [], [], []
    score, prev = 0.0, -1
    with np.errstate(all="ignore"):
        for t in range(T):
            row = lp[t]
            nan = np.flatnonzero(np.isnan(row))
            k = int(nan[0]) if nan.size else int(np.argmax(row))
            v = _log_softmax_at(row, k) if from_logits else row[k]
            score += v
            p = float(np.exp(v))
            if k != blank:
                if merge and k == prev:
                    ends[-1] = t + 1
                    cm[-1].append(p)
                    cn[-1] = min(cn[-1], p)  # (std::min: a NaN first stays)
                else:
                    toks.append(k)
                    starts.append(t)
                    ends.append(t + 1)
                    cm.append([p])
                    cn.append(p)
            prev = k
    return toks, starts, ends, score, [float(np.mean(v)) for v in cm], cn


def _log_softmax_at(row, k):
    """log_softmax(row)[k] computed as (x - max) - log(sum(exp(x - max))), exact for any
    magnitude (NaN for a row holding NaN or +inf, or all -inf, as torch)."""
    with np.errstate(all="ignore"):
        m = np.max(row)
        if np.isnan(m) or np.isinf(m):
            return float("nan")
        return float((row[k] - m) - np.log(np.sum(np.exp(row - m))))


def dec_text_ref(s, ids):
    """(text, words) of a token-id sequence, as the docs say."""
    toks = s["tokens"]
    mode, d = dec_word_mode(s)
    if mode == "none":
        return "".join(toks[i] for i in ids), []
    words, cur = [], ""
    for i in ids:
        t = toks[i]
        if mode == "delim" and t == d:
            words.append(cur)
            cur = ""
            continue
        if mode == "prefix" and t.startswith("\u2581"):
            words.append(cur)
            cur = ""
            t = t[1:]
        cur += t
    words.append(cur)
    words = [w for w in words if w]
    return " ".join(words), words


def _hyp_rows(got, n):
    """The item's hypotheses as (tokens, starts, ends) lists, checked for padding."""
    K = got.tokens.shape[1]
    out = []
    cnt = int(got.counts[n])
    for r in range(K):
        L = int(got.lengths[n, r])
        tk = got.tokens[n, r]
        if r >= cnt:
            assert L == 0 and np.all(tk == -1), "item %d rank %d: padding %s" % (n, r, tk)
            continue
        assert np.all(tk[L:] == -1) and np.all(got.start_frames[n, r, L:] == -1) and \
            np.all(got.end_frames[n, r, L:] == -1), "item %d rank %d: padding" % (n, r)
        out.append((tk[:L].tolist(), got.start_frames[n, r, :L].tolist(),
                    got.end_frames[n, r, :L].tolist()))
    return out


def _check_shapes(got, N, K):
    assert isinstance(got, seqloss.CTCHypotheses), "type %s" % type(got).__name__
    assert len(got) == N and got.counts.shape == (N,), "items %d, want %d" % (len(got), N)
    W = got.tokens.shape[2]
    for a, shape, dt in ((got.lengths, (N, K), np.int64), (got.scores, (N, K), np.float64),
                         (got.acoustic_scores, (N, K), np.float64),
                         (got.lm_scores, (N, K), np.float64),
                         (got.hotword_scores, (N, K), np.float64),
                         (got.word_counts, (N, K), np.int64),
                         (got.tokens, (N, K, W), np.int64),
                         (got.start_frames, (N, K, W), np.int64),
                         (got.end_frames, (N, K, W), np.int64),
                         (got.confidence_mean, (N, K, W), np.float64),
                         (got.confidence_min, (N, K, W), np.float64)):
        assert a.shape == shape and a.dtype == dt, "array %s %s, want %s %s" % (
            a.shape, a.dtype, shape, np.dtype(dt))
    if N:
        assert W == int(got.lengths.max(initial=0)), "width %d, longest %d" % (
            W, got.lengths.max())


def greedy_check(s):
    def check(got):
        N = s["N"]
        _check_shapes(got, N, 1)
        x = dec_x64(s)
        lens = dec_lengths(s)
        merge = True if s["merge"] is None else bool(s["merge"])
        for n in range(N):
            assert got.counts[n] == 1, "item %d: count %d" % (n, got.counts[n])
            tk, st, en, sc, cm, cn = greedy_reference(x[:lens[n], n], s["blank"], merge,
                                                      s["fl"])
            shared = getattr(R, "ctc_greedy_reference", None)
            if shared is not None:  # the shared reference must say the same
                r = shared(x[:lens[n], n], blank=s["blank"], merge_repeated=merge)
                assert (r["tokens"], r["starts"], r["ends"]) == (tk, st, en) and (
                    s["fl"] or r["score"] == sc or (math.isnan(sc) and math.isnan(r["score"]))), \
                    "the greedy references differ: %s vs %s" % (r, (tk, st, en, sc))
            (gt, gs, ge), = _hyp_rows(got, n)
            assert (gt, gs, ge) == (tk, st, en), \
                "item %d: tokens/starts/ends %s %s %s, reference %s %s %s" % (
                    n, gt, gs, ge, tk, st, en)
            big = np.abs(x[:lens[n], n][np.isfinite(x[:lens[n], n])])
            scale = (big.max() if big.size else 0.0) + math.log(s["C"] + 1)
            tol = 1e-12 * (1 + lens[n] * scale)
            close(got.scores[n, 0], sc, tol, "item %d score" % n)
            close(got.acoustic_scores[n, 0], sc, tol, "item %d acoustic score" % n)
            L = len(tk)
            close(got.confidence_mean[n, 0, :L], np.array(cm), 1e-9, "item %d conf mean" % n)
            close(got.confidence_min[n, 0, :L], np.array(cn), 1e-9, "item %d conf min" % n)
            if s["tokens"] is not None:
                text, _ = dec_text_ref(s, tk)
                assert got.text[n] == text and got.texts[n] == [text], \
                    "item %d: text %r, reference %r" % (n, got.text[n], text)
    return check


def _possible_prefixes(C, T):
    """Label sequences of length <= T over C - 1 labels."""
    return sum((C - 1) ** k for k in range(T + 1))


def _ctc_logp(lp, seq, blank):
    """log P(seq | lp) by seqloss.ctc_loss in float64 (lp: (T, C) normalised or not)."""
    T = lp.shape[0]
    if len(seq) > T:
        return -math.inf
    tg = np.array([seq], dtype=np.int64).reshape(1, len(seq))
    with np.errstate(all="ignore"):
        loss = seqloss.ctc_loss(np.ascontiguousarray(lp[:, None, :], dtype=np.float64), tg,
                                [T], [len(seq)], blank=blank, reduction="none")
    return -float(np.asarray(loss).reshape(-1)[0])


def _count_overlapping(text, p):
    return sum(1 for i in range(len(text)) if text.startswith(p, i))


def beam_parts(s, lm, ids):
    """(lm score, words, hotword score) of a token sequence, from the docs' rules."""
    toks = s["tokens"]
    if toks is None:
        return 0.0, 0, 0.0
    mode, _ = dec_word_mode(s)
    _, words = dec_text_ref(s, ids)
    unk = -10.0 * LN10 if s["unk"] is None else float(s["unk"])
    lm_score, n_words = 0.0, len(words)
    if lm is not None and lm.unit == "token":
        lw = [toks[i] for i in ids]
        n_words = len(lw)
        lm_score = lm.score(lw) + unk * sum(1 for w in lw if w not in lm)
    elif lm is not None:
        lm_score = lm.score(words) + unk * sum(1 for w in words if w not in lm)
    hot = 0.0
    if s["hot"]:
        if mode == "none":
            stream = "".join(toks[i] for i in ids)
            for p, w in s["hot"].items():
                hot += float(w) * _count_overlapping(stream, p)
        else:
            stream = " " + " ".join(words) + " " if words else " "
            for p, w in s["hot"].items():
                hot += float(w) * _count_overlapping(stream, " " + " ".join(p.split()) + " ")
    return lm_score, n_words, hot


def beam_check(s):
    """Structural invariants of every beam result; the exact scores when the beam can hold
    every prefix (nothing pruned)."""
    def check(got):
        import itertools
        N, C, blank = s["N"], s["C"], s["blank"]
        K = 1 if s["nbest"] is None else int(s["nbest"])
        bw = 16 if s["bw"] is None else int(s["bw"])
        _check_shapes(got, N, K)
        x = dec_x64(s)
        lens = dec_lengths(s)
        lm = None if s["lm"] is None else dec_build(s)["lm"]
        lmw = (0.5 if s["lmw"] is None else float(s["lmw"])) if lm is not None else 0.0
        ws = 0.0 if s["ws"] is None else float(s["ws"])
        for n in range(N):
            xi = x[:lens[n], n]
            with np.errstate(all="ignore"):
                lp = R.log_softmax(xi) if (s["fl"] and xi.size) else xi
            invalid = bool(np.any(np.isnan(xi) | (xi == np.inf)))
            if s["fl"] and xi.size:
                invalid |= bool(np.any(np.all(xi == -np.inf, axis=1)))
            cnt = int(got.counts[n])
            assert 0 <= cnt <= K, "item %d: count %d, nbest %d" % (n, cnt, K)
            if invalid:
                assert cnt == 0 and np.all(np.isnan(got.scores[n])) and \
                    np.all(np.isnan(got.acoustic_scores[n])), \
                    "item %d (NaN/+inf frames): count %d, scores %s" % (
                        n, cnt, got.scores[n].tolist())
                continue
            rows = _hyp_rows(got, n)
            sc = got.scores[n]
            assert not np.any(np.isnan(sc)), "item %d: NaN score %s" % (n, sc.tolist())
            assert np.all(sc[cnt:] == -np.inf), "item %d: padding scores %s" % (n, sc.tolist())
            assert np.all(np.diff(sc[:cnt]) <= 0), "item %d: scores not sorted %s" % (
                n, sc.tolist())
            assert len({tuple(r[0]) for r in rows}) == cnt, "item %d: repeated hypotheses" % n
            mag = np.abs(lp[np.isfinite(lp)])
            sane = not mag.size or mag.max() <= 1e6
            for r, (tk, st, en) in enumerate(rows):
                assert all(0 <= v < C and v != blank for v in tk), \
                    "item %d rank %d: tokens %s (C=%d, blank %d)" % (n, r, tk, C, blank)
                prev = 0
                for a, b in zip(st, en):
                    assert prev <= a < b <= lens[n], \
                        "item %d rank %d: spans %s %s (length %d)" % (n, r, st, en, lens[n])
                    prev = b
                cm, cn = got.confidence_mean[n, r, :len(tk)], got.confidence_min[n, r, :len(tk)]
                assert np.all(cn <= cm * (1 + 1e-9) + 1e-300), \
                    "item %d rank %d: confidence min %s > mean %s" % (n, r, cn, cm)
                ac, lms, hs, wc = (float(got.acoustic_scores[n, r]), float(got.lm_scores[n, r]),
                                   float(got.hotword_scores[n, r]), int(got.word_counts[n, r]))
                total = ac + lmw * lms + ws * wc + hs
                assert abs(sc[r] - total) <= 1e-9 * (1 + abs(total)), \
                    "item %d rank %d: score %r, parts give %r" % (n, r, sc[r], total)
                ref_lm, ref_w, ref_h = beam_parts(s, lm, tk)
                assert wc == ref_w, "item %d rank %d: %d words, reference %d" % (n, r, wc, ref_w)
                assert abs(lms - ref_lm) <= 1e-4 * (1 + abs(ref_lm)), \
                    "item %d rank %d: lm score %r, reference %r" % (n, r, lms, ref_lm)
                assert abs(hs - ref_h) <= 1e-9 * (1 + ref_h), \
                    "item %d rank %d: hotword score %r, reference %r" % (n, r, hs, ref_h)
                if sane:  # the paths kept are some of the sequence's paths
                    true = _ctc_logp(lp, tk, blank)
                    assert ac <= true + 1e-6 * max(1.0, abs(true)), \
                        "item %d rank %d: acoustic %r above the sequence's %r" % (n, r, ac, true)
                if s["tokens"] is not None:
                    text, _ = dec_text_ref(s, tk)
                    assert got.texts[n][r] == text, "item %d rank %d: text %r, reference %r" % (
                        n, r, got.texts[n][r], text)
            exact = sane and s["tmin"] is None and s["bprune"] is None and \
                _possible_prefixes(C, lens[n]) <= min(bw, 64)  # (64: the enumeration's cost)
            if not exact:
                continue
            labels = [c for c in range(C) if c != blank]
            allseq = [list(q) for k in range(lens[n] + 1)
                      for q in itertools.product(labels, repeat=k)]
            totals = []
            for q in allseq:
                a = _ctc_logp(lp, q, blank)
                if a == -math.inf:
                    continue
                l_, w_, h_ = beam_parts(s, lm, q)
                totals.append((a + lmw * l_ + ws * w_ + h_, a, q))
            totals.sort(key=lambda v: -v[0])
            assert cnt == min(K, len(totals)), "item %d: %d hypotheses, %d possible (nbest %d)" \
                % (n, cnt, len(totals), K)
            shared = _shared_beam_reference(s, lp, K, lmw, ws)
            if shared is not None:  # the brute force over frame paths says the same
                assert len(shared) == min(K, len(totals)) and all(
                    abs(r["total"] - t[0]) <= 1e-6 * max(1.0, abs(t[0]))
                    for r, t in zip(shared, totals)), \
                    "the beam references differ: %s vs %s" % (
                        [(r["tokens"], r["total"]) for r in shared], totals[:K])
            byseq = {tuple(q): a for _, a, q in totals}
            for r, (tk, _, _) in enumerate(rows):
                want = byseq.get(tuple(tk), -math.inf)
                got_a = float(got.acoustic_scores[n, r])
                assert abs(got_a - want) <= 1e-6 * max(1.0, abs(want)), \
                    "item %d rank %d %s: acoustic %r, -ctc_loss %r" % (n, r, tk, got_a, want)
                wt = totals[r][0]
                assert abs(sc[r] - wt) <= 1e-6 * max(1.0, abs(wt)), \
                    "item %d rank %d: score %r, the %d-th best of all sequences %r (%s)" % (
                        n, r, sc[r], r + 1, wt, totals[r][2])
    return check


def _shared_beam_reference(s, lp, K, lmw, ws):
    """reference.ctc_beam_reference's top K of one item (None without it, or past its
    size limit)."""
    fn = getattr(R, "ctc_beam_reference", None)
    if fn is None or s["C"] ** lp.shape[0] > 5000:
        return None
    mode, d = dec_word_mode(s)
    lm, unit = None, "word"
    if s["lm"] is not None:
        m, _ = _ref_arpa_model(arpa_text(s["lm"]["a"]).encode("utf-8"))
        if m is None:
            return None
        lm, unit = m, ("token" if s["lm"]["unit"] == "token" else "word")
    with np.errstate(all="ignore"):
        return fn(lp, K, blank=s["blank"], tokens=s["tokens"],
                  delimiter=None if mode == "none" else d, lm=lm, lm_unit=unit,
                  lm_weight=lmw, word_score=ws,
                  unk_offset=-10.0 * LN10 if s["unk"] is None else float(s["unk"]),
                  hotwords=s["hot"])


def dec_check(s):
    return beam_check(s) if s["beam"] else greedy_check(s)



# ------------------------------------------------------------------ forced alignment

def al_build(s):
    """ctc_forced_align's arguments: the CTC inputs without the loss's options."""
    args = ctc_build(s)
    for k in ("reduction", "zero_infinity", "from_logits"):
        args.pop(k, None)
    # None lengths are ctc_forced_align's defaults (see al_resolved)
    if all(v is None for v in s["il"]):
        args["input_lengths"] = None
    if all(v is None for v in s["tl"]):
        args["target_lengths"] = None
    if s.get("max_memory") is not None:
        args["max_memory"] = s["max_memory"]
    return args


def al_alignable(s):
    """The drawn CTC spec with every item alignable (rows cut to what fits; the
    input lengths raised to L + repeats): invalid cases come from the mutators."""
    for n, row in enumerate(s["rows"]):
        while len(row) + sum(a == b for a, b in zip(row, row[1:])) > s["T"]:
            row.pop()
        s["tl"][n] = len(row)
        s["il"][n] = max(s["il"][n], len(row) + sum(a == b for a, b in zip(row, row[1:])))
    return s


def al_resolved(s):
    """The spec with ctc_forced_align's default lengths filled in (None: T frames;
    the padded width, or the one item's 1-D targets)."""
    s = dict(s)
    if all(v is None for v in s["il"]):
        s["il"] = [s["T"]] * s["N"]
    if all(v is None for v in s["tl"]):
        flat = [v for r in s["rows"] for v in r]
        if s["form"] == "padded" and not s["unbatched"]:
            s["tl"] = [ctc_width(s)] * s["N"]
            s["rows"] = [list(r) + [s["pad"]] * (ctc_width(s) - len(r)) for r in s["rows"]]
        elif s["N"] == 1:
            s["tl"] = [len(flat)]
    return s


def al_valid(s):
    s = al_resolved(s)
    if any(v is None for v in s["tl"]):
        return False
    if not ctc_valid(dict(s, reduction="mean")):
        return False
    for n, row in enumerate(ctc_rows(s)):
        row = [int(v) for v in row]
        if s["il"][n] < len(row) + sum(a == b for a, b in zip(row, row[1:])):
            return False  # no alignment: a ValueError naming the item
    return True


def al_check(s):
    s = al_resolved(s)

    def check(got):
        paths, scores = got
        dt = s["dtype"]
        x = s["x"].astype(dt)
        if dt == np.float16:
            x = x.astype(np.float32)
        assert isinstance(paths, np.ndarray) and paths.dtype == np.int64, type(paths)
        assert scores.dtype == dt, "scores dtype %s, input %s" % (scores.dtype, dt)
        T = s["T"]
        if s["unbatched"]:
            paths, scores = paths[None], scores[None]
        assert paths.shape == (s["N"], T), paths.shape
        for n, row in enumerate(ctc_rows(s)):
            il = s["il"][n]
            want = R.ctc_forced_align_windowed(x[:il, n], [int(v) for v in row], s["blank"]) \
                if il else np.zeros(0, np.int64)
            assert paths[n, :il].tolist() == want.tolist(), \
                "path of item %d: %s, want %s" % (n, paths[n, :il].tolist(), want.tolist())
            assert (paths[n, il:] == -1).all(), "padding of item %d" % n
            ws = x[np.arange(il), n, want].astype(dt)
            assert np.array_equal(scores[n, :il], ws, equal_nan=True), "scores of item %d" % n
    return check


# ------------------------------------------------------------------ token / word spans

def sp_spec(draw, words=False):
    N, T, C = draw.int(1, 3), draw.int(0, 6), draw.int(1, 4)
    paths = [[draw.int(0, C - 1) for _ in range(T)] for _ in range(N)]
    il = [draw.int(0, T) for _ in range(N)]
    pad = draw.bool()  # -1 after each length, lengths inferred
    if pad:
        paths = [p[:k] + [-1] * (T - k) for p, k in zip(paths, il)]
    return dict(N=N, T=T, C=C, paths=paths, il=il, pad=pad, blank=draw.int(0, C - 1),
                scores=_xvals(draw, N * T).reshape(N, T) - 1.0, words=words,
                by=draw.choice(["lengths", "delimiter"]), delim=draw.int(0, C - 1),
                cuts=[draw.int(1, 3) for _ in range(64)], frame_shift=draw.choice(
                    [None, None, 0.02, 1]))


def _sp_spans(s):
    return seqloss.ctc_token_spans(np.array(s["paths"], np.int64).reshape(s["N"], s["T"]),
                                   s["scores"], None if s["pad"] else s["il"],
                                   blank=s["blank"])


def _sp_word_lengths(s, counts):
    out = []
    for k in counts:
        wl, left, i = [], int(k), 0
        while left:
            c = min(left, s["cuts"][i % 64])
            wl.append(c)
            left -= c
            i += 1
        out.append(wl)
    return out


def sp_build(s):
    p = np.array(s["paths"], np.int64).reshape(s["N"], s["T"])
    if not s["words"]:
        args = dict(paths=p, scores=s["scores"], blank=s["blank"])
        if not s["pad"]:
            args["input_lengths"] = _int_arg(s["il"])
        if s["frame_shift"] is not None:
            args["frame_shift"] = s["frame_shift"]
        return args
    spans = _sp_spans(s)
    spans._fuzz_src = "seqloss.ctc_token_spans(%s, %s, %s, blank=%d)" % (
        to_src(p), to_src(s["scores"]), "None" if s["pad"] else to_src(s["il"]), s["blank"])
    args = dict(spans=spans)
    if s["by"] == "lengths":
        args["word_lengths"] = _sp_word_lengths(s, spans.counts)
    else:
        args["delimiter"] = s["delim"]
    if s["frame_shift"] is not None:
        args["frame_shift"] = s["frame_shift"]
    return args


def sp_check(s):
    def runs(n):
        k = s["il"][n]
        return R.merge_tokens_reference(s["paths"][n][:k], s["scores"][n, :k], s["blank"])

    def check(got):
        if not s["words"]:
            for n in range(s["N"]):
                want = runs(n)
                assert [(t.token, t.start, t.end) for t in got.item(n)] == \
                    [w[:3] for w in want], "spans of item %d" % n
                close(np.array([t.score for t in got.item(n)]), np.array([w[3] for w in want]),
                      1e-12, "span scores")
            return
        for n in range(s["N"]):
            want = runs(n)
            if s["by"] == "lengths":
                groups, i = [], 0
                for c in _sp_word_lengths(s, [len(want)])[0]:
                    groups.append(want[i:i + c])
                    i += c
            else:
                groups, cur = [], []
                for w in want:
                    if w[0] == s["delim"]:
                        if cur:
                            groups.append(cur)
                        cur = []
                    else:
                        cur.append(w)
                if cur:
                    groups.append(cur)
            words = got.item(n)
            assert [(w.start, w.end, w.n_tokens) for w in words] == \
                [(g[0][1], g[-1][2], len(g)) for g in groups], "words of item %d" % n
    return check


# ------------------------------------------------------------------ the function table

@dataclass
class Fn:
    """One public function: where it lives and how it is called."""
    name: str
    family: str                  # "ctc", "sm", "ed", "er", "dec" (decoders), "lm" (NgramLM),
    #                              "al" (forced alignment), "sp" (token / word spans)
    pos: tuple = ()              # argument names passed positionally
    kind: str = "loss"           # sm: "loss" or "softmax"
    grad: bool = False
    nll: bool = False
    log: bool = False
    torch: bool = False
    module: Optional[str] = None  # torch.nn.Module class name (module form)
    ctor: tuple = ()             # module constructor arguments
    method: Optional[str] = None  # a class's constructor method (NgramLM.from_arpa)

    def target(self):
        if self.torch:
            return getattr(st, self.module or self.name.split(".", 1)[1])
        if self.method:
            return getattr(getattr(seqloss, self.name), self.method)
        return getattr(seqloss, self.name)

    def resolve(self, args):
        f = self.target()
        if self.module:
            m = f(**{k: args[k] for k in self.ctor if k in args})
            return lambda *p, **kw: m(*p)
        return f

    def src(self, case):
        pos = ", ".join(case.pos)
        kw = ", ".join("%s=%s" % (n, n) for n in case.args
                       if n not in case.pos and not n.startswith("_")
                       and n not in (self.ctor if self.module else ()))
        if self.module:
            ck = ", ".join("%s=%s" % (n, n) for n in self.ctor if n in case.args)
            s = "st.%s(%s)(%s)" % (self.module, ck, pos)
        else:
            s = "%s.%s(%s)" % ("st" if self.torch else "seqloss",
                               self.name.split(".")[-1] + ("." + self.method if self.method
                                                           else ""),
                               ", ".join(x for x in (pos, kw) if x))
        if case.backward:
            x = "input" if "input" in case.args else "log_probs"
            s = "%s\nresult.sum().backward()\nprint(%s.grad)" % (s, x)
        return s


_CTC_POS = ("log_probs", "targets", "input_lengths", "target_lengths")
_FNS = [
    Fn("ctc_loss", "ctc", _CTC_POS), Fn("ctc_loss_and_grad", "ctc", _CTC_POS, grad=True),
    Fn("cross_entropy", "sm", ("logits", "targets")),
    Fn("cross_entropy_and_grad", "sm", ("logits", "targets"), grad=True),
    Fn("nll_loss", "sm", ("log_probs", "targets"), nll=True),
    Fn("nll_loss_and_grad", "sm", ("log_probs", "targets"), nll=True, grad=True),
    Fn("softmax", "sm", ("x",), kind="softmax"),
    Fn("log_softmax", "sm", ("x",), kind="softmax", log=True),
    Fn("edit_distance", "ed", ("a", "b")),
    Fn("edit_distance_batch", "ed", ("hypotheses", "references")),
    Fn("error_rates", "er", ("hypotheses", "references")),
    Fn("wer", "er", ("hypotheses", "references")),
    Fn("cer", "er", ("hypotheses", "references")),
    Fn("align", "er", ("hypotheses", "references")),
    Fn("evaluate", "er", ("hypotheses", "references")),
    Fn("ctc_greedy_decode", "dec", ("log_probs", "input_lengths")),
    Fn("ctc_beam_search", "dec", ("log_probs", "input_lengths")),
    Fn("NgramLM", "lm", ("path_or_text",), method="from_arpa"),
    Fn("ctc_forced_align", "al", _CTC_POS),
    Fn("ctc_token_spans", "sp", ("paths", "scores")),
    Fn("ctc_word_spans", "sp", ("spans",)),
]
if st is not None:
    _FNS += [
        Fn("torch.ctc_loss", "ctc", _CTC_POS, torch=True),
        Fn("torch.CTCLoss", "ctc", _CTC_POS, torch=True, module="CTCLoss",
           ctor=("blank", "reduction", "zero_infinity", "from_logits")),
        Fn("torch.cross_entropy", "sm", ("input", "target"), torch=True),
        Fn("torch.CrossEntropyLoss", "sm", ("input", "target"), torch=True,
           module="CrossEntropyLoss",
           ctor=("weight", "ignore_index", "reduction", "label_smoothing", "n_threads")),
        Fn("torch.nll_loss", "sm", ("input", "target"), torch=True, nll=True),
        Fn("torch.NLLLoss", "sm", ("input", "target"), torch=True, nll=True, module="NLLLoss",
           ctor=("weight", "ignore_index", "reduction", "n_threads")),
    ]
FUNCTIONS = {f.name: f for f in _FNS}


# ------------------------------------------------------------------ families

class Ctx:
    """A drawn spec of one function, and the family's rules for it."""

    def __init__(self, fn, draw):
        self.fn, self.draw = fn, draw
        fam = fn.family
        if fam == "ctc":
            self.spec = ctc_spec(draw)
            if fn.torch:
                self.spec.update(bf=False, n_threads=None)
        elif fam == "sm":
            self.spec = sm_spec(draw)
            if fn.kind == "softmax" and draw.int(0, 3) == 0:
                self.spec["axis"] = draw.int(-self.spec["x"].ndim, self.spec["x"].ndim - 1)
        elif fam == "ed":
            self.spec = ed_spec(draw, batch=fn.name != "edit_distance")
        elif fam == "dec":
            self.spec = dec_spec(draw, beam=fn.name == "ctc_beam_search")
        elif fam == "lm":
            self.spec = lm_spec(draw)
        elif fam == "al":
            self.spec = al_alignable(ctc_spec(draw))
            self.spec["max_memory"] = draw.choice([None, None, 0, 100])
        elif fam == "sp":
            self.spec = sp_spec(draw, words=fn.name == "ctc_word_spans")
        else:
            self.spec = er_spec(draw)

    def build(self, s):
        fn = self.fn
        if fn.family == "ctc":
            return ctc_build(s, fn.torch)
        if fn.family == "sm":
            return sm_build(s, fn.name)
        if fn.family == "ed":
            return ed_build(s)
        if fn.family == "dec":
            return dec_build(s)
        if fn.family == "lm":
            return lm_build(s)
        if fn.family == "al":
            return al_build(s)
        if fn.family == "sp":
            return sp_build(s)
        return er_build(s, fn.name)

    def valid(self, s):
        fam = self.fn.family
        if fam == "ctc":
            return ctc_valid(s)
        if fam == "sm":
            return sm_valid(s, self.fn.name)
        if fam == "ed":
            return threads_valid(s["n_threads"])
        if fam == "dec":
            return dec_valid(s)
        if fam == "lm":
            return lm_valid(s)
        if fam == "al":
            return al_valid(s)
        if fam == "sp":
            return True
        return threads_valid(s["n_threads"]) and isinstance(s["unit"], str) and \
            s["unit"] in ("word", "char", "mixed")

    def check(self, s, backward=False):
        fn = self.fn
        if fn.family == "ctc":
            return ctc_check(s, fn.grad, fn.torch)
        if fn.family == "sm":
            return sm_check(s, fn.name, fn.grad)
        if fn.family == "ed":
            return ed_check(s)
        if fn.family == "dec":
            return dec_check(s)
        if fn.family == "lm":
            return lm_check(s, exact=s["text"] is None)
        if fn.family == "al":
            return al_check(s)
        if fn.family == "sp":
            return sp_check(s)
        return er_check(s, fn.name)

    def case(self, mutator, args=None, expect=None, spec=None, check=True, **kw):
        """A Case from mutated args (layout: expect "same") or a mutated spec."""
        fn = self.fn
        s = self.spec if spec is None else spec
        if args is None:
            args = self.build(s)
        if expect is None:
            v = self.valid(s)
            expect = "ok" if v else "raise"
        if fn.family == "lm" and "setup" not in kw and spec is None:
            v, built = args.get("path_or_text"), self.build(s).get("path_or_text")
            kw["setup"] = lm_setup(s, args) if isinstance(v, str) and v == built else []
        c = Case(fn.name, mutator, args, [p for p in fn.pos if p in args], expect, **kw)
        if expect == "same":
            c.canonical = self.build(self.spec)
        elif check and expect in ("ok", "either"):
            c.check = self.check(s)
        return c


def _array_args(args):
    return [n for n, v in args.items()
            if (isinstance(v, np.ndarray) or (torch is not None and isinstance(v, torch.Tensor)))
            and n != "grad_out"]


# ------------------------------------------------------------------ mutators
#
# Each takes a Ctx and returns a Case (or None when it does not apply).  Layout
# mutators change how an argument is stored, never its values ("same"); value
# mutators change the spec and let the family's validity rule and reference judge.

MUTATORS = {}


def _copy_spec(spec):
    s = copy.deepcopy(spec)
    if isinstance(s.get("dtype"), np.dtype):
        s["dtype"] = spec["dtype"]
    return s


def mutator(*families):
    def deco(f):
        MUTATORS[f.__name__] = (set(families), f)
        return f
    return deco


@mutator("ctc", "sm", "ed", "er", "dec", "lm", "al", "sp")
def canonical(c):
    return c.case("canonical")


_LAYOUTS = ["unpickled", "unpickled", "noncontig", "fortran", "readonly", "negstride", "unaligned", "list", "tuple",
            "tensor", "int_dtype", "object_ints", "np_from_torch"]


def _relayout(c, a, how):
    """(new value, source expression) or None."""
    src = to_src(a) if isinstance(a, np.ndarray) else None
    if isinstance(a, np.ndarray):
        if how == "unpickled":  # equal dtype, but not NumPy's own dtype object
            import pickle
            return (pickle.loads(pickle.dumps(a)),
                    "pickle.loads(pickle.dumps(%s))" % src)
        if how == "noncontig" and a.ndim:
            return (np.repeat(a, 2, axis=-1)[..., ::2],
                    "np.repeat(%s, 2, axis=-1)[..., ::2]" % src)
        if how == "fortran" and a.ndim >= 2:
            return np.asfortranarray(a), "np.asfortranarray(%s)" % src
        if how == "readonly":
            b = a.copy()
            b.flags.writeable = False
            return b, "_readonly(%s)" % src
        if how == "negstride" and a.ndim:
            return (np.ascontiguousarray(a[::-1])[::-1],
                    "np.ascontiguousarray((%s)[::-1])[::-1]" % src)
        if how == "unaligned" and a.size and a.dtype.itemsize > 1:
            buf = np.zeros(a.nbytes + 1, np.uint8)
            b = buf[1:].view(a.dtype).reshape(a.shape)
            b[...] = a
            return b, ("np.zeros(%d, np.uint8)[1:].view(np.%s).reshape(%r)\n_b = %s"
                       % (a.nbytes + 1, a.dtype.name, a.shape, src))
        if how in ("list", "tuple") and a.size and a.ndim and \
                (a.dtype.kind in "iu" or a.dtype == np.float64):
            v = a.tolist()
            return (v, None) if how == "list" else (tuple(v), None)
        if how == "tensor" and torch is not None and a.dtype in (np.int64, np.float32,
                                                                 np.float64, np.int32):
            return torch.from_numpy(a.copy()), "torch.from_numpy(%s)" % src
        if how == "int_dtype" and a.dtype.kind in "iu":
            vals = a.ravel().tolist()
            for dt in ("int32", "int16", "uint8", "uint32", "uint64", "int8", "uint16"):
                if dt != a.dtype.name and _fits(vals, np.dtype(dt)) and c.draw.bool():
                    return a.astype(dt), "%s.astype(np.%s)" % (src, dt)
        if how == "object_ints" and a.dtype.kind in "iu" and a.size:
            return a.astype(object), "%s.astype(object)" % src
    elif torch is not None and isinstance(a, torch.Tensor) and not a.requires_grad:
        n = a.detach().numpy()
        if how == "noncontig" and a.dim():
            return (torch.from_numpy(np.repeat(n, 2, axis=-1))[..., ::2],
                    "torch.from_numpy(np.repeat(%s, 2, axis=-1))[..., ::2]" % to_src(n))
        if how == "np_from_torch" and a.dtype in (torch.int64, torch.int32):
            return n.copy(), None
    return None


@mutator("ctc", "sm", "ed", "dec", "al", "sp")
def layout(c):
    """One array argument stored another way, same values: the canonical result."""
    args = c.build(c.spec)
    names = _array_args(args)
    if not names:
        return None
    n = c.draw.choice(names)
    how = c.draw.choice(_LAYOUTS)
    a = args[n]
    if how == "list" and c.fn.torch and n in ("input", "log_probs", "target"):
        return None
    r = _relayout(c, a, how)
    if r is None:
        return None
    if c.fn.torch and how == "np_from_torch" and n in ("input", "target", "weight"):
        return None
    args[n] = r[0]
    setup = []
    if r[1] is not None:
        if "\n_b = " in r[1]:
            alloc, src = r[1].split("\n_b = ")
            setup = ["%s = %s" % (n, alloc), "%s[...] = %s" % (n, src)]
        else:
            setup = ["%s = %s" % (n, r[1])]
    # object arrays of ints: accepted by the CTC/edit integer rule; the cross-entropy
    # targets rule may refuse them (a TypeError), but a result must be the same
    expect = "either" if (how == "object_ints" and c.fn.family not in ("ctc", "al")) or (
        how in ("list", "tuple") and c.fn.family == "ed") else "same"
    case = c.case("layout:%s" % how, args, expect, setup=setup, note=n)
    if expect == "either":
        want = c.build(c.spec)
        case.check = lambda got: _assert_same(got, case.call(want))
    return case


_BAD_DTYPES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
               "bool", "complex64", "complex128", "object", "U3", "S3", "datetime64[s]"]


@mutator("ctc", "sm", "dec", "al")
def float_dtype(c):
    """The float input in another dtype: float16 computed (in float32), longdouble and
    every other dtype rejected."""
    if c.fn.torch:
        s = dict(c.spec)
        dt = c.draw.choice(["float16", "bfloat16", "int64", "bool", "complex64", "int32"])
        args = c.build(s)
        x = "input" if "input" in args else "log_probs"
        t = args[x]
        args[x] = t.to(getattr(torch, dt))
        if dt == "float16":
            s["dtype"] = np.dtype(np.float16)
            return c.case("float_dtype:%s" % dt, args, "ok", spec=s, setup=[
                "%s = %s.to(torch.float16)" % (x, to_src(t))])
        return c.case("float_dtype:%s" % dt, args, "either" if dt == "bfloat16" else "raise",
                      check=False, setup=["%s = %s.to(torch.%s)" % (x, to_src(t), dt)])
    s = dict(c.spec)
    dt = c.draw.choice(["float16", "longdouble", "longdouble"] + _BAD_DTYPES)
    s["dtype"] = np.dtype(dt)
    if dt == "float16":
        return c.case("float_dtype:%s" % dt, spec=s)
    if dt == "longdouble":  # rejected (TypeError): never computed in a narrower type
        return c.case("float_dtype:%s" % dt, c.build(s), "raise", check=False, spec=s)
    args = c.build(dict(c.spec))
    x = c.fn.pos[0]
    xv = s["x"] if c.fn.family == "sm" else args[x]
    try:
        args[x] = np.asarray(args[x]).astype(dt)
    except (TypeError, ValueError):
        return None
    return c.case("float_dtype:%s" % dt, args, "raise", check=False, note=x)


@mutator("ctc", "sm", "dec", "al")
def int_dtype_bad(c):
    """An integer argument (targets, lengths) as float / bool / complex / str: rejected."""
    args = c.build(c.spec)
    names = [n for n in ("targets", "target", "input_lengths", "target_lengths")
             if n in args and isinstance(args[n], np.ndarray) and args[n].dtype.kind in "iu"]
    if c.fn.family == "sm" and c.spec["probs"] is not None and not c.fn.nll:
        return None
    if not names:
        return None
    n = c.draw.choice(names)
    dt = c.draw.choice(["float64", "float32", "bool", "complex128", "U4", "float16"])
    if c.fn.family == "sm" and dt.startswith("float"):
        return None  # float targets mean probabilities
    args[n] = args[n].astype(dt)
    return c.case("int_dtype_bad:%s" % dt, args, "raise", check=False, note=n)


@mutator("ctc", "sm", "ed", "dec", "al", "sp")
def ndim(c):
    """An array argument with an extra, a missing or no dimension."""
    args = c.build(c.spec)
    names = _array_args(args)
    if not names:
        return None
    n = c.draw.choice(names)
    a = args[n]
    how = c.draw.choice(["add", "drop", "scalar", "zero"])
    if how == "add":
        args[n] = a[None]
    elif how == "drop" and a.ndim:
        args[n] = a[0] if a.shape[0] else a.sum(0) if a.ndim > 1 else a
    elif how == "scalar":
        args[n] = a.reshape(-1)[0] if (a.numel() if hasattr(a, "numel") else a.size) else a
    else:
        sh = list(a.shape) or [0]
        sh[c.draw.int(0, len(sh) - 1)] = 0
        args[n] = (np.zeros(sh, dtype=a.dtype) if isinstance(a, np.ndarray)
                   else torch.zeros(sh, dtype=a.dtype))
    return c.case("ndim:%s" % how, args, "either", check=False, note=n)


@mutator("ctc", "sm", "ed", "er", "dec", "lm", "al", "sp")
def odd_value(c):
    """Any argument replaced by None, a string, a bytes, a dict, an object, a huge int or a
    float: a ValueError / TypeError or a result, never another exception."""
    args = c.build(c.spec)
    n = c.draw.choice(list(args))
    v = c.draw.choice([None, "", "x", b"ab", {}, object(), 2**64, -1, 1.5, float("nan"),
                       [None], [[1, 2], [3]], [1.5], ["a", 1], Lazy([1, 2]), (), [],
                       np.float64(1.0), np.array("abc")])
    args[n] = v
    return c.case("odd_value", args, "either", check=False, note=n)


@mutator("ctc", "sm", "ed", "er", "dec", "lm", "al", "sp")
def unknown_kwarg(c):
    args = c.build(c.spec)
    if c.fn.module:
        return None
    args["bogus_option"] = 1
    return c.case("unknown_kwarg", args, "raise", check=False)


@mutator("ctc", "sm", "ed", "er", "dec", "al")
def n_threads(c):
    if (c.fn.torch and c.fn.family == "ctc") or c.fn.name == "edit_distance":
        return None
    s = dict(c.spec)
    s["n_threads"] = c.draw.choice(THREAD_VALUES)
    return c.case("n_threads", spec=s, huge=False, note=repr(s["n_threads"]))


@mutator("ctc", "sm")
def reduction(c):
    if c.fn.kind == "softmax":
        return None
    s = dict(c.spec)
    s["reduction"] = c.draw.choice(REDUCTION_VALUES)
    return c.case("reduction", spec=s, note=repr(s["reduction"]))


_SPECIALS = [float("nan"), float("inf"), -float("inf"), 1e30, -1e30, 3e38, -3e38, 1e36,
             65504.0, 1e300, -1e300]


@mutator("ctc", "sm", "dec", "al")
def float_values(c):
    """NaN, infinities, huge and tiny values in the float input (or a huge scale)."""
    s = dict(c.spec)
    x = s["x"].copy()
    how = c.draw.choice(["special", "special", "scale", "probs"])
    if how == "special":
        if not x.size:  # (a decoder's T = 0)
            return None
        for _ in range(c.draw.int(1, 3)):
            x.reshape(-1)[c.draw.int(0, x.size - 1)] = c.draw.choice(_SPECIALS)
    elif how == "scale":
        x = x * c.draw.choice([1e7, 1e5, 1e30, 1e36, -1e7, 1e-30, 3e4])
    elif c.fn.family == "sm" and s["probs"] is not None:
        p = s["probs"].copy()
        p.reshape(-1)[c.draw.int(0, p.size - 1)] = c.draw.choice(_SPECIALS + [-1.0, 2.0])
        s["probs"] = p
        # not a distribution: no reference to hold the result to, only the exception rule
        return c.case("float_values:probs", spec=s, expect="either", check=False)
    if s["dtype"] == np.float32 and np.any(np.abs(x[np.isfinite(x)]) > 3.4e38):
        x = np.clip(x, -3.4e38, 3.4e38)
    s["x"] = x
    return c.case("float_values:%s" % how, spec=s)


_INT_VALUES = [-1, 0, 1, 2, 3, 5, 2**31 - 1, 2**31, 2**32, 2**63 - 1, 2**63, -2**63,
               -2**63 - 1, 2**64, 10**400, -10**400, True, 1.0, None, "1", np.int64(1),
               np.uint64(2**64 - 1), np.int8(-1), np.float64(1.0)]


@mutator("ctc", "al")
def ctc_ints(c):
    """Out-of-range or ill-typed blank, labels, lengths; garbage in the padding (ignored)."""
    s = _copy_spec(c.spec)
    how = c.draw.choice(["blank", "label", "il", "tl", "pad", "il_scalar", "tl_wrap"])
    v = c.draw.choice(_INT_VALUES + [s["C"], s["T"] + 1, s["blank"]])
    n = c.draw.int(0, s["N"] - 1)
    if how == "blank":
        s["blank"] = v
    elif how == "label":
        rows = [r for r in s["rows"] if r]
        if not rows:
            return None
        r = c.draw.choice(rows)
        r[c.draw.int(0, len(r) - 1)] = v
    elif how == "il":
        s["il"][n] = v
    elif how == "tl":
        s["tl"][n] = v
    elif how == "il_scalar":
        s["il"] = [v] * s["N"]
        args = c.build(s)
        args["input_lengths"] = v
        return c.case("ctc_ints:il_scalar", args, "ok" if c.valid(s) else "raise", spec=s,
                      note=repr(v))
    elif how == "pad":
        if s["form"] != "padded" or s["unbatched"] or all(len(r) == ctc_width(s)
                                                            for r in s["rows"]):
            return None
        s["pad"] = c.draw.choice([-1, s["C"], 2**62, s["blank"], -2**63])
    elif how == "tl_wrap":
        # lengths whose int64 sum wraps around to the number of 1-D targets
        if s["N"] < 3 or s["form"] != "concat" or s["unbatched"]:
            return None
        flat = [v for r in s["rows"] for v in r]
        s["tl"] = [2**63 - 1, 2**63 - 1, len(flat) + 2] + s["tl"][3:]
        if sum(s["tl"]) % 2**64 != len(flat) + 2 + sum(s["tl"][3:]) - 2 and False:
            return None
        s["tl"][2] = (len(flat) - sum(s["tl"][3:]) + 2) % 2**64
        if not 0 <= s["tl"][2] < 2**63:
            return None
    case = c.case("ctc_ints:%s" % how, spec=s, note=repr(v))
    case.msg_check = _ctc_msg_check(s)
    return case


def _ctc_msg_check(s):
    """A message quoting a label 'at item n, position i' must quote the real label there."""
    def check(e):
        m = re.search(r"got value (-?\d+) at item (\d+), position (\d+)", str(e))
        if not m:
            return None
        v, n, i = int(m.group(1)), int(m.group(2)), int(m.group(3))
        if s["form"] == "padded" and not s["unbatched"]:
            row = s["rows"][n] + [s["pad"]] * (ctc_width(s) - len(s["rows"][n]))
            ok = i < len(row) and row[i] == v
        else:
            flat = [x for r in s["rows"] for x in r]
            ok = any(flat[j] == v for j in range(len(flat)))
        return None if ok else "the targets hold no such value there"
    return check


@mutator("sm")
def sm_options(c):
    """ignore_index, label_smoothing, weight, axis, targets out of range."""
    s = _copy_spec(c.spec)
    C = s["x"].shape[-1]
    how = c.draw.choice(["ignore_index", "label_smoothing", "weight", "target", "axis"])
    if how == "ignore_index":
        s["ignore_index"] = c.draw.choice(_INT_VALUES + [C - 1, 0])
        v = s["ignore_index"]
    elif how == "label_smoothing":
        if c.fn.nll:
            return None
        v = s["ls"] = c.draw.choice([0.5, 1, 1.0, -0.1, 1.1, float("nan"), float("inf"),
                                     10**400, True, "0.1", None, np.float32(0.3), 2**64,
                                     np.float16(0.5), 1e-300])
    elif how == "weight":
        if c.fn.kind == "softmax":
            return None
        v = c.draw.choice(["neg", "nan", "short", "2d", "int", "bool", "inf", "huge"])
        w = np.ones(C)
        w = {"neg": -w, "nan": w * np.nan, "short": w[:-1], "2d": w[None], "int": w,
             "bool": w.astype(bool), "inf": w * np.inf, "huge": w * 1e300}[v]
        s["weight"] = w
        args = c.build(s) if not c.fn.torch else None
        if args is None:
            args = c.build(dict(s, weight=None))
            args["weight"] = torch.from_numpy(w) if v != "bool" else torch.from_numpy(w)
            return c.case("sm_options:weight_%s" % v, args, "either", check=False)
        if v == "int":
            args["weight"] = w.astype(np.int64)
        if v in ("short", "2d", "bool", "neg", "nan"):
            return c.case("sm_options:weight_%s" % v, args, "raise", check=False)
        if v in ("inf", "huge"):  # inf * 0 and float32 overflow: no reference to hold to
            return c.case("sm_options:weight_%s" % v, args, "either", check=False)
        return c.case("sm_options:weight_%s" % v, args, "ok" if c.valid(s) else "raise",
                      spec=s)
    elif how == "target":
        if s["t"].size == 0:
            return None
        v = c.draw.choice([C, -1, -101, 2**62, -2**63])
        s["t"].reshape(-1)[c.draw.int(0, s["t"].size - 1)] = v
        s["probs"] = None
    else:
        if c.fn.kind != "softmax":
            return None
        v = s["axis"] = c.draw.choice(_INT_VALUES)
    return c.case("sm_options:%s" % how, spec=s, note=repr(v))


@mutator("sm")
def torch_weight_numpy(c):
    """A NumPy weight given to a torch drop-in."""
    if not c.fn.torch or c.fn.kind == "softmax":
        return None
    args = c.build(c.spec)
    args["weight"] = np.ones(c.spec["x"].shape[-1])
    return c.case("torch_weight_numpy", args, "either", check=False)


@mutator("sm", "ctc")
def torch_requires_grad(c):
    """torch drop-ins: the input requires grad (the gradient is checked), or the
    (probability) target does."""
    if not c.fn.torch:
        return None
    s = c.spec
    args = c.build(s)
    x = "input" if "input" in args else "log_probs"
    if c.draw.int(0, 2) or c.fn.family == "ctc":
        t = args[x].detach().clone().requires_grad_(True)
        args[x] = t
        case = c.case("torch_requires_grad:input", args, "ok" if c.valid(s) else "raise",
                      backward=True)
        return case
    if c.fn.nll or s["probs"] is None:
        return None
    args["target"] = args["target"].detach().clone().requires_grad_(True)
    return c.case("torch_requires_grad:target", args, "either", check=True)


@mutator("ctc", "sm")
def grad_out(c):
    """grad_out: fresh and right (the canonical result), or wrong in shape / dtype /
    layout / type, or overlapping an input -- the float input or, through one shared
    buffer, an integer input (targets, lengths)."""
    if not c.fn.grad:
        return None
    s = c.spec
    args = c.build(s)
    x = args[c.fn.pos[0]]
    how = c.draw.choice(["fresh", "shape", "dtype", "noncontig", "readonly", "list", "tensor",
                         "is_input", "int_overlap", "int_overlap", "int_overlap",
                         "weight_overlap", "fortran"])
    g = np.empty(x.shape, x.dtype)
    setup = []
    expect = "raise"
    if how == "fresh":
        g = np.full(x.shape, 7.0, x.dtype)
        args["grad_out"] = g
        case = c.case("grad_out:fresh", args, "same")
        return case
    if how == "shape":
        g = np.empty(x.shape + (1,), x.dtype)
    elif how == "dtype":
        g = np.empty(x.shape, c.draw.choice([np.float32, np.float64, np.float16, np.int64]))
        if g.dtype == x.dtype:
            return None
    elif how == "noncontig":
        if x.size < 2:
            return None
        g = np.empty(x.shape[:-1] + (2 * x.shape[-1],), x.dtype)[..., ::2]
    elif how == "fortran":
        if x.ndim < 2 or x.shape[0] < 2 or x.shape[-1] < 2:
            return None
        g = np.asfortranarray(np.empty(x.shape, x.dtype))
    elif how == "readonly":
        g.flags.writeable = False
    elif how == "list":
        g = np.zeros(x.shape, x.dtype).tolist()
    elif how == "tensor":
        if torch is None:
            return None
        g = torch.zeros(x.shape, dtype=torch.float64 if x.dtype == np.float64
                        else torch.float32)
    elif how == "is_input":
        g = x
        setup = ["grad_out = %s" % c.fn.pos[0]]
    elif how == "weight_overlap":
        if c.fn.family != "sm" or x.dtype.kind != "f":
            return None
        C = x.shape[-1]
        buf = np.ones(x.size + C, x.dtype)
        g = buf[:x.size].reshape(x.shape)
        args["weight"] = buf[x.size - C:x.size] if x.size >= C else buf[:C]
        setup = ["_buf = np.ones(%d, np.%s)" % (x.size + C, x.dtype.name),
                 "grad_out = _buf[:%d].reshape(%r)" % (x.size, x.shape),
                 "weight = _buf[%d:%d]" % (x.size - C, x.size)]
    else:  # int_overlap: integer inputs are views into grad_out's own memory
        names = [n for n in ("targets", "input_lengths", "target_lengths")
                 if n in args and isinstance(args[n], np.ndarray) and args[n].size
                 and args[n].dtype == np.int64]
        if not names or x.dtype.kind != "f":
            return None
        nb = x.nbytes
        pick = [n for n in names if c.draw.bool()] or [c.draw.choice(names)]
        need = sum(args[n].nbytes for n in pick)
        total = max(nb, need + 8)
        total += (-total) % 8
        buf = np.zeros(total // 8, np.int64)
        gb = buf.view(np.uint8)[:nb].view(x.dtype).reshape(x.shape)
        start = (total - need) if c.draw.bool() else 0  # at the end or the start of grad_out
        start -= start % 8
        setup = ["_buf = np.zeros(%d, np.int64)" % (total // 8),
                 "grad_out = _buf.view(np.uint8)[:%d].view(np.%s).reshape(%r)"
                 % (nb, x.dtype.name, x.shape)]
        o = start // 8
        for n in pick:
            a = args[n]
            v = buf[o:o + a.size].reshape(a.shape)
            v[...] = a
            args[n] = v
            setup += ["%s = _buf[%d:%d].reshape(%r)" % (n, o, o + a.size, a.shape),
                      "%s[...] = %s" % (n, to_src(a))]
            o += a.size
        g = gb
        if not np.may_share_memory(g, buf[start // 8:o]):
            expect = "either"
        args["grad_out"] = g
        return c.case("grad_out:int_overlap", args, expect, setup=setup,
                      note="+".join(pick), check=expect == "either")
    args["grad_out"] = g
    return c.case("grad_out:%s" % how, args, expect, check=False, setup=setup)


@mutator("ed")
def ed_items(c):
    """Lazy sequences (fresh items on every access), tuples, torch tensors, None,
    mixed kinds, huge int tokens, lone surrogates."""
    s = _copy_spec(c.spec)
    if not s["batch"]:
        how = c.draw.choice(["surrogate", "bigint", "mixed", "tensor", "none", "2d",
                             "float_array", "lazy"])
    else:
        how = c.draw.choice(["lazy", "lazy", "tuple", "surrogate", "bigint", "mixed",
                             "tensor", "none", "lazy_str", "generator"])
    if how in ("lazy", "lazy_str") and s["batch"]:
        if s["kind"] == "padded" or not s["pairs"]:
            return None
        if how == "lazy_str":
            s["kind"] = "str"
        if s["kind"] in ("bytes", "array", "tuple"):
            s["kind"] = "list_str"
        args = c.build(s)
        args["hypotheses"] = Lazy(args["hypotheses"])
        args["references"] = Lazy(args["references"])
        case = c.case("ed_items:%s" % how, args, "ok", spec=s)
        inner = case.check

        def again(got):  # freed items are reused only on some calls: call a few times
            inner(got)
            for _ in range(8):
                junk = [("%d" % j) * 3 for j in range(64)]  # noqa: F841
                inner(case.call())
        case.check = again
        return case
    if how == "tuple":
        if s["kind"] == "padded":
            return None
        args = c.build(s)
        args["hypotheses"] = tuple(args["hypotheses"])
        return c.case("ed_items:tuple", args, "ok", spec=s)
    if how == "surrogate":
        if s["kind"] not in ("str", "list_str"):
            s["kind"] = "str"
        if not s["pairs"]:
            return None
        sur = c.draw.choice(["\ud800", "\udfff", "\udc80", "\ud83d"])
        ALPH = ALPHABET + [sur]
        p = s["pairs"][c.draw.int(0, len(s["pairs"]) - 1)]
        p[c.draw.int(0, 1)].append(len(ALPHABET))
        args = c.build_with_alphabet(s, ALPH) if hasattr(c, "build_with_alphabet") else None
        args = _ed_build_alpha(s, ALPH)
        case = c.case("ed_items:surrogate", args, "either", spec=s, check=False)
        case.check = _ed_check_alpha(s, ALPH)
        return case
    if how == "bigint":
        s["kind"] = c.draw.choice(["list_int", "tuple"])
        if not s["pairs"]:
            return None
        big = c.draw.choice([2**63, 2**64, -2**63 - 1, 10**400, 2**64 + 1, -1, 2**63 - 1])
        p = s["pairs"][c.draw.int(0, len(s["pairs"]) - 1)]
        side = p[c.draw.int(0, 1)]
        side.append(big)
        if c.draw.bool():
            p[0].append(big if c.draw.bool() else big % 2**64)
        return c.case("ed_items:bigint", spec=s, expect="ok")
    if how == "mixed":
        if s["kind"] == "padded" or not s["pairs"]:
            return None
        args = c.build(s)
        k = "a" if not s["batch"] else "hypotheses"
        s2 = dict(s, kind=c.draw.choice(["list_int", "tuple", "array", "str", "list_str"]))
        if not s["batch"]:
            args["a"] = ed_item(s2, s["pairs"][0][0])
        else:
            args[k] = [ed_item(s2, p[0]) for p in s["pairs"]]
        kinds = {s["kind"], s2["kind"]}
        texty = {"str", "list_str"}
        if kinds <= texty or not (kinds & texty):
            same_tok = len(kinds) == 1 or kinds <= {"list_int", "tuple", "array"}
            if same_tok and not ({"bytes"} & kinds):
                return c.case("ed_items:mixed", args, "ok", spec=s)
        return c.case("ed_items:mixed", args, "either", spec=s, check=False)
    if how == "tensor":
        if torch is None or s["kind"] == "padded" or not s["pairs"]:
            return None
        s["kind"] = "array"
        s["dtype"] = "int64"
        args = c.build(s)
        if s["batch"]:
            args["hypotheses"] = [torch.from_numpy(a) for a in args["hypotheses"]]
        else:
            args["a"] = torch.from_numpy(args["a"])
        return c.case("ed_items:tensor", args, "ok", spec=s)
    if how == "generator":
        args = c.build(s)
        args["hypotheses"] = iter(args["hypotheses"]) if not isinstance(
            args["hypotheses"], np.ndarray) else args["hypotheses"]
        return c.case("ed_items:generator", args, "either", spec=s, check=False)
    args = c.build(s)
    k = "a" if not s["batch"] else "hypotheses"
    if how == "none":
        if s["batch"]:
            if isinstance(args[k], np.ndarray) or not args[k]:
                return None
            args[k][c.draw.int(0, len(args[k]) - 1)] = None
        else:
            args[k] = None
        return c.case("ed_items:none", args, "raise", check=False)
    if how == "2d":
        args["a"] = np.zeros((2, 2), np.int64)
        return c.case("ed_items:2d", args, "raise", check=False)
    if how == "float_array":
        args["a"] = np.zeros(3)
        return c.case("ed_items:float_array", args, "raise", check=False)
    if how == "lazy":
        args["a"] = Lazy(list(args["a"]) if not isinstance(args["a"], np.ndarray) else [1])
        return c.case("ed_items:lazy", args, "either", check=False)
    return None


def _ed_build_alpha(s, alpha):
    global ALPHABET
    old = ALPHABET
    ALPHABET = alpha
    try:
        return ed_build(s)
    finally:
        ALPHABET = old


def _ed_check_alpha(s, alpha):
    inner = ed_check(s)

    def check(got):
        global ALPHABET
        old = ALPHABET
        ALPHABET = alpha
        try:
            inner(got)
        finally:
            ALPHABET = old
    return check


@mutator("ed")
def ed_lengths(c):
    """Padded 2-D inputs: lengths over the width, negative, huge, of the wrong shape."""
    s = c.spec
    if s["kind"] != "padded" or not s["pairs"]:
        return None
    args = c.build(s)
    k = c.draw.choice(["hyp_lengths", "ref_lengths"])
    W = args["hypotheses" if k == "hyp_lengths" else "references"].shape[1]
    v = c.draw.choice([W + 1, -1, 2**63 - 1, 2**64, -2**63, "shape", "float", "none_ok"])
    arr = args[k].copy()
    if v == "shape":
        args[k] = np.append(arr, 0)
        return c.case("ed_lengths:shape", args, "raise", check=False)
    if v == "float":
        args[k] = arr.astype(np.float64)
        return c.case("ed_lengths:float", args, "raise", check=False)
    if v == "none_ok":
        del args[k]
        return None
    lst = arr.tolist()
    lst[c.draw.int(0, len(lst) - 1)] = v
    args[k] = _int_arg(lst)
    return c.case("ed_lengths:value", args, "raise", check=False, note=repr(v))


@mutator("ed")
def ed_padded_dtypes(c):
    """Padded 2-D inputs of two different integer dtypes (values preserved)."""
    s = c.spec
    if s["kind"] != "padded":
        return None
    args = c.build(s)
    dt = c.draw.choice(["int8", "uint8", "int16", "uint16", "int32", "uint32", "int64",
                        "uint64"])
    args["references"] = args["references"].astype(dt)
    return c.case("ed_padded_dtypes:%s" % dt, args, "ok")


@mutator("er")
def er_items(c):
    """Lazy / tuple / array-of-str corpora, surrogates, exotic whitespace, non-str items."""
    s = _copy_spec(c.spec)
    how = c.draw.choice(["lazy", "tuple", "np_str", "surrogate", "space", "nonstr", "str",
                         "unit", "ragged"])
    text = s["form"] == "text"
    if how in ("np_str", "str") and not text:
        return None  # (a list of str tokens is a list of sentences)
    if how == "unit":
        if c.fn.name not in ("error_rates", "align", "evaluate"):
            return None
        s["unit"] = c.draw.choice(["words", "", None, "CHAR", 1])
        return c.case("er_items:unit", spec=s)
    if how in ("surrogate", "space"):
        if not s["sents"]:
            return None
        i = c.draw.int(0, len(s["sents"]) - 1)
        j = c.draw.int(0, 1)
        p = list(s["sents"][i])
        ins = c.draw.choice(["\ud800", "\udfff", "a\ud83d"] if how == "surrogate" else
                            ["\u3000", "\x0b", "\x1c", "\u2028", "\x85", "\xa0", "\r\n",
                             "\f", "\u200b", "  \t"])
        pos = c.draw.int(0, len(p[j]))
        p[j] = p[j][:pos] + ins + p[j][pos:]
        s["sents"][i] = tuple(p)
        return c.case("er_items:%s" % how, spec=s, expect="either", note=repr(ins))
    args = c.build(s)
    k = c.draw.choice(["hypotheses", "references"])
    if how == "lazy":
        args["hypotheses"] = Lazy(args["hypotheses"])
        args["references"] = Lazy(args["references"])
        # error_rates asks for __iter__: a __len__/__getitem__ sequence may be refused,
        # but if accepted the result must be right
        return c.case("er_items:lazy", args, "either", spec=s)
    if how == "tuple":
        args[k] = tuple(args[k])
        return c.case("er_items:tuple", args, "ok", spec=s)
    if how == "np_str":
        args[k] = np.array(args[k], dtype=str) if args[k] else np.zeros(0, dtype="U1")
        return c.case("er_items:np_str", args, "ok", spec=s)
    if how == "str":
        if len(s["sents"]) != 1:
            return None
        args[k] = args[k][0]
        return c.case("er_items:str", args, "ok", spec=s)
    if how == "ragged":
        args[k] = list(args[k]) + ["extra"]
        return c.case("er_items:ragged", args, "raise", check=False)
    if not args[k]:
        return None
    args[k] = list(args[k])
    bad = [None, b"abc", 1, ["a"], 1.5] if text else [None, b"abc", 1, "a b", 1.5, [1.5],
                                                       [True], [b"a"], np.zeros(2)]
    args[k][c.draw.int(0, len(args[k]) - 1)] = c.draw.choice(bad)
    return c.case("er_items:nonstr", args, "raise", check=False)


# ------------------------------------------------------------------ decoding mutators

@mutator("dec")
def dec_ints(c):
    """Out-of-range or ill-typed blank and input lengths."""
    s = _copy_spec(c.spec)
    how = c.draw.choice(["blank", "blank", "il", "il", "il_scalar"])
    v = c.draw.choice(_INT_VALUES + [s["C"], s["T"] + 1, s["T"], -1])
    if how == "blank":
        s["blank"] = v
        if s["tokens"] is not None and is_int(v) and 0 <= v < s["C"] and \
                s["tokens"][v] in ("|", " ", "\u2581") and s["delim"] == s["tokens"][v]:
            s["delim"] = None  # (the blank's string is no delimiter: another mutator's case)
    elif how == "il":
        s["pass_il"] = "list"
        s["il"][c.draw.int(0, s["N"] - 1)] = v
    else:
        s["pass_il"] = "list" if v is not None else "none"  # None: every frame
        s["il"] = [v] * s["N"] if v is not None else [s["T"]] * s["N"]
        args = c.build(s)
        args["input_lengths"] = v
        case = c.case("dec_ints:il_scalar", args, "ok" if c.valid(s) else "raise", spec=s,
                      note=repr(v))
        case.msg_check = _dec_msg_check(s)
        return case
    case = c.case("dec_ints:%s" % how, spec=s, note=repr(v))
    case.msg_check = _dec_msg_check(s)
    return case


def _dec_msg_check(s):
    """A message quoting an input length 'at index i' must quote the value there."""
    def check(e):
        m = re.search(r"got value (-?\d+) at index (\d+)", str(e))
        if not m:
            return None
        v, i = int(m.group(1)), int(m.group(2))
        if not (i < len(s["il"]) and is_int(s["il"][i]) and int(s["il"][i]) == v):
            return "input_lengths holds no %d at index %d" % (v, i)
        return None
    return check


_BAD_REALS = [float("nan"), float("inf"), -float("inf"), True, "1", None, 10**400, -10**400,
              np.float32(0.25), 1, 0.5, -2, np.nan, np.float64(-1.5), b"1"]


@mutator("dec")
def dec_options(c):
    """Decoder options out of their domain: beam_width, nbest, tokens, word_delimiter,
    lm, hotwords, the pruning and fusion numbers."""
    s = _copy_spec(c.spec)
    beam = s["beam"]
    hows = ["tokens_len", "tokens_dup", "tokens_nonstr", "tokens_str", "tokens_tuple",
            "tokens_lazy", "tokens_array", "delim_not_token", "delim_blank", "delim_nonstr",
            "delim_no_tokens", "surrogate_token", "tensor_grad"]
    if beam:
        hows += ["beam_width", "beam_width", "nbest", "nbest", "lm_no_tokens", "lm_no_delim",
                 "lm_wrong_type", "hot_weight", "hot_weight", "hot_phrase", "hot_empty",
                 "hot_type", "hot_no_tokens", "bprune", "tmin", "reals", "reals",
                 "explicit_none", "surrogate_hot"]
    how = c.draw.choice(hows)
    C, blank = s["C"], s["blank"]
    if how == "tensor_grad":  # a tensor that requires grad: read through .detach()
        if torch is None:
            return None
        args = c.build(c.spec)
        x = args["log_probs"]
        args["log_probs"] = torch.from_numpy(x.copy()).requires_grad_(True)
        return c.case("dec_options:tensor_grad", args, "same", setup=[
            "import torch", "log_probs = torch.from_numpy(%s).requires_grad_(True)" % to_src(x)])
    if how.startswith(("tokens", "delim_not", "delim_blank", "delim_nonstr", "surrogate",
                       "hot", "lm_no_delim")) and s["tokens"] is None:
        s["tokens"], s["delim"] = _draw_tokens(c.draw, C, blank)
    toks = s["tokens"]
    v = None
    if how == "tokens_len":
        s["tokens"] = toks + ["zz"] if c.draw.bool() or C == 1 else toks[:-1]
        s["delim"] = None
    elif how == "tokens_dup":
        if C < 2:
            return None
        i, j = c.draw.int(0, C - 1), c.draw.int(0, C - 1)
        if i == j:
            j = (i + 1) % C
        toks[i] = toks[j]
    elif how == "tokens_nonstr":
        toks[c.draw.int(0, C - 1)] = c.draw.choice([1, None, b"a", ["a"], 1.5])
    elif how == "tokens_str":
        s["tokens"] = "".join(toks) if c.draw.bool() else "".join(toks).encode()
    elif how == "tokens_tuple":
        s["tokens"] = tuple(toks)
    elif how == "tokens_lazy":
        s["tokens"] = Lazy(toks)
    elif how == "tokens_array":
        s["tokens"] = np.array(toks)
    elif how == "delim_not_token":
        v = s["delim"] = c.draw.choice(["#", "", "a b", "||", "\u2581"])
    elif how == "delim_blank":
        v = toks[blank] = c.draw.choice(["|", " "])
        s["delim"] = v if c.draw.int(0, 2) else None  # None: the blank is no delimiter
    elif how == "delim_nonstr":
        v = s["delim"] = c.draw.choice([1, b"|", ["|"], True])
    elif how == "delim_no_tokens":
        s["tokens"], s["hot"], s["lm"] = None, None, None
        v = s["delim"] = c.draw.choice(["|", " ", "\u2581"])
    elif how == "surrogate_token":
        labels = [i for i in range(C) if i != blank]
        if not labels:
            return None
        i = c.draw.choice(labels)
        toks[i] = c.draw.choice(["\ud800", "a\udfff", "\udc80b"])
        if _is_lm_spec(s["lm"]) and s["lm"]["unit"] == "token":
            s["lm"] = None
        v = toks[i]
    elif how == "beam_width":
        v = s["bw"] = c.draw.choice([0, -1, -2**63, True, False, 2.0, "4", 2**63, 10**400,
                                     np.int64(3), np.uint8(2), 1, 2**31])
        if is_int(v) and v > 8:
            s["nbest"] = None
            # no pruning: every prefix is kept, (C - 1)**T of them -- a short input
            s["T"] = min(s["T"], 5)
            s["x"] = s["x"][:s["T"]]
            s["il"] = [min(v_, s["T"]) if is_int(v_) else v_ for v_ in s["il"]]
    elif how == "nbest":
        bw = 16 if s["bw"] is None else s["bw"]
        v = s["nbest"] = c.draw.choice([0, -1, bw + 1, bw, True, 1.0, np.int64(1), 2**64,
                                        None, "1"])
        if v is None:
            s["_none"] = ("nbest",)
    elif how == "lm_no_tokens":
        if s["lm"] is None:
            s["lm"] = dict(a=arpa_spec(c.draw), unit=c.draw.choice([None, "token"]))
        s["tokens"], s["delim"], s["hot"] = None, None, None
    elif how == "lm_no_delim":
        labels = [i for i in range(C) if i != blank]
        plain = [t for t in TOKEN_POOL]
        toks = [None] * C
        toks[blank] = "_"
        for i in labels:
            toks[i] = plain.pop(0)
        s["tokens"], s["delim"], s["hot"] = toks, None, None
        unit = c.draw.choice([None, "word", "token"])
        words = [t for i, t in enumerate(toks) if i != blank] or ["a"]
        s["lm"] = dict(a=arpa_spec(c.draw, words=words), unit=unit)
        v = unit
    elif how == "lm_wrong_type":
        v = s["lm"] = c.draw.choice(["lm.arpa", 1, b"\\data\\", {"a": 1}, object()])
    elif how == "hot_weight":
        if not toks:
            return None
        p = c.draw.choice([t for t in toks if t.strip()] or ["a"])
        v = c.draw.choice([0, 0.0, -1.0, float("nan"), float("inf"), True, "1", None, 1e301,
                           10**400, np.float32(1.0), 2, 1e-300, np.nan, -0.0])
        s["hot"] = {p: v}
    elif how == "hot_phrase":
        v = c.draw.choice([1, b"ab", None, ("a",), 1.5])
        s["hot"] = {v: 1.0}
    elif how == "hot_empty":
        v = c.draw.choice(["", " ", "\t", "\u3000", " \n "])
        s["hot"] = {v: 1.0}
    elif how == "hot_type":
        v = s["hot"] = c.draw.choice([["a"], "a", [("a", 1.0)], 1.0, {"a"}])
    elif how == "hot_no_tokens":
        s["hot"] = {"a": 1.0}
        s["tokens"], s["delim"], s["lm"] = None, None, None
    elif how == "surrogate_hot":
        s["hot"] = {c.draw.choice(["\ud800", "a\udfff", "x \udc80"]): 1.0}
        v = list(s["hot"])[0]
    elif how == "bprune":
        v = s["bprune"] = c.draw.choice([0.5, 1e-9, 0.0, -0.0, -1.0] + _BAD_REALS)
        if v is None:
            s["_none"] = ("bprune",)
    elif how == "tmin":
        v = s["tmin"] = c.draw.choice([0.0, 5.0, -1e300, 1e300] + _BAD_REALS)
        if v is None:
            s["_none"] = ("tmin",)
    elif how == "reals":
        k = c.draw.choice(["lmw", "ws", "unk"])
        v = s[k] = c.draw.choice(_BAD_REALS + [0.0, 1e300, -1e300])
        if v is None:
            s["_none"] = (k,)
        how = "reals:" + k
    elif how == "explicit_none":
        k = c.draw.choice(["bw", "nbest", "tmin", "bprune", "lmw", "ws", "unk", "hot",
                           "delim", "n_threads"])
        s[k] = None
        s["_none"] = (k,)
        how = "explicit_none:" + k
    return c.case("dec_options:%s" % how, spec=s, note=repr(v))


# ------------------------------------------------------------------ n-gram LM mutators

_RAISE_NUMS = ["x", "nan", "NaN", "inf", "+inf", "Infinity", "1e400", "1,5", "--1", "0x1p3",
               "1e", "-", "nan(1)", "+-1", "1e+400"]
_EITHER_NUMS = ["-inf", "-1e50", "-1e400", "5", "+0.5", "-0", "1e-50", "-1.5e+1", "-.5",
                ".5e1", "-INF", "-Infinity", "-1e-400", "0"]
_JUNK_BYTES = [b" ", b"\t", b"\n", b"\r", b"\r\n", b"\x00", b"x", b"-", b"1", b".", b"\\",
               b"=", b"\xc3\xa9", b"\xe2\x96\x81", b"ngram", b"\\end\\", b"<s>", b"e", b"\xff",
               b"\x80", b"\xc3", b"x" * 70]


def _entry_lines(lines):
    """[(index, order)] of the n-gram entry lines of ARPA text lines."""
    out, order = [], 0
    for i, ln in enumerate(lines):
        t = ln.strip(" \t")
        m = re.match(r"^\\(\d+)-grams:$", t)
        if m:
            order = int(m.group(1))
        elif t.startswith("\\"):
            order = 0
        elif t and order:
            out.append((i, order))
    return out


def _count_line(lines, n):
    for i, ln in enumerate(lines):
        if re.match(r"^ngram\s*%d\s*=" % n, ln.strip()):
            return i
    return None


@mutator("lm")
def lm_text(c):
    """The ARPA text damaged (a line dropped or doubled, a count or a number changed,
    \\end\\ or <s> / </s> removed, a backoff on a top-order n-gram, an unknown word in an
    n-gram, truncated, junk bytes) or reformatted (CRLF, tabs, blank lines)."""
    s = _copy_spec(c.spec)
    text = arpa_text(s)
    lines = text.split("\n")
    entries = _entry_lines(lines)
    how = c.draw.choice(["drop_line", "dup_line", "count", "number", "number", "no_end",
                         "no_special", "backoff_top", "unknown_word", "truncate", "junk",
                         "junk", "crlf", "spacing", "blank_lines", "after_end",
                         "before_data", "dup_ngram"])
    expect, exact, note = "either", False, ""
    if how in ("drop_line", "dup_line"):
        i = c.draw.int(0, len(lines) - 1)
        t = lines[i].strip()
        note = repr(lines[i])
        if how == "drop_line":
            del lines[i]
            expect = "raise" if t else "either"
        else:
            lines.insert(i, lines[i])
            expect = "raise" if t and t != "\\end\\" else "either"
            exact = expect == "either" and t == "\\end\\"
        new = "\n".join(lines)
    elif how == "count":
        n = c.draw.int(1, s["order"])
        i = _count_line(lines, n)
        k = len(s["grams"][n])
        v = c.draw.choice([k + 1, k - 1, 0, -1, "x", 2**31, 2**40, k + 100, "", "1.5",
                           "+%d" % k, " %d" % (k + 1)])
        if str(v).strip() == str(k):
            return None
        lines[i] = "ngram %d=%s" % (n, v)
        note = lines[i]
        expect = "raise"
        new = "\n".join(lines)
    elif how == "number":
        i, n = c.draw.choice(entries)
        f = lines[i].replace("\t", " ").split()
        j = 0 if len(f) == n + 1 or c.draw.bool() else n + 1
        bad = c.draw.bool()
        f[j] = c.draw.choice(_RAISE_NUMS if bad else _EITHER_NUMS)
        lines[i] = " ".join(f)
        note = lines[i]
        expect = "raise" if bad else "either"
        new = "\n".join(lines)
    elif how == "no_end":
        lines = [ln for ln in lines if ln.strip() != "\\end\\"]
        expect, new = "raise", "\n".join(lines)
    elif how == "no_special":
        w = c.draw.choice(["<s>", "</s>"])
        note = w
        keep = []
        drop = {i for i, _ in entries if w in lines[i].replace("\t", " ").split()[1:]}
        per = {}
        for i, n in entries:
            if i in drop:
                per[n] = per.get(n, 0) + 1
        for i, ln in enumerate(lines):
            if i not in drop:
                keep.append(ln)
        for n, d in per.items():
            j = _count_line(keep, n)
            keep[j] = "ngram %d=%d" % (n, len(s["grams"][n]) - d)
        expect, new = "raise", "\n".join(keep)
    elif how == "backoff_top":
        top = [i for i, n in entries if n == s["order"]]
        if not top:
            return None
        i = c.draw.choice(top)
        lines[i] += s["sep"] + c.draw.choice(["-0.5", "0", "x"])
        note = lines[i]
        expect, new = "raise", "\n".join(lines)
    elif how == "unknown_word":
        high = [(i, n) for i, n in entries if n >= 2]
        if not high:
            return None
        i, n = c.draw.choice(high)
        f = lines[i].replace("\t", " ").split()
        f[c.draw.int(1, n)] = c.draw.choice(["zzz", "<unk>x", "A"])
        lines[i] = " ".join(f)
        note = lines[i]
        expect, new = "raise", "\n".join(lines)
    elif how in ("truncate", "junk"):
        data = text.encode("utf-8")
        at = c.draw.int(0, len(data))
        if how == "truncate":
            new = data[:at]
            exact = b"\\end\\" in new
        else:
            junk = b"".join(c.draw.choice(_JUNK_BYTES) for _ in range(c.draw.int(1, 3)))
            new = data[:at] + junk + data[at:]
            note = repr(junk)
        note = "%s at byte %d" % (note, at)
    elif how == "crlf":
        new, expect, exact = text.replace("\n", "\r\n"), "ok", True
    elif how == "spacing":
        sp = c.draw.choice(["\t", "  ", " \t ", "\t\t"])
        new = "\n".join(ln.replace(" ", sp) if i in dict(entries) or c.draw.int(0, 3) == 0
                        else ln for i, ln in enumerate(lines))
        new = new.replace("\n", "\n" + c.draw.choice(["", " ", "\t"])) if c.draw.bool() else new
        expect, exact, note = "ok", True, repr(sp)
    elif how == "blank_lines":
        last_count = max(i for i, ln in enumerate(lines) if ln.startswith("ngram"))
        at = [c.draw.choice([0] + list(range(last_count + 1, len(lines) + 1)))
              for _ in range(c.draw.int(1, 3))]
        for i in sorted(at, reverse=True):  # (not inside the header's count lines)
            lines.insert(i, c.draw.choice(["", " ", "\t", " \t "]))
        new, expect, exact = "\n".join(lines), "ok", True
    elif how == "after_end":
        new = text + c.draw.choice(["junk\n", "\\data\\\n", "\n\n", "-1.0 a\n", "\\end\\\n"])
        exact = True
    elif how == "before_data":
        new = c.draw.choice(["junk\n", "\ufeff", "#comment\n", "-1 a\n"]) + text
        expect = "raise"
    else:  # dup_ngram: an n-gram twice, its count raised to match
        i, n = c.draw.choice(entries)
        lines.insert(i, lines[i])
        j = _count_line(lines, n)
        lines[j] = "ngram %d=%d" % (n, len(s["grams"][n]) + 1)
        note = lines[i]
        expect, new = "raise", "\n".join(lines)
    s["text"] = new
    if isinstance(new, bytes):
        s["form"] = c.draw.choice(["bytes", "bytes", "path"])
    elif s["form"] in ("path", "gz") and c.draw.bool():
        s["form"] = "str"
    args = c.build(s)
    case = c.case("lm_text:%s" % how, args, expect, spec=s, check=False, note=note,
                  setup=lm_setup(s, args))
    if expect != "raise":
        case.check = lm_check(s, exact=exact)
    case.msg_check = arpa_msg_check(_lm_data(s))
    return case


@mutator("lm")
def lm_form(c):
    """The same ARPA model as str, bytes, bytearray, a path (str, bytes, pathlib), a .gz
    path: the same model."""
    s = _copy_spec(c.spec)
    how = c.draw.choice(["str", "bytes", "bytearray", "path", "gz", "pathlib", "bytes_path"])
    s["form"] = {"pathlib": "path", "bytes_path": "path"}.get(how, how)
    args = c.build(s)
    if how == "pathlib":
        import pathlib
        args["path_or_text"] = pathlib.Path(args["path_or_text"])
    elif how == "bytes_path":
        args["path_or_text"] = os.fsencode(args["path_or_text"])
    return c.case("lm_form:%s" % how, args, "same", setup=lm_setup(s, c.build(s)))


@mutator("lm")
def lm_options(c):
    """unit: 'word' / 'token' or anything else; a path that does not exist."""
    s = _copy_spec(c.spec)
    how = c.draw.choice(["unit", "unit", "missing"])
    if how == "missing":
        args = c.build(s)
        args["path_or_text"] = c.draw.choice(["/nonexistent/lm.arpa", "/nonexistent/lm.arpa.gz",
                                              os.path.dirname(os.path.abspath(__file__)),
                                              b"/nonexistent", "lm\0.arpa"])
        return c.case("lm_options:missing", args, "raise", check=False)
    v = c.draw.choice(["word", "token", "Word", "", None, 1, b"word", np.str_("token"),
                       "words", ["word"]])
    s["unit"] = v
    args = c.build(s)
    args["unit"] = v
    ok = isinstance(v, str) and v in ("word", "token")
    case = c.case("lm_options:unit", args, "ok" if ok else "raise", spec=s, check=False,
                  note=repr(v), setup=lm_setup(s, args))
    if ok:
        case.check = lm_check(s)
    return case


# ------------------------------------------------------------------ drawing a case

def make_case(name, draw, mutator_name=None):
    """One case of function ``name``: a drawn spec with a drawn (or the given) mutator
    applied; None when the mutator does not apply to what was drawn."""
    fn = FUNCTIONS[name]
    c = Ctx(fn, draw)
    names = [m for m, (fams, _) in MUTATORS.items() if fn.family in fams]
    m = mutator_name or draw.choice(names)
    return MUTATORS[m][1](c)


def select(pattern=None):
    """Function names whose name matches the regular expression ``pattern``."""
    return [n for n in FUNCTIONS if pattern is None or re.search(pattern, n)]


def seeded_case(seed, index, names):
    """Case ``index`` of a run seeded ``seed`` (reproducible one by one)."""
    for attempt in range(50):
        d = RandomDraw("%s:%d:%d" % (seed, index, attempt))
        c = make_case(d.choice(names), d)
        if c is not None:
            return c
    return make_case(names[0], RandomDraw(seed), "canonical")
