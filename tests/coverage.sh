#!/bin/sh
# coverage.sh - line coverage of the solutions (floor 90%) and the grader.
#
# `make coverage` builds each lesson's tests with its reference solution
# and --coverage (children that _exit still dump their counters: see
# gcov_exit.c), runs them, grades the first lesson's solution (the others
# missing) with a coverage build of the grader, and reports with gcovr
# into build/coverage/.  GRADER_COV=0 (make test, for time) leaves the
# grader's report out: the floor is the solutions'.
set -u
COV=${COV:-build/cov}
BUILD=${BUILD:-build}
FLOOR=${FLOOR:-90}
OUT=$BUILD/coverage
find "$COV" -name '*.gcda' -delete 2>/dev/null
rm -rf "$COV/sub"
mkdir -p "$OUT" "$COV/sub"
# gcovr reads only $COV's data (by default it searches the whole tree,
# build/ too, and merges stale counters), and keeps its scratch files in a
# private directory, so that two runs at once cannot trip over each other.
TMPDIR=$(mktemp -d) || exit 1
export TMPDIR
trap 'rm -rf "$TMPDIR"' EXIT
# Only the lessons measured now count: a lesson built earlier but not run
# (make test L=NN) would show as untested.
# shellcheck disable=SC2086 # echo joins the lessons with one space
only=$(echo $LESSONS | sed 's/ /|/g')
for l in $LESSONS; do
    "$COV/$l/check" >"$COV/$l/log" 2>&1 || { cat "$COV/$l/log"; exit 1; }
    [ "${GRADER_COV:-1}" = 0 ] && continue # (make test: the solutions only)
    # The grader's coverage needs a lesson graded, not all of them (each
    # is a solution's grading again); the others are missing, which is a
    # path of the grader too.
    [ "$l" = "${LESSONS%% *}" ] || continue
    mkdir -p "$COV/sub/lessons/$l"
    cp "solutions/$l/${l#*_}.c" "$COV/sub/lessons/$l/"
done
if [ "${GRADER_COV:-1}" != 0 ]; then
    "$COV/grader" --course . --submission "$COV/sub" --objdir "$BUILD/obj" \
        --out "$COV/grade" --no-sanitize >"$COV/grade.log" 2>&1 || { cat "$COV/grade.log"; exit 1; }
    gcovr -r . --gcov-ignore-parse-errors --object-directory "$COV" "$COV" --filter 'grader/' \
        --html-details "$OUT/grader.html" --print-summary >"$OUT/grader.txt"
    sed 's/^/grader: /' "$OUT/grader.txt"
fi
gcovr -r . --gcov-ignore-parse-errors --object-directory "$COV" "$COV" --filter "solutions/($only)/" \
    --html-details "$OUT/index.html" --print-summary \
    --fail-under-line "$FLOOR" >"$OUT/solutions.txt" 2>&1
status=$?
sed 's/^/solutions: /' "$OUT/solutions.txt"
exit $status
