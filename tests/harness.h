// harness.h - the shared test harness every lesson's Check tests use.
//
// A test written with FL_TEST is judged by the test's own process, in
// Check's fork mode.  The harness wraps each test body so that:
//
//  - a test passes only when its body reaches the end and the harness ends
//    the process with FL_EXIT_PASS; code under test that calls exit(0) or
//    _exit(0), kills itself, or lets a forked child return into the test
//    body makes the test fail with a message that says which;
//  - after the body, no zombie, no running child (the test process is a
//    subreaper, so orphaned grandchildren and setsid daemons count too), no
//    new file descriptor and no IPC object with the run's prefix may be
//    left; each is a failure that says how to fix it;
//  - every case has a timeout (FL_CASE), and named IPC objects share one
//    per-run prefix (fl_ipc_prefix) that the grader removes afterwards.
//
// fl_main runs the named tests and reports each verdict on the file
// descriptor named by FL_RESULT_FD, which the test process closes before
// any student code runs: the grader reads verdicts from there, never from
// what the code under test prints.
#ifndef FORKLINGS_HARNESS_H
#define FORKLINGS_HARNESS_H

#include <check.h>
#include <stddef.h>
#include <sys/types.h>

/// Exit status with which the harness ends a test that passed.
#define FL_EXIT_PASS 77

/// Exit status of a stray child that returned into a test body.
#define FL_EXIT_STRAY 78

/// Environment variable naming the per-run prefix of IPC names.
#define FL_PREFIX_ENV "FORKLINGS_PREFIX"

/// Environment variable naming the descriptor that receives verdicts.
#define FL_RESULT_FD_ENV "FL_RESULT_FD"

/// Define a test: `FL_TEST(test_mp_thing_does_x) { ... }`.
#define FL_TEST(name)                                                          \
    static void name##_body(void);                                             \
    START_TEST(name)                                                           \
    {                                                                          \
        fl_begin(#name);                                                       \
        name##_body();                                                         \
        fl_end();                                                              \
    }                                                                          \
    END_TEST                                                                   \
    static void name##_body(void)

/// One entry of a lesson's test table: the test and its timeout in seconds.
typedef struct {
    const TTest *const *test; // the variable START_TEST defines
    double timeout_s;
} fl_case;

/// An entry of the test table for a test defined with FL_TEST.
#define FL_CASE(name, seconds) {&name, (seconds)}

/// The main function of a lesson's test program.
#define FL_MAIN(lesson, cases)                                                 \
    int main(int argc, char **argv)                                            \
    {                                                                          \
        return fl_main(argc, argv, (lesson), (cases),                          \
                       sizeof(cases) / sizeof((cases)[0]));                    \
    }

/// What happened to code run by fl_run_in_child.
typedef struct {
    int returned;     ///< 1 if the function returned (did not exit itself)
    int value;        ///< the function's return value, when it returned
    int exited;       ///< 1 if the child exited, 0 if a signal killed it
    int status;       ///< exit status, or the signal that killed the child
    int timed_out;    ///< 1 if the child was killed for running too long
    char out[8192];   ///< captured stdout and stderr, NUL-terminated
    size_t out_len;   ///< bytes in out
} fl_child;

// Called by FL_TEST; not for direct use.
void fl_begin(const char *name);
void fl_end(void);

/// Run the lesson's tests: `prog --list`, `prog [TEST...]`.
int fl_main(int argc, char **argv, const char *lesson, const fl_case *cases,
            size_t ncases);

/// The per-run prefix for named IPC objects (no slash, e.g. "fl.123.").
const char *fl_ipc_prefix(void);

/// Run fn(arg) in a child process and report what happened.
///
/// The child has its own process group; with capture set, its stdout and
/// stderr go to res->out.  A child still running after timeout_ms is killed
/// with its process group.  Use this for code that may exit, crash, change
/// stdio or daemonize.
void fl_run_in_child(int (*fn)(void *), void *arg, int timeout_ms,
                     int capture, fl_child *res);

/// Kill and reap every child of the test process (daemons included, since
/// the test process is a subreaper).  Returns how many there were.
int fl_kill_children(void);

/// 1 if pid names a live process (not a zombie), else 0.
int fl_alive(pid_t pid);

/// 1 if pid is a zombie, else 0.
int fl_zombie(pid_t pid);

/// The parent pid of pid as /proc shows it, or -1.
pid_t fl_ppid_of(pid_t pid);

/// Name a signal: "SIGTERM", ... ("signal N" when unknown).
const char *fl_signame(int sig);

/// A return value as a reader wants it: "3", or "-38 (-ENOSYS: not
/// written yet)" for a negative errno.  Four calls may share one message.
const char *fl_ret(long long value);

/// Fail unless got == want, saying what was expected, what happened and
/// the likely mistake.
#define fl_expect_int(got, want, what, hint)                                   \
    do {                                                                       \
        long long fl_g_ = (long long)(got), fl_w_ = (long long)(want);         \
        ck_assert_msg(fl_g_ == fl_w_, "%s: expected %s, got %s. %s", (what),   \
                      fl_ret(fl_w_), fl_ret(fl_g_), (hint));                   \
    } while (0)

#endif
