#!/bin/sh
# hint.sh - `make hint L=NN`: show one more hint from lessons/NN_*/hints.md
# each time it runs, from a nudge to a near-answer.  The count of hints
# seen is kept in build/hints/NN_topic; `make hint L=NN RESET=1` starts over.
set -u
lesson=$1
file=lessons/$lesson/hints.md
state=${BUILD:-build}/hints/$lesson
[ -f "$file" ] || { echo "no hints for $lesson" >&2; exit 1; }
mkdir -p "$(dirname "$state")"
[ "${RESET:-}" = 1 ] && rm -f "$state"
total=$(grep -c '^## Hint ' "$file")
seen=$(cat "$state" 2>/dev/null || echo 0)
[ "$seen" -lt "$total" ] && seen=$((seen + 1))
echo "$seen" >"$state"
awk -v n="$seen" '/^## Hint /{ h++ } h >= 1 && h <= n' "$file"
echo
if [ "$seen" -lt "$total" ]; then
    echo "(hint $seen of $total: run make hint L=${lesson%%_*} again for the next)"
else
    echo "(that was the last of $total hints; RESET=1 starts over)"
fi
