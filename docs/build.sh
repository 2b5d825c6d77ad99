#!/bin/sh
# build.sh - build the docs site: `make docs` (and `make docs-solutions`).
#
# Doxygen reads a tree made here, not the repository's Markdown as it is:
# every lesson's README is called README.md, which Doxygen cannot tell apart
# in links, so each page gets an id (lesson01, hints01, ...), previous and
# next links, and its hints as a subpage.  The README becomes the main page
# with the lessons listed in order; the instructor guide, the Python map
# and the coverage report hang off it.  With SOLUTIONS=1 the solutions go
# in too, for instructors: never in the students' site.
# (printf, not echo: the echo of dash turns the \r of \ref into a return.)
set -eu
OUT=$1
SRC=$OUT/src
rm -rf "$SRC"
mkdir -p "$SRC"

# Lessons with both a README and hints: a half-written one waits.
lessons=$(cd lessons && for l in [0-9][0-9]_*; do
    if [ -f "$l/README.md" ] && [ -f "$l/hints.md" ]; then echo "$l"; fi
done)
nn() { echo "${1%%_*}"; }
title() { head -1 "lessons/$1/README.md" | sed 's/^# *//'; }

# The main page: the README, its lesson table linked, then the page tree.
sed_links=""
for l in $lessons; do
    n=$(nn "$l")
    sed_links="$sed_links;s/^| $n | \\([^|]*[^ |]\\) *|/| $n | \\\\ref lesson$n \"\\1\" |/"
done
sed "${sed_links#;}" README.md >"$SRC/index.md"
{
    echo
    echo "## The site"
    echo
    for l in $lessons; do printf '%s\n' "- \\subpage lesson$(nn "$l")"; done
    printf '%s\n' "- \\subpage python_map" "- \\subpage instructors" "- \\subpage bench"
    printf '%s\n' "- \\subpage traces"
    if [ -f "$OUT/../coverage/index.html" ]; then
        echo "- [Coverage report of the solutions](../../coverage/index.html)"
    fi
} >>"$SRC/index.md"

prev=""
# shellcheck disable=SC2086 # one lesson a word
set -- $lessons
while [ $# -gt 0 ]; do
    l=$1
    shift
    n=$(nn "$l")
    next=${1:-}
    {
        sed -e "1s/\$/ {#lesson$n}/" \
            -e "s/\\[hints\\](hints.md)/\\\\ref hints$n \"hints\"/g" \
            -e 's#](\.\./\.\./docs/img/#](img/#g' \
            "lessons/$l/README.md"
        echo
        echo "---"
        echo
        # \subpage makes the hints a child of the lesson in the tree, and
        # is a link where it stands, like \ref.
        nav="Hints: \\subpage hints$n \"$(head -1 "lessons/$l/hints.md" | sed 's/^# *//')\""
        [ -n "$prev" ] && nav="Previous: \\ref lesson$(nn "$prev") \"$(title "$prev")\" · $nav"
        if [ -n "$next" ]; then
            nav="$nav · Next: \\ref lesson$(nn "$next") \"$(title "$next")\""
        else
            nav="$nav · Next: \\ref python_map \"$(head -1 docs/python-map.md | sed "s/^# *//")\""
        fi
        printf '%s\n' "$nav"
    } >"$SRC/lesson$n.md"
    {
        sed "1s/\$/ {#hints$n}/" "lessons/$l/hints.md"
        echo
        echo "---"
        echo
        printf '%s\n' "Back to \\ref lesson$n \"$(title "$l")\""
    } >"$SRC/hints$n.md"
    prev=$l
done
sed '1s/$/ {#instructors}/' docs/instructors.md >"$SRC/instructors.md"
sed '1s/$/ {#python_map}/' docs/python-map.md >"$SRC/python_map.md"
# The benchmarks: this tree's own `make bench` if it ran in full (not
# QUICK=1), else the reference run kept in docs/bench.md.  The plot is
# copied in after Doxygen, which leaves an image it cannot find as it is.
bench=$OUT/../bench svg=docs/bench-speedup.svg fresh=""
if [ -f "$bench/results.md" ] && [ -f "$bench/speedup.svg" ] &&
    ! grep -q '^QUICK=1' "$bench/results.md"; then
    fresh=1 svg=$bench/speedup.svg
fi
{
    if [ -n "$fresh" ]; then
        # The lessons quote the reference run: say which, as it is not shown.
        ref=$(sed -n 's/^\(20[0-9][0-9]-[0-9][0-9]-[0-9][0-9]\) [0-9:]* UTC,.*/\1/p' \
            docs/bench.md | head -1)
        sed '/^## Results/,$d' docs/bench.md
        note="the lessons quote the reference run of $ref, kept in docs/bench.md"
        printf '%s\n\n%s\n' "## Results" "From \`make bench\` in this tree ($note):"
        sed '1d; s/^## /### /; s/](speedup.svg)/](bench-speedup.svg)/' \
            "$bench/results.md"
    else
        cat docs/bench.md
    fi
} | sed '1s/$/ {#bench}/' >"$SRC/bench.md"

# The traces page: docs/trace.md, then each reference demo's timeline
# (docs/trace/NN_topic.svg, from tools/trace/docs.sh), copied in after
# Doxygen as the bench plot is.
{
    cat docs/trace.md
    for f in docs/trace/[0-9][0-9]_*.svg; do
        [ -f "$f" ] || continue
        l=$(basename "$f" .svg)
        printf '\n### Lesson %s\n\n![The %s demo](trace-%s.svg)\n' \
            "$(nn "$l")" "$l" "$l"
    done
} | sed '1s/$/ {#traces}/' >"$SRC/traces.md"

inputs="$SRC tests/harness.h tests/contract.h tests/stress.h $(ls lessons/*.h 2>/dev/null | tr '\n' ' ')"
for l in $lessons; do inputs="$inputs lessons/$l/${l#*_}.h"; done
if [ "${SOLUTIONS:-}" = 1 ]; then
    for l in $lessons; do inputs="$inputs solutions/$l/${l#*_}.c"; done
fi
theme=""
for css in /usr/share/doxygen-awesome-css/doxygen-awesome.css \
    /usr/share/doxygen-awesome-css/doxygen-awesome-sidebar-only.css; do
    [ -f "$css" ] && theme="$theme $css"
done
DOCS_OUT=$OUT DOCS_INPUT=$inputs DOCS_MAIN=$SRC/index.md DOCS_THEME=$theme \
    DOCS_WERROR=$([ "${SOLUTIONS:-}" = 1 ] && echo NO || echo YES) \
    DOCS_ALL=$([ "${SOLUTIONS:-}" = 1 ] && echo YES || echo NO) \
    DOCS_DOT=${DOCS_DOT:-YES} doxygen docs/Doxyfile
cp "$svg" "$OUT/html/bench-speedup.svg"
for f in docs/trace/[0-9][0-9]_*.svg; do
    [ -f "$f" ] && cp "$f" "$OUT/html/trace-$(basename "$f")"
done
# The lessons' pictures: a README shows docs/img/NAME.svg by the path that
# works on a code host, ../../docs/img/; the pages here say img/ instead.
mkdir -p "$OUT/html/img"
cp docs/img/*.svg "$OUT/html/img/"
