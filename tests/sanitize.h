// sanitize.h - the test side of the sanitizer pass: reports to verdicts.
//
// The grader builds each lesson twice: once as usual, once with the
// student's object compiled with AddressSanitizer and UBSan.  Every test
// program links sanitize.o; in a normal build each function here does
// nothing.  In a sanitized build it sets the sanitizers' options, turns
// each report (from the test process or any process forked from it) into
// one sentence that names the student's file and line, and hands that
// sentence to the harness, which fails the test with it.
#ifndef FORKLINGS_SANITIZE_H
#define FORKLINGS_SANITIZE_H

/**
 * @file sanitize.h
 * @brief Sanitizer reports as test verdicts: one sentence, file and line.
 *
 * The harness calls fl_san_setup once in the runner, fl_san_begin and
 * fl_san_end around each test body in the test process, and
 * fl_san_explain in the runner when a test did not pass.  The exit
 * wrappers of the fault-injection build call fl_san_child_exit in every
 * other process the code under test made.
 */

#include <stddef.h>

#include "contract.h" // FL_SAN_EXIT: the status a sanitizer ends with

/// Source directories whose frames are the student's code; the first
/// such frame of a stack is the one a message names.
#define FL_SAN_STUDENT_DIRS                                                    \
    {                                                                          \
        "lessons/", "solutions/"                                               \
    }

/**
 * @brief Whether this program was linked with a sanitizer runtime.
 * @return 1 in an ASan or UBSan build, 0 in a normal build.
 */
int fl_san_active(void);

/**
 * @brief Prepare the shared report area: once, in the runner, before any
 *        test runs and before the runner makes itself non-dumpable.
 *
 * Maps the area MAP_SHARED so that a report written by the test process,
 * or by any process forked from it, reaches the runner after that process
 * has died; installs the report hooks; probes once whether leak checks
 * work here (they need ptrace, which some sandboxes refuse).
 * @note Does nothing in a normal build.
 */
void fl_san_setup(void);

/**
 * @brief Start a test: in the test process, before the body.
 *
 * Forgets the reports of the previous test and records which process is
 * the test process.
 */
void fl_san_begin(void);

/**
 * @brief End a test: in the test process, after the body, once its
 *        children have been ended.
 *
 * Runs a leak check of the test process that counts only allocations made
 * from the student's code, then appends to msg one sentence for each
 * report that any process of this test produced (a leak in a child, an
 * error a child died of) and marks them delivered.
 * @param msg  the harness's failure message so far, NUL-terminated.
 * @param size the size of msg's buffer.
 */
void fl_san_end(char *msg, size_t size);

/**
 * @brief What the sanitizers reported during the last test, if not yet
 *        delivered by fl_san_end.
 * @return the sentences, or NULL if nothing happened.
 */
const char *fl_san_message(void);

/**
 * @brief Explain a test that did not pass: in the runner, after Check's
 *        verdict.
 * @param ck   Check's message for the test.
 * @param out  receives the explanation.
 * @param size the size of out.
 * @return 1 if out holds an explanation (a sanitizer report, then what
 *         Check said), 0 if no sanitizer was involved.
 */
int fl_san_explain(const char *ck, char *out, size_t size);

/**
 * @brief Leak-check a process that is about to exit: called by the exit
 *        wrappers (fl_wrap_exit, fl_wrap__exit) just before they end any
 *        process other than the test process.
 *
 * Records what leaked, where it was allocated and in which process, for
 * fl_san_end to fail the test with.
 * @note Does nothing in the runner, in the test process, in a normal build,
 *       or where leak checks cannot run.  A leak check from a signal
 *       handler that interrupted malloc could deadlock; the test's timeout
 *       then ends it.
 */
void fl_san_child_exit(void);

#endif
