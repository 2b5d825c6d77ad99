#!/bin/sh
# golden.sh - the grader's messages, pinned: each case in tests/golden/cases
# is graded and its terminal report and results.json, with pids, times,
# addresses and the sandbox mode normalised, are compared with the copies
# kept in tests/golden/expected/.  A change of wording fails here first.
#
#   sh tests/golden.sh            compare (what make test runs)
#   sh tests/golden.sh --update   write the expected files anew
#
# Prints "ok   ..." / "FAIL ..." lines; sourced by selftest.sh it uses
# selftest's own ok and no.
set -u
BUILD=${BUILD:-build}
GD=tests/golden
if [ -z "${GOLDEN_SOURCED:-}" ]; then
    passed=0 failed=0
    ok() { passed=$((passed + 1)); echo "ok   $1"; }
    no() { failed=$((failed + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && printf '%s\n' "$2" | head -30 | sed 's/^/     /'; return 0; }
fi

# What varies from run to run: pids, times, addresses, temporary paths,
# the machine's sandbox mode, and a trace's tree (it may catch a child
# before or after it ends: tests/trace_check.sh checks traces).
golden_normalise() {
    sed -e 's/\(pid\|process\|Process\|Child\|child process\) [0-9][0-9]*/\1 N/g' \
        -e 's/"execution_time": [0-9.]*/"execution_time": 0/' \
        -e 's/What the test.s processes did[^"]*\\nRead:/(a trace)\\nRead:/' \
        -e '/What the test.s processes did/,/read: lessons/{/What the test/{s/What the .*/(a trace)/;b;};/read: lessons/!d;}' \
        -e 's/0x[0-9a-f][0-9a-f]*/0xADDR/g' \
        -e 's|/tmp/[A-Za-z0-9._/-]*|/TMP|g' \
        -e '/Graded in sandbox mode/d' -e '/"extra_data"/d' -e '/^  "output": /d'
}

# golden_tree DIR LESSON SOURCE: a submission with that lesson's file.
golden_tree() {
    l=$(cd tests && ls -d "$2"_*) t=${l#*_}
    mkdir -p "$1/lessons/$l"
    f="$1/lessons/$l/$t.c"
    case $3 in
    stub) cp "lessons/$l/$t.c" "$f" ;;
    missing) ;;
    mutant:*) patch -s -o "$f" "solutions/$l/$t.c" <"tests/$l/mutants/${3#mutant:}.patch" ;;
    hostile:*) cat tests/hostile/common.inc "tests/hostile/${3#hostile:}.c" >"$f" ;;
    file:*) cp "$GD/${3#file:}" "$f" ;;
    esac
}

golden_run() {
    update=${1:-}
    gt=$(mktemp -d /tmp/forklings-golden.XXXXXX) || return
    chmod 755 "$gt"
    mkdir -p "$GD/expected"
    grep -v '^#' "$GD/cases" >"$gt/cases"
    while read -r name lesson source test san; do
        [ -n "$name" ] || continue
        golden_tree "$gt/$name" "$lesson" "$source"
        # Short timeouts (the timeout case waits for one), but for the
        # sanitizer pass: under load, a report read from the debug info
        # took longer than 2 s to print, and the case saw a timeout.
        mult=0.2
        [ -n "$san" ] && mult=1
        CK_TIMEOUT_MULTIPLIER=$mult "$BUILD/bin/grader" --course . --objdir "$BUILD/obj" \
            --submission "$gt/$name" --out "$gt/$name.out" --lesson "$lesson" \
            --only "$test" "${san:---no-sanitize}" >"$gt/$name.txt" 2>&1
        golden_normalise <"$gt/$name.txt" >"$gt/$name.report"
        golden_normalise <"$gt/$name.out/results.json" >"$gt/$name.json"
        for k in report json; do
            want="$GD/expected/$name.$k"
            if [ "$update" = --update ]; then
                cp "$gt/$name.$k" "$want"
            elif diff -u "$want" "$gt/$name.$k" >"$gt/diff" 2>&1; then
                ok "golden $name: the $k is as kept"
            else
                no "golden $name: the $k is as kept (sh tests/golden.sh --update if meant)" \
                    "$(head -30 "$gt/diff")"
            fi
        done
    done <"$gt/cases"
    rm -rf "$gt"
}

if [ -z "${GOLDEN_SOURCED:-}" ]; then
    golden_run "${1:-}"
    [ "${1:-}" = --update ] || echo "$passed passed, $failed failed"
fi
