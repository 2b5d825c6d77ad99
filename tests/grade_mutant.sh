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
set -u
grader=$1 objdir=$2 out=$3 tree=$4
# (Builtins where they do: 400 mutants, and a process costs some 4 ms.)
m=${tree%/}
m=${m##*/}
l=${m%%--*}
p="tests/$l/mutants/${m#*--}.patch"
o="$out/$m"
[ -d "$out" ] || mkdir -p "$out"
san=--no-sanitize
case $m in *--mem_*) san=--sanitize ;; esac
first=$(sed -n '1,5{/^Caught-by: */{s///p;q;};}' "$p")

# verdict: from the scores.tsv in o, what the run proved.
verdict() {
    awk -F '\t' -v l="$l" '
        $1 == "B" && $2 == l { built = $3 }
        $1 == "L" && $2 == l { got = $3; max = $4 }
        $1 == "T" && $2 == l && $4 == 0 && failed == "" { failed = $3 }
        END {
            if (built != 1) print "unbuilt"
            else if (failed != "") print "caught " failed
            else print "escaped " got "/" max
        }' "$o/scores.tsv" 2>/dev/null
}

grade() {
    rm -rf "$o"
    timeout 600 "$grader" --course . --objdir "$objdir" --submission "$tree" \
        --lesson "$l" --out "$o" $san "$@" >"$o.txt" 2>&1
}

if [ -n "$first" ]; then
    grade --only "$first" --fail-fast # (no trace of the failure: a rerun)
    v=$(verdict)
    case $v in "caught $first") echo "$v" >"$o/verdict" && exit 0 ;; esac
fi
grade --fail-fast
v=$(verdict)
echo "${v:-unbuilt}" >"$o/verdict"
