"""Build script for seqloss.

Every ``seqloss/*.pyx`` becomes one extension module.  Its C++ kernels live in
``src_cpp/`` and are listed in ``EXTENSIONS`` below.  Flags are chosen by
compiler type (gcc/clang vs MSVC); OpenMP is used when the compiler accepts it
and skipped otherwise (the kernels then run on one thread).

Per-source flag groups (``SOURCE_FLAGS``) keep relaxed floating-point flags and
instruction-set flags to the kernel translation units that need them; the
run-time dispatchers pick the best variant the CPU supports, so a wheel built
here runs on any x86-64 CPU.  Nothing uses ``-march=native`` unless
``SEQLOSS_NATIVE=1`` is set.

Environment knobs (all optional):
  SEQLOSS_OPENMP=0        build without OpenMP
  SEQLOSS_NATIVE=1        add -march=native (not portable; local use only)
  SEQLOSS_DEBUG=1         keep debug information (profiling with source lines)
  SEQLOSS_EXTENSIONS=a,b  only build these modules (e.g. "_ctc"), for development
"""
import os
import platform
import shutil
import subprocess
import sys
import tempfile

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

# module name -> C++ sources (the .pyx is added automatically)
EXTENSIONS = {
    "_core": [],
    "_ctc": [
        "src_cpp/ctc.cpp",
        "src_cpp/ctc_kernel_base.cpp",
        "src_cpp/ctc_kernel_avx2.cpp",
        "src_cpp/ctc_kernel_avx512.cpp",
    ],
}

# Optional modules: built only when their .pyx exists (work in progress lives
# in its own files and never breaks the build of the others).
OPTIONAL_EXTENSIONS = {
    "_edit": [
        "src_cpp/edit_distance.cpp",
        "src_cpp/edit_distance_kernel_base.cpp",
        "src_cpp/edit_distance_kernel_avx2.cpp",
        "src_cpp/edit_distance_kernel_avx512.cpp",
    ],
    "_softmax": [
        "src_cpp/softmax.cpp",
        "src_cpp/softmax_kernel_base.cpp",
        "src_cpp/softmax_kernel_avx2.cpp",
        "src_cpp/softmax_kernel_avx512.cpp",
    ],
}

# source -> flag groups.  "fastmath": no trapping math and finite math only, so
# GCC vectorises the polynomial exp2/log2 loops (the kernel handles inf/NaN by
# bit tests and finite sentinels).  "avx2"/"avx512": instruction-set variant
# compiled only on x86-64 with gcc/clang, chosen at run time.
SOURCE_FLAGS = {
    "src_cpp/ctc_kernel_base.cpp": ["fastmath"],
    "src_cpp/ctc_kernel_avx2.cpp": ["fastmath", "avx2"],
    "src_cpp/ctc_kernel_avx512.cpp": ["fastmath", "avx512"],
    "src_cpp/edit_distance_kernel_avx2.cpp": ["avx2"],
    "src_cpp/edit_distance_kernel_avx512.cpp": ["avx512"],
    "src_cpp/softmax_kernel_base.cpp": ["fastmath"],
    "src_cpp/softmax_kernel_avx2.cpp": ["fastmath", "avx2"],
    "src_cpp/softmax_kernel_avx512.cpp": ["fastmath", "avx512"],
}

GNU_GROUPS = {
    "fastmath": ["-fno-trapping-math", "-ffinite-math-only", "-fno-math-errno",
                 "-fno-signed-zeros", "-ffp-contract=fast"],
    "avx2": ["-mavx2", "-mfma", "-mbmi2"],
    "avx512": ["-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mfma",
               "-mbmi2", "-mprefer-vector-width=512"],
}


def _is_x86_64():
    return platform.machine().lower() in ("x86_64", "amd64")


def _compiler_accepts(compiler, flags, code):
    """Try to compile and link ``code`` with ``flags``; True when it works."""
    tmp = tempfile.mkdtemp()
    try:
        src = os.path.join(tmp, "probe.cpp")
        with open(src, "w") as f:
            f.write(code)
        try:
            objs = compiler.compile([src], output_dir=tmp, extra_postargs=flags)
            compiler.link_executable(objs, "probe", output_dir=tmp, extra_postargs=flags)
        except Exception:
            return False
        return True
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


OMP_PROBE = """
#include <omp.h>
int main() {
    int s = 0;
    #pragma omp parallel for reduction(+:s) num_threads(2)
    for (int i = 0; i < 4; ++i) s += i;
    return s == 6 ? 0 : 1;
}
"""


class BuildExt(build_ext):
    def build_extensions(self):
        ctype = self.compiler.compiler_type
        msvc = ctype == "msvc"
        use_omp = os.environ.get("SEQLOSS_OPENMP", "1") != "0"
        if msvc:
            base = ["/O2", "/EHsc", "/std:c++17"]
            omp = ["/openmp"] if use_omp else []
            link_omp = []
        else:
            base = ["-O3", "-std=c++17", "-fvisibility=hidden", "-Wno-unused-function"]
            if os.environ.get("SEQLOSS_DEBUG") != "1":
                base.append("-g0")  # Python's default -g makes 4 MB wheels
            if os.environ.get("SEQLOSS_NATIVE") == "1":
                base.append("-march=native")
            omp = ["-fopenmp"] if use_omp else []
            link_omp = omp
            if omp and not _compiler_accepts(self.compiler, omp, OMP_PROBE):
                print("seqloss: the compiler does not accept -fopenmp; building without OpenMP")
                omp, link_omp = [], []
        dispatch = (not msvc) and _is_x86_64()
        macros = [("SEQLOSS_X86_DISPATCH", "1")] if dispatch else []

        # Per-source flags: wrap the compiler's _compile (unix compilers) so a
        # source listed in SOURCE_FLAGS gets its own groups appended.
        if not msvc:
            original = self.compiler._compile
            root = os.path.dirname(os.path.abspath(__file__))

            def _compile(obj, src, ext, cc_args, extra_postargs, pp_opts):
                rel = os.path.relpath(os.path.abspath(src), root).replace(os.sep, "/")
                extra = list(extra_postargs)
                for group in SOURCE_FLAGS.get(rel, []):
                    if group in ("avx2", "avx512") and not dispatch:
                        continue
                    extra += GNU_GROUPS[group]
                return original(obj, src, ext, cc_args, extra, pp_opts)

            self.compiler._compile = _compile

        for ext in self.extensions:
            ext.extra_compile_args = base + omp
            ext.extra_link_args = link_omp
            ext.define_macros = list(ext.define_macros or []) + macros
            if "SEQLOSS_OPENMP_DISABLED" not in dict(ext.define_macros) and not omp:
                ext.define_macros.append(("SEQLOSS_OPENMP_DISABLED", "1"))
        super().build_extensions()


def _extensions():
    wanted = os.environ.get("SEQLOSS_EXTENSIONS")
    wanted = set(w.strip() for w in wanted.split(",")) if wanted else None
    mods = dict(EXTENSIONS)
    for name, srcs in OPTIONAL_EXTENSIONS.items():
        if os.path.exists(os.path.join("seqloss", name + ".pyx")):
            mods[name] = srcs
    exts = []
    headers = sorted(
        os.path.join("src_cpp", f) for f in os.listdir("src_cpp") if f.endswith(".hpp")
    )
    for name, srcs in mods.items():
        if wanted is not None and name not in wanted:
            continue
        exts.append(
            Extension(
                "seqloss." + name,
                sources=["seqloss/%s.pyx" % name] + srcs,
                include_dirs=["src_cpp"],
                language="c++",
                depends=headers,
            )
        )
    from Cython.Build import cythonize

    return cythonize(
        exts,
        compiler_directives={
            "language_level": 3,
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
        },
    )


setup(ext_modules=_extensions(), cmdclass={"build_ext": BuildExt})
