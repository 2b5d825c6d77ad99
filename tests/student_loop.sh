#!/bin/sh
# student_loop.sh - checks of what a new student meets first: make watch,
# the first failure's message, the report's length, tables, make reset
# without a terminal, make progress's cache, lesson 06's demo, clang, and
# the editors' compile_commands.json.
#
# Run alone:  BUILD=build sh tests/student_loop.sh            (every check)
#             sh tests/student_loop.sh --mutants DIR...   (Expect words only)
# or sourced by selftest.sh with STUDENT_LOOP_SOURCED=1, which then calls
# student_loop_expect DIR... and student_loop_checks with its own ok/no.
# Prints "ok   ..." / "FAIL ..." lines as selftest.sh does.
set -u

if ! command -v ok >/dev/null 2>&1; then
    sl_passed=0 sl_failed=0
    ok() {
        sl_passed=$((sl_passed + 1))
        echo "ok   $1"
    }
    no() {
        sl_failed=$((sl_failed + 1))
        echo "FAIL $1"
        [ -n "${2:-}" ] && printf '%s\n' "$2" | head -30 | sed 's/^/     /'
        return 0
    }
fi

# ------------------------------------------------ the first failure's words

# student_loop_expect DIR...: DIR holds a class run's per-mutant results
# (DIR/NN_topic--mutant/results.json, as grade-class writes them).  Each
# mutant's second line, "Expect: word1 word2", names words the first failed
# test of its lesson must say (case aside) for the student to see the
# actual mistake.
student_loop_expect() {
    # One awk for every mutant (a shell loop spawned ten processes each:
    # some 15 CPU-seconds for 400 mutants).  For each, the words of its
    # patch's Expect: line, and the output of the first failed test of
    # its lesson in results.json (one test a line); a line back per
    # mutant: ok, or the words missing and that output.
    for sl_dir in "$@"; do
        for sl_r in "$sl_dir"/*--*/results.json; do
            [ -f "$sl_r" ] && printf '%s\n' "$sl_r"
        done
    done | awk '
        {
            r = $0
            m = r; sub(/\/results\.json$/, "", m); sub(/.*\//, "", m)
            l = m; sub(/--.*/, "", l)
            name = substr(m, length(l) + 3)
            p = "tests/" l "/mutants/" name ".patch"
            words = ""
            for (n = 1; n <= 2 && (getline line < p) > 0; n++)
                if (n == 2 && line ~ /^Expect: /)
                    words = substr(line, 9)
            close(p)
            if (words == "")
                next
            out = ""
            head = "{\"name\": \"" l ": "
            while ((getline line < r) > 0) {
                t = line; sub(/^ */, "", t)
                if (out == "" && index(t, head) == 1 &&
                    index(t, "\"status\": \"failed\"")) {
                    out = line; sub(/.*"output": /, "", out)
                }
            }
            close(r)
            nw = split(words, w, " ")
            miss = ""
            for (i = 1; i <= nw; i++)
                if (!index(tolower(out), tolower(w[i])))
                    miss = miss " " w[i]
            printf "%s\t%s\t%s\t%s\t%s\n", (miss == "" ? "ok" : "no"), l, name,
                (miss == "" ? words : miss), substr(out, 1, 600)
        }' >"${TMPDIR:-/tmp}/expect.$$"
    while IFS='	' read -r sl_v sl_l sl_n sl_words sl_out; do
        if [ "$sl_v" = ok ]; then
            ok "$sl_l mutant $sl_n: the first failure says $sl_words"
        else
            no "$sl_l mutant $sl_n: the first failure says$sl_words" "$sl_out"
        fi
    done <"${TMPDIR:-/tmp}/expect.$$"
    rm -f "${TMPDIR:-/tmp}/expect.$$"
}

# ------------------------------------------------------------- the loop

sl_topic() { echo "${1#*_}"; }

# sl_tree DIR LESSON=stub|solution...: a submission with those files.
sl_tree() {
    sl_t=$1
    shift
    for sl_a in "$@"; do
        sl_l=${sl_a%%=*}
        mkdir -p "$sl_t/lessons/$sl_l"
        case ${sl_a#*=} in
        stub) cp "lessons/$sl_l/$(sl_topic "$sl_l").c" "$sl_t/lessons/$sl_l/" ;;
        *) cp "solutions/$sl_l/$(sl_topic "$sl_l").c" "$sl_t/lessons/$sl_l/" ;;
        esac
    done
    chmod -R a+rX "$sl_t" # the sandbox user reads it
}

sl_grader() {
    "$SL_GRADER" --course . --objdir "$BUILD/obj" "$@" $SL_NOSAN
}

# A first look: the report on a tree where nothing passes is short, and
# names the next step; --all gives every failure.
sl_first_contact() {
    sl_tree "$SL_T/fresh" 01_fork=stub 02_process=stub
    sl_grader --submission "$SL_T/fresh" --out "$SL_T/fresh-out" \
        >"$SL_T/fresh.txt" 2>&1
    sl_n=$(wc -l <"$SL_T/fresh.txt")
    if [ "$sl_n" -le 60 ] && grep -q '^== 01_fork' "$SL_T/fresh.txt" &&
        grep -q 'make check L=01' "$SL_T/fresh.txt" &&
        [ "$(grep -c '^ *read: ' "$SL_T/fresh.txt")" = 1 ]; then
        ok "a fresh tree's report: table, first failure, next step ($sl_n lines)"
    else
        no "a fresh tree's report: table, first failure, next step ($sl_n lines)" \
            "$(head -30 "$SL_T/fresh.txt")"
    fi
    sl_grader --submission "$SL_T/fresh" --out "$SL_T/fresh-all" \
        --all >"$SL_T/fresh-all.txt" 2>&1
    sl_f=$(grep -c '^ *FAIL ' "$SL_T/fresh-all.txt")
    # Lessons missing from the tree do not build: one line, no tests.
    sl_j=$(grep -E '"name": "0[12]_' "$SL_T/fresh-all/results.json" |
        grep -c '"status": "failed"')
    if [ "$sl_f" -gt 0 ] && [ "$sl_f" = "$sl_j" ] &&
        grep -q 'probably a consequence of test_' "$SL_T/fresh-all.txt"; then
        ok "--all lists every failure ($sl_f), as results.json does"
    else
        no "--all lists every failure ($sl_f), as results.json does ($sl_j)" \
            "$(head -20 "$SL_T/fresh-all.txt")"
    fi
}

# Columns line up whatever a lesson's name: the table's points, the list's
# README column.
sl_tables() {
    sl_cols=$("$SL_GRADER" --course . --list | awk '{ print index($0, " lessons/") }' | sort -u | wc -l)
    sl_pcols=$(grep -E '^  [0-9][0-9]_' "$SL_T/fresh.txt" |
        awk '{ print index($0, "/") }' | sort -u | wc -l)
    if [ "$sl_cols" = 1 ] && [ "$sl_pcols" = 1 ]; then
        ok "list and grade tables line up for every lesson name"
    else
        no "list and grade tables line up for every lesson name" \
            "$("$SL_GRADER" --course . --list; grep -E '^  [0-9]' "$SL_T/fresh.txt")"
    fi
}

# make progress reuses a lesson's results while its file is unchanged.
sl_cache() {
    sl_tree "$SL_T/cached" 01_fork=solution
    sl_c="$SL_T/cache"
    for sl_i in 1 2; do
        sl_grader --submission "$SL_T/cached" --out "$SL_T/c-out$sl_i" \
            --lesson 01 --test rejects --cache "$sl_c" --summary \
            >"$SL_T/c$sl_i.txt" 2>&1
        [ $sl_i = 1 ] && cp "$sl_c/01_fork" "$SL_T/c1.cache" 2>/dev/null
        [ $sl_i = 1 ] && sleep 1 # a rewrite would show in the mtime
    done
    echo '/* a change */' >>"$SL_T/cached/lessons/01_fork/fork.c"
    sl_grader --submission "$SL_T/cached" --out "$SL_T/c-out3" --lesson 01 \
        --test rejects --cache "$sl_c" --summary >"$SL_T/c3.txt" 2>&1
    if cmp -s "$SL_T/c1.txt" "$SL_T/c2.txt" && cmp -s "$SL_T/c1.txt" "$SL_T/c3.txt" &&
        grep -q 'lessons done' "$SL_T/c1.txt" &&
        ! cmp -s "$SL_T/c1.cache" "$sl_c/01_fork"; then
        ok "progress reuses results of an unchanged file, re-grades a changed one"
    else
        no "progress reuses results of an unchanged file, re-grades a changed one" \
            "$(cat "$SL_T/c1.txt" "$SL_T/c2.txt"; ls -l "$sl_c")"
    fi
}

# make watch: a save made during the first grade is graded, and the next
# lesson named is the next that does not pass (02 passes already).
sl_watch() {
    sl_tree "$SL_T/w" 01_fork=stub 02_process=solution 03_start_methods=solution
    timeout 300 "$SL_GRADER" --course . --objdir "$BUILD/obj" $SL_NOSAN \
        --submission "$SL_T/w" --out "$SL_T/w-out" --test rejects \
        --watch >"$SL_T/w.txt" 2>&1 &
    sl_pid=$!
    sleep 1 # the first grade has begun (lesson 01, then 02 and 03)
    cp "solutions/01_fork/fork.c" "$SL_T/w/lessons/01_fork/fork.c"
    sl_i=0
    while [ $sl_i -lt 240 ] && ! grep -q '^Waiting for a save of lessons/04' "$SL_T/w.txt"; do
        sleep 1
        sl_i=$((sl_i + 1))
    done
    sleep 1
    kill "$sl_pid" 2>/dev/null
    wait "$sl_pid" 2>/dev/null
    # The save came before 01's turn, during the first grade (then 01 is
    # graded again), or after it (then 01 is named, and graded once
    # saved); either way 01 passes and 04 is next, never 02 or 03.
    if grep -Eq '^01_fork passes|^  01_fork .* done' "$SL_T/w.txt" &&
        grep -q '^== 04_pipes' "$SL_T/w.txt" && ! grep -q '^== 0[23]_' "$SL_T/w.txt"; then
        ok "watch grades a save made early, names the next lesson"
    else
        no "watch grades a save made early, names the next lesson" \
            "$(tail -25 "$SL_T/w.txt")"
    fi
}

# make reset without a terminal says how to confirm.
sl_reset() {
    git clone -q . "$SL_T/clone" 2>/dev/null || { no "make reset: clone"; return; }
    cp tests/reset.sh "$SL_T/clone/tests/reset.sh"
    echo '/* mine */' >>"$SL_T/clone/lessons/01_fork/fork.c"
    (cd "$SL_T/clone" && setsid sh -c "make -s reset L=01 BUILD=$SL_T/cb" \
        </dev/null >"$SL_T/reset.txt" 2>&1)
    if grep -q 'YES=1' "$SL_T/reset.txt" &&
        grep -q 'mine' "$SL_T/clone/lessons/01_fork/fork.c"; then
        ok "make reset without a terminal keeps the file and says YES=1"
    else
        no "make reset without a terminal keeps the file and says YES=1" \
            "$(cat "$SL_T/reset.txt")"
    fi
}

# Lesson 06's demo loses updates without the lock in every run.
sl_demo06() {
    sl_bad=0
    for sl_i in 1 2 3 4 5; do
        timeout 60 "$BUILD/bin/solutions/06_locks/demo" >/dev/null 2>"$SL_T/d.txt"
        grep -Eq ' [1-9][0-9]* lost; [0-9]+ with it' "$SL_T/d.txt" || sl_bad=1
    done
    if [ $sl_bad = 0 ]; then ok "06 demo shows lost updates in 5 runs of 5"; else
        no "06 demo shows lost updates in 5 runs of 5" "$(cat "$SL_T/d.txt")"; fi
}

# Editors: every C file of lessons/ and tests/ has its flags, and clangd
# resolves every include of a test.
sl_compdb() {
    sl_db="$BUILD/compile_commands.json"
    make -s BUILD="$BUILD" "$sl_db" >/dev/null 2>&1
    sl_miss=""
    for sl_f in lessons/*/*.c solutions/*/*.c tests/*.c tests/[0-9]*/*.c; do
        grep -q "\"file\": \"$sl_f\"" "$sl_db" 2>/dev/null || sl_miss="$sl_miss $sl_f"
    done
    if command -v clangd >/dev/null; then
        timeout 120 clangd --compile-commands-dir="$BUILD" \
            --check=tests/01_fork/check_fork.c >"$SL_T/clangd.txt" 2>&1 ||
            sl_miss="$sl_miss (clangd)"
        grep -q 'E\[' "$SL_T/clangd.txt" && sl_miss="$sl_miss (clangd errors)"
    fi
    if [ -z "$sl_miss" ]; then
        ok "compile_commands.json covers every C file; clangd resolves includes"
    else
        no "compile_commands.json covers every C file" \
            "$sl_miss $(grep 'E\[' "$SL_T/clangd.txt" 2>/dev/null | head -5)"
    fi
}

# clang builds the course warning-free, and the reference solutions built
# with it score full marks.
sl_clang() {
    [ "${SL_CLANG:-1}" = 0 ] && return # make test: tests/extra.sh does it
    command -v clang >/dev/null || { no "clang is installed (make deps)"; return; }
    sl_cb="$BUILD-clang"
    # Only its warnings are wanted when the grading is done elsewhere: at
    # -O0, half the CPU (clang's warnings do not depend on the optimiser).
    sl_opt="-O2 -g"
    [ "${SL_CLANG_GRADE:-1}" = 0 ] && sl_opt=-O0
    if ! make -s BUILD="$sl_cb" CC=clang OPT="$sl_opt" grader >"$SL_T/clang.txt" 2>&1 ||
        grep -q 'warning:' "$SL_T/clang.txt"; then
        no "make CC=clang grader builds without a warning" "$(tail -20 "$SL_T/clang.txt")"
        return
    fi
    # make test grades the solutions with clang as a user who is not root
    # (SL_CLANG_GRADE=0 here): one grading for both.
    [ "${SL_CLANG_GRADE:-1}" = 0 ] && {
        ok "make CC=clang grader builds without a warning"
        return
    }
    sl_all=$(cd tests && ls -d [0-9][0-9]_* | sed 's/$/=solution/')
    # shellcheck disable=SC2086 # one word a lesson
    sl_tree "$SL_T/sol" $sl_all
    "$sl_cb/bin/grader" --course . --objdir "$sl_cb/obj" --cc clang $SL_NOSAN \
        --submission "$SL_T/sol" --out "$SL_T/clang-out" >"$SL_T/clang-grade.txt" 2>&1
    if tail -1 "$SL_T/clang-grade.txt" | grep -Eq '^[0-9]+ passed, 0 failed$'; then
        ok "solutions built with clang score full marks"
    else
        no "solutions built with clang score full marks" \
            "$(grep -A4 FAIL "$SL_T/clang-grade.txt" | head -20; tail -2 "$SL_T/clang-grade.txt")"
    fi
}

student_loop_checks() {
    BUILD=${BUILD:-build}
    SL_GRADER=$BUILD/bin/grader
    SL_T=$(mktemp -d /tmp/forklings-loop.XXXXXX) || return
    chmod 755 "$SL_T"
    SL_NOSAN=""
    "$SL_GRADER" 2>&1 | grep -q -- --no-sanitize && SL_NOSAN=--no-sanitize
    make -s BUILD="$BUILD" grader "$BUILD/bin/solutions/06_locks/demo" >/dev/null 2>&1
    sl_first_contact
    sl_tables
    sl_cache
    sl_watch
    sl_reset
    sl_demo06
    sl_compdb
    sl_clang
    rm -rf "$SL_T"
}

if [ "${STUDENT_LOOP_SOURCED:-}" != 1 ]; then
    if [ "${1:-}" = --mutants ]; then
        shift
        student_loop_expect "$@"
    else
        student_loop_checks
    fi
    echo "$sl_passed passed, $sl_failed failed"
    [ "$sl_failed" = 0 ]
fi
