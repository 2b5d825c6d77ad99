#!/bin/sh
# sweep.sh NN_topic DIR: grade every DIR/sw_*.patch (made by tests/sweep.py
# from solutions/NN_topic) as make test grades a mutant, a grader a core,
# and report what escaped.  make sweep L=NN runs it.
#
# Each mutant is graded at -Og, stopping at the first failure; one that
# passes is graded again with the sanitizer pass.  DIR/result.tsv gets a
# line a mutant: its id and "caught TEST", "san-caught TEST", "escaped
# GOT/MAX" or "unbuilt" (it did not compile: a mistake the compiler
# catches).  Ids already there are skipped, so a sweep stopped (Ctrl-C)
# goes on where it was.  The report: a count a verdict for each operator,
# then every escape, which is a test to write or a mutant no caller can
# tell from the solution (say which in the commit that fixes it).
set -u
if [ "${1:-}" = --one ]; then
    # --one NN_topic DIR ID: grade one (xargs runs these)
    l=$2 dir=$3 id=$4 t=${2#*_}
    w=$(mktemp -d "${TMPDIR:-/tmp}/sweep-$id-XXXXXX") || exit 1
    trap 'rm -rf "$w"' EXIT
    mkdir -p "$w/tree/lessons/$l"
    if ! patch -s -o "$w/tree/lessons/$l/$t.c" "solutions/$l/$t.c" \
        <"$dir/$id.patch" >/dev/null 2>&1; then
        printf '%s\tnopatch\n' "$id" >>"$dir/result.tsv"
        exit 0
    fi
    chmod -R a+rX "$w"
    verdict() { # the grader's scores.tsv in $1: caught TEST, escaped, unbuilt
        awk -F'\t' -v l="$l" '$2 == l && $1 == "B" { b = $3 }
            $2 == l && $1 == "L" { g = $3; m = $4 }
            $2 == l && $1 == "T" && $4 == 0 && f == "" { f = $3 }
            END { if (b != 1) print "unbuilt"; else if (f != "") print "caught\t" f;
                  else print "escaped\t" g "/" m }' "$1/scores.tsv" 2>/dev/null ||
            echo unbuilt
    }
    grade() { # grade() OUT --sanitize|--no-sanitize
        "$BUILD/bin/grader" --course . --objdir "$BUILD/obj" --submission "$w/tree" \
            --lesson "$l" --out "$w/$1" "$2" --quick-build --fail-fast >/dev/null 2>&1
    }
    grade o1 --no-sanitize
    v=$(verdict "$w/o1")
    case $v in escaped*)
        grade o2 --sanitize
        v2=$(verdict "$w/o2")
        case $v2 in caught*) v="san-$v2" ;; esac
        ;;
    esac
    printf '%s\t%s\n' "$id" "$v" >>"$dir/result.tsv" # (one short write: atomic)
    exit 0
fi

l=${1:?usage: sweep.sh NN_topic DIR} dir=${2:?usage: sweep.sh NN_topic DIR}
BUILD=${BUILD:-build}
export BUILD
touch "$dir/result.tsv"
cut -f1 "$dir/result.tsv" >"$dir/.done"
todo=$(for p in "$dir"/sw_*.patch; do
    [ -f "$p" ] || continue
    id=${p##*/}
    echo "${id%.patch}"
done | grep -vxF -f "$dir/.done")
rm -f "$dir/.done"
n=$(echo "$todo" | grep -c . || true)
all=$(wc -l <"$dir/list.tsv")
echo "sweep $l: $n of $all mutants to grade, $(nproc) at a time (about a second each; Ctrl-C stops, make sweep again goes on)"
[ "$n" = 0 ] || echo "$todo" | xargs -P "$(nproc)" -n 1 sh "$0" --one "$l" "$dir"

# The report: per operator, how many of each verdict; then the escapes.
awk -F'\t' 'NR == FNR { op[$1] = $3; line[$1] = $2; after[$1] = $5; next }
    { v = $2; sub(/^san-/, "", v); n[op[$1] "\t" v]++; ops[op[$1]] = 1; vs[v] = 1
      if (v == "escaped") esc[++e] = sprintf("  %s  line %-4d %-6s %s", $1, line[$1], op[$1], after[$1]) }
    END {
        printf "\n%-8s", "operator"; split("caught escaped unbuilt nopatch", V, " ")
        for (i = 1; i <= 4; i++) printf " %8s", V[i]; printf "\n"
        no = split("del rel neg const flag cond ret swap arith api clause unary var", O, " ")
        for (k = 1; k <= no; k++) { o = O[k]; if (!(o in ops)) continue; printf "%-8s", o; for (i = 1; i <= 4; i++) printf " %8d", n[o "\t" V[i]]; printf "\n" }
        if (e) { printf "\nescaped (%d): each a test to write, or a mutant no caller can tell apart\n", e
                 for (i = 1; i <= e; i++) print esc[i] }
        else print "\nnothing escaped"
    }' "$dir/list.tsv" "$dir/result.tsv"
echo "(the patches: $dir/sw_NNNN.patch; results: $dir/result.tsv)"
