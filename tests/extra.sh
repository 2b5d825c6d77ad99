#!/bin/sh
# extra.sh - make test-extra: the course's checks that make test leaves to
# CI for time (make test must end within five minutes on two cores; these
# took some 60 of its CPU-seconds there, about 30 s).  .ci/run runs both.
#   - make bench QUICK=1 runs and writes its table, every row, and its plot;
#   - bench.py runs each operation of tests/bench/rows.tsv;
#   - make docs-solutions builds the instructors' site, solutions in;
#   - what a new student meets first (tests/student_loop.sh), the course
#     built with clang without a warning among it.
# Prints "ok   ..." / "FAIL ..." lines and "N passed, M failed", as
# selftest.sh does; exits 1 if anything failed.
set -u
BUILD=${BUILD:-build}
T=$(mktemp -d /tmp/forklings-extra.XXXXXX) || exit 1
trap 'rm -rf "$T"' EXIT
python3=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null)
# ok and no (and their counts, sl_passed and sl_failed) are the student
# loop's, which this file runs too.
STUDENT_LOOP_SOURCED=1 SL_CLANG_GRADE=0 . tests/student_loop.sh

check() {
    name=$1
    shift
    if "$@" >"$T/log" 2>&1; then ok "$name"; else no "$name" "$(tail -20 "$T/log")"; fi
}

# Every row of tests/bench/rows.tsv is in the table, with a C figure; the
# speedup table has a line for 1 to 4 workers (beside the ideal, which is 1
# to 4 as well on 4 cores or more); gnuplot drew the plot.
bench_table() {
    r="$BUILD/bench/results.md"
    { make -s bench QUICK=1 PYTHON=0 BUILD="$BUILD" >"$T/bench.log" 2>&1 ||
        { tail -20 "$T/bench.log" && false; }; } &&
        grep -q '^| operation | unit | Python | C | C/Python | OS limit |' "$r" &&
        awk -F '\t' '!/^#/ && NF { print $2 }' tests/bench/rows.tsv >"$T/bench.ops" &&
        [ -s "$T/bench.ops" ] &&
        awk 'NR == FNR { op[$0] = 1; next }
            /^\| / && / \| [0-9][0-9.]* \(/ {
                for (o in op) if (index($0, "| " o) == 1) delete op[o] }
            END { for (o in op) { print "no row for " o; bad = 1 }; exit bad }' \
            "$T/bench.ops" "$r" &&
        [ "$(grep -c '^| [1-4] | [1-4] | ' "$r")" = 4 ] &&
        [ "$(grep -vc '^#' "$BUILD/bench/speedup.tsv")" = 4 ] &&
        grep -q '<svg' "$BUILD/bench/speedup.svg"
}
check "make bench QUICK=1 runs and writes its table, every row, and its plot" \
    bench_table

# The smoke run leaves Python out (its starts and pools were two thirds of
# the time): here bench.py runs each of its operations once, small, all in
# one Python (a start each cost 0.5 CPU-s).
bench_py() {
    ops=$(awk -F '\t' '!/^#/ && NF { sub(/K$/, "1", $7); printf "%s 20 ", $7 }' \
        tests/bench/rows.tsv)
    # shellcheck disable=SC2086 # (one word an operation or a count)
    r=$("$python3" tests/bench/bench.py $ops 2>&1)
    n=$(echo "$r" | grep -Ec '^[0-9][0-9.e+-]*$')
    [ "$n" = "$(($(echo "$ops" | wc -w) / 2))" ] || {
        echo "bench.py $ops:"
        echo "$r"
        return 1
    }
}
if [ -n "$python3" ]; then
    check "bench.py runs each operation of tests/bench/rows.tsv" bench_py
else
    no "bench.py runs" "python3 is not installed: run make deps"
fi

# The instructors' site: the docs with the solutions in.
if command -v doxygen >/dev/null; then
    check "docs-solutions puts the solutions in, for instructors" \
        sh -c "DOCS_DOT=NO make -s docs-solutions BUILD=$BUILD >/dev/null 2>&1 &&
            ls $BUILD/docs-solutions/html | grep -q '_8c_source.html'"
else
    no "docs-solutions" "doxygen is not installed: run make deps"
fi

# What a new student meets first (tests/student_loop.sh): the first
# report, tables, make progress's cache, make watch, make reset without a
# terminal, lesson 06's demo, compile_commands.json, and the course built
# with clang, for its warnings only (make test grades the solutions built
# with clang, as a user who is not root).
student_loop_checks

echo "$sl_passed passed, $sl_failed failed"
[ "$sl_failed" = 0 ]
