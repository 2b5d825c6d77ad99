#!/bin/sh
# given_code.sh - the code a stub gives is the solution's, line for line.
#
# Why it exists: a solution is its stub with the TODOs filled in (see
# CONTRIBUTING.md), but the two are separate files, and a fix made to a
# helper in one is easily forgotten in the other.  Then the student is
# given code the tests were never run against.  This check keeps them
# together with one rule, so simple that a diff shows it:
#
#   every line of the stub outside a TODO block appears, in order, in the
#   solution.
#
# A TODO block is what the student replaces:
#   - a `// TODO(NN)` comment and the `//` lines that continue it;
#   - inside a function, after such a comment, up to the function's
#     closing brace, the placeholders that make the stub fail fast: more
#     comments, `(void)name;` casts (a trailing comment allowed), an
#     `errno = ENOSYS;`, a variable set to zero (`struct timespec t =
#     {0, 0};`, `= 0;`, `= NULL;`), and the one `return ...;` or
#     `_exit(...);` that ends the stub's function (its placeholder result).
# Anything else the stub holds is given code: the solution may not change
# or drop it.  And the solution adds its lines (the answer) only at a TODO
# block: right after or right before one of its lines (blank lines aside).  A helper that only
# the solution has is announced by a TODO(NN) comment where it goes.
#
# Usage: sh tests/given_code.sh [NN_topic...]   (default: every lesson)
# Prints each given line the solution lacks, and each addition outside a
# TODO block, as FILE:LINE: ...; exits 1 if there is one.
set -u

# blocks N STUB: the numbers of the stub's lines that lie in TODO blocks.
# A function's body runs from "{" at column 0 to "}" at column 0.
blocks() {
    awk -v mark="TODO($1)" '
        /^\{/ { infn = 1; tail = 0; incomment = 0; next }
        /^\}/ {
            if (tail && prev ~ result) print NR - 1
            infn = 0; tail = 0; incomment = 0; next
        }
        {
            prev = $0
            comment = $0 ~ /^[ \t]*\/\//
            if (comment && index($0, mark)) {
                incomment = 1
                tail = infn
                print NR
            } else if (comment && incomment) {
                print NR
            } else {
                incomment = 0
                if (tail && (comment || $0 ~ cast || $0 ~ zero))
                    print NR
                else if (!($0 ~ result))
                    tail = 0
            }
        }
    ' result='^[ \t]*(return( .*)?|_exit\(.*\));[ \t]*$' \
      cast='^[ \t]*\(void\)[A-Za-z_][A-Za-z0-9_]*;[ \t]*(//.*)?$' \
      zero='^[ \t]*(errno|[A-Za-z_][A-Za-z0-9_ ]*[ *]+[A-Za-z_][A-Za-z0-9_]*)[ \t]*=[ \t]*(E[A-Z0-9]+|0|NULL|\{[ 0,]*\});[ \t]*$' \
      "$2"
}

# check LESSON: 0 when the stub's given code is all in the solution and
# the solution adds lines only at TODO blocks.
check() {
    l=$1 n=${1%%_*} t=${1#*_}
    stub=lessons/$l/$t.c sol=solutions/$l/$t.c
    if [ ! -f "$stub" ] || [ ! -f "$sol" ]; then
        echo "$l: no $stub or $sol"
        return 1
    fi
    blocks "$n" "$stub" >"$tmp.ok"
    grep -n '^[[:space:]]*$' "$stub" | cut -d: -f1 >"$tmp.blank"
    # The stub's lines that are not in the solution, as "LINE TEXT"...
    diff -d --unchanged-line-format= --new-line-format= \
        --old-line-format='%dn %L' "$stub" "$sol" >"$tmp.only"
    # ...and where the solution adds lines: "after stub line N" (40a41,74).
    diff -d "$stub" "$sol" | sed -n 's/^\([0-9]*\)a\([0-9,]*\)$/\1 \2/p' >"$tmp.adds"
    awk -v f="$stub" -v s="$sol" 'FILENAME == ARGV[1] { ok[$1] = 1; next }
        FILENAME == ARGV[2] {
            n = $1; sub(/^[0-9]+ /, "")
            if (!(n in ok)) {
                print f ":" n ": given code the solution lacks: " $0; bad = 1
            }
            next
        }
        FILENAME == ARGV[3] { blank[$1] = 1; next }
        {
            # The stub lines around the insertion, blank lines skipped.
            for (b = $1; b in blank; b--) ;
            for (a = $1 + 1; a in blank; a++) ;
            if (!(b in ok) && !(a in ok)) {
                print s ":" $2 ": added after " f ":" $1 ", outside a TODO block"
                bad = 1
            }
        }
        END { exit bad }' "$tmp.ok" "$tmp.only" "$tmp.blank" "$tmp.adds"
}

tmp=$(mktemp) || exit 1
trap 'rm -f "$tmp" "$tmp.ok" "$tmp.only" "$tmp.blank" "$tmp.adds"' EXIT
# shellcheck disable=SC2046 # lesson names have no spaces
[ $# -gt 0 ] || set -- $(cd tests && ls -d [0-9][0-9]_* 2>/dev/null)
status=0
for l in "$@"; do
    l=${l%/}
    check "$l" || status=1
done
exit $status
