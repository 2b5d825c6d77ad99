#!/bin/sh
# compile_commands.sh - `make compile_commands.json`: how each C file of the
# course is compiled, for clangd and VS Code.
#
# Editors need each file's include paths (check.h through pkg-config, the
# lesson's header, tests/ for the harness) or they mark every test red.
# The Makefile passes its flags in the environment: CC, CFLAGS (standard
# and warnings), CHECK_CFLAGS, GRADER_FLAGS (a shell command-line fragment,
# quotes and all).  Writes the JSON on stdout; the directory is this one.
set -eu
dir=$(pwd)
first=1

# json TEXT: TEXT as the inside of a JSON string.
json() { printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g'; }

# entry FILE FLAGS...: one compile command.
entry() {
    file=$1
    shift
    [ $first = 1 ] && printf '[\n' || printf ',\n'
    first=0
    printf '  {"directory": "%s", "file": "%s",\n   "command": "%s"}' \
        "$(json "$dir")" "$(json "$file")" \
        "$(json "$CC $CFLAGS $* -c $file -o /dev/null")"
}

lesson_of() { # tests/bench/bench_04.c -> lessons/04_pipes
    n=$(basename "$1" .c)
    n=${n#bench_}
    for l in lessons/"$n"_*; do echo "$l"; done
}

for f in lessons/[0-9]*/*.c solutions/[0-9]*/*.c; do
    [ -f "$f" ] || continue
    l=$(basename "$(dirname "$f")")
    entry "$f" "-Ilessons/$l"
done
for f in tests/[0-9]*/*.c tests/hidden-example/[0-9]*/*.c; do
    [ -f "$f" ] || continue
    l=$(basename "$(dirname "$f")")
    entry "$f" "$CHECK_CFLAGS -Ilessons/$l -Itests"
done
for f in tests/*.c; do
    entry "$f" "$CHECK_CFLAGS -Itests"
done
for f in tests/bench/bench_*.c; do
    [ -f "$f" ] || continue
    entry "$f" "-I$(lesson_of "$f") -Itests/bench"
done
for f in grader/*.c; do
    entry "$f" "$GRADER_FLAGS -Igrader -Itests"
done
[ $first = 1 ] && printf '['
printf '\n]\n'
