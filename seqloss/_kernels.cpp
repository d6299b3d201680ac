// One per-ISA extension module: seqloss._kernels_base, _kernels_avx2 or
// _kernels_avx512, depending on the -m flags it is compiled with (setup.py).
// It holds every kernel family compiled at that level and publishes each
// family's table as a capsule named "seqloss.<family>"; seqloss/_isa.py loads
// the modules and each family's Cython module installs the tables.  The
// module's name comes from the compiler's own target macros (core/isa.hpp),
// so a module built with the wrong flags fails to import instead of running
// the wrong code.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "kernel_families.hpp"

#define SEQLOSS_CAT2(a, b) a##b
#define SEQLOSS_CAT(a, b) SEQLOSS_CAT2(a, b)

#include "core/memory.hpp"
#include "core/parallel.hpp"

namespace {

PyObject* release_scratch(PyObject*, PyObject*) {
    seqloss::scratch_cache().clear();
    Py_RETURN_NONE;
}

PyObject* install_workers(PyObject*, PyObject* capsule) {
    void* api = PyCapsule_GetPointer(capsule, "seqloss.workers");
    if (!api) return nullptr;
    seqloss::install_workers(api);
    Py_RETURN_NONE;
}

PyMethodDef methods[] = {
    {"install_workers", install_workers, METH_O,
     "Install the process's helper-thread pool (seqloss._core._workers)."},
    {"release_scratch", release_scratch, METH_NOARGS,
     "Free the cached large scratch blocks of this module's kernels."},
    {nullptr, nullptr, 0, nullptr},
};

PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    "seqloss._kernels_" SEQLOSS_ISA_NAME,
    "seqloss kernels compiled for the '" SEQLOSS_ISA_NAME "' instruction-set level.",
    -1,
    methods,
};

int add_table(PyObject* m, const char* attr, const char* capsule_name, const void* table) {
    PyObject* cap = PyCapsule_New(const_cast<void*>(table), capsule_name, nullptr);
    if (!cap) return -1;
    if (PyModule_AddObject(m, attr, cap) < 0) {
        Py_DECREF(cap);
        return -1;
    }
    return 0;
}

}  // namespace

PyMODINIT_FUNC SEQLOSS_CAT(PyInit__kernels_, SEQLOSS_ISA_TOKEN)(void) {
    PyObject* m = PyModule_Create(&module_def);
    if (!m) return nullptr;
    if (PyModule_AddStringConstant(m, "isa", SEQLOSS_ISA_NAME) < 0) goto fail;
#define SEQLOSS_ADD_TABLE(name, Table) \
    if (add_table(m, #name, "seqloss." #name, seqloss::name##_kernels()) < 0) goto fail;
    SEQLOSS_KERNEL_FAMILIES(SEQLOSS_ADD_TABLE)
#undef SEQLOSS_ADD_TABLE
    return m;
fail:
    Py_DECREF(m);
    return nullptr;
}
