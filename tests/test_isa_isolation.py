"""The instruction-set isolation of the built extension modules.

Each level's kernels live in their own module (seqloss._kernels_<level>), so
that code compiled with -mavx2 / -mavx512* can never be what the baseline
path runs: not our inline helpers, not the std:: template instances the
translation units share names with (at -O0 those are weak symbols, and a
linker that sees two of them keeps one).  These tests read the built shared
objects with binutils; `.ci/run` also runs them against an -O0 build, where
nothing is inlined away and the hazard is at its largest.
"""
import glob
import os
import platform
import re
import shutil
import subprocess

import pytest

import seqloss
from seqloss import _isa

PKG = os.path.dirname(seqloss.__file__)
X86 = platform.machine().lower() in ("x86_64", "amd64")
HAVE_BINUTILS = shutil.which("nm") is not None and shutil.which("objdump") is not None

pytestmark = pytest.mark.skipif(not HAVE_BINUTILS, reason="needs nm and objdump (binutils)")

# VEX/EVEX-encoded instructions (AVX and later) use ymm/zmm registers, mask
# registers, xmm16-31, or a v-prefixed mnemonic (vmovsd, vaddps, ...).
VEX = re.compile(r"%[yz]mm\d|%k[0-7]\b|%xmm(1[6-9]|2\d|3[01])\b|^\s*[0-9a-f]+:\s+v[a-z0-9]+\s",
                 re.M)
AVX512 = re.compile(r"%zmm\d|%k[0-7]\b|%[xy]mm(1[6-9]|2\d|3[01])\b")


def module_path(name):
    paths = glob.glob(os.path.join(PKG, name + ".*so")) + glob.glob(os.path.join(PKG, name + ".*pyd"))
    if not paths:
        pytest.skip("%s is not built here" % name)
    return paths[0]


def disassembly(path):
    return subprocess.run(["objdump", "-d", "--no-show-raw-insn", path], check=True,
                          capture_output=True, text=True).stdout


def exported(path):
    out = subprocess.run(["nm", "-D", "--defined-only", path], check=True, capture_output=True,
                         text=True).stdout
    return sorted(line.split()[-1] for line in out.splitlines() if line.strip())


GLUE = ["_core", "_ctc", "_edit", "_softmax"]
LEVELS = list(_isa.LEVELS)


@pytest.mark.skipif(not platform.system() == "Linux", reason="ELF dynamic symbol tables")
@pytest.mark.parametrize("name", GLUE + ["_kernels_" + level for level in LEVELS])
def test_modules_export_only_their_init_symbol(name):
    """No module exports a symbol another module could bind to instead of its own."""
    assert exported(module_path(name)) == ["PyInit_" + name]


@pytest.mark.skipif(not X86, reason="x86-64 instruction encodings")
@pytest.mark.parametrize("name", GLUE + ["_kernels_base"])
def test_baseline_modules_contain_no_avx_instruction(name):
    """The baseline kernels and all glue/dispatch code run on any x86-64 CPU (SSE2 only)."""
    text = disassembly(module_path(name))
    hits = VEX.findall(text)
    assert not hits, "%s contains %d AVX-encoded instructions, e.g. %r" % (
        name, len(hits), [m.group(0) for m in VEX.finditer(text)][:5])


@pytest.mark.skipif(not X86, reason="x86-64 instruction encodings")
def test_avx2_module_contains_no_avx512_instruction():
    """The AVX2 kernels never use AVX-512 registers or masks."""
    text = disassembly(module_path("_kernels_avx2"))
    hits = [m.group(0) for m in AVX512.finditer(text)]
    assert not hits, "_kernels_avx2 contains AVX-512 code, e.g. %r" % hits[:5]


@pytest.mark.skipif(not X86, reason="x86-64 instruction encodings")
def test_vector_modules_really_use_their_instruction_set():
    """The AVX2/AVX-512 modules are built with their flags (the checks above are not vacuous)."""
    assert VEX.search(disassembly(module_path("_kernels_avx2")))
    assert AVX512.search(disassembly(module_path("_kernels_avx512")))


def test_each_kernel_module_reports_its_level():
    """A module's name, its compiled-in level and the loaded level agree."""
    import importlib
    for level in LEVELS:
        name = "seqloss._kernels_" + level
        if importlib.util.find_spec(name) is None:
            continue
        assert importlib.import_module(name).isa == level
    assert seqloss.simd_level() in LEVELS


def test_bad_isa_cap_is_a_clear_error():
    """SEQLOSS_ISA with an unknown value fails at import with a message naming it."""
    import sys
    env = dict(os.environ, SEQLOSS_ISA="sse9")
    r = subprocess.run([sys.executable, "-c", "import seqloss"], env=env, capture_output=True,
                       text=True, cwd=os.path.dirname(PKG))
    assert r.returncode != 0
    assert "Expected the environment variable SEQLOSS_ISA to be one of 'base', 'avx2' or " \
           "'avx512', but got 'sse9'" in r.stderr
