#!/usr/bin/env bash
# Run pytest against an AddressSanitizer + UndefinedBehaviorSanitizer build of fastnn's extension.
#
#   bash tools/sanitize.sh                          the whole test suite
#   bash tools/sanitize.sh tests/test_network.py    a selection (any pytest arguments; CI runs a short one)
#
# The normal in-place build is left alone: the working tree (tracked and untracked, not ignored
# files) is copied to a temporary directory, built there with FASTNN_SANITIZE=1 (setup.py then
# compiles with -fsanitize=address,undefined), and pytest runs from that copy with PYTHONPATH
# pointing at it. Python itself is not instrumented, so the ASan runtime is preloaded; Python's
# own allocator is bypassed (PYTHONMALLOC=malloc) so that ASan sees every allocation. The first
# ASan or UBSan report stops the run with a non-zero status.
#
# Environment: PYTHON (default: python), FASTNN_SANITIZE_DIR (a folder to build in and keep, so
# that later runs rebuild only what changed; default: a temporary folder removed afterwards).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python}"

if ! command -v gcc >/dev/null 2>&1; then
    echo "sanitize.sh: gcc is needed to build the sanitized extension" >&2
    exit 2
fi
LIBASAN="$(gcc -print-file-name=libasan.so)"
if [[ ! -e "$LIBASAN" ]]; then
    echo "sanitize.sh: gcc has no AddressSanitizer runtime (libasan.so); install it (Debian: apt-get install libasan8)" >&2
    exit 2
fi

if [[ -n "${FASTNN_SANITIZE_DIR:-}" ]]; then
    WORK="$(mkdir -p "$FASTNN_SANITIZE_DIR" && cd "$FASTNN_SANITIZE_DIR" && pwd)"
else
    WORK="$(mktemp -d "${TMPDIR:-/tmp}/fastnn-sanitize.XXXXXX")"
    trap 'rm -rf "$WORK"' EXIT
fi
COPY="$WORK/main"
mkdir -p "$COPY"

# 1. copy the working tree (timestamps kept, so a kept build folder rebuilds only what changed)
if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git -C "$ROOT" ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' file; do
            [[ -f "$ROOT/$file" ]] && printf '%s\0' "$file"
        done |
        tar -C "$ROOT" --null -T - -cf - | tar -C "$COPY" -xf -
else
    tar -C "$ROOT" --exclude=build --exclude='*.so' --exclude='.*' -cf - . | tar -C "$COPY" -xf -
fi
# the tests find the OCR data at ../shared/data/ocr from the project root
if [[ -d "$ROOT/../shared" && ! -e "$WORK/shared" ]]; then
    ln -s "$(cd "$ROOT/../shared" && pwd)" "$WORK/shared"
fi

# 2. build the extension there
echo "sanitize.sh: building the ASan + UBSan extension in $COPY" >&2
(cd "$COPY" && FASTNN_SANITIZE=1 "$PYTHON" setup.py -q build_ext --inplace >"$WORK/build.log" 2>&1) || {
    cat "$WORK/build.log" >&2
    echo "sanitize.sh: the sanitized build failed (log above)" >&2
    exit 2
}

# 3. run pytest from the copy; paths given inside the project refer to the copy
args=()
for arg in "$@"; do
    if [[ "$arg" == "$ROOT/"* ]]; then
        arg="$COPY/${arg#"$ROOT/"}"
    fi
    args+=("$arg")
done

export PYTHONPATH="$COPY/src${PYTHONPATH:+:$PYTHONPATH}"
export LD_PRELOAD="$LIBASAN${LD_PRELOAD:+:$LD_PRELOAD}"
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export PYTHONMALLOC="${PYTHONMALLOC:-malloc}"

cd "$COPY"
"$PYTHON" - "$COPY" <<'PY'
import sys
import fastnn._core as core
if not core.__file__.startswith(sys.argv[1]):
    sys.exit(f"sanitize.sh: imported {core.__file__}, not the sanitized build in {sys.argv[1]}")
PY
echo "sanitize.sh: pytest ${args[*]:-tests} with $LIBASAN preloaded" >&2
exec "$PYTHON" -m pytest -p no:cacheprovider "${args[@]:-tests}"
