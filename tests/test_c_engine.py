"""The C engine on its own: tests/c/test_fnn.c built with gcc and run plain, under AddressSanitizer
+ UndefinedBehaviorSanitizer, and under valgrind memcheck.

test_fnn.c checks the engine (csrc/) against a double-precision reference written in that file
and allocates every buffer with exactly the size csrc/fnn.h documents, so the sanitizer and
valgrind runs catch any read or write past a buffer, any use of uninitialised memory and any
leak. The same builds are available as ``make -C tests/c gates``.

Each test skips, saying why, where gcc, its sanitizer runtimes or valgrind are missing.
"""

import functools
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CSRC = ROOT / "csrc"
C_TEST = ROOT / "tests" / "c" / "test_fnn.c"
SOURCES = [str(C_TEST)] + sorted(str(path) for path in CSRC.glob("*.c"))
GCC = shutil.which("gcc")
VALGRIND = shutil.which("valgrind")
TIMEOUT = 600  # seconds; the valgrind run takes a few seconds on an idle machine

# setup.py's flags for the extension (no -ffast-math), plus debug information for the reports.
BASE_FLAGS = ["-std=c11", "-g", "-Wall", "-Wextra", "-Wno-psabi", "-fopenmp-simd", "-fno-math-errno", f"-I{CSRC}"]
SANITIZE_FLAGS = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"]
VALGRIND_ARGS = ["--error-exitcode=1", "--leak-check=full", "--errors-for-leak-kinds=definite", "--quiet"]
ASAN_OPTIONS = "halt_on_error=1:detect_leaks=1:abort_on_error=0"
UBSAN_OPTIONS = "halt_on_error=1:print_stacktrace=1"

pytestmark = pytest.mark.skipif(GCC is None, reason="gcc is not installed; the C engine tests build with it")


def clean_env(**extra):
    """The environment without sanitizer settings inherited from a sanitized pytest run.

    tools/sanitize.sh preloads libasan into the Python process; gcc, valgrind and the test
    binaries must not inherit that (valgrind and ASan cannot share a process).
    """
    env = {k: v for k, v in os.environ.items()
           if k not in ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")}
    env.update(extra)
    return env


def run(cmd, **extra_env):
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=TIMEOUT,
                          env=clean_env(**extra_env))


@functools.lru_cache(maxsize=None)
def gcc_links(*flags):
    """Whether gcc compiles and links a trivial program with these flags (e.g. sanitizer runtimes)."""
    probe = subprocess.run([GCC, "-x", "c", "-", "-o", os.devnull, *flags], input="int main(void){return 0;}\n",
                           capture_output=True, text=True, env=clean_env(), timeout=120)
    return probe.returncode == 0


# name -> compile flags: as setup.py builds the extension, and baseline x86-64 code
BUILDS = {
    "shipped": ["-O3"],
    "baseline": ["-O2", "-DFNN_NO_DISPATCH"],
    # -O0: nothing optimised away before the sanitizers see it (and a quicker build)
    "sanitized": ["-O0", *SANITIZE_FLAGS],
}


@pytest.fixture(scope="module")
def binaries(tmp_path_factory):
    """``binaries(name) -> path`` of test_fnn built as BUILDS[name].

    The builds (the engine takes gcc several seconds per flavour) start together on first use.
    """
    folder = tmp_path_factory.mktemp("c_engine")
    names = [name for name in BUILDS if name != "sanitized" or gcc_links(*SANITIZE_FLAGS)]
    jobs = {}
    for name in names:
        exe = folder / f"test_fnn_{name}"
        cmd = [GCC, *BASE_FLAGS, *BUILDS[name], *SOURCES, "-lm", "-o", str(exe)]
        process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env())
        jobs[name] = (exe, process)

    def get(name):
        exe, process = jobs[name]
        _, stderr = process.communicate(timeout=TIMEOUT)
        if process.returncode != 0:
            pytest.fail(f"building the C test ({name}) failed:\n{stderr}")
        return exe

    yield get
    for _, process in jobs.values():
        if process.poll() is None:
            process.kill()
        process.communicate()


def check_passed(result, what):
    report = f"{what} exited with {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    assert result.returncode == 0, report
    assert "checks, 0 failed" in result.stdout, report


@pytest.mark.parametrize("name", ["shipped", "baseline"])
def test_engine_matches_the_c_reference(binaries, name):
    check_passed(run([binaries(name)]), f"test_fnn ({name} build)")


def test_engine_under_address_and_undefined_behaviour_sanitizers(binaries):
    if not gcc_links(*SANITIZE_FLAGS):
        pytest.skip("gcc cannot link -fsanitize=address,undefined here (libasan/libubsan missing)")
    exe = binaries("sanitized")
    result = run([exe], ASAN_OPTIONS=ASAN_OPTIONS, UBSAN_OPTIONS=UBSAN_OPTIONS)
    if "LeakSanitizer has encountered a fatal error" in result.stderr:
        # LeakSanitizer cannot run under ptrace (some containers); valgrind still checks leaks
        result = run([exe], ASAN_OPTIONS=ASAN_OPTIONS.replace("detect_leaks=1", "detect_leaks=0"),
                     UBSAN_OPTIONS=UBSAN_OPTIONS)
    check_passed(result, "test_fnn (ASan + UBSan)")
    assert "runtime error" not in result.stderr, result.stderr
    assert "Sanitizer" not in result.stderr, result.stderr


@pytest.mark.skipif(VALGRIND is None, reason="valgrind is not installed (apt-get install valgrind)")
def test_engine_under_valgrind_memcheck(binaries):
    result = run([VALGRIND, *VALGRIND_ARGS, binaries("shipped")])
    check_passed(result, "test_fnn under valgrind memcheck")
