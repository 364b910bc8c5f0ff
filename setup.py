"""Build the compiled kernels (``fastgd_core``); all metadata is in pyproject.toml.

Environment variables:

* ``FASTGD_NO_OPENMP=1``: build without OpenMP (``prange`` runs serially).
  Without it, OpenMP is used when a tiny OpenMP program compiles and links.
* ``FASTGD_NATIVE=1``: add ``-march=native`` (source installs for this CPU
  only; never for wheels).  Otherwise the build targets baseline x86-64 and
  the hot kernels carry an AVX2+FMA variant chosen at run time (GCC
  ``target_clones``, see ``fastgd_core/_simd.h``).
"""

import glob
import os
import sys
import tempfile

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

DIRECTIVES = {
    "boundscheck": False,
    "wraparound": False,
    "cdivision": True,
    "initializedcheck": False,
    "language_level": 3,
    "binding": True,
}

OPENMP_TEST = """
#include <omp.h>
int main(void) { int n = 0;
#pragma omp parallel reduction(+:n)
  n += 1;
  return n == omp_get_max_threads() ? 0 : 1; }
"""


def _flag(name):
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def openmp_flags(compiler):
    """(compile args, link args) enabling OpenMP for this compiler, per platform."""
    if compiler.compiler_type == "msvc":
        return ["/openmp"], []
    if sys.platform == "darwin":  # Apple clang with Homebrew/conda libomp
        return ["-Xpreprocessor", "-fopenmp"], ["-lomp"]
    return ["-fopenmp"], ["-fopenmp"]


def optimization_flags(compiler):
    """Speed without changing results: no -ffast-math, infinities and NaN keep their meaning.

    -fno-math-errno lets sqrt vectorize (errno is never read);
    -fno-trapping-math (Clang's default) lets GCC if-convert the branch-free
    selects of the vectorized exp/log1p; it only concerns floating-point flags.
    """
    if compiler.compiler_type == "msvc":
        return ["/O2"]
    return ["-O3", "-fno-math-errno", "-fno-trapping-math"] + (["-march=native"] if _flag("FASTGD_NATIVE") else [])


def compiles_and_links(compiler, compile_args, link_args):
    """Whether ``compiler`` builds and links the OpenMP test program with these flags."""
    with tempfile.TemporaryDirectory() as tmp:
        source = os.path.join(tmp, "omp_test.c")
        with open(source, "w") as f:
            f.write(OPENMP_TEST)
        try:
            objects = compiler.compile([source], output_dir=tmp, extra_postargs=compile_args)
            compiler.link_executable(objects, os.path.join(tmp, "omp_test"), extra_postargs=link_args)
        except Exception:
            return False
    return True


class BuildExt(build_ext):
    """Add the optimization and OpenMP flags that this compiler supports."""

    def build_extensions(self):
        compile_args = optimization_flags(self.compiler)
        link_args = []
        omp_compile, omp_link = openmp_flags(self.compiler)
        if _flag("FASTGD_NO_OPENMP"):
            print("fastgd: FASTGD_NO_OPENMP set, building without OpenMP (serial kernels)")
        elif compiles_and_links(self.compiler, omp_compile, omp_link):
            compile_args += omp_compile
            link_args += omp_link
        else:
            print("fastgd: the compiler cannot build OpenMP code, building serial kernels")
        if "-fopenmp" not in compile_args and self.compiler.compiler_type != "msvc":
            compile_args += ["-fopenmp-simd"]  # SIMD pragmas without the OpenMP runtime
            for ext in self.extensions:
                ext.define_macros.append(("FGD_OPENMP_SIMD", "1"))
        for ext in self.extensions:
            ext.extra_compile_args += compile_args
            ext.extra_link_args += link_args
            ext.define_macros.append(("FASTGD_COMPILE_ARGS", '"%s"' % " ".join(compile_args)))  # a C string
        super().build_extensions()


extensions = [
    Extension(
        f"fastgd_core.{os.path.splitext(os.path.basename(path))[0]}",
        [path],
        include_dirs=[numpy.get_include(), "fastgd_core"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_9_API_VERSION")],
        depends=glob.glob("fastgd_core/*.h") + glob.glob("fastgd_core/*.pxd"),
    )
    for path in sorted(glob.glob("fastgd_core/*.pyx"))
]

setup(
    ext_modules=cythonize(extensions, compiler_directives=DIRECTIVES),
    cmdclass={"build_ext": BuildExt},
    exclude_package_data={"fastgd_core": ["*.c"]},  # generated; the .pyx/.pxd/.h sources ship
)
