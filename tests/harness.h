// harness.h - the shared test harness every lesson's Check tests use.
//
// A test written with FL_TEST is judged by the test's own process, in
// Check's fork mode.  The harness wraps each test body so that:
//
//  - a test passes only when its body reaches the end and the harness ends
//    the process with this run's secret pass status and token (see
//    contract.h); code under test that calls exit(0) or
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

/**
 * @file harness.h
 * @brief The shared test harness: how every lesson's tests are written.
 *
 * A lesson's `check_topic.c` defines each test with FL_TEST, lists them
 * with FL_CASE in a table, and ends with FL_MAIN.  The harness judges each
 * test in its own process and fails it, with a message that teaches, when
 * the code under test exits early, lets a child return into the test, or
 * leaves a zombie, a running process, a descriptor or an IPC name behind.
 */

#include "contract.h"

#include <check.h>
#include <stddef.h>
#include <sys/types.h>

/// Define a test: `FL_TEST(test_mp_thing_does_x) { ... }`; the name says
/// what the test checks, as a sentence.
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
    const TTest *const *test; ///< the variable that FL_TEST defines
    double timeout_s;         ///< Check's timeout for the test, in seconds
} fl_case;

/// An entry of the test table for a test defined with FL_TEST.
#define FL_CASE(name, seconds)                                                 \
    {                                                                          \
        &name, (seconds)                                                       \
    }

/// The main function of a lesson's test program: `FL_MAIN("01_fork",
/// cases)`.  See fl_main.
#define FL_MAIN(lesson, cases)                                                 \
    int main(int argc, char **argv)                                            \
    {                                                                          \
        return fl_main(argc, argv, (lesson), (cases),                          \
                       sizeof(cases) / sizeof((cases)[0]));                    \
    }

/// Like FL_MAIN, but calls `init(argc, argv)` first: a lesson whose code
/// re-executes the test program (spawn, say) dispatches there to the child's
/// entry point before any test runs.
#define FL_MAIN_INIT(lesson, cases, init)                                      \
    int main(int argc, char **argv)                                            \
    {                                                                          \
        init(argc, argv);                                                      \
        return fl_main(argc, argv, (lesson), (cases),                          \
                       sizeof(cases) / sizeof((cases)[0]));                    \
    }

/// What happened to code run by fl_run_in_child.
typedef struct {
    int returned;   ///< 1 if the function returned (did not exit itself)
    int value;      ///< the function's return value, when it returned
    int exited;     ///< 1 if the child exited, 0 if a signal killed it
    int status;     ///< exit status, or the signal that killed the child
    int timed_out;  ///< 1 if the child was killed for running too long
    char out[8192]; ///< captured stdout and stderr, NUL-terminated
    size_t out_len; ///< bytes in out
} fl_child;

/**
 * @brief Start a test: called by FL_TEST before the body, not by tests.
 * @param name the test's name.
 */
void fl_begin(const char *name);

/**
 * @brief End a test: called by FL_TEST after the body, not by tests.
 *
 * Fails the test for a stray child, a zombie or running process, an
 * opened or closed descriptor, or an IPC name left behind; otherwise hands
 * the runner this run's token and ends the process with its pass status.
 */
void fl_end(void);

/**
 * @brief Run a lesson's tests.
 *
 * `prog --list` prints the test names; `prog` runs every test, `prog NAME
 * ...` the named ones.  When FL_RESULT_FD names an open descriptor, one
 * verdict line per test goes there: `NAME TAB PASS|FAIL TAB MESSAGE`.
 *
 * @param argc   from main.
 * @param argv   from main.
 * @param lesson the lesson's name, "01_fork".
 * @param cases  the lesson's test table.
 * @param ncases entries in cases.
 * @return 0 if every test run passed, 1 if not.
 */
int fl_main(int argc, char **argv, const char *lesson, const fl_case *cases,
            size_t ncases);

/**
 * @brief The per-run prefix for named IPC objects.
 * @return a prefix without a slash, "fl.123.4." say; the grader removes
 *         every object whose name starts with it.
 */
const char *fl_ipc_prefix(void);

/**
 * @brief Name the likely mistake, should a child of this test come back
 *        into it (call exit(), say): the harness says it after its own
 *        sentence about a stray child.
 * @param hint a string that lives as long as the test (a literal), or
 *             NULL for none; each test starts with none.
 */
void fl_stray_hint(const char *hint);

/**
 * @brief Fail the current test for a misuse of a call the harness saw
 *        (an argument the code under test never set, say), whatever else
 *        the test finds.  Any process of the test may call it; the first
 *        call's message is kept.
 * @param fmt printf-style format of a sentence that teaches.
 */
void fl_misuse(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/**
 * @brief Take back the misuse fl_misuse recorded, for a test that provokes
 *        one on purpose (the stress library's selftest).
 * @param buf  receives the message.
 * @param size the room in buf.
 * @return 1 if there was one (now forgotten: the test may pass), else 0.
 */
int fl_misuse_take(char *buf, size_t size);

/**
 * @brief Run fn(arg) in a child process and report what happened.
 *
 * The child has its own process group; with capture set, its stdout and
 * stderr go to res->out.  A child still running after timeout_ms is killed
 * with its process group.  Use this for code that may exit, crash, change
 * stdio or daemonize.
 *
 * @param fn         the code to run; its return value is res->value.
 * @param arg        passed to fn.
 * @param timeout_ms how long the child may run.
 * @param capture    1 to capture stdout and stderr into res->out.
 * @param res        filled in with what happened.
 */
void fl_run_in_child(int (*fn)(void *), void *arg, int timeout_ms, int capture,
                     fl_child *res);

/**
 * @brief Kill and reap every child of the test process.
 *
 * Daemons count: the test process is a subreaper, so they are its children.
 * @return how many processes were killed.
 */
int fl_kill_children(void);

/**
 * @brief Whether a process is alive.
 * @param pid the process.
 * @return 1 if pid names a live process (not a zombie), else 0.
 * @note Reads /proc: kill(pid, 0) also succeeds on a zombie.
 */
int fl_alive(pid_t pid);

/**
 * @brief Whether a process is a zombie.
 * @param pid the process.
 * @return 1 if pid has ended and not been reaped, else 0.
 */
int fl_zombie(pid_t pid);

/**
 * @brief The parent of a process.
 * @param pid the process.
 * @return its parent's pid as /proc shows it, or -1 if it is gone.
 */
pid_t fl_ppid_of(pid_t pid);

/**
 * @brief The state letter of a process in /proc/PID/stat.
 * @param pid the process.
 * @return 'R', 'S', 'D', 'Z', 'T', ..., or 0 if pid is gone.
 */
char fl_proc_state(pid_t pid);

/**
 * @brief How many times a process has gone to sleep: its voluntary context
 *        switches in /proc/PID/status.
 *
 * A process that sleeps again after a wake-up (a timed wait that expired,
 * then blocked on a lock) has one more than before, though its state
 * letter stays 'S'.
 *
 * @param pid the process.
 * @return the count, or -1 if pid is gone.
 */
long fl_proc_sleeps(pid_t pid);

/**
 * @brief The pages this process has mapped: /proc/self/statm's first
 *        field, read without stdio (which could map a buffer of its own).
 *
 * Taken before and after a call, it shows a mapping the call forgot to
 * unmap, which no descriptor or heap count sees.
 *
 * @return the count; the test fails if statm cannot be read.
 */
long fl_vm_pages(void);

/**
 * @brief Wait until a process sleeps again after @p slept sleeps, or ends.
 *
 * For a process that should go from one wait to another (a server told to
 * stop that must now wait for its children): take fl_proc_sleeps() while
 * it sleeps in the first, make it wake, and this returns once it sleeps
 * in the next ('S'), or at once if it ends instead ('Z', or 0 when gone).
 * It spins on /proc (sched_yield), at most @p limit_ms.
 *
 * @param pid      the process.
 * @param slept    fl_proc_sleeps(pid) taken before the wake-up.
 * @param limit_ms how long to watch at most.
 * @return its state letter when watching stopped, 0 if it is gone.
 */
char fl_proc_sleeps_again(pid_t pid, long slept, long limit_ms);

/**
 * @brief The CPU time a process has used, user and system, in
 *        milliseconds (/proc/PID/stat; counted in clock ticks, 10 ms).
 *
 * A process that waits as it should uses next to none: one that uses
 * hundreds of milliseconds while it waits is spinning, and a test can say
 * so at once instead of timing out.
 *
 * @param pid the process.
 * @return the milliseconds, or -1 if pid is gone.
 */
long fl_proc_cpu_ms(pid_t pid);

/**
 * @brief Give the calling process a CPU budget: once it has used @p ms
 *        more of CPU time (user and system, every thread), SIGPROF kills
 *        it.
 *
 * For code run in a child (fl_run_in_child) that should wait, not spin:
 * a busy loop then ends after @p ms of CPU, and the test can say "it
 * spun" (res.status == SIGPROF) instead of waiting out a wall-clock
 * timeout.  Children forked after the call do not inherit the budget.
 * Be generous: the sanitizer pass makes each fork dearer.
 *
 * @param ms the budget; 0 removes it.
 */
void fl_cpu_budget(long ms);

/**
 * @brief Whether a process settles into a sleep: it is seen sleeping ('S')
 *        for @p quiet_ms in a row, within 3 s.
 *
 * For a process that should block (a server in poll() with no timeout):
 * one that polls with a timeout of 0 is running, never asleep, and one
 * that spins burns CPU, so the answer is 0 as soon as it has used 300 ms
 * of CPU, not after 3 s.  Read 'S' a few times in a row, not once: a
 * process that spins on a system call reads 'S' now and then for a few
 * microseconds.
 *
 * @param pid      the process.
 * @param quiet_ms how long it must stay asleep (20 is plenty).
 * @return 1 if it stayed asleep that long, 0 if not (or it ended).
 */
int fl_proc_idles(pid_t pid, long quiet_ms);

/**
 * @brief Wait until a process settles asleep, or ends: the common case of
 *        "the child is now blocked in its call".
 *
 * Waits (fl_proc_sleeps_again(), at most 3 s) for the first sleep, then
 * asks fl_proc_idles() that it stays asleep 20 ms in a row: a process that
 * spins reads 'S' now and then for a moment, and a child can sleep for a
 * moment before its call begins.
 *
 * @param pid the process.
 * @return 'S' if it settled asleep; 'R' if it is still awake; else its
 *         state letter ('Z' ended, 0 gone).
 */
char fl_proc_settles(pid_t pid);

/**
 * @brief Choose the pid the next fork() of this pid namespace follows:
 *        write it to /proc/sys/kernel/ns_last_pid.
 *
 * Needs CAP_SYS_ADMIN in the namespace's owner: pid 1 of a pid namespace
 * made in a user namespace of its own has it.
 *
 * @param pid the pid the next child is to come after.
 * @return 0, or -1 if it cannot be written here.
 */
int fl_set_last_pid(pid_t pid);

/**
 * @brief The children of a process, as /proc shows them.
 * @param parent the process whose children to list.
 * @param kids   receives their pids, running or zombie.
 * @param max    room in kids.
 * @return how many pids went into kids.
 */
int fl_children_of(pid_t parent, pid_t *kids, int max);

/**
 * @brief Which descriptors this process has open, from /proc/self/fd.
 * @param open_fds receives 1 for each open descriptor, 0 for the others.
 * @param max      entries in open_fds: descriptors 0 to max - 1.
 */
void fl_open_fds(unsigned char *open_fds, int max);

/**
 * @brief What a descriptor of this process refers to, for a message.
 * @param fd   the descriptor.
 * @param buf  receives "pipe:[1234]", "/dev/null", ..., or "?".
 * @param size the size of buf.
 * @return buf.
 */
const char *fl_fd_target(int fd, char *buf, size_t size);

/**
 * @brief How many times needle occurs in hay (overlaps counted): a line
 *        printed once or twice across a fork, say.
 * @param hay    the text, NUL-terminated.
 * @param needle what to count, not empty.
 * @return the count.
 */
int fl_count_of(const char *hay, const char *needle);

/**
 * @brief Milliseconds on CLOCK_MONOTONIC.
 * @return the time, from an arbitrary start.
 */
long fl_now_ms(void);

/**
 * @brief Microseconds on CLOCK_MONOTONIC.
 * @return the time, from an arbitrary start.
 */
long long fl_now_us(void);

/**
 * @brief Name a signal.
 * @param sig a signal number.
 * @return "SIGTERM" and so on, or "signal N" when the number is unknown.
 */
const char *fl_signame(int sig);

/**
 * @brief Show a return value as a reader wants it.
 * @param value a lesson function's return value.
 * @return "3", or "-38 (-ENOSYS: not written yet, still the stub)" for a
 *         negative errno; four results may be used in one message.
 */
const char *fl_ret(long long value);

/// Fail unless got == want, saying what was expected (want), what happened
/// (got), what was measured (what) and the likely mistake (hint).
#define fl_expect_int(got, want, what, hint)                                   \
    do {                                                                       \
        long long fl_g_ = (long long)(got), fl_w_ = (long long)(want);         \
        ck_assert_msg(fl_g_ == fl_w_, "%s: expected %s, got %s. %s", (what),   \
                      fl_ret(fl_w_), fl_ret(fl_g_), (hint));                   \
    } while (0)

#endif
