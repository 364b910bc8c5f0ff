"""Build the compiled kernels (``fastgd_core``); all metadata is in pyproject.toml.

Environment variables:

* ``FASTGD_NO_OPENMP=1``: build without OpenMP (``prange`` runs serially).
  Without it, OpenMP is used when a tiny OpenMP program compiles and links.
* ``FASTGD_OPENMP_PREFIX=DIR``: an OpenMP runtime the compiler does not find
  by itself, as ``DIR/include/omp.h`` and ``DIR/lib/libomp`` (or ``libgomp``).
  On macOS it defaults to Homebrew's keg-only libomp (``brew --prefix libomp``).
  ``CFLAGS``, ``CPPFLAGS`` and ``LDFLAGS`` are honoured as well.
* ``FASTGD_NATIVE=1``: add ``-march=native`` (source installs for this CPU
  only; never for wheels).  Otherwise the build targets baseline x86-64 and
  every kernel is also compiled for AVX2+FMA and for AVX-512, the variant
  chosen at run time (``fastgd_core/_dispatch.h``).
* ``CFLAGS=-DFASTGD_NO_DISPATCH``: compile the build target's variant only.

The ``.pyx`` files are translated to C when the extensions are built, so a
source distribution ships the Cython sources, never generated C.  The
extensions compile in parallel (``build_ext -j N`` overrides the default of
one job per core).
"""

import glob
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

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


def openmp_prefix():
    """The folder holding an OpenMP runtime outside the compiler's search paths, or None."""
    prefix = os.environ.get("FASTGD_OPENMP_PREFIX", "").strip()
    if prefix:
        return prefix
    if sys.platform == "darwin" and shutil.which("brew"):
        try:
            found = subprocess.run(["brew", "--prefix", "libomp"], capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.SubprocessError):
            return None
        prefix = found.stdout.strip()
        if found.returncode == 0 and os.path.exists(os.path.join(prefix, "include", "omp.h")):
            return prefix
    return None


def openmp_flags(compiler):
    """Candidate (compile args, link args) enabling OpenMP for this compiler, best first.

    The one place that knows each platform's OpenMP: MSVC ``/openmp`` (its
    vcomp runtime); Apple clang ``-Xpreprocessor -fopenmp`` with libomp (then,
    for GCC on macOS, ``-fopenmp``); GCC and Clang elsewhere ``-fopenmp``.
    """
    if compiler.compiler_type == "msvc":
        return [(["/openmp"], [])]
    prefix = openmp_prefix()
    include = ["-I" + os.path.join(prefix, "include")] if prefix else []
    lib = os.path.join(prefix, "lib") if prefix else None
    libdirs = ["-L" + lib, "-Wl,-rpath," + lib] if lib else []
    gnu = (["-fopenmp"] + include, libdirs + ["-fopenmp"])
    if sys.platform == "darwin":
        return [(["-Xpreprocessor", "-fopenmp"] + include, libdirs + ["-lomp"]), gnu]
    return [gnu]


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
    """Whether ``compiler`` builds and links the OpenMP test program with these flags.

    The extensions are linked with ``LDFLAGS`` from the environment, so the
    test program is too (the compiler object only applies them to shared
    libraries).
    """
    if compiler.compiler_type != "msvc":
        link_args = shlex.split(os.environ.get("LDFLAGS", "")) + link_args
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
    """Translate the .pyx files, then add the optimization and OpenMP flags this compiler supports."""

    def finalize_options(self):
        super().finalize_options()
        if self.parallel is None:
            self.parallel = True  # one job per core

    def build_extensions(self):
        import numpy
        from Cython.Build import cythonize

        if any(source.endswith(".pyx") for ext in self.extensions for source in ext.sources):
            for ext, translated in zip(self.extensions, cythonize(self.extensions, compiler_directives=DIRECTIVES)):
                assert ext.name == translated.name
                ext.sources, ext.depends = translated.sources, translated.depends  # keep setuptools' Extension
        compile_args = optimization_flags(self.compiler)
        link_args = []
        if _flag("FASTGD_NO_OPENMP"):
            print("fastgd: FASTGD_NO_OPENMP set, building without OpenMP (serial kernels)")
        else:
            for omp_compile, omp_link in openmp_flags(self.compiler):
                if compiles_and_links(self.compiler, omp_compile, omp_link):
                    print("fastgd: building with OpenMP: %s" % " ".join(omp_compile + omp_link))
                    compile_args += omp_compile
                    link_args += omp_link
                    break
            else:
                print("fastgd: the compiler cannot build OpenMP code, building serial kernels")
        if "-fopenmp" not in compile_args and self.compiler.compiler_type != "msvc":
            compile_args += ["-fopenmp-simd"]  # SIMD pragmas without the OpenMP runtime
            for ext in self.extensions:
                ext.define_macros.append(("FGD_OPENMP_SIMD", "1"))
        for ext in self.extensions:
            ext.include_dirs.append(numpy.get_include())
            ext.extra_compile_args += compile_args
            ext.extra_link_args += link_args
            ext.define_macros.append(("FASTGD_COMPILE_ARGS", '"%s"' % " ".join(compile_args)))  # a C string
        super().build_extensions()


extensions = [
    Extension(
        f"fastgd_core.{os.path.splitext(os.path.basename(path))[0]}",
        [path],
        include_dirs=["fastgd_core"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_9_API_VERSION")],
        depends=sorted(glob.glob("fastgd_core/*.h") + glob.glob("fastgd_core/*.pxd")),
    )
    for path in sorted(glob.glob("fastgd_core/*.pyx"))
]

setup(
    ext_modules=extensions,
    cmdclass={"build_ext": BuildExt},
    exclude_package_data={"fastgd_core": ["*.c"]},  # generated; the .pyx/.pxd/.h sources ship
)
