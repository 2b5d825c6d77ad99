#!/bin/sh
# bench.sh - make bench: the course's reference code against Python's
# multiprocessing, measured side by side in one run.
#
# Each row runs the Python program, the C reference and (where there is
# one) the OS limit, one after the other, REPS times over, so that a noisy
# moment hits all of them alike.  Each run prints a rate (operations per
# second); the table gives medians and the spread (min-max).  QUICK=1 makes
# it a smoke test: fewer operations and repetitions.
set -u
BUILD=${BUILD:-build}
OUT=$BUILD/bench
BIN=$BUILD/bin/bench
REPS=${REPS:-7}
SCALE=1
if [ "${QUICK:-}" = 1 ]; then
    REPS=3
    SCALE=20
fi
mkdir -p "$OUT"
PY=$(command -v python3 || true)
[ -n "$PY" ] && ! "$PY" -c 'import multiprocessing' 2>/dev/null && PY=""

# median FILE: the middle line of a file of numbers; spread FILE: min-max.
median() { sort -n "$1" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
spread() { sort -n "$1" | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo "-" hi }'; }

# row NAME UNIT N PYOP CBIN COP [LIMITBIN LIMITOP]
row() {
    name=$1 unit=$2 n=$(($3 / SCALE)) pyop=$4 cbin=$5 cop=$6
    limbin=${7:-} limop=${8:-}
    : >"$OUT/py" && : >"$OUT/c" && : >"$OUT/lim"
    i=0
    while [ $i -lt "$REPS" ]; do
        [ -n "$PY" ] && "$PY" tests/bench/bench.py "$pyop" "$n" >>"$OUT/py"
        "$BIN/$cbin" "$cop" "$n" >>"$OUT/c"
        [ -n "$limbin" ] && "$BIN/$limbin" "$limop" "$n" >>"$OUT/lim"
        i=$((i + 1))
    done
    c=$(median "$OUT/c")
    if [ -n "$PY" ]; then
        p=$(median "$OUT/py")
        pcol="$p ($(spread "$OUT/py"))"
        ratio=$(awk -v c="$c" -v p="$p" 'BEGIN { printf "%.1fx", c / p }')
    else
        pcol="(no python3)"
        ratio="-"
    fi
    if [ -n "$limbin" ]; then
        l=$(median "$OUT/lim")
        lcol="$l ($(spread "$OUT/lim")), C at $(awk -v c="$c" -v l="$l" 'BEGIN { printf "%.0f%%", 100 * c / l }')"
    else
        lcol="-"
    fi
    printf '| %s | %s | %s | %s (%s) | %s | %s |\n' "$name" "$unit" "$pcol" "$c" \
        "$(spread "$OUT/c")" "$ratio" "$lcol"
}

{
    echo "# make bench: C reference code against Python multiprocessing"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $REPS runs of each," \
        "alternating; medians with (min-max). Higher is better."
    [ -z "$PY" ] && echo "python3 with multiprocessing was not found: C figures only."
    echo
    echo "| operation | unit | Python | C | C/Python | OS limit |"
    echo "|---|---|---|---|---|---|"
    row "process start + join (lesson 02)" "per second" 2000 start_join \
        bench_02 start_join bench_01 raw_fork
    row "pipe, 1 MiB messages (lesson 04)" "MiB/s" 2000 pipe_stream \
        bench_04 pipe_stream bench_04 raw_pipe
} | tee "$OUT/results.md"
