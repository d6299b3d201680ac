"""Build script for seqloss (setuptools; public APIs only).

Extension modules (see docs/ARCHITECTURE.md):

  seqloss._core                 build facts, CPU detection, the output pool
  seqloss._ctc/_edit/_softmax   one per kernel family: Cython glue + the
                                family's dispatch and defensive checks
                                (src_cpp/<family>/<family>.cpp), compiled once
  seqloss._kernels_<level>      every family's kernels compiled for one
                                instruction-set level (base, avx2, avx512)

Each level is its own module, linked alone and exporting only its PyInit
symbol, so code built with -mavx2/-mavx512* (including the std:: template
instances it shares names with) can never be picked for the baseline path.
The AVX2/AVX-512 modules are built on x86-64 with gcc/clang only; elsewhere
only ``base``.  Nothing uses ``-march=native`` unless SEQLOSS_NATIVE=1.

Every C++ source of every module is compiled in one process pool (one job per
core, progress shown), each with its own flag groups; an object newer than its
source and the headers the compiler recorded for it (-MMD) is reused, so
rebuilding an unchanged tree only links.

Environment knobs (all optional):
  SEQLOSS_OPENMP=0        build without OpenMP (the kernels run on one thread)
  SEQLOSS_NATIVE=1        add -march=native (not portable; local use only)
  SEQLOSS_DEBUG=1         keep debug information (profiling with source lines)
  SEQLOSS_OPT=N           compile with -ON, N in 0..3 (default 3; 0 for the tests
                          of the ISA isolation)
  SEQLOSS_SANITIZE=1      build with AddressSanitizer and UBSan (-fsanitize=address,
                          undefined -fno-omit-frame-pointer -g); a comma-separated
                          list (e.g. "undefined" or "shift,alignment") picks the
                          -fsanitize= checks instead.  Import the result with libasan
                          preloaded (.ci/sanitize shows how)
  SEQLOSS_GENERIC_SIMD=1  use the portable (non-GNU-vector) SIMD fallback
  SEQLOSS_JOBS=N          parallel compile jobs (default: the CPU count)
"""
import hashlib
import os
import platform
import shutil
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))

# Kernel families: module -> (sources compiled once into the family's module,
# sources compiled into every seqloss._kernels_<level> as (source, groups)).
# A new family adds one entry here (docs/ARCHITECTURE.md has the checklist).
FAMILIES = {
    "_align": (["src_cpp/align/align.cpp"],
               [("src_cpp/align/align_kernels.cpp", [])]),
    "_ctc": (["src_cpp/ctc/ctc.cpp"],
             [("src_cpp/ctc/ctc_kernels.cpp", ["fastmath"])]),
    "_edit": (["src_cpp/edit/edit_distance.cpp", "src_cpp/edit/corpus.cpp"],
              [("src_cpp/edit/edit_kernels.cpp", [])]),
    "_softmax": (["src_cpp/softmax/softmax.cpp", "src_cpp/softmax/softmax_ieee.cpp"],
                 [("src_cpp/softmax/softmax_kernels.cpp", ["fastmath"])]),
    "_decode": (["src_cpp/decode/decode.cpp", "src_cpp/decode/ngram.cpp"],
                [("src_cpp/decode/decode_kernels.cpp", [])]),
}
CORE_SOURCES = ["src_cpp/core/pool.cpp", "src_cpp/core/workers.cpp"]  # seqloss._core
KERNEL_MODULE_GLUE = "seqloss/_kernels.cpp"  # PyInit of seqloss._kernels_<level>

GNU_GROUPS = {
    # no trapping math, finite math only: GCC vectorises the polynomial
    # exp2/log2 loops (the kernels handle inf/NaN by bit tests and sentinels)
    "fastmath": ["-fno-trapping-math", "-ffinite-math-only", "-fno-math-errno",
                 "-fno-signed-zeros", "-ffp-contract=fast"],
    "avx2": ["-mavx2", "-mfma", "-mbmi2"],
    "avx512": ["-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mfma",
               "-mbmi2", "-mprefer-vector-width=512"],
}

OMP_PROBE = """
#include <omp.h>
int main() {
    int s = 0;
    #pragma omp parallel for reduction(+:s) num_threads(2)
    for (int i = 0; i < 4; ++i) s += i;
    return s == 6 ? 0 : 1;
}
"""


def _is_x86_64():
    return platform.machine().lower() in ("x86_64", "amd64")


def _levels(msvc):
    """Instruction-set levels to build kernel modules for."""
    return ["base", "avx2", "avx512"] if (not msvc and _is_x86_64()) else ["base"]


def _headers():
    out = []
    for d, _, files in os.walk(os.path.join(ROOT, "src_cpp")):
        out += [os.path.join(d, f) for f in files if f.endswith(".hpp")]
    return sorted(out)


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


def _depfile_deps(obj):
    """Headers gcc/clang recorded for obj (-MMD), or None without a depfile."""
    dep = os.path.splitext(obj)[0] + ".d"
    if not os.path.exists(dep):
        return None
    with open(dep) as f:
        text = f.read().replace("\\\n", " ")
    _, _, rest = text.partition(":")
    return [p for p in rest.split() if p]


def _stale(obj, deps):
    if not os.path.exists(obj):
        return True
    t = os.path.getmtime(obj)
    return any(not os.path.exists(d) or os.path.getmtime(d) > t for d in deps)


class BuildExt(build_ext):
    """Compiles every source of every module in parallel with its own flag
    groups (public CCompiler API), then links each module."""

    def _flags(self):
        msvc = self.compiler.compiler_type == "msvc"
        use_omp = os.environ.get("SEQLOSS_OPENMP", "1") != "0"
        if msvc:
            base = ["/O2", "/EHsc", "/std:c++17"]
            omp = ["/openmp"] if use_omp else []
            return msvc, base, omp, []
        opt = os.environ.get("SEQLOSS_OPT", "3").strip() or "3"
        if opt not in ("0", "1", "2", "3"):
            raise SystemExit("seqloss: SEQLOSS_OPT must be 0, 1, 2 or 3, but got %r" % opt)
        # -MMD: record each object's headers (rebuild only what a change touches)
        base = ["-O" + opt, "-std=c++17", "-fvisibility=hidden", "-Wno-unused-function", "-MMD"]
        sanitize = os.environ.get("SEQLOSS_SANITIZE", "0").strip()
        sanitize = {"0": "", "": "", "1": "address,undefined"}.get(sanitize, sanitize)
        if sanitize:
            base += ["-fsanitize=" + sanitize, "-fno-omit-frame-pointer", "-g"]
        elif os.environ.get("SEQLOSS_DEBUG") != "1":
            base.append("-g0")  # Python's default -g makes 4 MB wheels
        if os.environ.get("SEQLOSS_NATIVE") == "1":
            base.append("-march=native")
        omp = ["-fopenmp"] if use_omp else []
        if omp and not _compiler_accepts(self.compiler, omp, OMP_PROBE):
            print("seqloss: the compiler does not accept -fopenmp; building without OpenMP")
            omp = []
        link = list(omp) + (["-fsanitize=" + sanitize] if sanitize else [])
        if sys.platform.startswith("linux"):
            # export only PyInit_*: no symbol of one module can stand in for
            # another's (RTLD_LOCAL does the rest)
            script = os.path.join(self.build_temp, "seqloss_exports.map")
            os.makedirs(self.build_temp, exist_ok=True)
            with open(script, "w") as f:
                f.write("{ global: PyInit_*; local: *; };\n")
            link += ["-Wl,--version-script=" + script]
        return msvc, base, omp, link

    def build_extensions(self):
        msvc, base, omp, link = self._flags()
        macros = []
        if not msvc and _is_x86_64():
            macros.append(("SEQLOSS_X86_DISPATCH", "1"))
        if not omp:
            macros.append(("SEQLOSS_OPENMP_DISABLED", "1"))
        if os.environ.get("SEQLOSS_GENERIC_SIMD") == "1":
            macros.append(("SEQLOSS_GENERIC_SIMD", "1"))
        headers = _headers()
        obj_root = self._object_dir(base + omp, macros)
        jobs = []  # (ext, source, object, flags, output dir)
        for ext in self.extensions:
            level = ext.name.rsplit("_", 1)[1] if ext.name.startswith("seqloss._kernels_") else None
            isa = [] if (msvc or level in (None, "base")) else GNU_GROUPS[level]
            out_dir = os.path.join(obj_root, ext.name.split(".")[-1])
            groups = dict(getattr(ext, "source_groups", {}))
            objects = []
            for src in ext.sources:
                extra = [] if msvc else [f for g in groups.get(src, []) for f in GNU_GROUPS[g]]
                obj = self.compiler.object_filenames([src], output_dir=out_dir)[0]
                jobs.append((ext, src, obj, base + omp + isa + extra, out_dir))
                objects.append(obj)
            ext.seqloss_objects = objects

        def needs_compile(job):
            recorded = _depfile_deps(job[2])
            return self.force or _stale(job[2], [job[1]] + (headers if recorded is None
                                                            else recorded))

        stale = [j for j in jobs if needs_compile(j)]
        total = len(stale)
        jobs_env = os.environ.get("SEQLOSS_JOBS", "").strip()
        if jobs_env and not jobs_env.isdigit():
            raise SystemExit("seqloss: SEQLOSS_JOBS must be a whole number of jobs, but got %r"
                             % jobs_env)
        n_jobs = int(jobs_env or 0) or (os.cpu_count() or 1)
        print("seqloss: compiling %d of %d sources with %d jobs" % (total, len(jobs), n_jobs),
              flush=True)
        done = [0]

        def compile_one(job):
            ext, src, obj, flags, out_dir = job
            self.compiler.compile([src], output_dir=out_dir, macros=macros + ext.define_macros,
                                  include_dirs=ext.include_dirs, extra_postargs=flags,
                                  depends=headers)
            done[0] += 1
            print("seqloss: [%d/%d] %s (%s)" % (done[0], total, src, ext.name), flush=True)

        with ThreadPoolExecutor(max_workers=n_jobs) as pool:
            for f in [pool.submit(compile_one, j) for j in stale]:
                f.result()
        for ext in self.extensions:
            ext.extra_link_args = list(ext.extra_link_args or []) + link
            self._link(ext)

    def _object_dir(self, flags, macros):
        """Where objects are kept between builds: build/objects/<key> in the
        source tree, keyed by interpreter, platform, compiler and flags.  Not
        build_temp: pip's editable installs give every build a fresh temporary
        build_temp, which would recompile the whole tree each time."""
        key = repr((sys.version, sys.platform, platform.machine(), self.compiler.compiler_type,
                    getattr(self.compiler, "compiler_so", None), flags, macros,
                    self.include_dirs))
        digest = hashlib.sha1(key.encode()).hexdigest()[:12]
        return os.path.join(ROOT, "build", "objects", "%s-%s" % (
            sys.implementation.cache_tag, digest))

    def _link(self, ext):
        path = self.get_ext_fullpath(ext.name)
        if not self.force and not _stale(path, ext.seqloss_objects):
            return
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        self.compiler.link_shared_object(
            ext.seqloss_objects, path,
            libraries=self.get_libraries(ext), library_dirs=ext.library_dirs,
            runtime_library_dirs=ext.runtime_library_dirs,
            extra_postargs=ext.extra_link_args, export_symbols=self.get_export_symbols(ext),
            debug=self.debug, build_temp=self.build_temp, target_lang="c++")
        print("seqloss: linked %s" % os.path.relpath(path, ROOT), flush=True)


def _extensions():
    from Cython.Build import cythonize

    def ext(name, sources, groups=None):
        e = Extension("seqloss." + name, sources=sources, include_dirs=["src_cpp"],
                      language="c++")
        e.source_groups = groups or {}
        return e

    glue = [ext("_core", ["seqloss/_core.pyx"] + CORE_SOURCES)]
    glue += [ext(name, ["seqloss/%s.pyx" % name] + once) for name, (once, _) in FAMILIES.items()]
    glue = cythonize(glue, compiler_directives={
        "language_level": 3, "boundscheck": False, "wraparound": False, "cdivision": True,
        "initializedcheck": False})
    kernel_sources = [s for _, (_, per_isa) in FAMILIES.items() for s, _ in per_isa]
    kernel_groups = {s: g for _, (_, per_isa) in FAMILIES.items() for s, g in per_isa}
    msvc_hint = sys.platform == "win32"
    kernels = [ext("_kernels_" + level, [KERNEL_MODULE_GLUE] + kernel_sources, kernel_groups)
               for level in _levels(msvc_hint)]
    return glue + kernels


setup(ext_modules=_extensions(), cmdclass={"build_ext": BuildExt})
