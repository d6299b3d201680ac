"""Which instruction-set level the kernels run at.

Every kernel family is compiled once per level into its own extension module
(``seqloss._kernels_base``, ``_kernels_avx2``, ``_kernels_avx512``; only
``base`` off x86-64).  At import this module picks the best level the CPU
runs, capped by the environment variable ``SEQLOSS_ISA=base|avx2|avx512``
(for tests and benchmarks), loads the modules of every level up to it and
gives each the process's helper-thread pool; each family's Cython module then
installs their tables (``tables()``).
"""
import importlib
import importlib.util
import os

from ._core import _workers, detected_level

LEVELS = ("base", "avx2", "avx512")

__all__ = ["LEVELS", "simd_level", "tables"]


def _cap():
    value = os.environ.get("SEQLOSS_ISA")
    if value is None or value.strip() == "":
        return len(LEVELS) - 1
    name = value.strip().lower()
    if name not in LEVELS:
        raise ValueError(
            "Expected the environment variable SEQLOSS_ISA to be one of 'base', 'avx2' or "
            "'avx512', but got %r" % (value,))
    return LEVELS.index(name)


def _load():
    best = min(detected_level(), _cap())
    modules = []
    for level in range(best + 1):
        name = "seqloss._kernels_" + LEVELS[level]
        if importlib.util.find_spec(name) is None:
            continue  # not built for this platform (e.g. no x86-64 variants)
        module = importlib.import_module(name)
        if module.isa != LEVELS[level]:
            raise ImportError("%s was compiled for %r (a broken build)" % (name, module.isa))
        module.install_workers(_workers)
        modules.append((level, module))
    if not modules or modules[0][0] != 0:
        raise ImportError("seqloss._kernels_base is missing: the build is incomplete")
    return modules


_MODULES = _load()
_LEVEL = LEVELS[_MODULES[-1][0]]


def simd_level():
    """Instruction-set level the kernels dispatch to: 'base', 'avx2' or 'avx512'."""
    return _LEVEL


def release_scratch():
    """Free the cached large scratch blocks of every loaded kernel module."""
    for _, module in _MODULES:
        module.release_scratch()


def tables(family):
    """``[(level, capsule), ...]`` of one kernel family, for every loaded level."""
    return [(level, getattr(module, family)) for level, module in _MODULES]
