// contract.h - what the grader and the test harness agree on, written once.
//
// The grader (grader/*.c) runs a lesson's test program once per test and
// reads its verdict; the harness (tests/harness.c) is the main of that
// program.  Every fact the two must share lives here and nowhere else: the
// descriptor the verdict comes back on, the environment names, the IPC
// prefix, the verdict's format and the exit statuses.  Both include it.
//
// Why the verdict can be trusted: the harness's runner process runs no
// student code (the grader refuses an object with constructors or with
// definitions of libc, Check or harness names before linking it), and the
// test body runs in a child that must end through the harness with a pass
// status and a 64-bit token that the runner drew at random when it
// started.  Neither is a public constant, and the verdict descriptor is
// closed in that child before the body runs.
#ifndef FORKLINGS_CONTRACT_H
#define FORKLINGS_CONTRACT_H

/**
 * @file contract.h
 * @brief What the grader and the test harness agree on, written once.
 */

/// The descriptor on which the runner writes one verdict line per test.
#define FL_RESULT_FD 3

/// Environment variable naming FL_RESULT_FD for the runner.
#define FL_RESULT_FD_ENV "FL_RESULT_FD"

/// Environment variable naming the run's prefix for named IPC objects.
#define FL_PREFIX_ENV "FORKLINGS_PREFIX"

/// Every run's prefix starts with this ("fl." then a per-run part).
#define FL_PREFIX_HEAD "fl."

/// A verdict line is NAME TAB (PASS|FAIL) TAB MESSAGE NEWLINE, the message
/// without tab or newline; this is the word for a test that passed.
#define FL_VERDICT_PASS "PASS"

/// The verdict word for a test that failed.
#define FL_VERDICT_FAIL "FAIL"

/// Exit status of a stray child that returned into a test body.
#define FL_EXIT_STRAY 78

/// Exit status of the runner when every test it ran passed.
#define FL_RUNNER_PASSED 0

/// Exit status of the runner when a test it ran failed.
#define FL_RUNNER_FAILED 1

/// Exit status of the runner called wrongly (no such test) or broken.
#define FL_RUNNER_USAGE 2

/// Exit status of a process that a sanitizer (ASan, UBSan, LSan) ended.
#define FL_SAN_EXIT 79

/// How a test program's stderr starts the sentence of a sanitizer report
/// that came before any test began (in the lesson's own setup).
#define FL_SAN_LINE "sanitize: "

/// The lowest pass status the runner may draw (statuses 0-2 are what
/// programs commonly exit with); FL_EXIT_STRAY and FL_SAN_EXIT are skipped.
#define FL_PASS_LOW 3

/// The highest pass status the runner may draw.
#define FL_PASS_HIGH 120

#endif
