#!/bin/sh
# docs.sh - redraw docs/trace/NN_topic.svg, the reference solutions' demos
# as the docs site's "See your processes" page shows them.
# Usage: BUILD=build sh tools/trace/docs.sh   (from the top of the tree)
# Lesson 03's demo is left out: under strace it forks hundreds of
# processes (the spawn start method re-executes the program each time).
set -eu
BUILD=${BUILD:-build}
SKIP="03_start_methods"
lessons=$(cd tests && for l in [0-9][0-9]_*; do
    case " $SKIP " in *" $l "*) continue ;; esac
    if [ -f "$l/points" ] && [ -f "../solutions/$l/${l#*_}.c" ]; then
        echo "$l"
    fi
done)
demos=$(for l in $lessons; do echo "$BUILD/bin/solutions/$l/demo"; done)
# shellcheck disable=SC2086
make -s BUILD="$BUILD" "$BUILD/bin/trace" $demos
mkdir -p docs/trace
for l in $lessons; do
    "$BUILD/bin/trace" --quiet --short --svg "docs/trace/$l.svg" \
        --title "$l: the reference solution's demo" \
        -- "$BUILD/bin/solutions/$l/demo" | head -1 | sed "s/^trace/$l/"
done
