#!/bin/sh
# reset.sh - `make reset L=NN`: put a lesson's pristine stub back.
#
# The student's file is copied to build/backup/ first, and nothing happens
# without a yes (YES=1 answers for you).  The pristine stub comes from git:
# the upstream branch if this clone tracks one, else the newest commit to
# the file by the course's authors (whoever made the first commit), else
# HEAD.
set -u
lesson=$1
file=lessons/$lesson/${lesson#*_}.c
if ! command -v git >/dev/null || ! git rev-parse --git-dir >/dev/null 2>&1; then
    echo "make reset needs the course's git history (a clone, not a copy)." >&2
    exit 1
fi
ref=$(git rev-parse -q --verify '@{upstream}' 2>/dev/null)
if [ -z "$ref" ]; then
    author=$(git log --reverse --format=%ae | head -1)
    ref=$(git log --format='%H %ae' -- "$file" | awk -v a="$author" '$2 == a { print $1; exit }')
fi
[ -n "$ref" ] || ref=HEAD
tmp=$(mktemp) || exit 1
trap 'rm -f "$tmp"' EXIT
git show "$ref:$file" >"$tmp" 2>/dev/null || {
    echo "no pristine $file in git ($ref)" >&2
    exit 1
}
if cmp -s "$tmp" "$file"; then
    echo "$file is already the pristine stub."
    exit 0
fi
backup=${BUILD:-build}/backup/$lesson/$(basename "$file").$(date +%Y%m%d-%H%M%S)
if [ "${YES:-}" != 1 ] && ! { true </dev/tty; } 2>/dev/null; then
    # No terminal to ask (a script, CI, an editor's task runner): say how
    # to confirm instead of quietly doing nothing.
    echo "make reset asks before it replaces $file, and there is no" >&2
    echo "terminal to ask. To confirm, run: make reset L=${lesson%%_*} YES=1" >&2
    echo "(your file is kept in ${BUILD:-build}/backup/$lesson/). Nothing changed." >&2
    exit 1
fi
if [ "${YES:-}" != 1 ]; then
    printf 'Replace %s with the pristine stub? Your file is kept in %s. [y/N] ' \
        "$file" "$backup"
    answer=""
    { read -r answer </dev/tty; } 2>/dev/null || true
    case $answer in
    y | Y | yes) ;;
    *)
        echo "Nothing changed."
        exit 0
        ;;
    esac
fi
mkdir -p "$(dirname "$backup")"
cp "$file" "$backup" && cp "$tmp" "$file" &&
    echo "Reset $file (from $(git rev-parse --short "$ref")); your version: $backup"
