#!/bin/sh
# bench.sh - make bench: the course's reference code against Python's
# multiprocessing, measured side by side in one run.
#
# Each row runs the Python program, the C reference and (where there is
# one) the OS limit, one after the other, REPS times over, so that a noisy
# moment hits all of them alike.  Each run prints a rate (operations per
# second); the table gives medians and the spread (min-max), as rates or,
# where the unit is a time (ns, µs), as the time one operation takes.  The
# ratio and the "C at" percentage compare rates: 3.0x means C does the work
# three times as fast.  Python gets fewer operations than C where it is
# much slower, so that each run lasts about a second.
#
# The speedup section times a CPU-bound map with 1 to 4 workers, all
# series alternating, and writes speedup.tsv and, with gnuplot, speedup.svg.
# It measures lesson 13's capstone (bench_13: processes and threads);
# beside them, the same work split among K processes that never say a word
# to each other: the speedup that the machine itself allows (virtual cores
# may share a core).
#
# The rows (what each measures, with which programs, against which target)
# are data, in tests/bench/rows.tsv, which selftest.sh reads too.
#
# QUICK=1 makes it a smoke test (make test runs it): 20 times fewer
# operations, once each.  PYTHON=0 leaves Python out.
set -u
ROWS=tests/bench/rows.tsv
BUILD=${BUILD:-build}
OUT=$BUILD/bench
RUNS=$OUT/runs # each run's rate, one file per series
BIN=$BUILD/bin/bench
REPS=${REPS:-7}
SCALE=1
if [ "${QUICK:-}" = 1 ]; then
    REPS=1
    SCALE=20
fi
CORES=$(nproc)
rm -rf "$RUNS" "$OUT/speedup.svg"
mkdir -p "$RUNS"
PY=$(command -v python3 || true)
[ -n "$PY" ] && ! "$PY" -c 'import multiprocessing' 2>/dev/null && PY=""
# PYTHON=0: the C side alone (make test's smoke run: Python's starts and
# pools were two thirds of its time, and make test runs bench.py apart).
NOPY="(no python3)"
[ "${PYTHON:-}" = 0 ] && PY="" NOPY="(PYTHON=0)"

# run FILE CMD...: append CMD's rate to FILE; a failure is remembered.
run() {
    f=$1
    shift
    "$@" >>"$f" || { echo "bench: $* failed" >&2 && echo "$*" >>"$RUNS/failed"; }
}

# stats FILE UNIT: the median, min and max of FILE's rates, in the unit's
# terms: a time per operation for "ns ..." and "µs ...", millions per
# second for "million ...", the rate itself otherwise.
stats() {
    case $2 in
    "ns "*) conv=t f=1e9 ;;
    "µs "*) conv=t f=1e6 ;;
    "million "*) conv=r f=1e-6 ;;
    *) conv=r f=1 ;;
    esac
    awk -v conv=$conv -v f=$f '
        { v[NR] = conv == "t" ? f / $1 : f * $1 }
        END {
            if (NR == 0) { print "- - -"; exit }
            for (i = 2; i <= NR; i++)
                for (j = i; j > 1 && v[j - 1] > v[j]; j--) {
                    t = v[j]; v[j] = v[j - 1]; v[j - 1] = t
                }
            print v[int((NR + 1) / 2)], v[1], v[NR]
        }' "$1"
}

# num X: a number with three significant digits, or a whole number.
num() {
    awk -v x="$1" 'BEGIN {
        if (x == "-") print "-"
        else if (x >= 100) printf "%.0f\n", x
        else printf "%.3g\n", x
    }'
}

# cell FILE UNIT: "median (min-max)", in the unit's terms.
cell() {
    # shellcheck disable=SC2046 # its words are the fields
    set -- $(stats "$1" "$2")
    echo "$(num "$1") ($(num "$2")-$(num "$3"))"
}

# rate FILE: the median rate, as measured.
rate() { stats "$1" "per"; }

# pct A B: A as a percentage of B; ratio A B: A / B as "3.0x".
pct() {
    awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f%%\n", (b > 0 ? 100 * a / b : 0) }'
}
ratio() { echo "$(num "$(awk -v a="$1" -v b="$2" 'BEGIN { print (b > 0 ? a / b : 0) }')")x"; }

# target NAME SPEC MEDIAN: "≤ 10: met" for SPEC "<=10"; records the verdict.
target() {
    [ "$2" = - ] && echo "-" && return
    op=$(echo "$2" | cut -c1-2) goal=$(echo "$2" | cut -c3-)
    met=$(awk -v m="$3" -v g="$goal" -v op="$op" 'BEGIN {
        ok = m != "-" && (op == "<=" ? m <= g : m >= g)
        print ok ? "met" : "missed" }')
    sign=$([ "$op" = "<=" ] && echo "≤" || echo "≥")
    echo "$met $1 ($(num "$3") against $sign $goal)" >>"$RUNS/targets"
    echo "$sign $goal: $met"
}

# row NAME UNIT TARGET PY_N C_N PYOP CBIN COP [LIMNAME LIMBIN LIMOP]
row() {
    name=$1 unit=$2 spec=$3 pyn=$(($4 / SCALE)) cn=$(($5 / SCALE))
    pyop=$6 cbin=$7 cop=$8 limname=${9:-} limbin=${10:-} limop=${11:-}
    : >"$RUNS/py" && : >"$RUNS/c" && : >"$RUNS/lim"
    i=0
    while [ $i -lt "$REPS" ]; do
        [ -n "$PY" ] && run "$RUNS/py" "$PY" tests/bench/bench.py "$pyop" "$pyn"
        run "$RUNS/c" "$BIN/$cbin" "$cop" "$cn"
        [ -n "$limbin" ] && run "$RUNS/lim" "$BIN/$limbin" "$limop" "$cn"
        i=$((i + 1))
    done
    c=$(rate "$RUNS/c" | cut -d' ' -f1)
    pcol=$NOPY rcol="-" lcol="-"
    if [ -n "$PY" ]; then
        pcol=$(cell "$RUNS/py" "$unit")
        rcol=$(ratio "$c" "$(rate "$RUNS/py" | cut -d' ' -f1)")
    fi
    if [ -n "$limbin" ]; then
        l=$(rate "$RUNS/lim" | cut -d' ' -f1)
        lcol="$limname: $(cell "$RUNS/lim" "$unit"), C at $(pct "$c" "$l")"
    fi
    tcol=$(target "$name" "$spec" "$(stats "$RUNS/c" "$unit" | cut -d' ' -f1)")
    printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$name" "$unit" "$pcol" \
        "$(cell "$RUNS/c" "$unit")" "$rcol" "$lcol" "$tcol"
}

# rows KIND: rows.tsv's rows of that kind ("table" or "speedup", whose
# operations end in K), one a line.  ("-" stands for an empty field: read
# splits on tabs, and would join two that enclose an empty one.)
rows() {
    awk -F '\t' -v kind="$1" '/^#/ || NF == 0 { next }
        (kind == "speedup") == ($9 ~ /K$/)' "$ROWS"
}

# table_rows: a row() for each row of the table but the speedup's.
table_rows() {
    tab=$(printf '\t')
    rows table | while IFS=$tab read -r l op unit spec pyn cn pyop cbin cop \
        limname limbin limop; do
        [ "$limbin" = - ] && limname="" limbin="" limop=""
        row "$op (lesson $l)" "$unit" "$spec" "$pyn" "$cn" "$pyop" \
            "$cbin" "$cop" "$limname" "$limbin" "$limop" </dev/null
    done
}

# ------------------------------------------------------------- speedup

# The speedup row of rows.tsv: lesson 13's capstone, processes and threads
# (thr_wK, bench.sh's own), and the same blocks over K processes with no
# pool (bench_13 raw_wK).  Python maps the same kernel with Pool(K).
IFS=$(printf '\t') read -r _ SP_NAME SP_UNIT SP_TARGET SP_PY_N SP_C_N SP_PY_OP \
    SP_BIN SP_C_OP SP_LIM_NAME SP_LIM_BIN SP_LIM_OP <<EOF
$(rows speedup | head -1)
EOF
THREADS=1
SP_PY_N=$((SP_PY_N / SCALE)) SP_C_N=$((SP_C_N / SCALE))
KS="1 2 3 4"

speedup_runs() {
    for k in $KS; do
        for s in py c t raw; do : >"$RUNS/sp_${s}_$k"; done
    done
    i=0
    while [ $i -lt "$REPS" ]; do
        for k in $KS; do
            [ -n "$PY" ] &&
                run "$RUNS/sp_py_$k" "$PY" tests/bench/bench.py "${SP_PY_OP%K}$k" \
                    "$SP_PY_N"
            run "$RUNS/sp_c_$k" "$BIN/$SP_BIN" "${SP_C_OP%K}$k" "$SP_C_N"
            [ -n "$THREADS" ] &&
                run "$RUNS/sp_t_$k" "$BIN/$SP_BIN" "thr_w$k" "$SP_C_N"
            run "$RUNS/sp_raw_$k" "$BIN/$SP_LIM_BIN" "${SP_LIM_OP%K}$k" "$SP_C_N"
        done
        i=$((i + 1))
    done
}

# speedup SERIES K: "median lo hi": median rate(K) / median rate(1), and
# the least and greatest of the runs' own rate(K) / rate(1); "- - -" if
# the series was not run.
speedup() {
    if [ ! -s "$RUNS/sp_$1_1" ]; then
        echo "- - -"
        return
    fi
    m1=$(rate "$RUNS/sp_$1_1" | cut -d' ' -f1)
    mk=$(rate "$RUNS/sp_$1_$2" | cut -d' ' -f1)
    paste "$RUNS/sp_$1_$2" "$RUNS/sp_$1_1" | awk -v mk="$mk" -v m1="$m1" '
        $2 > 0 {
            r = $1 / $2
            if (n++ == 0 || r < lo) lo = r
            if (n == 1 || r > hi) hi = r
        }
        END { printf "%.2f %.2f %.2f\n", (m1 > 0 ? mk / m1 : 0), lo, hi }'
}

spcell() {
    # shellcheck disable=SC2046 # its words are the fields
    set -- $(speedup "$1" "$2")
    [ "$1" = - ] && echo "-" || echo "$1 ($2-$3)"
}

# The table's row for the CPU-bound map: the speedup on all the cores.
# (No C/Python ratio: Python counts fewer blocks, and later blocks cost
# more, so their rates do not compare; each speedup compares a series
# with itself.)
speedup_row() {
    k=$CORES
    [ "$k" -gt 4 ] && k=4
    c=$(speedup c "$k" | cut -d' ' -f1) l=$(speedup raw "$k" | cut -d' ' -f1)
    pcol=$([ -n "$PY" ] && spcell py "$k" || echo "$NOPY")
    printf '| %s | %s | %s | %s | - | %s | %s |\n' \
        "$SP_NAME, $k workers on $CORES cores ($SP_BIN)" \
        "$SP_UNIT" "$pcol" "$(spcell c "$k")" \
        "$(echo "$SP_LIM_NAME" | sed "s/^K /$k /"): $(spcell raw "$k"), C at $(pct "$c" "$l")" \
        "$(target "$SP_NAME" "$SP_TARGET" "$c")"
}

# speedup.tsv: one line per worker count; "-" where a series is missing.
speedup_tsv() {
    printf '# workers\tideal\tc_proc\tlo\thi\tc_thr\tlo\thi\tpython\tlo\thi'
    printf '\tno_pool\tlo\thi\n'
    for k in $KS; do
        ideal=$((k < CORES ? k : CORES))
        printf '%s\t%s' "$k" "$ideal"
        for s in c t py raw; do printf '\t%s' "$(speedup $s "$k" | tr ' ' '\t')"; done
        echo
    done
}

speedup_table() {
    echo "| workers | ideal on $CORES cores | K processes, no pool |" \
        "C processes | C threads | Python |"
    echo "|---|---|---|---|---|---|"
    for k in $KS; do
        printf '| %s | %s | %s | %s | %s | %s |\n' "$k" \
            "$((k < CORES ? k : CORES))" "$(spcell raw "$k")" \
            "$(spcell c "$k")" "$(spcell t "$k")" "$(spcell py "$k")"
    done
}

# Colours from Okabe and Ito's palette, told apart by colour-blind readers.
speedup_plot() {
    e="with yerrorlines lw 2"
    lines="'$OUT/speedup.tsv' using 1:2 with lines dt 2 lc rgb 'gray40'"
    lines="$lines title 'ideal on $CORES cores'"
    lines="$lines, '' using 1:12:13:14 with yerrorlines dt 3 lc rgb 'gray20'"
    lines="$lines title 'K processes, no pool'"
    lines="$lines, '' using 1:3:4:5 $e pt 7 lc rgb '#0072B2' title 'C processes ($SP_BIN)'"
    [ -n "$THREADS" ] &&
        lines="$lines, '' using 1:6:7:8 $e pt 5 lc rgb '#D55E00' title 'C threads ($SP_BIN)'"
    [ -n "$PY" ] &&
        lines="$lines, '' using 1:9:10:11 $e pt 9 lc rgb '#009E73' title 'Python Pool(K).map'"
    gnuplot <<EOF
set terminal svg size 640,420 noenhanced font 'sans,12' background rgb 'white'
set output '$OUT/speedup.svg'
set title 'CPU-bound map: speedup against workers, $CORES cores (median, min-max)'
set xlabel 'workers'
set ylabel 'speedup over 1 worker'
set xrange [0.8:4.2]
set xtics 1
set yrange [0:*]
set offsets 0, 0, 0.3, 0
set grid ytics
set key bottom right
set datafile missing '-'
plot $lines
EOF
}

# ------------------------------------------------- lesson 13's others

# The figures lesson 13 prints beyond the speedup table, from the same
# run: an I/O-bound fetch (40 pages from a local server that waits 10 ms
# before each answer) over 1, 2 and 8 workers; the static split on 2
# processes; and what starting and reaping k workers costs (a map of k
# items whose kernel returns at once), processes and threads.
EXTRAS="io_w1 io_w2 io_w8 static_w2 pstart_w1 pstart_w2 pstart_w4 tstart_w1 tstart_w2 tstart_w4"
extras_runs() {
    for op in $EXTRAS; do : >"$RUNS/x_$op"; done
    i=0
    while [ $i -lt "$REPS" ]; do
        for op in $EXTRAS; do
            case $op in
            io_*) n=$((1000 / SCALE)) ;; # 40 URLs (bench_13 fetches N / 25)
            static_*) n=$SP_C_N ;;
            *) n=$((2000 / SCALE)) ;;
            esac
            run "$RUNS/x_$op" "$BIN/$SP_BIN" "$op" "$((n > 0 ? n : 1))"
        done
        i=$((i + 1))
    done
}

# xrate OP: the median rate of OP; xspeed OP BASE: its median over BASE's.
xrate() { rate "$RUNS/x_$1" | cut -d' ' -f1; }
xspeed() { awk -v a="$(xrate "$1")" -v b="$2" 'BEGIN { printf "%.2f\n", (b > 0 ? a / b : 0) }'; }

extras_tables() {
    echo "An I/O-bound fetch, 40 pages from a server on 127.0.0.1 that waits" \
        "10 ms before each answer (bench_13 io_wK):"
    echo
    echo "| workers | pages per second | speedup over 1 worker |"
    echo "|---|---|---|"
    for k in 1 2 8; do
        echo "| $k | $(cell "$RUNS/x_io_w$k" "per") | $(xspeed "io_w$k" "$(xrate io_w1)") |"
    done
    echo
    echo "The static split, 2 processes with one chunk each (bench_13" \
        "static_w2): $(cell "$RUNS/x_static_w2" "per") blocks per second," \
        "$(xspeed static_w2 "$(rate "$RUNS/sp_c_1" | cut -d' ' -f1)")x the" \
        "rate of mp_par_map with 1 process in this run."
    echo
    echo "Starting and reaping k workers (bench_13 pstart_wK and tstart_wK," \
        "a map of k items whose kernel returns at once):"
    echo
    echo "| workers | processes (mp_par_map), µs per map | threads (mp_thread_map), µs per map |"
    echo "|---|---|---|"
    for k in 1 2 4; do
        echo "| $k | $(cell "$RUNS/x_pstart_w$k" "µs per map") | $(cell "$RUNS/x_tstart_w$k" "µs per map") |"
    done
}

# --------------------------------------------------------------- the run

# The load average, and the CPU time so far: "steal total" in ticks, the
# steal being what the hypervisor gave other guests while we were ready.
load() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?"; }
ticks() {
    awk '$1 == "cpu" { print $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' \
        /proc/stat 2>/dev/null
}
stolen() {
    echo "$1 $2" | awk 'NF == 4 && $4 > $2 {
        printf "; %.0f%% of the CPU time stolen by the hypervisor", 100 * ($3 - $1) / ($4 - $2) }'
}
start=$(date +%s) load0=$(load) ticks0=$(ticks)
{
    echo "# make bench: C reference code against Python multiprocessing"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $CORES cores, $REPS runs of each," \
        "alternating; load average $load0 at the start.${PY:+ $("$PY" --version 2>&1).}"
    [ "${QUICK:-}" = 1 ] &&
        echo "QUICK=1: a smoke test with 20 times fewer operations, not a measurement."
    [ -z "$PY" ] && echo "python3 with multiprocessing was not found: C figures only."
    echo
    echo "Medians with (min-max).  Rates: higher is better; times (ns, µs):" \
        "lower is better.  C/Python and \"C at\" compare speeds: 3.0x, C is" \
        "three times as fast."
    echo
    echo "| operation | unit | Python | C | C/Python | OS limit | target |"
    echo "|---|---|---|---|---|---|---|"
    table_rows
    speedup_runs
    speedup_row
    echo
    if [ -s "$RUNS/targets" ]; then
        echo "Targets for the C reference (medians, $CORES cores):" \
            "$(grep -c '^met' "$RUNS/targets") of $(wc -l <"$RUNS/targets") met." \
            "$(grep '^missed' "$RUNS/targets" | sed 's/^missed //' | paste -sd';' - |
                sed 's/;/; /g; s/^./Missed: &/; s/$/./')"
        echo
    fi
    echo "## Speedup against workers"
    echo
    echo "A CPU-bound map with 1 to 4 workers on $CORES cores, chunks of one" \
        "item: lesson 13's kernel, counting the primes in blocks of 1000" \
        "numbers, blocks 0 to $((SP_C_N - 1)) in C and 0 to $((SP_PY_N - 1))" \
        "in Python (trial division in Python is slow).  Speedup: median" \
        "rate(K) / median rate(1), with the min-max of each run's own ratio." \
        "K processes, no pool: the C blocks dealt out among K forked" \
        "processes that exchange no message, the speedup the machine allows."
    echo
    speedup_table
    echo
    speedup_tsv >"$OUT/speedup.tsv"
    if ! command -v gnuplot >/dev/null; then
        echo "gnuplot is not installed (make deps installs it): no plot."
    elif speedup_plot; then
        echo "![Speedup against workers](speedup.svg)"
    else
        echo "gnuplot failed: no plot."
    fi
    echo
    echo "## Lesson 13's other figures"
    echo
    extras_runs
    extras_tables
    echo
    echo "Took $(($(date +%s) - start)) s; load average $(load) at the end$(stolen \
        "$ticks0" "$(ticks)")."
} | tee "$OUT/results.md"
if [ -s "$RUNS/failed" ]; then
    echo "make bench: some runs failed:" >&2
    cat "$RUNS/failed" >&2
    exit 1
fi
