#!/bin/sh
# grade_mutant.sh GRADER OBJDIR OUT TREE: grade one mutant for make test.
#
# TREE is a submission holding one mutated solution, named after it
# (.../NN_topic--name); its patch is tests/NN_topic/mutants/name.patch.
# The verdict goes to OUT/NN_topic--name/verdict, one line:
#   caught TEST       the lesson built and TEST, a test of it, failed
#   escaped GOT/MAX   the lesson built and every test passed
#   unbuilt           the lesson did not build: it lost points for nothing
# and the grader's own outputs to OUT/NN_topic--name/.
#
# A mutant's patch may name the test that caught it when it was added
# ("Caught-by: test_..."): that test runs alone first, and if it fails,
# that is the proof, at the cost of one test instead of every test before
# it.  Otherwise (or if it passes now) the whole lesson runs, stopping at
# its first failure (--fail-fast).  Mutants of memory (mem_*.patch) are
# graded with the sanitizer pass, as make grade does.
#
# The lesson is compiled with -Og, not the course's -O2 (--quick-build),
# in both passes: compiling is most of a mutant's cost, and -Og is a
# third cheaper (the sanitizer pass, half: a mem_ mutant 0.3 to 0.7
# CPU-s less).  Graded both ways (529 mutants, 2026-12-07) every verdict
# was the same; students and instructors always get -O2.  It also skips
# the inspection of the object (a readelf in the sandbox, which refuses
# constructors and libc's names): the mutants are the course's own code.
set -u
grader=$1 objdir=$2 out=$3 tree=$4
# (Builtins where they do, sed and awk included: 400 mutants, and a
# process costs some 4 ms.  No timeout a grading either: the grader ends
# each step by its own clock, and make test puts one around them all.)
m=${tree%/}
m=${m##*/}
l=${m%%--*}
p="tests/$l/mutants/${m#*--}.patch"
o="$out/$m"
[ -d "$out" ] || mkdir -p "$out"
san=--no-sanitize
case $m in *--mem_*) san=--sanitize ;; esac
first="" i=0
while [ "$i" -lt 5 ] && IFS= read -r line; do
    case $line in "Caught-by:"*) first=${line#Caught-by:} && break ;; esac
    i=$((i + 1))
done <"$p"
first=${first#"${first%%[! ]*}"} # (the spaces before the name)
first=${first%% *}

# verdict: from the scores.tsv in o, what the run proved, in v (not
# printed: a $(...) is one more process).
verdict() {
    built="" got="" max="" failed="" v=""
    [ -f "$o/scores.tsv" ] || return 0
    tab=$(printf '\t')
    while IFS=$tab read -r kind lesson a b _; do
        [ "$lesson" = "$l" ] || continue
        case $kind in
        B) built=$a ;;
        L) got=$a max=$b ;;
        T) [ "$b" = 0 ] && [ -z "$failed" ] && failed=$a ;;
        esac
    done <"$o/scores.tsv"
    if [ "$built" != 1 ]; then
        v=unbuilt
    elif [ -n "$failed" ]; then
        v="caught $failed"
    else
        v="escaped $got/$max"
    fi
}

grade() {
    [ -e "$o" ] && rm -rf "$o"
    "$grader" --course . --objdir "$objdir" --submission "$tree" \
        --lesson "$l" --out "$o" $san --quick-build "$@" >"$o.txt" 2>&1
}

if [ -n "$first" ]; then
    grade --only "$first" --fail-fast # (no trace of the failure: a rerun)
    verdict
    case $v in "caught $first") echo "$v" >"$o/verdict" && exit 0 ;; esac
fi
grade --fail-fast
verdict
echo "${v:-unbuilt}" >"$o/verdict"
