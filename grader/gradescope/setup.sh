#!/bin/sh
# setup.sh - Gradescope runs this once, as root, when it builds the
# autograder image: install the tools and build the grader and the tests.
set -e
cd /autograder/source
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends build-essential check pkg-config libssl-dev strace
make -s grader
