#!/usr/bin/env bash
# The long fuzzing run: every property of tests/test_fuzz.py with many randomized examples
# (the default test run uses 50 fixed ones), then the size properties of tests/test_sizes.py at
# random (the default run's search is fixed). Each property takes a few minutes at the default.
#
#   bash tools/fuzz.sh                                   all properties, 30000 examples each
#   FASTNN_FUZZ_EXAMPLES=2000 bash tools/fuzz.sh -k csv  fewer examples, one property
#
# Failing examples are printed with a reproduction blob and kept in .hypothesis/ (hypothesis's
# example database), so the next fuzz.sh run tries them first.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export FASTNN_FUZZ_EXAMPLES="${FASTNN_FUZZ_EXAMPLES:-30000}"
cd "$ROOT"
echo "fuzz.sh: $FASTNN_FUZZ_EXAMPLES examples per property" >&2
"${PYTHON:-python}" -m pytest tests/test_fuzz.py -q --hypothesis-show-statistics --durations=0 "$@"
exec "${PYTHON:-python}" -m pytest tests/test_sizes.py -q --hypothesis-show-statistics
