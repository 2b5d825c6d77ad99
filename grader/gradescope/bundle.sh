#!/bin/sh
# bundle.sh - `make gradescope`: build Gradescope's autograder zip.
#
# Gradescope unpacks the zip into /autograder/source: setup.sh and
# run_autograder at its top, beside the course: the Makefile, the grader,
# the lessons (headers, stubs, READMEs), the tests with their points, the
# trace tool (a failing test's report shows its processes),
# and HIDDEN's tests as hidden/.  Never the solutions, nor the mutants
# (each is a patch of a solution).
set -eu
out=$1
stage=$out/stage
rm -rf "$stage"
mkdir -p "$stage"
tar --exclude='*/mutants' --exclude=tests/hostile -cf - Makefile grader lessons tests tools |
    tar -C "$stage" -xf -
if [ -n "${HIDDEN:-}" ]; then
    cp -R "$HIDDEN" "$stage/hidden"
fi
cp grader/gradescope/setup.sh grader/gradescope/run_autograder "$stage/"
chmod +x "$stage/setup.sh" "$stage/run_autograder"
rm -f "$out/autograder.zip"
(cd "$stage" && zip -qr ../autograder.zip .)
echo "wrote $out/autograder.zip: upload it as the assignment's autograder"
