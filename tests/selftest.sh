#!/bin/sh
# selftest.sh - the course's own tests: what `make test` (and CI) runs.
#
# It proves the course, not just the code: every lesson has all its parts;
# the points files match the tests; the reference solutions score full
# marks and the pristine stubs zero, through the real grader; every mutant
# (a solution with a classic mistake) loses points; the hostile battery is
# contained and leaves nothing behind; the demos print the classic output;
# the docs build without a warning; coverage stays above its floor; and,
# when run as root, grading also works for a user who is not.
# Ends with "N passed, M failed"; exits 1 if anything failed.
#
# ONLY_LESSONS=1 (what `make test L=NN` sets) checks just the lessons named
# in LESSONS, plus docs and coverage, and skips the grader's own tests.
set -u

BUILD=${BUILD:-build}
LESSONS=${LESSONS:-$(cd tests && ls -d [0-9][0-9]_* 2>/dev/null)}
GRADER=$BUILD/bin/grader
CSTD="-std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -pedantic"
# python3, once found: the interpreter itself, not a wrapper that finds it
# (pyenv's shim costs 0.3 CPU-seconds a call, and make test makes some 60).
python3=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null)
T=$(mktemp -d /tmp/forklings-selftest.XXXXXX) || exit 1
chmod 755 "$T"
# Graders keep their run directories here, so that what a run leaves
# behind is told apart from what other graders on this machine are doing.
mkdir -p "$T/tmp"
chmod 755 "$T/tmp"
export TMPDIR="$T/tmp"
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM
passed=0
failed=0
LANE=main

ok() {
    passed=$((passed + 1))
    echo "ok   $1"
}

no() {
    failed=$((failed + 1))
    echo "FAIL $1"
    [ -n "${2:-}" ] && printf '%s\n' "$2" | head -30 | sed 's/^/     /'
    return 0
}

# check NAME COMMAND...: one test that passes when COMMAND succeeds.
check() {
    name=$1
    shift
    if "$@" >"$T/log.$LANE" 2>&1; then ok "$name"; else no "$name" "$(tail -20 "$T/log.$LANE")"; fi
}

topic() { echo "${1#*_}"; }
# The start of root's /etc/shadow: no report may ever show it.
shadow_line=$(head -c 40 /etc/shadow 2>/dev/null | head -1)

# phase NAME: the seconds each part of the self-test takes, printed at the
# end, so that whoever adds to it sees what it costs.
# Beside the wall time, the CPU time its processes used (user and system,
# from the shell's `times`): on 2 cores, what runs at once shares them.
phases="" phase_name="" phase_start=$(date +%s) phase_cpu=0
cpu_now() { # sets cpu_; `times` must run in this shell, not in a $(...)
    times >"$T/times.$LANE"
    cpu_=$(awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) {
        split($i, a, "m"); t += a[1] * 60 + a[2] } printf "%d", t }' "$T/times.$LANE")
}
phase() {
    now_=$(date +%s)
    cpu_now
    [ -n "$phase_name" ] &&
        phases="$phases $phase_name $((now_ - phase_start))s ($((cpu_ - phase_cpu))s cpu),"
    phase_name=$(echo "$1" | tr ' ' '-') phase_start=$now_ phase_cpu=$cpu_
}

# A submission tree holding every lesson's reference solution.
solution_tree() {
    for l in $LESSONS; do
        mkdir -p "$1/lessons/$l"
        cp "solutions/$l/$(topic "$l").c" "$1/lessons/$l/"
    done
}

# grade TREE OUT [ARGS...]: run the grader; its report goes to OUT.txt.
grade() {
    tree=$1 out=$2
    shift 2
    timeout 600 "$GRADER" --course . --submission "$tree" \
        --objdir "$BUILD/obj" --out "$out" "$@" >"$out.txt" 2>&1
}

# leftovers OUT: what the grader run that wrote OUT/run.txt left behind:
# processes of its sandbox uid (as root) or with its IPC prefix in their
# environment, its IPC objects, its temporary directories.
leftovers() {
    uid=$(awk '$1 == "uid" { print $2 }' "$1/run.txt" 2>/dev/null)
    prefix=$(awk '$1 == "prefix" { print $2 }' "$1/run.txt" 2>/dev/null)
    gpid=$(awk '$1 == "pid" { print $2 }' "$1/run.txt" 2>/dev/null)
    [ -n "$prefix" ] || { echo "no $1/run.txt"; return; }
    # A sandbox uid's processes are all the run's, but for those of
    # another grader that claimed the uid since, in that grader's cgroup
    # (which the sandboxed code cannot leave).
    # A process that is exiting has left its cgroup before it is a zombie
    # (the kernel's do_exit): one of another grader's, caught in that
    # window, would read as ours, so what is found is looked at again,
    # five times 0.1 s apart, and only what stays is left behind.
    if [ "$uid" -ge 61000 ] 2>/dev/null; then
        tries=0
        while :; do
            found=$(ps -eo uid=,pid=,comm= | awk -v u="$uid" '$1 == u' | while read -r u p c; do
                cg=$(grep -o 'forklings/g[0-9]*' "/proc/$p/cgroup" 2>/dev/null | head -1)
                case $cg in forklings/g*) [ "$cg" = "forklings/g$gpid" ] || continue ;; esac
                # Gone since ps, or ending (a zombie has no cgroup to
                # read): not left behind.
                st=$(awk '/^State:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
                case $st in "" | Z | X) continue ;; esac
                echo "$u $p $c"
            done)
            { [ -z "$found" ] || [ "$tries" -ge 5 ]; } && break
            tries=$((tries + 1))
            sleep 0.1
        done
        [ -z "$found" ] || echo "$found"
    fi
    grep -l "FORKLINGS_PREFIX=$prefix" /proc/[0-9]*/environ 2>/dev/null |
        grep -v "/proc/$$/"
    for f in /dev/shm/* /dev/mqueue/*; do
        case ${f##*/} in *"$prefix"* | *forklings-hostile*) echo "$f" ;; esac
    done
    # (A file planted beside the test program, as write_tests does, is in
    # a workdir: listed here if the workdir is left.)
    ls -d "$TMPDIR"/forklings-run.* "$TMPDIR"/forklings-grade.* 2>/dev/null
    ls -d /sys/fs/cgroup/*/forklings/g"$gpid" /sys/fs/cgroup/forklings/g"$gpid" 2>/dev/null
}

# tsv_score OUT / tsv_max OUT: the points earned and the points possible,
# summed over the lessons of the scores.tsv that the grader wrote in OUT
# (lines "L lesson got max", tab-separated; grader/report.c report_tsv);
# empty when there is none.
tsv_total() {
    awk -F '\t' -v c="$2" '$1 == "L" { s += $c; n++ } END { if (n) print s }' \
        "$1/scores.tsv" 2>/dev/null
}
tsv_score() { tsv_total "$1" 3; }
tsv_max() { tsv_total "$1" 4; }
# tsv_first_failed OUT LESSON: the lesson's first test that did not pass
# (lines "T lesson test passed").
tsv_first_failed() {
    awk -F '\t' -v l="$2" '$1 == "T" && $2 == l && $4 == 0 { print $3; exit }' \
        "$1/scores.tsv" 2>/dev/null
}
# json_holds FILE EXPR: FILE is valid JSON (UTF-8), and the Python
# expression EXPR about it, r, holds: results.json is read as JSON, never
# by its layout.
json_holds() {
    "$python3" -c 'import json, sys
r = json.load(open(sys.argv[1], encoding="utf-8"))
sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$2"
}


# ------------------------------------------------------------- lanes
# The phases run in four lanes at once, each a subshell whose "ok" and
# "FAIL" lines go to its own file: grading the mutants and the solutions
# is mostly waiting for timeouts, so the course's own checks (docs,
# coverage, bench) fill the cores meanwhile, and the grader's attacks
# (autograders, hostile battery, not as root) are a lane of their own,
# not a tail that runs alone once the others are done.  Each lane has its
# own TMPDIR, so that what one leaves behind is not blamed on another.

lane_grading() {
# ------------------------------------------------- solutions and stubs
phase "solutions and stubs"

# Each lesson by a grader of its own, one a core, with the sanitizer pass
# as make grade runs it: a lesson's time is partly waiting (for a child, a
# deadline), and one grader does its lessons one after another.  (Three
# lanes run beside this one: more graders at once only made each process
# dearer; see the mutants' lane for what was measured.)
mkdir -p "$T/solutions" "$T/g-sol"
solution_tree "$T/solutions"
for l in $LESSONS; do echo "$l"; done |
    xargs -P "$(nproc)" -I{} sh -c 'timeout 600 "$1" --course . --submission "$2" \
        --objdir "$3" --lesson {} --sanitize --out "$4/{}" >"$4/{}.txt" 2>&1' \
        sh "$GRADER" "$T/solutions" "$BUILD/obj" "$T/g-sol"
s=0 m=0 bad=""
for l in $LESSONS; do
    ls_=$(tsv_score "$T/g-sol/$l") lm_=$(tsv_max "$T/g-sol/$l")
    [ -n "$ls_" ] && [ "$ls_" = "$lm_" ] || bad="$bad $l"
    s=$((s + ${ls_:-0})) m=$((m + ${lm_:-0}))
done
if [ -z "$bad" ]; then
    ok "reference solutions score full marks, sanitizer pass on ($s/$m)"
else
    no "reference solutions score full marks, sanitizer pass on ($s/$m)" \
        "$(for l in $bad; do grep -A6 -m3 FAIL "$T/g-sol/$l.txt"; tail -2 "$T/g-sol/$l.txt"; done)"
fi
for first in $LESSONS; do break; done # the first lesson

# The stubs as a student's fresh clone has them, a grader a lesson, one a
# core like the solutions: each must end at zero, quickly (a stub
# returns -ENOSYS; a test must not wait for what never comes).
mkdir -p "$T/g-stubs"
for l in $LESSONS; do echo "$l"; done |
    xargs -P "$(nproc)" -I{} sh -c 'start=$(date +%s)
        timeout 600 "$1" --course . --submission . --objdir "$2" --lesson {} \
            --no-sanitize --out "$3/{}" >"$3/{}.txt" 2>&1
        echo "$? $(($(date +%s) - start))" >"$3/{}.rc"' sh "$GRADER" "$BUILD/obj" "$T/g-stubs"
bad="" slowest=0
for l in $LESSONS; do
    read -r rc took <"$T/g-stubs/$l.rc" 2>/dev/null || { rc='?' took='?'; }
    s=$(tsv_score "$T/g-stubs/$l")
    [ "$rc" = 0 ] && [ "$s" = 0 ] && [ "$took" -lt 45 ] 2>/dev/null ||
        bad="$bad $l(rc=$rc score=${s:-?} ${took}s)"
    [ "$took" -gt "$slowest" ] 2>/dev/null && slowest=$took
done
if [ -z "$bad" ]; then
    ok "pristine stubs score zero, grader exits 0, each lesson within 45 s (slowest ${slowest}s)"
else
    no "pristine stubs score zero, grader exits 0, each lesson within 45 s:$bad" \
        "$(for l in $bad; do tail -5 "$T/g-stubs/${l%%(*}.txt"; done)"
fi

for l in $LESSONS; do
    t=$(topic "$l")
    # Exits with a failure of its own: not 0, not timeout's 124 (a hang),
    # not 128 and up (killed by a signal: a crash).
    check "$l stub demo fails fast instead of hanging or crashing" \
        sh -c "timeout -s KILL 10 $BUILD/bin/lessons/$l/demo >/dev/null 2>&1
            rc=\$?; [ \$rc -ge 1 ] && [ \$rc -le 123 ] || { echo \"exit status \$rc\"; exit 1; }"
done

[ "${ONLY_LESSONS:-}" = 1 ] && return 0

# ------------------------------------------------------- grader itself
phase "grader itself"


check "grader without arguments explains itself and exits 2" \
    sh -c "$GRADER >/dev/null 2>&1; [ \$? = 2 ]"
check "grader refuses a lesson that does not exist with exit 2" \
    sh -c "$GRADER --course . --objdir $BUILD/obj --out $T/x --lesson 99 2>/dev/null; [ \$? = 2 ]"

for first in $LESSONS; do break; done # the first lesson
ft=$(topic "$first")
mkdir -p "$T/broken/lessons/$first"
printf 'int oops(void) { return }\n' >"$T/broken/lessons/$first/$ft.c"
grade "$T/broken" "$T/g-broken" --lesson "$first"

# A grader killed by SIGKILL (the OOM killer, timeout -s KILL) cannot
# remove its workdir; the next grader in the same TMPDIR does, once the
# lock its owner held while alive is free.  MODE "uid": killed while a
# test runs in its private directory (without namespaces), which lives in
# the workdir and goes with it.
killed_workdir() {
    kt="$T/tmp.killed.${1:-ns}" sandbox=${1:-} mark=held
    [ "$sandbox" = uid ] && mark='run.*'
    mkdir -p "$kt" "$T/spin/lessons/01_fork"
    chmod 755 "$kt"
    cat tests/hostile/common.inc tests/hostile/infinite_loop.c >"$T/spin/lessons/01_fork/fork.c"
    TMPDIR=$kt FORKLINGS_SANDBOX=$sandbox "$GRADER" --course . --objdir "$BUILD/obj" \
        --submission "$T/spin" --lesson 01 --no-sanitize --out "$T/g-spin" >/dev/null 2>&1 &
    gp=$!
    i=0
    # shellcheck disable=SC2086 # $mark is a pattern
    until ls -d "$kt"/forklings-grade.*/$mark >/dev/null 2>&1; do
        i=$((i + 1))
        [ "$i" -lt 400 ] || { kill -KILL "$gp"; echo "no workdir in 20 s"; return 1; }
        sleep 0.05 # (polling for the workdir, not waiting for a guess)
    done
    kill -KILL "$gp"
    wait "$gp" 2>/dev/null
    ls -d "$kt"/forklings-grade.* >/dev/null 2>&1 ||
        { echo "the killed grader's workdir was gone already: nothing tested"; return 1; }
    TMPDIR=$kt timeout 600 "$GRADER" --course . --submission "$T/broken" \
        --objdir "$BUILD/obj" --out "$T/g-after-kill" --lesson "$first" >/dev/null 2>&1
    # And no process of its runs (its cgroup lists the live ones; the
    # zombies wait for the machine's init to reap them).
    left="$(ls -d "$kt"/forklings-* 2>/dev/null) $(cat /sys/fs/cgroup/pids/forklings/g"$gp"/cgroup.procs \
        /sys/fs/cgroup/forklings/g"$gp"/cgroup.procs 2>/dev/null)"
    [ -z "${left# }" ] || { echo "still there after the next grader: $left"; return 1; }
}
check "a grader killed by SIGKILL leaves its workdir, the next one removes it" \
    killed_workdir
if [ "$(id -u)" = 0 ]; then
    check "the same, and its runs end, when killed while a test runs in uid mode" \
        killed_workdir uid
fi
check "a lesson that does not compile is reported with the compiler's file:line" \
    grep -q "lessons/$first/$ft.c:1:" "$T/g-broken.txt"
mkdir -p "$T/empty"
grade "$T/empty" "$T/g-empty"
check "a submission missing its files scores zero and says what is missing" \
    sh -c "grep -q 'is missing from the submission' $T/g-empty.txt && grep -q '^Score: 0/' $T/g-empty.txt"
if [ -n "$python3" ]; then
    check "results.json is valid JSON in Gradescope's shape" "$python3" -c "
import json, sys
r = json.load(open('$T/g-sol/$first/results.json'))
assert {'score', 'max_score', 'execution_time', 'tests'} <= set(r)
for t in r['tests']:
    assert {'name', 'score', 'max_score', 'status', 'output', 'visibility'} <= set(t)
assert r['score'] == sum(t['score'] for t in r['tests'])"
fi
check "the grader's report ends with the N passed, M failed line" \
    sh -c "tail -1 $T/g-sol/$first.txt | grep -Eq '^[0-9]+ passed, 0 failed$'"

# ----------------------------------------------- class, hidden tests
phase "class, hidden tests"

# A class of five: full marks, nothing submitted, a classic mistake, a
# lingering daemon, a compile error.  Each row must be right, whatever
# the others did.  (No sanitizer pass here nor for the hidden tests: what
# they check is the gradebook and the hidden tests, and the sanitized
# grading of a class is the hostile battery's.)
C="$T/class"
mkdir -p "$C/alice" "$C/bob" "$C/carol/lessons/01_fork" "$C/dave/lessons/01_fork" \
    "$C/erin/lessons/01_fork"
solution_tree "$C/alice"
patch -s -o "$C/carol/lessons/01_fork/fork.c" solutions/01_fork/fork.c \
    <tests/01_fork/mutants/wait_any.patch
cat tests/hostile/common.inc tests/hostile/setsid_daemon.c >"$C/dave/lessons/01_fork/fork.c"
echo 'this is not C' >"$C/erin/lessons/01_fork/fork.c"
timeout 300 "$GRADER" --course . --objdir "$BUILD/obj" --class "$C" \
    --out "$T/class-out" --lesson 01 --jobs 2 --no-sanitize >"$T/class.txt" 2>&1
book="$T/class-out/gradebook.csv"
row() { grep "^\"$1\"," "$book" | cut -d, -f"$2"; }
full=$(grep -v '^#' tests/01_fork/points | awk 'NF { s += $2 } END { print s }')
check "grade-class writes one gradebook row per student, all graded" \
    sh -c "[ \$(grep -c ',graded\$' $book) = 5 ] && [ \$(wc -l <$book) = 6 ]"
check "grade-class: the full solution scores full, the others what they earn" \
    sh -c "[ '$(row alice 3)' = $full ] && [ '$(row bob 3)' = 0 ] && \
        [ '$(row carol 3)' -gt 0 ] && [ '$(row carol 3)' -lt $full ] && \
        [ '$(row dave 3)' = 0 ] && [ '$(row erin 3)' = 0 ]"
check "grade-class summary names the most failed test" \
    grep -q 'failed by 4 of 5' "$T/class-out/summary.md"
class_clean() {
    for d in "$T"/class-out/*/; do
        left=$(leftovers "$d")
        [ -z "$left" ] || { echo "$d: $left"; return 1; }
    done
}
check "grade-class leaves nothing behind" class_clean

grade "$T/solutions" "$T/g-hidden" --lesson 01 --hidden tests/hidden-example --no-sanitize
hs=$(tsv_score "$T/g-hidden")
hm=$(tsv_max "$T/g-hidden")
check "hidden tests add to the score ($hs/$hm)" \
    sh -c "[ -n '$hs' ] && [ '$hs' = '$hm' ] && [ '$hm' -gt $full ]"
check "hidden tests are hidden in results.json" json_holds "$T/g-hidden/results.json" \
    "any(t['visibility'] == 'hidden' for t in r['tests'])"

}

lane_attacks() {
[ "${ONLY_LESSONS:-}" = 1 ] && return 0
# ------------------------------------------------------ autograders
phase "autograders"

if command -v zip >/dev/null && command -v unzip >/dev/null; then
    make -s gradescope BUILD="$BUILD" HIDDEN=tests/hidden-example >/dev/null
    mkdir -p "$T/ag/source" "$T/ag/submission"
    (cd "$T/ag/source" && unzip -q "$OLDPWD/$BUILD/gradescope/autograder.zip")
    check "the Gradescope bundle has setup.sh, run_autograder, no solutions" \
        sh -c "[ -x $T/ag/source/setup.sh ] && [ -x $T/ag/source/run_autograder ] &&
            [ ! -e $T/ag/source/solutions ] && ! find $T/ag/source -name '*.patch' | grep -q ."
    # As Gradescope would: loose files uploaded, results in results/.
    # Two lessons' files, as a student part way through would upload
    # (every lesson's solution is graded elsewhere): those two full marks,
    # hidden tests included, the others missing.
    cp solutions/01_fork/fork.c solutions/02_process/process.c "$T/ag/submission/"
    # The objects and tools already built (times kept), not the solutions'
    # or the sanitizer's: make finds them up to date only if every source
    # and header they were built from is in the bundle, and it saves the
    # 18 CPU-seconds of building the course once more.
    mkdir -p "$T/ag/source/build"
    (cd "$BUILD" && tar --exclude=./obj/solutions --exclude=./obj/san \
        --exclude=./obj/lessons -cf - ./obj ./bin/grader ./bin/trace) |
        tar -C "$T/ag/source/build" -xf -
    (cd "$T/ag/source" && make -s grader >/dev/null 2>&1 &&
        SAN=0 AUTOGRADER_ROOT="$T/ag" ./run_autograder >"$T/ag.log" 2>&1)
    as=$(tsv_score "$T/ag/results")
    am=$(awk -F '\t' '$1 == "L" && ($2 == "01_fork" || $2 == "02_process") { s += $4 }
        END { print s + 0 }' "$T/ag/results/scores.tsv" 2>/dev/null)
    check "Gradescope's run_autograder grades loose files, full marks ($as/$am)" \
        sh -c "[ -n '$as' ] && [ '$as' = '$am' ] && [ '$am' -gt 0 ]"
    check "Gradescope's run_autograder writes results.json, hidden tests hidden" \
        json_holds "$T/ag/results/results.json" \
        "r['score'] == $as and any(t['visibility'] == 'hidden' for t in r['tests'])"
    check "run_autograder leaves the hidden tests readable by root alone" \
        sh -c "[ \$(stat -c %a $T/ag/source/hidden) = 700 ]"
    # Through the bundle, a submission that reads the hidden tests' sources
    # and links to root's files: nothing of either reaches results.json.
    rm -rf "$T/ag/submission" "$T/ag/results"
    mkdir -p "$T/ag/submission/lessons/01_fork" "$T/ag/submission/lessons/02_process"
    hsrc=$(ls "$T"/ag/source/hidden/01_fork/*.c | head -1)
    cat tests/hostile/common.inc tests/hostile/reads_secrets.c |
        sed -e "s|@SECRET1@|$hsrc|" -e "s|@SECRET2@|/etc/shadow|" \
            >"$T/ag/submission/lessons/01_fork/fork.c"
    ln -s /etc/shadow "$T/ag/submission/lessons/02_process/process.c"
    (cd "$T/ag/source" && SAN=0 CK_TIMEOUT_MULTIPLIER=0.2 AUTOGRADER_ROOT="$T/ag" \
        ./run_autograder >"$T/ag.log" 2>&1)
    marker=$(head -1 "$hsrc" | cut -c1-40)
    check "through the bundle, hostile code scores 0 and shows no hidden test or root file" \
        sh -c "[ '$(tsv_score "$T/ag/results")' = 0 ] &&
            ! grep -qF -e '$marker' -e '${shadow_line:-no shadow}' $T/ag/results/results.json &&
            grep -q 'is a symbolic link' $T/ag/results/results.json"
else
    no "Gradescope bundle" "zip and unzip are not installed: run make deps"
fi
sh grader/classroom.sh >"$T/classroom.yml"
check "the GitHub Classroom workflow is up to date (make classroom)" \
    diff -u .github/workflows/classroom.yml "$T/classroom.yml"
steps=$(grep -c 'autograding-command-grader' "$T/classroom.yml")
tests=$(cat tests/[0-9][0-9]_*/points | grep -v '^#' | awk 'NF >= 2' | wc -l)
check "the Classroom workflow has one step per test ($steps)" [ "$steps" = "$tests" ]

# ------------------------------------------------------ hostile battery
phase "hostile battery"


hostile_lesson=01_fork
# Secrets a run must never show: a course file and a classmate's file,
# readable by everyone, and root's /etc/shadow.
mkdir -p "$T/secret"
echo 'FORKLINGS-SECRET-ONE' >"$T/secret/solution.c"
echo 'FORKLINGS-SECRET-TWO' >"$T/secret/classmate.c"
chmod 644 "$T/secret"/*.c
ipc_count() { cat /proc/sysvipc/shm /proc/sysvipc/sem /proc/sysvipc/msg 2>/dev/null | wc -l; }
ipc_before=$(ipc_count)

# hostile_ok NAME OUT TEXT RC: contained, scored 0, nothing left, no
# secret in what the student (TEXT) or the instructor sees, results.json
# valid UTF-8 JSON.
hostile_ok() {
    s=$(tsv_score "$2")
    left=$(leftovers "$2")
    for f in "$3" "$2/results.json"; do
        grep -aq -e FORKLINGS-SECRET -e "${shadow_line:-no shadow}" "$f" &&
            left="$left a secret in $f"
    done
    "$python3" -c 'import json,sys; json.load(open(sys.argv[1], encoding="utf-8"))' \
        "$2/results.json" 2>/dev/null || left="$left invalid results.json"
    if [ "$4" = 0 ] && [ "$s" = 0 ] && [ -z "$left" ]; then
        ok "hostile $1: contained, scores 0, nothing left or shown"
    else
        no "hostile $1: contained, scores 0, nothing left or shown (rc=$4 score=${s:-?})" \
            "$left$(tail -8 "$3")"
    fi
}

# A server on the machine's loopback that no run may reach: it writes
# down whoever connects.
"$python3" -c '
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
print(s.getsockname()[1], flush=True); s.settimeout(600)
c, _ = s.accept(); open(sys.argv[1], "w").write("reached")
' "$T/reached" >"$T/port" 2>/dev/null &
listener=$!
while [ ! -s "$T/port" ]; do sleep 0.1; done
port=$(cat "$T/port")

# Every attack is one student of a class graded in parallel (as the
# mutants are): most of their time is spent waiting for a timeout.
H="$T/hostile"
mkdir -p "$H"
for h in tests/hostile/*.c; do
    name=$(basename "$h" .c)
    # Without a sandbox uid, kill(-1) would reach the student's own
    # processes, and the student's own files are theirs to read: honest
    # limits of non-root grading (see README).
    case $name in kill_everyone | reads_secrets | squats_names | connects_out)
        [ "$(id -u)" != 0 ] && continue ;;
    esac
    mkdir -p "$H/$name/lessons/$hostile_lesson"
    cat tests/hostile/common.inc "$h" |
        sed -e "s|@SECRET1@|$T/secret/solution.c|" -e "s|@SECRET2@|$T/secret/classmate.c|" \
            -e "s|@PORT@|$port|" \
            -e "s|@HIDDEN_SRC@|$PWD/tests/hidden-example/01_fork/check_hidden.c|" \
            >"$H/$name/lessons/$hostile_lesson/fork.c"
done

# Files that are not a lesson file: each refused with a message, at once.
file_attack() {
    tree="$H/$1"
    mkdir -p "$tree/lessons"
    f="$tree/lessons/$hostile_lesson/fork.c"
    case $1 in
    dir_link) ln -s /etc "$tree/lessons/$hostile_lesson" ;;
    *) mkdir -p "$tree/lessons/$hostile_lesson" ;;
    esac
    case $1 in
    link_shadow) ln -s /etc/shadow "$f" ;;
    link_dev_zero) ln -s /dev/zero "$f" ;;
    fifo) mkfifo "$f" ;;
    huge) head -c 2000000 /dev/zero | tr '\0' ' ' >"$f" ;;
    hard_link) echo FORKLINGS-SECRET-ROOT >"$T/secret/root-only" &&
        chmod 600 "$T/secret/root-only" && ln "$T/secret/root-only" "$f" ;;
    escapes) printf 'const char *x = "\033]52;c;aGk=\007\033[2J"; int y = ;\n' >"$f" ;;
    bad_utf8) printf 'int x = "\377\376\300\200" \355\240\200;\n#error \377 "\\\n' >"$f" ;;
    esac
}
for a in link_shadow link_dev_zero fifo huge dir_link bad_utf8 escapes hard_link; do
    file_attack $a
done
# (A macro bomb ends as #include "/dev/zero" does, the compiler out of
# memory, but takes some 10 s to get there: tried by hand.)

# Each test waits for a timeout: one test, with short timeouts (0.5 s:
# the spinning attacks burn both cores until then).
CK_TIMEOUT_MULTIPLIER=0.1 timeout 600 "$GRADER" --course . --objdir "$BUILD/obj" \
    --class "$H" --lesson "$hostile_lesson" --test test_mp_fork_call_returns_the \
    --jobs "$(nproc)" --out "$T/hostile-out" >"$T/hostile.txt" 2>&1
rc=$?
for d in "$H"/*/; do
    name=$(basename "$d")
    hostile_ok "$name" "$T/hostile-out/$name" "$T/hostile-out/$name/report.txt" $rc
done
[ "$(ipc_count)" = "$ipc_before" ] || no "the hostile battery leaves no SysV IPC object"
for f in /var/tmp/forklings-hostile-* /tmp/forklings-hostile-*; do [ -e "$f" ] && echo "$f"; done | grep -q . &&
    no "the hostile battery leaves no file in /var/tmp or /tmp"

# The report says why a file was refused, in words that teach.
for c in link_shadow:'is a symbolic link' link_dev_zero:'is a symbolic link' \
    fifo:'not a regular file' huge:'larger than 1 MiB' hard_link:'hard link' \
    dir_link:'symbolic link or not a directory' bad_utf8:error \
    ctor_verdicts:constructor interpose_waitpid:'defines waitpid' \
    interpose_hmac:'defines HMAC' \
    calls_harness:'uses fl_end' hides_misuse:'uses fl_misuse_take' \
    ifunc_resolver:ifunc include_secret:shadow \
    lto_section:'for the linker to compile' include_dev_zero:compiler; do
    grep -q "${c#*:}" "$T/hostile-out/${c%%:*}/report.txt" 2>/dev/null ||
        no "hostile ${c%%:*}: the report says why (${c#*:})" \
            "$(grep -A4 01_fork "$T/hostile-out/${c%%:*}/report.txt" | head -8)"
done
# The compiler quotes the source: a terminal escape must not reach the
# instructor's terminal, the report or results.json.
check "hostile escapes: no control character reaches the report" \
    sh -c "! grep -q \"\$(printf '\033')\" $T/hostile-out/escapes/report.txt $T/hostile-out/escapes/results.json"
if [ "$(id -u)" = 0 ]; then
    check "hostile connects_out: no run reached a server on the machine" \
        sh -c "[ ! -e $T/reached ] && ! grep -q connected $T/hostile-out/connects_out/report.txt"
fi
kill "$listener" 2>/dev/null

if [ "$(id -u)" = 0 ]; then
    check "sandbox uid claims live in a directory only root can write" \
        sh -c '[ "$(stat -c %U:%a /run/forklings)" = root:700 ]'
    # Two hostile classmates graded beside a correct one, at once: the
    # correct one keeps full marks.
    HC="$T/hclass"
    mkdir -p "$HC/alice" "$HC/mallory/lessons/01_fork" "$HC/oscar/lessons/01_fork" \
        "$HC/.hidden" "$HC/=HYPERLINK(1)"
    solution_tree "$HC/alice"
    cat tests/hostile/common.inc tests/hostile/squats_names.c >"$HC/mallory/lessons/01_fork/fork.c"
    cat tests/hostile/common.inc tests/hostile/spins_400.c >"$HC/oscar/lessons/01_fork/fork.c"
    ln -s /root "$HC/linked"
    # The waitpid tests only: the ones a starved classmate would fail, and
    # each spends the spinners' timeout burning both cores.
    CK_TIMEOUT_MULTIPLIER=0.5 timeout 300 "$GRADER" --course . --objdir "$BUILD/obj" \
        --class "$HC" --out "$T/hclass-out" --lesson 01 --test test_mp_waitpid \
        --jobs 3 >"$T/hclass.txt" 2>&1
    hbook="$T/hclass-out/gradebook.csv"
    wfull=$(grep -v '^#' tests/01_fork/points | awk '$1 ~ /^test_mp_waitpid/ { s += $2 } END { print s }')
    check "grade-class: hostile classmates leave a correct one full marks ($wfull)" \
        sh -c "grep '^\"alice\",' $hbook | grep -q ',$wfull,$wfull,graded'"
    check "grade-class: a formula-like name is neutralised, skipped entries listed" \
        sh -c "grep -q \"^\\\"'=HYPERLINK\" $hbook && grep -q '.hidden: its name begins with a dot' $T/hclass-out/summary.md &&
            grep -q 'linked: a symbolic link' $T/hclass-out/summary.md"
    check "grade-class: the output directory is the instructor's alone" \
        sh -c '[ "$(stat -c %a '"$T/hclass-out"')" = 700 ]'
    hclass_clean() {
        for d in "$T"/hclass-out/*/; do
            left=$(leftovers "$d")
            [ -z "$left" ] || { echo "$d: $left"; return 1; }
        done
    }
    check "grade-class with hostile classmates leaves nothing behind" hclass_clean
    # The hidden tests within reach: graded with them, the submission that
    # tries to compile them in gets none of their lines.
    grade "$H/include_hidden" "$T/h-hidden.out" --lesson "$hostile_lesson" \
        --test test_mp_fork_call_returns_the --hidden tests/hidden-example
    hostile_ok "include_hidden (graded with --hidden)" "$T/h-hidden.out" "$T/h-hidden.out.txt" $?
    check "hostile include_hidden: no line of the hidden tests reaches the report" \
        sh -c "! grep -q -e echo_arg -e 'target returning' $T/h-hidden.out.txt $T/h-hidden.out/results.json"
    # The same attacks without namespaces: the sandbox uid alone.
    FORKLINGS_SANDBOX=uid CK_TIMEOUT_MULTIPLIER=0.2 grade "$H/sysv_and_var_tmp" \
        "$T/h-uid.out" --lesson "$hostile_lesson" --test test_mp_fork_call_returns_the
    hostile_ok "sysv_and_var_tmp (uid mode)" "$T/h-uid.out" "$T/h-uid.out.txt" $?
    [ "$(ipc_count)" = "$ipc_before" ] || no "uid mode leaves no SysV IPC object"
    check "uid mode says so in results.json" json_holds "$T/h-uid.out/results.json" \
        "r['extra_data']['sandbox'] == 'uid'"
fi

# ------------------------------------------------------- not as root
phase "not as root"

# As root, grade once more as an ordinary user, in a copy of the course.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
    u="setpriv --reuid=65534 --regid=65534 --clear-groups"
    mkdir -p "$T/user"
    tar --exclude=./build --exclude=./.git -cf - . | tar -C "$T/user" -xf -
    # The objects and the grader already built (times kept: make sees them
    # up to date), so that this checks grading as a user, not compiling.
    mkdir -p "$T/user/build/bin"
    cp -a "$BUILD/obj" "$T/user/build/obj"
    cp -a "$GRADER" "$T/user/build/bin/grader"
    mkdir -p "$T/user/sub"
    solution_tree "$T/user/sub"
    mkdir -p "$T/user/bad/lessons/$hostile_lesson"
    cat tests/hostile/common.inc tests/hostile/setsid_daemon.c \
        >"$T/user/bad/lessons/$hostile_lesson/fork.c"
    chown -R 65534:65534 "$T/user"
    # Built with clang, too: one grading proves both (tests/student_loop.sh
    # checks that the course builds with clang).
    if command -v clang >/dev/null; then cc_=clang; else cc_=cc; fi
    # Without root the sweep removes only the run's names: a file of the
    # same user in /dev/shm, there while these gradings run, stays.  (Once
    # a grading of lesson 01 of its own: these sweep after every test of
    # every lesson, and it spared one grading.)
    unrelated=/dev/shm/forklings-unrelated-$$
    $u sh -c "echo mine >$unrelated"
    check "as a user who is not root, solutions built with $cc_ score full marks" \
        sh -c "cd $T/user && $u env HOME=$T/user TMPDIR=/tmp make -s grade SUBMISSION=sub SAN=0 CC=$cc_ >log 2>&1; grep -q '^[0-9]* passed, 0 failed' log || { cat log; exit 1; }"
    check "as a user who is not root, the sanitizer pass works too (lesson 04)" \
        sh -c "cd $T/user && $u env HOME=$T/user TMPDIR=/tmp make -s grade SUBMISSION=sub L=04 >log 2>&1; grep -q '^[0-9]* passed, 0 failed' log || { cat log; exit 1; }"
    nonroot_unrelated() {
        [ -f "$unrelated" ] || { echo "$unrelated was removed"; return 1; }
        rm -f "$unrelated"
    }
    check "as a user who is not root, the sweep leaves the user's other files" \
        nonroot_unrelated
    nonroot_daemon() {
        (cd "$T/user" && $u env HOME="$T/user" TMPDIR=/tmp \
            make -s grade SUBMISSION=bad L=01 >log 2>&1)
        grep -q '^Score: 0/' "$T/user/log" || { cat "$T/user/log"; return 1; }
        left=$(leftovers "$T/user/build/grade")
        [ -z "$left" ] || { echo "left behind: $left"; return 1; }
    }
    check "as a user who is not root, a setsid daemon is contained" nonroot_daemon
fi

}

lane_mutants() {
# ------------------------------------------------------------- mutants
phase "mutants"

# Every mutant is graded by a grader of its own, several at once
# (tests/grade_mutant.sh): it must lose points in its own lesson, and
# build, or it would lose them for nothing.  A mutant's patch names the
# test that caught it when it was added (Caught-by:), which runs first:
# one test is the proof, where the lesson's tests in order took some 20
# each.  Much of a mutant's time is spent waiting (a deadline it misses, a
# timeout that catches a hang), so a grader a core runs while the other
# lanes do, and one more as each of them ends: more at once make every
# fork and page fault dearer (make test on 2 cores, with 4 here and 1.5 to
# 2 a core elsewhere: 590 CPU-seconds and 316 s; 3 here and one a core
# elsewhere: 527 and 288 s; later, 3 here: 227 CPU-s for the mutants and
# 279 s, 2 here: 211 and 259 s).
M="$T/mutants"
mkdir -p "$M"
# Every tree's directory in one mkdir (not a process a mutant).
for l in $LESSONS; do
    for p in tests/"$l"/mutants/*.patch; do
        [ -f "$p" ] || continue
        b=${p##*/}
        echo "$M/$l--${b%.patch}/lessons/$l"
    done
done | xargs mkdir -p
for l in $LESSONS; do
    t=${l#*_}
    for p in tests/"$l"/mutants/*.patch; do
        [ -f "$p" ] || continue
        b=${p##*/} # (no basename: a process each, 400 times)
        name="$l mutant ${b%.patch}"
        dir="$M/$l--${b%.patch}"
        if ! patch -s -o "$dir/lessons/$l/$t.c" "solutions/$l/$t.c" <"$p" >"$T/log.$LANE" 2>&1; then
            no "$name: patch applies" "$(cat "$T/log.$LANE")"
            rm -rf "$dir"
        fi
    done
done
mkdir -p "$T/mutants-out"
# Those whose Mutant: line says they may wait (for ever, a deadline, a
# hang...) first: they hold 3 of every 4 seconds the mutants spend waiting
# for a timeout, and waiting costs nothing while the other lanes use the
# cores; the quick ones fill the end, when the mutants are alone.  (One
# timeout for them all, a safety net: the grader ends each step by its
# own clock.)
ls -d "$M"/*/ 2>/dev/null | sed 's|/$||' |
    awk '{
        m = $0; sub(/.*\//, "", m)
        l = m; sub(/--.*/, "", l)
        p = "tests/" l "/mutants/" substr(m, length(l) + 3) ".patch"
        line = ""; getline line <p; close(p)
        slow = tolower(line) ~ /for ever|forever|hang|never|block|wait|deadline|timeout|stuck/
        print (slow ? 0 : 1), $0
    }' | sort -s -k1,1 | cut -d' ' -f2- |
    timeout 1800 xargs -P "$(nproc)" -n 1 sh tests/grade_mutant.sh "$GRADER" \
        "$BUILD/obj" "$T/mutants-out" &
x=$!
# The main shell adds a grader as each other lane ends (SIGUSR1), which
# would end an xargs that has not yet set its handler: the pid of xargs
# (timeout's child) is named once it has (SigCgt, bit 10).
i=0
while [ "$i" -lt 300 ]; do
    xp=""
    read -r xp _ <"/proc/$x/task/$x/children" 2>/dev/null
    c=""
    [ -n "$xp" ] && c=$(awk '/^SigCgt:/ { print substr($2, length($2) - 3) }' "/proc/$xp/status" 2>/dev/null)
    [ -n "$c" ] && [ $((0x$c & 512)) != 0 ] && echo "$xp" >"$T/mutants.xargs" && break
    i=$((i + 1))
    sleep 0.01
done
wait "$x"
for dir in "$M"/*/; do
    [ -d "$dir" ] || continue
    m=${dir%/}
    m=${m##*/}
    l=${m%%--*}
    p="tests/$l/mutants/${m#*--}.patch"
    v=""
    [ -f "$T/mutants-out/$m/verdict" ] && read -r v <"$T/mutants-out/$m/verdict"
    case $v in
    "caught "*)
        ok "$l mutant ${m#*--} is caught by ${v#caught }"
        echo "$l 1" >>"$T/mutation"
        ;;
    unbuilt)
        no "$l mutant ${m#*--} builds (it would lose points for nothing)" \
            "$(head -1 "$p")
$(sed -n '/^[0-9][0-9]_/,$p' "$T/mutants-out/$m.txt" | head -12)"
        echo "$l 0" >>"$T/mutation"
        ;;
    *)
        no "$l mutant ${m#*--} loses points (${v:-no verdict})" \
            "$(head -1 "$p")
$(tail -5 "$T/mutants-out/$m.txt" 2>/dev/null)"
        echo "$l 0" >>"$T/mutation"
        ;;
    esac
done
# The first failure of each mutant names its mistake: the words of its
# patch's "Expect:" line are in that message.
STUDENT_LOOP_SOURCED=1 . tests/student_loop.sh
student_loop_expect "$T/mutants-out"
# The mutation score per lesson: mutants caught of mutants shipped.
[ -f "$T/mutation" ] && awk '{ n[$1]++; c[$1] += $2 } END {
    for (l in n) printf "mutation score %s: %d/%d caught\n", l, c[l], n[l] }' \
    "$T/mutation" | sort

}

lane_course() {
# ------------------------------------------------------------ structure
phase "structure"
check "the stress library passes its self-test" "$BUILD/bin/tests/stress_selftest"

# What CONTRIBUTING.md says a lesson needs ("Adding a lesson"), checked.
# readme_names_tests L: README's "Which test checks what" table has a row
# for every test in the points file.
readme_names_tests() {
    sed -n '/^## Which test checks what/,/^## [^W]/p' "lessons/$1/README.md" >"$T/which"
    grep -q . "$T/which" || { echo "no \"## Which test checks what\" section"; return 1; }
    # (One awk: a grep a test was 650 processes.)
    awk 'NR == FNR { row[$0] = 1; next }
        !/^#/ && NF {
            found = 0
            for (r in row) if (index(r, "| `" $1 "` |")) { found = 1; break }
            if (!found) { print "no row for " $1; bad = 1 }
        }
        END { exit bad }' "$T/which" "tests/$1/points"
}
# mutants_well_formed L: at least 8, each "Mutant: ...", then "Expect:
# ..." (checked against the first failure by student_loop_expect), then a
# diff; a "Caught-by:" line names a test of the lesson.
mutants_well_formed() {
    mw=$(ls tests/"$1"/mutants/*.patch 2>/dev/null | wc -l)
    [ "$mw" -ge 8 ] || { echo "$mw mutants in tests/$1/mutants/"; return 1; }
    # One awk for all of them: a process a patch cost 8 s over 400.
    awk -v points="tests/$1/points" '
        function done_file() { if (file != "" && !hunk) print file ": no unified diff hunk" }
        BEGIN {
            while ((getline line < points) > 0) {
                split(line, w, " ")
                if (w[1] != "" && w[1] !~ /^#/) test[w[1]] = 1
            }
        }
        FNR == 1 {
            done_file()
            file = FILENAME
            hunk = 0
            if ($0 !~ /^Mutant: ./) print file ": no \"Mutant: ...\" first line"
        }
        FNR == 2 && $0 !~ /^Expect: [^ ]/ {
            print file ": no \"Expect: word...\" second line (the words its first failure must say)"
        }
        FNR <= 5 && /^Caught-by: / && !($2 in test) {
            print file ": Caught-by: " $2 " is not a test in " points
        }
        /^@@ / { hunk = 1 }
        END { done_file() }' tests/"$1"/mutants/*.patch | grep . && return 1
    return 0
}
# bench_has_row L: a lesson with a bench program has a row in rows.tsv that
# runs it (as the measured program or as the OS limit).
bench_has_row() {
    b=bench_${1%%_*}
    [ -f "tests/bench/$b.c" ] || return 0
    awk -F '\t' -v b="$b" '!/^#/ && ($8 == b || $11 == b) { found = 1 }
        END { exit !found }' tests/bench/rows.tsv ||
        { echo "tests/bench/$b.c has no row in tests/bench/rows.tsv"; return 1; }
}
# bench_dates_match L: a figure the README cites as "(docs/bench.md, DATE"
# is from the reference run that docs/bench.md keeps: a new run there
# fails this until the lesson's figures are taken from it (issue 15).
bench_dates_match() {
    ref=$(sed -n 's/^\(20[0-9][0-9]-[0-9][0-9]-[0-9][0-9]\) [0-9:]* UTC,.*/\1/p' \
        docs/bench.md | head -1)
    [ -n "$ref" ] || { echo "docs/bench.md holds no dated reference run"; return 1; }
    tr '\n' ' ' <"lessons/$1/README.md" |
        grep -o 'docs/bench\.md, *20[0-9][0-9]-[0-9][0-9]-[0-9][0-9]' |
        grep -v "$ref\$" | sed "s/\$/: not the reference run of $ref/" | grep . &&
        return 1
    return 0
}

for l in $LESSONS; do
    t=$(topic "$l")
    n=${l%%_*}
    missing=""
    for f in lessons/$l/README.md lessons/$l/hints.md lessons/$l/$t.h \
        lessons/$l/$t.c solutions/$l/$t.c tests/$l/check_$t.c tests/$l/points \
        tests/$l/demo_$t.c tests/$l/demo.expect; do
        [ -f "$f" ] || missing="$missing $f"
    done
    ls tests/"$l"/mutants/*.patch >/dev/null 2>&1 || missing="$missing mutants"
    if [ -z "$missing" ]; then ok "$l has every part"; else no "$l has every part" "missing:$missing"; fi

    check "$l stub differs from the solution and marks each edit with TODO($n)" \
        sh -c "! cmp -s lessons/$l/$t.c solutions/$l/$t.c && grep -q 'TODO($n)' lessons/$l/$t.c"
    check "$l stub's code outside its TODO blocks is the solution's (given_code.sh)" \
        sh tests/given_code.sh "$l"
    check "$l has at least 8 mutants, each a Mutant: line, an Expect: line and a diff" \
        mutants_well_formed "$l"
    check "$l README's \"Which test checks what\" names every test in points" \
        readme_names_tests "$l"
    check "$l has a row in docs/python-map.md" \
        grep -qF "\\ref lesson$n \"$n\"" docs/python-map.md
    check "$l has a row in README.md's table of lessons" grep -q "^| $n | " README.md
    check "$l: its bench program, if any, has a row in tests/bench/rows.tsv" \
        bench_has_row "$l"
    check "$l README's figures from docs/bench.md cite its reference run's date" \
        bench_dates_match "$l"

    "$BUILD/bin/solutions/$l/check_$t" --list | sort >"$T/listed"
    grep -v '^#' "tests/$l/points" | awk 'NF { print $1 }' | sort >"$T/pointed"
    check "$l points file names exactly the tests in check_$t.c" \
        diff "$T/listed" "$T/pointed"
done

# make sweep's generator: every operator writes mutants of lesson 05's
# solution, and each of lesson 01's patches applies (a patch that does
# not would be graded as "nopatch", never as an escape).
sweep_writes() {
    "$python3" tests/sweep.py solutions/05_queues/queues.c "$T/sw05" 2>/dev/null &&
        for op in del rel neg const flag cond ret swap arith api clause unary var; do
            grep -q "	$op	" "$T/sw05/list.tsv" || { echo "no $op mutant"; return 1; }
        done &&
        "$python3" tests/sweep.py solutions/01_fork/fork.c "$T/sw01" 2>/dev/null &&
        for p in "$T"/sw01/sw_*.patch; do
            patch -s --dry-run -o /dev/null solutions/01_fork/fork.c <"$p" >/dev/null ||
                { echo "$p does not apply"; return 1; }
        done
}
if [ -d solutions/05_queues ] && [ -d solutions/01_fork ]; then
    check "make sweep's generator writes every operator, patches that apply" sweep_writes
fi

for h in lessons/*.h; do
    [ -f "$h" ] || continue
    printf '#include "%s"\nint main(void) { return 0; }\n' "$h" >"$T/h.c"
    # shellcheck disable=SC2086 # CSTD is several flags
    check "shared header $h compiles alone, warning-free" \
        "${CC:-cc}" $CSTD -I. -c "$T/h.c" -o "$T/h.o"
done

# ---------------------------------------------------------------- demos
phase "demos"

for l in $LESSONS; do
    t=$(topic "$l")
    [ -f "tests/$l/demo.expect" ] || continue
    timeout 10 "$BUILD/bin/solutions/$l/demo" >"$T/demo.out" 2>/dev/null
    # Line i of the output matches line i of demo.expect (an extended
    # regular expression), and there are as many lines: one awk a demo.
    good=0
    awk 'NR == FNR { want[FNR] = $0; n = FNR; next }
        { if (FNR > n || $0 !~ want[FNR]) bad = 1; got = FNR }
        END { exit bad || got != n }' "tests/$l/demo.expect" "$T/demo.out" && good=1
    if [ $good = 1 ]; then ok "$l demo prints the classic output"; else
        no "$l demo prints the classic output" "$(cat "$T/demo.out")"; fi
done

if [ "${ONLY_LESSONS:-}" != 1 ]; then
# ---------------------------------------------------------- make trace
phase "trace"

# The reference demos' traces against tests/NN/trace.expect, and mutants
# that leave a zombie, skip a reap or keep a write end open, shown so.
BUILD=$BUILD sh tests/trace_check.sh >"$T/trace.txt" 2>&1
while IFS= read -r line; do
    case $line in
    "ok   "*) ok "${line#ok   }" ;;
    "FAIL "*) no "${line#FAIL }" ;;
    "     "*) echo "$line" ;; # what the failure above showed
    esac
done <"$T/trace.txt"

# ------------------------------------------------ the grader's messages
phase "golden messages"

# The reports of small submissions (a compile error, a missing file, an
# early exit(0), a stray child, a zombie, a leaked descriptor, a timeout,
# SIGSEGV, SIGKILL, a memory error), pinned word for word.
GOLDEN_SOURCED=1 . tests/golden.sh
golden_run

# ------------------------------------------------ the student's loop
phase "the student's loop"

# (What a new student meets first, tests/student_loop.sh's checks, are
# make test-extra's: tests/extra.sh.  The watch and reset checks below
# are make test's own.)

# make watch: start on the stub, save a mistake, then the answer; the
# watcher must re-test on each save and end when every lesson passes.
W="$T/watch"
mkdir -p "$W/lessons/01_fork"
cp lessons/01_fork/fork.c "$W/lessons/01_fork/"
mkfifo "$T/watch.fifo"
timeout 120 "$GRADER" --course . --objdir "$BUILD/obj" --out "$T/watch-out" \
    --submission "$W" --lesson 01 --watch >"$T/watch.fifo" 2>&1 &
saves=0
passed_all=no
while IFS= read -r line; do
    case $line in
    "Waiting for a save"*)
        saves=$((saves + 1))
        if [ $saves = 1 ]; then
            patch -s -o "$W/lessons/01_fork/fork.c" solutions/01_fork/fork.c \
                <tests/01_fork/mutants/wait_any.patch
        else
            cp solutions/01_fork/fork.c "$W/lessons/01_fork/"
        fi
        ;;
    "Every lesson passes"*) passed_all=yes ;;
    esac
done <"$T/watch.fifo"
wait
check "make watch re-tests on every save and moves on when a lesson passes" \
    sh -c "[ $saves = 2 ] && [ $passed_all = yes ]"

if git rev-parse --git-dir >/dev/null 2>&1; then
    git clone -q . "$T/clone"
    echo '/* my attempt */' >>"$T/clone/lessons/01_fork/fork.c"
    (cd "$T/clone" && YES=1 make -s reset L=01 BUILD="$T/clone-build") >"$T/log.$LANE" 2>&1
    check "make reset restores the stub and keeps the student's file" \
        sh -c "cmp -s lessons/01_fork/fork.c $T/clone/lessons/01_fork/fork.c &&
            grep -q 'my attempt' $T/clone-build/backup/01_fork/fork.c.*"
fi

fi


# (make bench's smoke run and the clang build are make test-extra's,
# tests/extra.sh: .ci/run runs both.)

# ------------------------------------------------------ docs, coverage
phase "docs, coverage"

# Coverage first: the docs link its report.
# The floor is 90% of the course's lines; one lesson alone (L=NN), whose
# untested lines are mostly system calls failing, may dip to 85%.
floor=90
[ "${ONLY_LESSONS:-}" = 1 ] && floor=85
if command -v gcovr >/dev/null; then
    check "coverage of the solutions is at least $floor% of lines" \
        env FLOOR=$floor make -s coverage BUILD="$BUILD" GRADER_COV=0
else
    no "coverage" "gcovr is not installed: run make deps"
fi
if command -v doxygen >/dev/null; then
    check "docs build with no warnings (WARN_AS_ERROR)" make -s docs BUILD="$BUILD"
    check "docs: every local link and image resolves" \
        sh docs/linkcheck.sh "$BUILD/docs/html"
    pages_linked() {
        for l in $LESSONS; do
            n=${l%%_*}
            if ! grep -q "href=\"hints$n.html\"" "$BUILD/docs/html/lesson$n.html" ||
                ! grep -q "href=\"lesson$n.html\"" "$BUILD/docs/html/hints$n.html"; then
                echo "lesson$n.html and hints$n.html do not link each other"
                return 1
            fi
        done
    }
    check "docs: each lesson is a page linked to its hints and back" pages_linked
    # Doxygen names a file's page after it (fork.c: fork_8c.html): the
    # students' site has headers only, never a .c file.
    check "docs leave the solutions out" \
        sh -c "! ls $BUILD/docs/html | grep -qE '_8c(_source)?\.html\$'"
    # (make docs-solutions, the instructors' site: make test-extra.)
else
    no "docs build" "doxygen is not installed: run make deps"
fi

}

# lane NAME: run lane_NAME in the background, its output to $T/lane.NAME.
lanes=""
lane() {
    (
        LANE=$1
        # The mutants' lane ends last: the others yield it the cores a
        # little (nice 3, some 40% of a core's share against it), so that
        # all end nearer together.  (exec: sh's parent is this subshell.)
        [ "$1" = mutants ] ||
            renice -n 3 -p "$(exec sh -c 'echo $PPID')" >/dev/null 2>&1
        export TMPDIR="$T/tmp.$1"
        mkdir -p "$TMPDIR"
        chmod 755 "$TMPDIR"
        cpu_now
        phase_start=$(date +%s) phase_cpu=$cpu_
        "lane_$1"
        phase end
        echo "time $1:${phases%,}"
    ) >"$T/lane.$1" 2>&1 &
    lanes="$lanes $!"
    eval "pid_$1=$!"
}
trap 'kill $lanes 2>/dev/null; exit 130' INT TERM
start=$(date +%s)
echo "make test: four lanes at once (course, grading, attacks, mutants); each prints when done"
lane course
lane grading
lane attacks
lane mutants
for n in course grading attacks mutants; do
    eval "wait \$pid_$n"
    # The mutants' lane ends last: as each other lane ends, one grader
    # more for the mutants (GNU xargs takes SIGUSR1 to run one more).
    [ "$n" != mutants ] && [ -s "$T/mutants.xargs" ] &&
        kill -USR1 "$(cat "$T/mutants.xargs")" 2>/dev/null
    echo
    echo "== lane $n"
    cat "$T/lane.$n"
done
# A check that could not run must not pass by silence: the shell's own
# errors in a lane (a function that lane never defined, a command not
# found) fail make test.  (The student loop's eight checks once went
# unrun this way, "not found" in every log and nobody the wiser.)
{
    if grep -h -e 'selftest\.sh: [0-9]*: .*: not found' -e 'selftest\.sh: [0-9]*: Syntax error' \
        -e 'selftest\.sh: [0-9]*: .*: parameter not set' "$T"/lane.* >"$T/sherr"; then
        echo "FAIL make test's own script ran without a shell error"
        sed 's/^/     /' "$T/sherr" | head -5
    else
        echo "ok   make test's own script ran without a shell error"
    fi
} >"$T/lane.zshell"
cat "$T/lane.zshell"
passed=$(cat "$T"/lane.* | grep -c '^ok   ')
failed=$(cat "$T"/lane.* | grep -c '^FAIL ')
echo
echo "make test took $(($(date +%s) - start)) s"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
