#!/bin/sh
# linkcheck.sh - every local link and image in the built site must resolve.
# Prints each broken one as PAGE: TARGET and exits 1 if there is any.
# (One grep and one sed for all the pages, then shell tests: a pipeline
# per page cost 7 CPU-s for Doxygen's 120 pages.)
set -u
html=$1
grep -o -H -E '(href|src)="[^"]*"' "$html"/*.html |
    sed -E 's/^([^:]*):(href|src)="/\1 /; s/"$//; s/#.*//' |
    grep -v -E ' (https?:|mailto:|javascript:|data:|$)' |
    sort -u | while read -r page target; do
        [ -e "$html/$target" ] || echo "${page##*/}: $target"
    done >"$html/../broken-links.txt"
if [ -s "$html/../broken-links.txt" ]; then
    cat "$html/../broken-links.txt"
    exit 1
fi
echo "all local links resolve ($(ls "$html"/*.html | wc -l) pages)"
