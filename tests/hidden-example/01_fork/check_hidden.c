// check_hidden.c - an example of an instructor's hidden tests for lesson 01.
//
// Hidden tests are written exactly like the course's (tests/harness.h),
// kept outside the students' tree, and added at grading time:
//     make grade HIDDEN=tests/hidden-example SUBMISSION=...
// The grader builds them against the pristine header and harness with the
// student's fork.c; in results.json their visibility is "hidden".
#define _GNU_SOURCE
#include "fork.h"
#include "harness.h"

#include <sys/wait.h>
#include <unistd.h>

static int
echo_arg(void *arg)
{
    return *(int *)arg;
}

FL_TEST(test_hidden_mp_fork_call_passes_its_argument)
{
    int value = 123;
    pid_t pid = mp_fork_call(echo_arg, &value);
    ck_assert_msg(pid > 0, "mp_fork_call returned %s", fl_ret(pid));
    int st;
    waitpid(pid, &st, 0);
    fl_expect_int(WIFEXITED(st) ? WEXITSTATUS(st) : -1, 123,
                  "the exit status of a target returning *arg",
                  "the child must call target(arg) with the caller's arg");
}

static const fl_case cases[] = {
    FL_CASE(test_hidden_mp_fork_call_passes_its_argument, 5),
};

FL_MAIN("01_fork (hidden)", cases)
