"""Long fuzzing run over every public seqloss function (malformed arguments).

    python tools/fuzz.py --calls 100000 --seed 1 [--batch 4000] [--functions PATTERN]
                         [--timeout 120]

Runs ``--calls`` random cases of tests/fuzz_cases.py (case i of seed S is rebuilt
from (S, i) alone, so any call can be replayed) in subprocess batches: a batch
that crashes (signal, abort) counts the call it was running as a crash and the
run goes on from the next call in a fresh process; a batch that outlives
``--timeout`` seconds counts its running call as a hang.  Each failure class
(function, mutator, outcome) is re-run alone in a fresh process to tell a
defect of that call from one left behind by an earlier call of its batch, and
printed once as a standalone Python reproducer (the shortest seen).  Prints a
summary (calls per function, per outcome) and exits 1 if anything failed.

Run from the repository root with the tree built in place
(``python setup.py build_ext --inplace``); the seqloss imported is the one
first on ``sys.path`` (the current directory).
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS = os.path.join(ROOT, "tests")
sys.path.insert(0, TESTS)  # fuzz_cases (also for reproducers of crashed batches)


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([os.getcwd(), TESTS] +
                                        [p for p in [env.get("PYTHONPATH")] if p])
    env.setdefault("OMP_NUM_THREADS", "2")
    env["PYTHONWARNINGS"] = "ignore"
    return env


def child(seed, start, count, pattern, only=None):
    """Run cases [start, start + count) (or just ``only``), one JSON line per event."""
    import warnings
    warnings.simplefilter("ignore")
    import numpy as np
    np.seterr(all="ignore")
    import fuzz_cases as F
    names = F.select(pattern)
    out = sys.stdout
    indices = [only] if only is not None else range(start, start + count)
    for i in indices:
        try:
            case = F.seeded_case(seed, i, names)
        except Exception as e:  # noqa: BLE001 -- a bug of the harness, reported as such
            out.write(json.dumps({"i": i, "ok": False, "kind": "harness-error", "name": "?",
                                  "mutator": "?", "detail": "building the case: %s: %s"
                                  % (type(e).__name__, e)}) + "\n")
            continue
        out.write(json.dumps({"start": i, "name": case.name, "mutator": case.mutator}) + "\n")
        out.flush()
        t = time.time()
        try:
            o = F.execute(case)
            rec = {"i": i, "ok": o.ok, "kind": o.kind, "detail": o.detail}
        except BaseException as e:  # noqa: BLE001 -- a bug of the harness, reported as such
            rec = {"i": i, "ok": False, "kind": "harness-error",
                   "detail": "%s: %s" % (type(e).__name__, e)}
        rec.update(name=case.name, mutator=case.mutator, secs=round(time.time() - t, 4))
        if not rec["ok"]:
            try:
                rec["repro"] = case.reproducer("%s: %s" % (rec["kind"], rec["detail"]))
            except Exception as e:  # noqa: BLE001
                rec["repro"] = "# (no reproducer: %s)" % e
        out.write(json.dumps(rec) + "\n")
        out.flush()
    out.write(json.dumps({"done": True}) + "\n")
    out.flush()


def verify(seed, pattern, indices):
    """Re-run each call alone: in a process forked right after the imports, before any
    seqloss call, so nothing an earlier call left behind is there.  One JSON line each."""
    import warnings
    warnings.simplefilter("ignore")
    import numpy as np
    np.seterr(all="ignore")
    import fuzz_cases as F
    names = F.select(pattern)
    for i in indices:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            try:
                o = F.execute(F.seeded_case(seed, i, names))
                msg = json.dumps({"i": i, "ok": o.ok, "kind": o.kind})
            except BaseException as e:  # noqa: BLE001
                msg = json.dumps({"i": i, "ok": False, "kind": "harness-error:%s" % e})
            os.write(w, msg.encode())
            os._exit(0)
        os.close(w)
        data = b""
        while True:
            chunk = os.read(r, 65536)
            if not chunk:
                break
            data += chunk
        os.close(r)
        _, status = os.waitpid(pid, 0)
        if not data:
            data = json.dumps({"i": i, "ok": False, "kind": "crash (status %d)" % status}
                              ).encode()
        sys.stdout.write(data.decode() + "\n")
        sys.stdout.flush()


def _run_child(args, seed, start, count, pattern, timeout, only=None):
    """-> (records, crashed_index or None, how: None | 'crash' | 'hang', stderr tail)."""
    cmd = [sys.executable, os.path.abspath(__file__), "--child", "--seed", str(seed),
           "--start", str(start), "--count", str(count)]
    if pattern:
        cmd += ["--functions", pattern]
    if only is not None:
        cmd += ["--only", str(only)]
    how = None
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=_env(),
                           cwd=os.getcwd())
        stdout, stderr, rc = r.stdout, r.stderr, r.returncode
    except subprocess.TimeoutExpired as e:
        stdout = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        stderr = e.stderr.decode() if isinstance(e.stderr, bytes) else (e.stderr or "")
        rc, how = None, "hang"
    recs, started, done = [], None, False
    for line in stdout.splitlines():
        try:
            d = json.loads(line)
        except ValueError:
            continue
        if "start" in d:
            started = d
        elif "done" in d:
            done = True
        else:
            recs.append(d)
            started = None
    if done and rc == 0:
        return recs, None, None, ""
    if how is None:
        how = "crash"
    if started is None:  # died before its first call (import) or between calls
        return recs, None, how, "%s (rc %s)" % (stderr[-2000:], rc)
    return recs, started, how, "%s (rc %s)" % (stderr[-2000:], rc)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=100000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=4000)
    ap.add_argument("--functions", default=None, help="regular expression on function names")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per batch")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--start", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--only", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--verify", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.verify is not None:
        verify(a.seed, a.functions, [int(v) for v in a.verify.split(",") if v])
        return 0
    if a.child:
        child(a.seed, a.start, a.count, a.functions, a.only)
        return 0

    t0 = time.time()
    per_fn = collections.Counter()
    per_outcome = collections.Counter()
    classes = {}   # (name, mutator, kind) -> dict(count, first index, repro)
    i, n_batches = 0, 0
    while i < a.calls:
        count = min(a.batch, a.calls - i)
        recs, started, how, err = _run_child(a, a.seed, i, count, a.functions, a.timeout)
        n_batches += 1
        for r in recs:
            per_fn[r["name"]] += 1
            per_outcome["ok:" + r["kind"] if r["ok"] else "FAIL:" + r["kind"]] += 1
            if not r["ok"]:
                _record(classes, r["name"], r["mutator"], r["kind"], r["i"], r.get("repro", ""),
                        r["detail"])
        done = i + len(recs)
        if how is not None:
            if started is None:
                print("batch at call %d died outside a call: %s" % (done, err), file=sys.stderr)
                if not recs:
                    return 2
                i = done
                continue
            j = started["start"]
            per_fn[started["name"]] += 1
            per_outcome["FAIL:" + how] += 1
            import fuzz_cases as F
            case = F.seeded_case(a.seed, j, F.select(a.functions))
            _record(classes, started["name"], started["mutator"], how, j,
                    case.reproducer("%s: %s" % (how, err.strip().splitlines()[-1:] or "")),
                    err.strip()[-500:])
            i = j + 1
        else:
            i += count
        print("\r%d / %d calls, %d failure classes, %.0f s" % (i, a.calls, len(classes),
                                                               time.time() - t0),
              end="", file=sys.stderr, flush=True)
    print("", file=sys.stderr)

    # re-run each failure class's reproducing call alone, in a fresh process
    todo = {c["index"]: c for key, c in classes.items() if key[2] not in ("crash", "hang")}
    for key, c in classes.items():
        c["alone"] = "crash/hang"
    if todo:
        cmd = [sys.executable, os.path.abspath(__file__), "--seed", str(a.seed), "--verify",
               ",".join(map(str, sorted(todo)))]
        if a.functions:
            cmd += ["--functions", a.functions]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, env=_env(),
                               timeout=a.timeout + 2 * len(todo))
            out = r.stdout
        except subprocess.TimeoutExpired as e:
            out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        seen = {}
        for line in out.splitlines():
            try:
                d = json.loads(line)
            except ValueError:
                continue
            seen[d["i"]] = d
        for i, c in todo.items():
            d = seen.get(i)
            if d is None:
                c["alone"] = "not re-run"
            elif not d["ok"]:
                c["alone"] = "reproduces alone" + (
                    "" if not d["kind"].startswith("crash") else " (%s)" % d["kind"])
            else:
                c["alone"] = ("does NOT reproduce alone: an earlier call of its batch left "
                              "corrupted state behind")

    total = sum(per_fn.values())
    print("seqloss fuzz: %d calls, seed %d, %d batches, %.1f s" % (total, a.seed, n_batches,
                                                                   time.time() - t0))
    print("\nper function:")
    for k, v in sorted(per_fn.items()):
        print("  %-28s %7d" % (k, v))
    print("\nper outcome:")
    for k, v in sorted(per_outcome.items()):
        print("  %-40s %7d" % (k, v))
    n_fail = sum(v for k, v in per_outcome.items() if k.startswith("FAIL"))
    print("\n%d failing calls in %d classes" % (n_fail, len(classes)))
    for (name, mut, kind), c in sorted(classes.items(), key=lambda kv: (kv[1]["alone"] !=
                                                                         "reproduces alone",
                                                                         kv[0])):
        print("\n" + "=" * 78)
        print("%s / %s / %s: %d calls (first: call %d); %s" % (name, mut, kind, c["count"],
                                                                c["index"], c["alone"]))
        print("-" * 78)
        print(c["repro"].rstrip())
    return 1 if n_fail else 0


def _record(classes, name, mutator, kind, index, repro, detail):
    key = (name, mutator.split(":")[0] + ":" + mutator.split(":")[1] if ":" in mutator
           else mutator, kind)
    c = classes.get(key)
    if c is None:
        classes[key] = dict(count=1, index=index, repro=repro, detail=detail)
        return
    c["count"] += 1
    if len(repro) < len(c["repro"]):
        c.update(index=index, repro=repro, detail=detail)


if __name__ == "__main__":
    sys.exit(main())
