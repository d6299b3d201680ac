"""Shared fixtures: the per-ISA subprocess runner used by every kernel family."""
import hashlib
import os
import pickle
import subprocess
import sys
import tempfile

import pytest

ISAS = ["base", "avx2", "avx512"]

_RUNNER = r"""
import pickle, sys
import numpy as np
import seqloss
with open(sys.argv[1], "rb") as f:
    inp = pickle.load(f)
out = {}
exec(compile(sys.argv[3], "<isa-code>", "exec"), {"np": np, "seqloss": seqloss,
                                                  "inp": inp, "out": out})
with open(sys.argv[2], "wb") as f:
    pickle.dump((seqloss.simd_level(), out), f)
"""

_cache = {}


def _run(isa, code, inputs):
    """(simd_level, out) from running ``code`` in a fresh interpreter with SEQLOSS_ISA=isa
    (None: unset, the best level); ``code`` reads the dict ``inp`` and fills the dict ``out``
    (picklable values). Cached per session, so several tests can share the default run."""
    blob = pickle.dumps(inputs)
    key = (isa, code, hashlib.sha256(blob).hexdigest())
    if key not in _cache:
        env = dict(os.environ)
        env.pop("SEQLOSS_ISA", None)
        if isa is not None:
            env["SEQLOSS_ISA"] = isa
        with tempfile.TemporaryDirectory() as d:
            src, dst = os.path.join(d, "in.pkl"), os.path.join(d, "out.pkl")
            with open(src, "wb") as f:
                f.write(blob)
            res = subprocess.run([sys.executable, "-c", _RUNNER, src, dst, code], env=env,
                                 capture_output=True, text=True, timeout=300)
            assert res.returncode == 0, res.stderr
            with open(dst, "rb") as f:
                _cache[key] = pickle.load(f)
    return _cache[key]


@pytest.fixture(params=ISAS)
def isa(request):
    """Each instruction-set level that SEQLOSS_ISA can request."""
    return request.param


@pytest.fixture
def run_isa():
    """run_isa(isa, code, inputs) -> out: run ``code`` under SEQLOSS_ISA=isa in a subprocess
    and return its ``out`` dict; skips when the CPU or build cannot run that level (the
    subprocess's seqloss.simd_level() differs). run_isa(None, ...) runs the default level."""
    def run(level, code, inputs):
        got, out = _run(level, code, inputs)
        if level is not None and got != level:
            pytest.skip("SEQLOSS_ISA=%s runs %s here: this CPU or build has no %s variant"
                        % (level, got, level))
        return out
    return run
