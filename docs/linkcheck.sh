#!/bin/sh
# linkcheck.sh - every local link and image in the built site must resolve.
# Prints each broken one as PAGE: TARGET and exits 1 if there is any.
set -u
html=$1
for page in "$html"/*.html; do
    dir=$(dirname "$page")
    grep -o -E '(href|src)="[^"]*"' "$page" | sed -E 's/^(href|src)="//; s/"$//' |
        grep -v -E '^(https?:|mailto:|javascript:|#|data:)' | sed 's/#.*//' |
        sort -u | while read -r target; do
            [ -z "$target" ] && continue
            [ -e "$dir/$target" ] || echo "$(basename "$page"): $target"
        done
done >"$html/../broken-links.txt"
if [ -s "$html/../broken-links.txt" ]; then
    cat "$html/../broken-links.txt"
    exit 1
fi
echo "all local links resolve ($(ls "$html"/*.html | wc -l) pages)"
