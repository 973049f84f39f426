"""Build of fastnn's C engine and its Cython bridge (everything else is in pyproject.toml).

Flags: -O3 without -ffast-math (the engine's results must match an IEEE reference). SIMD
reductions are requested per loop with ``#pragma omp simd`` (-fopenmp-simd: no OpenMP runtime).
The default build runs on any x86-64 CPU; set FASTNN_NATIVE=1 to compile for this machine only
(-march=native), and FASTNN_SANITIZE=1 for an AddressSanitizer + UBSan build used by the tests.
"""
import os

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

GCC_LIKE_FLAGS = ["-O3", "-fopenmp-simd", "-fno-math-errno", "-Wall", "-Wno-unused-function", "-Wno-psabi"]


class BuildExt(build_ext):
    """Chooses optimisation flags for the compiler actually used."""

    def build_extensions(self):
        if self.compiler.compiler_type == "msvc":
            flags, link_flags = ["/O2", "/openmp:experimental"], []
        else:
            flags, link_flags = list(GCC_LIKE_FLAGS), []
            if os.environ.get("FASTNN_NATIVE") == "1":
                flags.append("-march=native")
            if os.environ.get("FASTNN_SANITIZE") == "1":
                sanitize = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-g", "-O1"]
                flags = [f for f in flags if f != "-O3"] + sanitize
                link_flags += ["-fsanitize=address,undefined"]
        for ext in self.extensions:
            ext.extra_compile_args = flags + ext.extra_compile_args
            ext.extra_link_args = link_flags + ext.extra_link_args
        super().build_extensions()


extensions = [
    Extension(
        "fastnn._core",
        sources=["src/fastnn/_core.pyx", "csrc/fnn.c"],
        include_dirs=["csrc", numpy.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_9_API_VERSION")],
        libraries=[] if os.name == "nt" else ["m"],
        depends=["csrc/fnn.h", "csrc/fnn_kernels.h", "src/fastnn/_core.pxd"],
    )
]

setup(
    ext_modules=cythonize(extensions, compiler_directives={"language_level": "3"}),
    cmdclass={"build_ext": BuildExt},
)
