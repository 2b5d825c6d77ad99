#!/bin/sh
# deps.sh - install what forklings needs: `make deps` runs this.
#
# Check (the unit test framework), pkg-config (to find it), Doxygen, its
# doxygen-awesome-css theme and graphviz (the docs site), gcovr (coverage),
# patch (to make mutants), zip (Gradescope takes its autograder as a zip),
# libssl-dev (OpenSSL's libcrypto: lesson 11's HMAC challenge)
# gnuplot (make bench's plot), strace (make trace) and clang (the course builds with gcc and
# clang alike; make test checks both): all Debian/Ubuntu packages.  Uses sudo
# when not root.
set -e
PKGS="build-essential clang check pkg-config libssl-dev doxygen doxygen-awesome-css graphviz gcovr patch zip gnuplot-nox strace"
# LINT=1 (CI, maintainers): make lint's tools too.  Students do not need them.
[ "${LINT:-}" = 1 ] && PKGS="$PKGS clang-format shellcheck cppcheck"

if ! command -v apt-get >/dev/null 2>&1; then
    cat >&2 <<MSG
make deps: this machine has no apt-get.  Install these yourself, then run
make grade:
  a C compiler (gcc; clang too for make test) and make, Check (>= 0.13) with pkg-config, OpenSSL's libcrypto headers, Doxygen and
  graphviz, gcovr, patch, gnuplot, strace
  Fedora:  sudo dnf install gcc make check-devel openssl-devel pkgconf doxygen graphviz gcovr patch gnuplot strace
  Arch:    sudo pacman -S base-devel check openssl pkgconf doxygen graphviz gcovr patch gnuplot strace
  macOS cannot run the course: it needs Linux (use a Linux VM or WSL2).
MSG
    exit 1
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "make deps: not root and no sudo; as root run: apt-get install $PKGS" >&2
        exit 1
    fi
    SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086 # one package a word
$SUDO apt-get install -y -qq --no-install-recommends $PKGS >/dev/null
echo "make deps: installed $PKGS"
