"""Build of fastnn's C engine and its Cython bridge (everything else is in pyproject.toml).

The engine needs GCC or Clang: its kernels are written in GCC vector extensions.

Flags: the kernels (csrc/) at -O3 without -ffast-math (the engine's results must match an IEEE
reference); SIMD reductions are requested per loop with ``#pragma omp simd`` (-fopenmp-simd: no
OpenMP runtime). The Cython-generated bridge holds no hot loop and is compiled at -O2. Neither
carries debug information (-g0 over Python's -g: for the heavily inlined kernels it costs a third
of their compile time). The sources of the extension compile in parallel, one process per CPU.

The default build runs on any x86-64 CPU; set FASTNN_NATIVE=1 to compile for this machine only
(-march=native), and FASTNN_SANITIZE=1 for an AddressSanitizer + UBSan build used by the tests
(-O1 -g everywhere).
"""
import os
from concurrent.futures import ThreadPoolExecutor

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

COMMON_FLAGS = ["-fopenmp-simd", "-fno-math-errno", "-Wall", "-Wno-unused-function", "-Wno-psabi"]
KERNEL_FLAGS = ["-O3", "-g0"]  # csrc/*.c
BRIDGE_FLAGS = ["-O2", "-g0"]  # the C that Cython generates
SANITIZE_FLAGS = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-g", "-O1"]


def source_flags(source):
    """Compiler flags for one source file, placed after Python's own CFLAGS."""
    if os.environ.get("FASTNN_SANITIZE") == "1":
        return SANITIZE_FLAGS
    return KERNEL_FLAGS if os.path.normpath(source).startswith("csrc" + os.sep) else BRIDGE_FLAGS


def compile_rank(source):
    """Sort key putting the sources that take longest to compile first: the kernels."""
    return 0 if os.path.basename(source) in ("fnn_f32.c", "fnn_f64.c") else 1


class BuildExt(build_ext):
    """Compiles each extension's sources in parallel, each with the flags of its kind."""

    def build_extensions(self):
        if self.compiler.compiler_type != "unix":
            raise RuntimeError(f"fastnn's engine builds with GCC or Clang, not {self.compiler.compiler_type}")
        flags, link_flags = list(COMMON_FLAGS), []
        if os.environ.get("FASTNN_NATIVE") == "1":
            flags.append("-march=native")
        if os.environ.get("FASTNN_SANITIZE") == "1":
            link_flags.append("-fsanitize=address,undefined")
        for ext in self.extensions:
            ext.extra_compile_args = flags + ext.extra_compile_args
            ext.extra_link_args = link_flags + ext.extra_link_args
        super().build_extensions()

    def build_extension(self, ext):
        compile_serially = self.compiler.compile
        jobs = self.parallel if isinstance(self.parallel, int) and self.parallel > 1 else os.cpu_count() or 1

        def compile_in_parallel(sources, *args, extra_postargs=None, **kwargs):
            def compile_one(source):
                postargs = list(extra_postargs or []) + source_flags(source)
                return compile_serially([source], *args, extra_postargs=postargs, **kwargs)

            # the slowest first, so that they start at once; objects in the order of the sources
            with ThreadPoolExecutor(max_workers=min(jobs, len(sources))) as pool:
                futures = {source: pool.submit(compile_one, source) for source in sorted(sources, key=compile_rank)}
                return [obj for source in sources for obj in futures[source].result()]

        self.compiler.compile = compile_in_parallel
        try:
            super().build_extension(ext)
        finally:
            del self.compiler.compile  # back to the class's method


extensions = [
    Extension(
        "fastnn._core",
        sources=["src/fastnn/_core.pyx", "csrc/fnn.c", "csrc/fnn_f64.c", "csrc/fnn_f32.c"],
        include_dirs=["csrc"],  # the bridge uses no NumPy C API: NumPy is no build requirement
        libraries=["m"],
        depends=["csrc/fnn.h", "csrc/fnn_build.h", "csrc/fnn_simd.inc", "csrc/fnn_activate.inc", "csrc/fnn_pass.inc",
                 "csrc/fnn_sample.inc", "csrc/fnn_batch.inc", "csrc/fnn_optim.inc", "csrc/fnn_optim_batch.inc",
                 "src/fastnn/_core.pxd", "src/fastnn/_core_structs.pxi", "src/fastnn/_core_optim.pxi"],
    )
]

setup(
    ext_modules=cythonize(extensions, compiler_directives={"language_level": "3"}),
    cmdclass={"build_ext": BuildExt},
)
